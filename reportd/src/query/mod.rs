//! The SQL behind each endpoint. Every function takes a read-only connection and returns typed
//! rows; every list is bounded (`LIMIT`), every value is a bound parameter, and table names come
//! from the database's own catalogue and are checked before they are quoted.
//!
//! The queries fail only with [`QueryError`] (the database); the request's parameters, cursors
//! included, are parsed and checked by the API before a query runs. The parts: the answer types
//! and the instance-table catalogue here, `sessions` (session summaries, pages of a session's
//! rows, the live stream's new sessions), `aggregates` (counts over the window), `capture`
//! (scans, OS and TLS/HTTP fingerprints) and `files` (files written and download URLs).

use rusqlite::Connection;
use rusqlite::types::ValueRef;
use serde::Serialize;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::QueryError;
use crate::budget::{cap_bytes, cap_string, cut_marker};

mod aggregates;
mod capture;
mod files;
mod sessions;

#[cfg(test)]
mod tests;

pub use aggregates::{
    addresses, all_ports, commands, credentials, ip_info, places, ports, sensors, summary,
};
pub use capture::{
    FingerprintOut, OsResult, P0fRow, SCAN_KINDS, ScanCursor, ScanFilter, ScanOut,
    address_fingerprints, address_os, address_scans, scan_cursor, scans, scans_by_kind,
    session_fingerprints, session_p0f, top_os,
};
pub use files::{
    DownloadFilter, DownloadOut, FileFilter, FileOut, address_downloads, address_files,
    download_cursor, downloads, file_and_download_counts, file_bytes, file_cursor, files,
    session_downloads, session_files, ssh_logins,
};
pub use sessions::{
    FoundSession, ItemCursor, ItemPage, SessionCursor, address_sessions, item_count, latest_rowid,
    port_sessions, recent_sessions, session, session_cursor, session_items_page, sessions_after,
};

/// One page of a list and the cursor of the next page, if there is one.
pub type Page<T> = Result<(Vec<T>, Option<String>), QueryError>;

/// A filter shared by the list endpoints.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The earliest start time included (store format).
    pub since: String,
    /// Only this sensor's sessions (`sessions.sensor`), for a fleet.
    pub sensor: Option<String>,
}

/// One port's attacks in the window (RECCE7's ports list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortCount {
    /// The port.
    pub port: u16,
    /// Sessions in the window.
    pub total_attacks: i64,
    /// Distinct source addresses in the window.
    pub unique_ipaddresses: i64,
}

/// One session's summary: the session row's fields and how many rows it recorded. Lists carry
/// these; the rows themselves come a page at a time from [`session_items_page`]
/// (`/v1/sessions/{id}`), so no list grows with what an attacker sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionOut {
    /// The session id.
    pub session: String,
    /// The sensor's name.
    pub sensor: String,
    /// The publisher's hpfeeds ident (central store), or null.
    pub ident: Option<String>,
    /// The plug-in instance.
    pub plugin: String,
    /// The protocol.
    pub protocol: String,
    /// Start, UTC RFC 3339.
    pub begin_time: String,
    /// End, or null while open.
    pub end_time: Option<String>,
    /// Seconds from begin to end, or null while open.
    pub duration: Option<f64>,
    /// The attacker's address.
    pub peer_address: String,
    /// The attacker's port.
    pub peer_port: i64,
    /// The sensor's address.
    pub local_address: String,
    /// The sensor's port.
    pub local_port: i64,
    /// Bytes from the attacker.
    pub bytes_in: Option<i64>,
    /// Bytes to the attacker.
    pub bytes_out: Option<i64>,
    /// Why it ended.
    pub close_reason: Option<String>,
    /// The earlier session an HTTP cookie tied it to.
    pub linked_session: Option<String>,
    /// Rows recorded for it (its instance table's and raw input): what `/v1/sessions/{id}`
    /// pages through.
    pub item_count: i64,
}

impl SessionOut {
    /// Cuts every text field to `cap` bytes (a fleet's store holds what remote sensors sent).
    fn cap(&mut self, cap: usize) {
        for s in [
            &mut self.session,
            &mut self.sensor,
            &mut self.plugin,
            &mut self.protocol,
            &mut self.begin_time,
            &mut self.peer_address,
            &mut self.local_address,
        ] {
            cap_string(s, cap);
        }
        for s in [
            &mut self.ident,
            &mut self.end_time,
            &mut self.close_reason,
            &mut self.linked_session,
        ]
        .into_iter()
        .flatten()
        {
            cap_string(s, cap);
        }
    }
}

/// One attacking address in the window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AddressCount {
    /// The address.
    pub ipaddress: String,
    /// Sessions in the window.
    pub total_attacks: i64,
    /// Ports it reached.
    pub ports: Vec<u16>,
    /// First session start in the window.
    pub first_seen: String,
    /// Last session start in the window.
    pub last_seen: String,
    /// Country name (ipInfo), if known.
    pub country: Option<String>,
    /// ISO country code, if known.
    pub country_code: Option<String>,
    /// City, if known.
    pub city: Option<String>,
}

/// A username and password pair, and how often it was tried.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Credential {
    /// The username.
    pub username: String,
    /// The password (null when none was typed).
    pub password: Option<String>,
    /// Attempts in the window.
    pub count: i64,
    /// First attempt.
    pub first_seen: String,
    /// Last attempt.
    pub last_seen: String,
}

/// A command, and how often it was typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommandCount {
    /// The command.
    pub command: String,
    /// Times in the window.
    pub count: i64,
    /// First time.
    pub first_seen: String,
    /// Last time.
    pub last_seen: String,
}

/// A count by key (ports, countries, scan kinds, OSes) for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCount {
    /// The key (a port number, a country code, `unknown`, a scan kind, an OS).
    pub key: String,
    /// Sessions (ports, countries), scans (scan kinds) or distinct addresses (OSes).
    pub count: i64,
}

/// The dashboard's counters for a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Sessions in the window.
    pub sessions: i64,
    /// Distinct source addresses.
    pub unique_addresses: i64,
    /// Sessions by port, most first.
    pub by_port: Vec<KeyCount>,
    /// Sessions by source country code, most first (`unknown` without a place).
    pub by_country: Vec<KeyCount>,
    /// Sessions whose source has a place on the map (`ipInfo` latitude and longitude). With
    /// sessions but none located, the service has no GeoIP database behind it.
    pub located_sessions: i64,
    /// Scans reported in the window by kind (`syn`, `ports`, ...), most first; empty for a
    /// store without packet capture.
    pub scans: Vec<KeyCount>,
    /// The OSes p0f matched in the window by distinct source address, most first.
    pub os: Vec<KeyCount>,
    /// Files attackers wrote in the window (`files` rows; 0 for an older store).
    pub files: i64,
    /// URLs named to download commands in the window (`downloads` rows).
    pub downloads: i64,
    /// SSH logins in the window by the credential policy's outcome (`accepted`, `refused`),
    /// most first.
    pub ssh_logins: Vec<KeyCount>,
}

/// A sensor known to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensorInfo {
    /// Its name.
    pub sensor: String,
    /// Sessions recorded.
    pub sessions: i64,
    /// Its last session's start.
    pub last_seen: String,
}

/// A map point: rounded coordinates and the sessions from there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Place {
    /// Latitude, rounded to 0.1°.
    pub latitude: f64,
    /// Longitude, rounded to 0.1°.
    pub longitude: f64,
    /// Sessions.
    pub count: u64,
}

/// A SQL value as JSON, text cut to `cap` bytes ([`cap_bytes`]): only the kept prefix is
/// copied out of SQLite's buffer.
fn json_value(v: ValueRef<'_>, cap: usize) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::from(i),
        ValueRef::Real(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        ValueRef::Text(t) => Value::String(cap_bytes(t, cap)),
        ValueRef::Blob(b) => {
            let mut text = store::escape_bytes(b, cap);
            if b.len() > cap {
                text.push_str(&cut_marker(b.len() - cap));
            }
            Value::String(text)
        }
    }
}

/// Seconds between two store times.
fn seconds_between(begin: &str, end: &str) -> Option<f64> {
    let b = OffsetDateTime::parse(begin, &Rfc3339).ok()?;
    let e = OffsetDateTime::parse(end, &Rfc3339).ok()?;
    Some((e - b).as_seconds_f64().max(0.0))
}

/// Instance tables in the file: every table but the store's own, with a safe name.
pub fn instance_tables(conn: &Connection) -> Result<Vec<String>, QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(names
        .into_iter()
        .filter(|n| !store::schema::is_store_table(n))
        .filter(|n| store::is_safe_identifier(n) && !n.ends_with("__migrating"))
        .collect())
}

/// The columns of `table`, lowercase.
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, QueryError> {
    let mut stmt = conn.prepare_cached("SELECT lower(name) FROM pragma_table_info(?1)")?;
    let cols = stmt
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(cols)
}
