//! Dionaea connection incidents (`dionaea.connections`): one message per `accept`, `connect`,
//! `reject`, `pending` or `listen`, as `dionaea/hpfeeds.py` publishes it.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::{Map, Value};

use super::fields::{derived_id, optional_str, required_ip, required_port};
use super::limits::{PayloadLimits, check_map_bounds};
use super::rejection::{Rejection, not_an_object};

/// One Dionaea connection incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DionaeaConnection {
    /// Derived dedup id: `dionaea-` and the first 32 hex digits of SHA-1(ident, NUL, payload).
    pub id: String,
    /// `accept`, `connect`, `reject`, `pending` or `listen`; `unknown` when absent, null or empty.
    pub connection_type: String,
    /// `tcp`, `udp` or `tls`; `unknown` when absent, null or empty.
    pub transport: String,
    /// Dionaea's service (`smbd`, `httpd`, `mssqld`, ...); `unknown` when absent, null or empty.
    pub protocol: String,
    /// The remote end (IPv4-mapped IPv6 turned into IPv4).
    pub remote_ip: IpAddr,
    /// The remote end's port.
    pub remote_port: u16,
    /// The remote end's host name, `None` when absent, null or empty (as for every accept).
    pub remote_hostname: Option<String>,
    /// Dionaea's own address (IPv4-mapped IPv6 turned into IPv4).
    pub local_ip: IpAddr,
    /// Dionaea's own port.
    pub local_port: u16,
    /// Every other field, kept as sent (the CHN fork's `tags` and `event_type`...).
    pub extra: Map<String, Value>,
}

/// The fields [`DionaeaConnection`] takes apart; everything else goes to `extra`.
const DIONAEA_FIELDS: [&str; 8] = [
    "connection_type",
    "connection_transport",
    "connection_protocol",
    "remote_host",
    "remote_port",
    "remote_hostname",
    "local_host",
    "local_port",
];

pub(super) fn parse_dionaea(
    value: Value,
    ident: &str,
    payload: &[u8],
    limits: &PayloadLimits,
) -> Result<DionaeaConnection, Rejection> {
    let mut obj = match value {
        Value::Object(obj) => obj,
        other => return Err(not_an_object(&other)),
    };
    check_map_bounds(&obj, limits)?;
    let mut name = |field: &str| -> Result<String, Rejection> {
        Ok(optional_str(&mut obj, field)?
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned()))
    };
    let connection_type = name("connection_type")?;
    let transport = name("connection_transport")?;
    let protocol = name("connection_protocol")?;
    let remote_ip = required_ip(&mut obj, "remote_host")?;
    let remote_port = required_port(&mut obj, "remote_port")?;
    let remote_hostname = optional_str(&mut obj, "remote_hostname")?.filter(|s| !s.is_empty());
    let local_ip = required_ip(&mut obj, "local_host")?;
    let local_port = required_port(&mut obj, "local_port")?;
    for field in DIONAEA_FIELDS {
        obj.remove(field);
    }
    Ok(DionaeaConnection {
        id: derived_id("dionaea-", ident, payload),
        connection_type,
        transport,
        protocol,
        remote_ip,
        remote_port,
        remote_hostname,
        local_ip,
        local_port,
        extra: obj,
    })
}
