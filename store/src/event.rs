//! The event: one record per thing that happened, the same on disk, on the wire and in the
//! central store (ARCHITECTURE.md, "The event").

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Version of the event layout. Consumers refuse versions they do not know instead of guessing.
pub const SCHEMA_VERSION: u32 = 1;

/// A plug-in's columns for one event: column name to value. Values are bound as SQL parameters,
/// never spliced into SQL.
pub type Row = Map<String, Value>;

/// What happened. An enum, not free strings, so that every type is listed once (and documented
/// once); the wire form is the dotted name, e.g. `telnet.login`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    /// A connection was accepted (or refused by a limit): the start of a session.
    #[serde(rename = "session.start")]
    SessionStart,
    /// A session ended; `data` carries the byte counts and the close reason.
    #[serde(rename = "session.end")]
    SessionEnd,
    /// A username and password offered at a telnet login prompt.
    #[serde(rename = "telnet.login")]
    TelnetLogin,
    /// One simple command typed into the telnet shell (a line split on `;`, `&&`, `||`, `|`).
    #[serde(rename = "telnet.command")]
    TelnetCommand,
    /// One HTTP request, well-formed or not.
    #[serde(rename = "http.request")]
    HttpRequest,
    /// A line of input to a line-oriented service (the example plug-ins, config-only kinds).
    #[serde(rename = "service.input")]
    ServiceInput,
    /// Bytes the plug-in could not parse (scanner probes, TLS hellos, junk), kept raw and bounded.
    #[serde(rename = "input.raw")]
    InputRaw,
    /// The p0f-style fingerprint of a TCP SYN (the `p0f` table): of the session it opened, or
    /// of a source whose SYNs opened none (a scan; the event's `session` is then empty).
    #[serde(rename = "fingerprint.p0f")]
    FingerprintP0f,
    /// The JA4 fingerprint of a TLS ClientHello a plug-in received (the `fingerprints` table).
    #[serde(rename = "fingerprint.tls")]
    FingerprintTls,
    /// p0f's HTTP request signature, and whether the User-Agent's OS contradicts the TCP
    /// stack's (the `fingerprints` table).
    #[serde(rename = "fingerprint.http")]
    FingerprintHttp,
    /// Half-open SYN probes (SYN, then RST or nothing): `nmap -sS`, masscan, zmap.
    #[serde(rename = "scan.syn")]
    ScanSyn,
    /// Connections completed and reset without data (`nmap -sT`), or an OS stack's SYNs to
    /// closed ports.
    #[serde(rename = "scan.connect")]
    ScanConnect,
    /// Packets without flags (`nmap -sN`).
    #[serde(rename = "scan.null")]
    ScanNull,
    /// FIN-only packets outside a connection (`nmap -sF`).
    #[serde(rename = "scan.fin")]
    ScanFin,
    /// FIN, PSH and URG together (`nmap -sX`).
    #[serde(rename = "scan.xmas")]
    ScanXmas,
    /// nmap's OS-detection probes (`nmap -O`).
    #[serde(rename = "scan.os")]
    ScanOs,
    /// One source touching many ports (monitored or not) within a window.
    #[serde(rename = "scan.ports")]
    ScanPorts,
    /// An SSH client's identification: its version string and HASSH (the MD5 of its key
    /// exchange algorithm lists), recorded once per connection.
    #[serde(rename = "ssh.client")]
    SshClient,
    /// One SSH authentication attempt (password, keyboard-interactive or public key), with the
    /// credential policy's outcome; a public key is recorded by its type and fingerprint.
    #[serde(rename = "ssh.login")]
    SshLogin,
    /// One simple command run in an SSH `shell` or `exec` channel.
    #[serde(rename = "ssh.command")]
    SshCommand,
    /// An SSH port-forwarding request (`direct-tcpip`, `tcpip-forward`): recorded and refused.
    #[serde(rename = "ssh.forward")]
    SshForward,
    /// A file the attacker wrote in the shell's overlay (a redirection, `echo -ne` chunks, an
    /// scp or SFTP upload): its path, size, SHA-256 and its bytes up to a cap.
    #[serde(rename = "file.written")]
    FileWritten,
    /// A URL named to a download command (`wget`, `curl`, `tftp`, `ftpget`): never fetched.
    #[serde(rename = "download.attempt")]
    DownloadAttempt,
}

impl EventType {
    /// Every type, for documentation and tests that keep the list honest.
    pub const ALL: [EventType; 23] = [
        EventType::SessionStart,
        EventType::SessionEnd,
        EventType::TelnetLogin,
        EventType::TelnetCommand,
        EventType::HttpRequest,
        EventType::ServiceInput,
        EventType::InputRaw,
        EventType::FingerprintP0f,
        EventType::FingerprintTls,
        EventType::FingerprintHttp,
        EventType::ScanSyn,
        EventType::ScanConnect,
        EventType::ScanNull,
        EventType::ScanFin,
        EventType::ScanXmas,
        EventType::ScanOs,
        EventType::ScanPorts,
        EventType::SshClient,
        EventType::SshLogin,
        EventType::SshCommand,
        EventType::SshForward,
        EventType::FileWritten,
        EventType::DownloadAttempt,
    ];

    /// The scan types, for the packet capture and the report service.
    pub const SCANS: [EventType; 7] = [
        EventType::ScanSyn,
        EventType::ScanConnect,
        EventType::ScanNull,
        EventType::ScanFin,
        EventType::ScanXmas,
        EventType::ScanOs,
        EventType::ScanPorts,
    ];

    /// True for the `scan.*` types: reports of the packet capture, not of a session.
    pub fn is_scan(self) -> bool {
        Self::SCANS.contains(&self)
    }

    /// The dotted wire name, e.g. `http.request`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::SessionStart => "session.start",
            EventType::SessionEnd => "session.end",
            EventType::TelnetLogin => "telnet.login",
            EventType::TelnetCommand => "telnet.command",
            EventType::HttpRequest => "http.request",
            EventType::ServiceInput => "service.input",
            EventType::InputRaw => "input.raw",
            EventType::FingerprintP0f => "fingerprint.p0f",
            EventType::FingerprintTls => "fingerprint.tls",
            EventType::FingerprintHttp => "fingerprint.http",
            EventType::ScanSyn => "scan.syn",
            EventType::ScanConnect => "scan.connect",
            EventType::ScanNull => "scan.null",
            EventType::ScanFin => "scan.fin",
            EventType::ScanXmas => "scan.xmas",
            EventType::ScanOs => "scan.os",
            EventType::ScanPorts => "scan.ports",
            EventType::SshClient => "ssh.client",
            EventType::SshLogin => "ssh.login",
            EventType::SshCommand => "ssh.command",
            EventType::SshForward => "ssh.forward",
            EventType::FileWritten => "file.written",
            EventType::DownloadAttempt => "download.attempt",
        }
    }
}

/// One recorded event. Field names are the JSON names of the published event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Layout version, [`SCHEMA_VERSION`] when written by this build.
    pub schema: u32,
    /// Unique and time-ordered (UUIDv7): consumers deduplicate by it.
    pub id: String,
    /// The sensor's configured name.
    pub sensor: String,
    /// The session the event belongs to.
    pub session: String,
    /// UTC, RFC 3339 with microseconds.
    pub time: String,
    /// What happened.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The plug-in instance's name.
    pub plugin: String,
    /// The protocol spoken (`telnet`, `http`, ...).
    pub protocol: String,
    /// The attacker's address.
    pub src_ip: IpAddr,
    /// The attacker's port.
    pub src_port: u16,
    /// The sensor's address the attacker reached.
    pub dst_ip: IpAddr,
    /// The sensor's port the attacker reached.
    pub dst_port: u16,
    /// The plug-in's columns.
    pub data: Row,
}

impl Event {
    /// The attacker's socket address.
    pub fn peer(&self) -> SocketAddr {
        SocketAddr::new(self.src_ip, self.src_port)
    }

    /// The sensor's socket address.
    pub fn local(&self) -> SocketAddr {
        SocketAddr::new(self.dst_ip, self.dst_port)
    }
}

/// A new unique, time-ordered id (UUIDv7, lowercase hyphenated) for events and sessions.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// True when `s` has the shape of an id this crate hands out. Used before taking a session id
/// from an attacker-controlled place (a cookie), so nothing else ends up in the `session` column.
pub fn is_id(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}

const RFC3339_MICROS: &[time::format_description::BorrowedFormatItem<'static>] = time::macros::format_description!(
    "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
);

/// The current time as UTC RFC 3339 with microseconds, e.g. `2026-11-23T10:15:02.123456Z`.
pub fn now_rfc3339() -> String {
    format_rfc3339(OffsetDateTime::now_utc())
}

/// `t` as UTC RFC 3339 with microseconds. The fixed width keeps text order equal to time order,
/// which the store's time-window queries rely on.
pub fn format_rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(RFC3339_MICROS)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00.000000Z"))
}

/// Bytes as text that is safe to store and show: printable ASCII kept, `\` doubled, everything
/// else as `\xNN` (and `\r`, `\n`, `\t` spelled out). At most `max_bytes` input bytes are kept;
/// the rest is summarised as `...(+N bytes)` so nothing is dropped silently.
pub fn escape_bytes(bytes: &[u8], max_bytes: usize) -> String {
    let keep = &bytes[..bytes.len().min(max_bytes)];
    let mut out = String::with_capacity(keep.len() + 16);
    for &b in keep {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(b as char),
            _ => {
                use std::fmt::Write;
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    if bytes.len() > keep.len() {
        use std::fmt::Write;
        let _ = write!(out, "...(+{} bytes)", bytes.len() - keep.len());
    }
    out
}

/// Text exactly as received (a username, a command line), as a string that turns back into the
/// same bytes: valid UTF-8 characters are kept, `\` is written `\\`, and every byte that is not
/// part of valid UTF-8, every control byte (C0 and DEL) and both bytes of a C1 control character
/// are written `\xNN`. Unlike [`escape_bytes`] nothing is cut (callers bound their input), and
/// text in any script stays readable. To get the bytes back, read `\\` as `\` and `\xNN` as
/// the byte NN; every other character stands for its UTF-8 bytes.
pub fn escape_text(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '\\' {
                out.push_str("\\\\");
            } else if c.is_control() {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    let _ = write!(out, "\\x{b:02x}");
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            let _ = write!(out, "\\x{b:02x}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_has_microseconds_and_utc() {
        let t = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(format_rfc3339(t), "2023-11-14T22:13:20.123456Z");
        let now = now_rfc3339();
        assert_eq!(now.len(), 27, "{now}");
        assert!(now.ends_with('Z'));
    }

    #[test]
    fn ids_are_time_ordered_and_recognised() {
        let a = new_id();
        let b = new_id();
        assert!(a < b, "{a} !< {b}");
        assert!(is_id(&a));
        assert!(!is_id("' OR 1=1 --"));
        assert!(!is_id(""));
    }

    #[test]
    fn event_types_round_trip_through_json() {
        for t in EventType::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            let back: EventType = serde_json::from_str(&json).unwrap();
            assert_eq!(back, t);
        }
    }

    #[test]
    fn escaping_is_bounded_and_reversible_enough() {
        assert_eq!(escape_bytes(b"GET /\r\n", 100), "GET /\\r\\n");
        assert_eq!(escape_bytes(&[0x16, 0x03, 0x01], 100), "\\x16\\x03\\x01");
        assert_eq!(escape_bytes(b"abcdef", 3), "abc...(+3 bytes)");
        assert_eq!(escape_bytes(b"a\\b", 10), "a\\\\b");
    }

    /// The inverse of [`escape_text`], as a reader of the store would write it.
    fn unescape_text(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("\\\\") {
                out.push(b'\\');
                rest = after;
            } else if let Some(after) = rest.strip_prefix("\\x") {
                out.push(u8::from_str_radix(&after[..2], 16).unwrap());
                rest = &after[2..];
            } else {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                rest = &rest[c.len_utf8()..];
            }
        }
        out
    }

    #[test]
    fn text_escaping_keeps_utf8_and_is_lossless() {
        assert_eq!(escape_text(b"root"), "root");
        assert_eq!(
            escape_text("caf\u{e9} \u{65e5}".as_bytes()),
            "caf\u{e9} \u{65e5}"
        );
        assert_eq!(escape_text(b"ro\xe9t"), "ro\\xe9t");
        assert_eq!(escape_text(b"pa\xffss"), "pa\\xffss");
        assert_eq!(
            escape_text(b"a\\xff"),
            "a\\\\xff",
            "a typed backslash stays apart"
        );
        assert_eq!(
            escape_text(b"a\tb\r\n\x1b[A\x7f"),
            "a\\x09b\\x0d\\x0a\\x1b[A\\x7f"
        );
        assert_eq!(escape_text("\u{9b}".as_bytes()), "\\xc2\\x9b");
        assert_eq!(escape_text(b"\xc3"), "\\xc3", "a lone lead byte");
        let mut every: Vec<u8> = (0..=255u8).collect();
        every.extend_from_slice("\u{e9}\\x41\u{1f600}".as_bytes());
        for input in [&every[..], b"", b"\\\\", b"\xf0\x9f\x98"] {
            assert_eq!(unescape_text(&escape_text(input)), input);
        }
    }
}
