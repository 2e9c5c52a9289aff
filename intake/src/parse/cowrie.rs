//! Cowrie session summaries (`cowrie.sessions`), as Cowrie's `output/hpfeeds3.py` publishes
//! them when a session closes (and the CommunityHoneyNetwork fork's, with more fields).

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use super::fields::{
    derived_id, optional_str, pair, required_ip, required_port, required_str, str_list,
};
use super::limits::{PayloadLimits, check_map_bounds};
use super::rejection::{Rejection, expected, not_an_object, quote, wrong};
use super::timestamp::{lenient_time, store_time};

/// One Cowrie session, as Cowrie's hpfeeds3 output summarises it when the session closes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CowrieSession {
    /// Derived dedup id: `cowrie-` and the first 32 hex digits of SHA-1(ident, NUL, session).
    pub id: String,
    /// Cowrie's session id as sent (12 hex digits in current Cowrie).
    pub session: String,
    /// When the connection was made, as UTC RFC 3339 with microseconds (the store's format).
    pub start_time: String,
    /// When the session closed, in the same format; `None` when absent, null or empty.
    pub end_time: Option<String>,
    /// The attacker's address (IPv4-mapped IPv6 turned into IPv4).
    pub peer_ip: IpAddr,
    /// The attacker's port.
    pub peer_port: u16,
    /// The honeypot's address the attacker reached (IPv4-mapped IPv6 turned into IPv4).
    pub host_ip: IpAddr,
    /// The honeypot's port the attacker reached.
    pub host_port: u16,
    /// `ssh` or `telnet` as sent; `ssh` when absent or null (the oldest plug-ins sent none).
    pub protocol: String,
    /// The username and password of the successful login, if any.
    pub logged_in: Option<(String, String)>,
    /// Failed logins (username, password), in order.
    pub credentials: Vec<(String, String)>,
    /// Command lines typed, in order.
    pub commands: Vec<String>,
    /// Command lines Cowrie did not know, in order.
    pub unknown_commands: Vec<String>,
    /// URLs of files downloaded during the session.
    pub urls: Vec<String>,
    /// The SSH client's version string, if any.
    pub version: Option<String>,
    /// The HASSH fingerprint of the SSH client (CommunityHoneyNetwork fork), if any.
    pub hassh: Option<String>,
    /// The session's tty log as Cowrie sends it (hex of the ttylog file), if any.
    pub ttylog: Option<String>,
    /// SHA-256 hashes of files downloaded or uploaded.
    pub hashes: Vec<String>,
    /// Every other field, kept as sent (the CHN fork's `tags`, `hasshAlgorithms`, `kexAlgs`...).
    pub extra: Map<String, Value>,
}

/// The fields [`CowrieSession`] takes apart; everything else goes to `extra`.
pub(super) const COWRIE_FIELDS: [&str; 17] = [
    "session",
    "startTime",
    "endTime",
    "peerIP",
    "peerPort",
    "hostIP",
    "hostPort",
    "loggedin",
    "credentials",
    "commands",
    "unknownCommands",
    "urls",
    "version",
    "ttylog",
    "hashes",
    "protocol",
    "hassh",
];

pub(super) fn parse_cowrie(
    value: Value,
    ident: &str,
    limits: &PayloadLimits,
) -> Result<CowrieSession, Rejection> {
    let mut obj = match value {
        Value::Object(obj) => obj,
        other => return Err(not_an_object(&other)),
    };
    check_map_bounds(&obj, limits)?;
    let session = required_str(&mut obj, "session")?;
    if session.is_empty() {
        return Err(wrong("field `session`: empty"));
    }
    let start = required_str(&mut obj, "startTime")?;
    let start_time = cowrie_time(&start, "startTime")?;
    let end_time = match optional_str(&mut obj, "endTime")? {
        None => None,
        Some(s) if s.is_empty() => None,
        Some(s) => Some(cowrie_time(&s, "endTime")?),
    };
    let peer_ip = required_ip(&mut obj, "peerIP")?;
    let peer_port = required_port(&mut obj, "peerPort")?;
    let host_ip = required_ip(&mut obj, "hostIP")?;
    let host_port = required_port(&mut obj, "hostPort")?;
    let protocol = optional_str(&mut obj, "protocol")?.unwrap_or_else(|| "ssh".to_owned());
    let logged_in = match obj.remove("loggedin") {
        None | Some(Value::Null) => None,
        Some(v) => Some(pair(v, "loggedin")?),
    };
    let credentials = match obj.remove("credentials") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| pair(v, &format!("credentials[{i}]")))
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(expected("credentials", "a list of pairs or null", &other)),
    };
    let commands = str_list(&mut obj, "commands")?;
    let unknown_commands = str_list(&mut obj, "unknownCommands")?;
    let urls = str_list(&mut obj, "urls")?;
    let version = optional_str(&mut obj, "version")?;
    let hassh = optional_str(&mut obj, "hassh")?;
    let ttylog = optional_str(&mut obj, "ttylog")?;
    let hashes = str_list(&mut obj, "hashes")?;
    for name in COWRIE_FIELDS {
        obj.remove(name);
    }
    Ok(CowrieSession {
        id: derived_id("cowrie-", ident, session.as_bytes()),
        session,
        start_time,
        end_time,
        peer_ip,
        peer_port,
        host_ip,
        host_port,
        protocol,
        logged_in,
        credentials,
        commands,
        unknown_commands,
        urls,
        version,
        hassh,
        ttylog,
        hashes,
        extra: obj,
    })
}

/// Cowrie's `timestamp`: `%Y-%m-%dT%H:%M:%S.%fZ` when Cowrie runs with `TZ=UTC`, otherwise
/// `%Y-%m-%dT%H:%M:%S.%f%z` (`+0000`, no colon); plain RFC 3339 is accepted too.
fn cowrie_time(text: &str, field: &str) -> Result<String, Rejection> {
    let t = lenient_time(text)
        .ok_or_else(|| wrong(format!("field `{field}`: not a timestamp: {}", quote(text))))?;
    store_time(t).ok_or_else(|| wrong(format!("field `{field}`: out of the range 0000-9999")))
}
