//! The event-writing core both stores share: what one event becomes in the tables (a session's
//! start and end, raw input, a row in a plug-in instance's table), so that a schema change is
//! made once, for the sensor's recorder ([`crate::writer`]) and the normalizer's central store.
//!
//! [`EventSink`] is the interface; [`SqliteSink`] is the SQLite implementation, writing through
//! a connection inside the caller's transaction. Another database (PostgreSQL for fleets) is
//! another implementation of the trait, not a copy of the callers.
//!
//! Where the two stores legitimately differ, the difference is a parameter, not a second copy:
//! a session that already has a row keeps its first start on a sensor (it starts once) and
//! merges on the central store (events from several sources, in any order: the earliest start
//! wins, a table learned late fills in); see [`SessionConflict`]. The sensor writes a plug-in's
//! rows into the table its configuration declared ([`EventSink::configured_row`]); the central
//! store grows tables from the data it receives ([`EventSink::grown_row`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::{Connection, params};
use serde_json::Value;

use crate::StoreError;
use crate::event::{Event, EventType, Row};
use crate::schema::{
    Column, ColumnType, FIXED_COLUMNS, TableSpec, is_fixed_column, is_safe_identifier,
    is_store_table,
};

/// A sensor's session start: a session starts once, a repeated start changes nothing.
const INSERT_SESSION: &str = "INSERT OR IGNORE INTO sessions (session, sensor, plugin, tableName, protocol,
    peerAddress, peerPort, localAddress, localPort, startTime) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";

/// The central store's session start (or first event seen): the earliest start wins, a table
/// learned late fills in, and the publisher's ident is recorded.
const UPSERT_SESSION: &str = "INSERT INTO sessions (session, sensor, plugin, tableName, protocol,
    peerAddress, peerPort, localAddress, localPort, startTime, ident)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT(session) DO UPDATE SET startTime = min(startTime, excluded.startTime),
    tableName = coalesce(tableName, excluded.tableName)";

const END_SESSION: &str = "UPDATE sessions SET endTime = ?2, bytesIn = ?3, bytesOut = ?4,
    closeReason = ?5, linkedSession = ?6 WHERE session = ?1";

const INSERT_P0F: &str = "INSERT INTO p0f (session, eventDateTime, peerAddress, localAddress,
    peerPort, localPort, os, distance, rawSignature, eventId, quality, osClass)
    VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)";

const INSERT_FINGERPRINT: &str = "INSERT INTO fingerprints (session, eventDateTime, peerAddress,
    localAddress, peerPort, localPort, eventId, kind, fingerprint, detail, sni, claimedOs, tcpOs,
    contradiction) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)";

const INSERT_SCAN: &str = "INSERT INTO scans (session, eventDateTime, peerAddress, localAddress,
    eventId, sensor, kind, ports, portCount, packets, firstSeen, lastSeen)
    VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)";

const INSERT_FILE: &str = "INSERT INTO files (session, eventDateTime, peerAddress, localAddress,
    peerPort, localPort, eventId, path, size, sha256, data, truncated, via)
    VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)";

const INSERT_DOWNLOAD: &str = "INSERT INTO downloads (session, eventDateTime, peerAddress,
    localAddress, peerPort, localPort, eventId, url, command) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)";

/// The most bytes of a written file the store keeps (its `data` column); the sensor's own cap
/// is smaller, this bounds what any publisher can make the store hold per row. The size and
/// SHA-256 always describe the whole file.
pub const MAX_FILE_DATA_BYTES: usize = 1 << 20;

const INSERT_RAW: &str = "INSERT INTO rawInput (session, eventDateTime, peerAddress, localAddress,
    peerPort, localPort, eventId, plugin, reason, length, bytes) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)";

/// What a session's start does to a row that already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionConflict<'a> {
    /// A sensor's: the first start stays (`INSERT OR IGNORE`).
    KeepFirst,
    /// The central store's: the earliest start wins and a missing table fills in
    /// (`min(startTime, ...)`, `coalesce(tableName, ...)`); `ident` is the publisher's hpfeeds
    /// ident, recorded on a new row.
    MergeEarliest {
        /// The publisher's ident.
        ident: &'a str,
    },
}

/// A session's row as its start (or the first event seen of it) describes it.
#[derive(Debug, Clone, Copy)]
pub struct SessionStart<'a> {
    /// The session id.
    pub session: &'a str,
    /// The sensor's name.
    pub sensor: &'a str,
    /// The plug-in instance.
    pub plugin: &'a str,
    /// The instance's table, when known.
    pub table: Option<&'a str>,
    /// The protocol.
    pub protocol: &'a str,
    /// The source address.
    pub peer: &'a str,
    /// The source port.
    pub peer_port: u16,
    /// The local address.
    pub local: &'a str,
    /// The local port.
    pub local_port: u16,
    /// When it started (RFC 3339).
    pub start: &'a str,
}

/// The fixed columns of a row in a plug-in instance's table (after `ID`).
#[derive(Debug, Clone, Copy)]
pub struct RowHead<'a> {
    /// The session id.
    pub session: &'a str,
    /// When (RFC 3339).
    pub time: &'a str,
    /// The source address.
    pub peer: &'a str,
    /// The local address.
    pub local: &'a str,
    /// The source port.
    pub peer_port: u16,
    /// The local port.
    pub local_port: u16,
    /// The event id.
    pub event_id: &'a str,
    /// The event type.
    pub event_type: &'a str,
}

/// The writes an event turns into, whatever the database. Every method writes inside the
/// caller's open transaction on `conn`.
pub trait EventSink {
    /// What the writes go through (a connection or transaction of the backend).
    type Conn: ?Sized;

    /// Creates (or, per `conflict`, updates) a session's row.
    fn start_session(
        &self,
        conn: &Self::Conn,
        start: &SessionStart<'_>,
        conflict: SessionConflict<'_>,
    ) -> Result<(), StoreError>;

    /// Fills in a session's end from a `session.end` event; false when the session has no row.
    fn end_session(&self, conn: &Self::Conn, event: &Event) -> Result<bool, StoreError>;

    /// Keeps an `input.raw` event (`peer` and `local` are its addresses as text).
    fn raw_input(
        &self,
        conn: &Self::Conn,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError>;

    /// Keeps a `fingerprint.p0f` event in RECCE7's `p0f` table (the session NULL when the SYN
    /// opened none: see [`opened_session`]).
    fn p0f(
        &self,
        conn: &Self::Conn,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError>;

    /// Keeps a `fingerprint.tls` or `fingerprint.http` event in the `fingerprints` table.
    fn fingerprint(
        &self,
        conn: &Self::Conn,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError>;

    /// Keeps a `scan.*` event in the `scans` table.
    fn scan(
        &self,
        conn: &Self::Conn,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError>;

    /// Keeps a `file.written` event in the `files` table (its `data` decoded from base64 and
    /// bounded: see [`file_data`]).
    fn file_written(
        &self,
        conn: &Self::Conn,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError>;

    /// Keeps a `download.attempt` event in the `downloads` table.
    fn download(
        &self,
        conn: &Self::Conn,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError>;

    /// Writes a row into the table configured for plug-in instance `plugin` (see
    /// [`SqliteSink::with_configured`]): the table's columns take their values from `data`;
    /// each key of `data` the table lacks is passed to `unknown` and not stored.
    fn configured_row(
        &self,
        conn: &Self::Conn,
        plugin: &str,
        head: &RowHead<'_>,
        data: &Row,
        unknown: &mut dyn FnMut(&str),
    ) -> Result<(), StoreError>;

    /// Writes a row into `table`, creating the table or adding the columns `data` brings that it
    /// lacks (in place; rows kept). Refuses a table or column name that is not a safe
    /// identifier or belongs to the store.
    fn grown_row(
        &mut self,
        conn: &Self::Conn,
        table: &str,
        head: &RowHead<'_>,
        data: &Row,
    ) -> Result<(), StoreError>;

    /// Forgets what it knows of grown tables (after a rollback, the file may no longer have
    /// them).
    fn forget_grown(&mut self);
}

/// A configured instance table: its insert statement and its columns.
struct ConfiguredTable {
    insert: String,
    columns: Vec<String>,
}

/// The SQLite [`EventSink`]: statements are prepared once and cached on the connection.
#[derive(Default)]
pub struct SqliteSink {
    /// Plug-in instance name to its configured table.
    configured: HashMap<String, ConfiguredTable>,
    /// Grown table name to its columns (lowercase), as they exist in the file.
    grown: HashMap<String, Vec<String>>,
}

impl SqliteSink {
    /// A sink for the given plug-in instances' configured tables (a sensor's), as
    /// `(instance name, table)`.
    pub fn with_configured<'a>(
        instances: impl IntoIterator<Item = (&'a str, &'a TableSpec)>,
    ) -> Self {
        let mut sink = SqliteSink::default();
        sink.configure(instances);
        sink
    }

    /// Adds or replaces the tables of the given plug-in instances (a sensor's configuration
    /// reloaded). Instances not named keep their table, so that the live sessions of a removed
    /// instance still record where they started.
    pub fn configure<'a>(&mut self, instances: impl IntoIterator<Item = (&'a str, &'a TableSpec)>) {
        let configured = instances.into_iter().map(|(plugin, table)| {
            let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
            let names: Vec<String> = FIXED_COLUMNS[1..]
                .iter()
                .map(|(n, _)| (*n).to_owned())
                .chain(columns.iter().cloned())
                .map(|n| format!("\"{n}\""))
                .collect();
            let marks: Vec<String> = (1..=names.len()).map(|i| format!("?{i}")).collect();
            let insert = format!(
                "INSERT INTO \"{}\" ({}) VALUES ({})",
                table.name,
                names.join(", "),
                marks.join(", ")
            );
            (plugin.to_owned(), ConfiguredTable { insert, columns })
        });
        self.configured.extend(configured);
    }

    /// Creates `table` or adds the columns `data` brings that it lacks (in place; rows kept).
    fn ensure_columns(
        &mut self,
        conn: &Connection,
        table: &str,
        data: &Row,
    ) -> Result<(), StoreError> {
        if !is_safe_identifier(table) || is_store_table(table) {
            return Err(StoreError::BadTable(table.to_owned()));
        }
        if let Some(bad) = data
            .keys()
            .find(|k| !is_safe_identifier(k) || is_fixed_column(k))
        {
            return Err(StoreError::BadColumn(bad.clone()));
        }
        if !self.grown.contains_key(table) {
            let existing = crate::schema::table_columns(conn, table)?;
            let columns = existing
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect();
            if existing.is_empty() {
                let spec = TableSpec {
                    name: table.to_owned(),
                    columns: data
                        .iter()
                        .map(|(k, v)| Column::new(k, column_type(v)))
                        .collect(),
                };
                // Inside the caller's transaction (and savepoint).
                crate::schema::migrate_table(conn, &spec)?;
                let names = FIXED_COLUMNS
                    .iter()
                    .map(|(n, _)| n.to_ascii_lowercase())
                    .chain(spec.columns.iter().map(|c| c.name.to_ascii_lowercase()))
                    .collect();
                self.grown.insert(table.to_owned(), names);
                return Ok(());
            }
            self.grown.insert(table.to_owned(), columns);
        }
        let Some(columns) = self.grown.get_mut(table) else {
            return Ok(());
        };
        for (key, value) in data {
            let lower = key.to_ascii_lowercase();
            if !columns.contains(&lower) {
                conn.execute_batch(&format!(
                    "ALTER TABLE \"{table}\" ADD COLUMN \"{key}\" {}",
                    column_type(value).sql()
                ))?;
                columns.push(lower);
            }
        }
        Ok(())
    }
}

impl EventSink for SqliteSink {
    type Conn = Connection;

    fn start_session(
        &self,
        conn: &Connection,
        s: &SessionStart<'_>,
        conflict: SessionConflict<'_>,
    ) -> Result<(), StoreError> {
        let (sql, ident) = match conflict {
            SessionConflict::KeepFirst => (INSERT_SESSION, None),
            SessionConflict::MergeEarliest { ident } => (UPSERT_SESSION, Some(ident)),
        };
        let values: [&dyn rusqlite::ToSql; 11] = [
            &s.session,
            &s.sensor,
            &s.plugin,
            &s.table,
            &s.protocol,
            &s.peer,
            &s.peer_port,
            &s.local,
            &s.local_port,
            &s.start,
            &ident,
        ];
        // The sensor's statement has no ident parameter.
        let used = if ident.is_some() { 11 } else { 10 };
        conn.prepare_cached(sql)?.execute(&values[..used])?;
        Ok(())
    }

    fn end_session(&self, conn: &Connection, event: &Event) -> Result<bool, StoreError> {
        let changed = conn.prepare_cached(END_SESSION)?.execute(params![
            event.session,
            event.time,
            int(event, "bytes_in"),
            int(event, "bytes_out"),
            text(event, "reason"),
            text(event, "linked_session"),
        ])?;
        Ok(changed > 0)
    }

    fn raw_input(
        &self,
        conn: &Connection,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError> {
        conn.prepare_cached(INSERT_RAW)?.execute(params![
            event.session,
            event.time,
            peer,
            local,
            event.src_port,
            event.dst_port,
            event.id,
            event.plugin,
            text(event, "reason"),
            int(event, "length").unwrap_or(0),
            text(event, "bytes").unwrap_or(""),
        ])?;
        Ok(())
    }

    fn p0f(
        &self,
        conn: &Connection,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError> {
        let session = opened_session(event).then_some(event.session.as_str());
        conn.prepare_cached(INSERT_P0F)?.execute(params![
            session,
            event.time,
            peer,
            local,
            event.src_port,
            event.dst_port,
            text(event, "os"),
            int(event, "distance"),
            text(event, "raw_signature"),
            event.id,
            text(event, "quality"),
            text(event, "os_class"),
        ])?;
        Ok(())
    }

    fn fingerprint(
        &self,
        conn: &Connection,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError> {
        let kind = match event.kind {
            EventType::FingerprintTls => "tls",
            _ => "http",
        };
        conn.prepare_cached(INSERT_FINGERPRINT)?.execute(params![
            event.session,
            event.time,
            peer,
            local,
            event.src_port,
            event.dst_port,
            event.id,
            kind,
            text(event, "fingerprint").unwrap_or(""),
            text(event, "detail"),
            text(event, "sni"),
            text(event, "claimed_os"),
            text(event, "tcp_os"),
            Bind(event.data.get("contradiction")),
        ])?;
        Ok(())
    }

    fn scan(
        &self,
        conn: &Connection,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError> {
        let kind = event.kind.as_str().trim_start_matches("scan.");
        let ports = scan_ports(event);
        conn.prepare_cached(INSERT_SCAN)?.execute(params![
            event.session,
            event.time,
            peer,
            local,
            event.id,
            event.sensor,
            kind,
            ports,
            int(event, "port_count").unwrap_or(0),
            int(event, "packets").unwrap_or(0),
            text(event, "first_seen").unwrap_or(&event.time),
            text(event, "last_seen").unwrap_or(&event.time),
        ])?;
        Ok(())
    }

    fn file_written(
        &self,
        conn: &Connection,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError> {
        let (data, cut) = file_data(event);
        let size = event
            .data
            .get("size")
            .and_then(Value::as_u64)
            .and_then(|n| i64::try_from(n).ok())
            .or_else(|| data.as_ref().and_then(|d| i64::try_from(d.len()).ok()))
            .unwrap_or(0);
        let truncated = cut || event.data.get("truncated") == Some(&Value::Bool(true));
        conn.prepare_cached(INSERT_FILE)?.execute(params![
            event.session,
            event.time,
            peer,
            local,
            event.src_port,
            event.dst_port,
            event.id,
            text(event, "path").unwrap_or(""),
            size,
            text(event, "sha256").unwrap_or("").to_ascii_lowercase(),
            data,
            truncated,
            text(event, "via"),
        ])?;
        Ok(())
    }

    fn download(
        &self,
        conn: &Connection,
        event: &Event,
        peer: &str,
        local: &str,
    ) -> Result<(), StoreError> {
        conn.prepare_cached(INSERT_DOWNLOAD)?.execute(params![
            event.session,
            event.time,
            peer,
            local,
            event.src_port,
            event.dst_port,
            event.id,
            text(event, "url").unwrap_or(""),
            text(event, "command"),
        ])?;
        Ok(())
    }

    fn configured_row(
        &self,
        conn: &Connection,
        plugin: &str,
        head: &RowHead<'_>,
        data: &Row,
        unknown: &mut dyn FnMut(&str),
    ) -> Result<(), StoreError> {
        let Some(table) = self.configured.get(plugin) else {
            return Err(StoreError::UnknownPlugin(plugin.to_owned()));
        };
        for key in data.keys() {
            if !table.columns.iter().any(|c| c == key) {
                unknown(key);
            }
        }
        let values: Vec<Bind<'_>> = table.columns.iter().map(|c| Bind(data.get(c))).collect();
        insert_row(conn, &table.insert, head, &values)
    }

    fn grown_row(
        &mut self,
        conn: &Connection,
        table: &str,
        head: &RowHead<'_>,
        data: &Row,
    ) -> Result<(), StoreError> {
        self.ensure_columns(conn, table, data)?;
        let mut names = String::from(
            "session, eventDateTime, peerAddress, localAddress, peerPort, localPort, eventId, eventType",
        );
        let mut marks = String::from("?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8");
        for (i, key) in data.keys().enumerate() {
            names.push_str(&format!(", \"{key}\""));
            marks.push_str(&format!(", ?{}", i + 9));
        }
        let sql = format!("INSERT INTO \"{table}\" ({names}) VALUES ({marks})");
        let values: Vec<Bind<'_>> = data.values().map(|v| Bind(Some(v))).collect();
        insert_row(conn, &sql, head, &values)
    }

    fn forget_grown(&mut self) {
        self.grown.clear();
    }
}

/// Runs an instance-table insert (`sql`, cached): the fixed columns from `head`, then `values`.
fn insert_row(
    conn: &Connection,
    sql: &str,
    head: &RowHead<'_>,
    values: &[Bind<'_>],
) -> Result<(), StoreError> {
    let fixed = head.params();
    let params = fixed
        .iter()
        .copied()
        .chain(values.iter().map(|v| v as &dyn rusqlite::ToSql));
    conn.prepare_cached(sql)?
        .execute(rusqlite::params_from_iter(params))?;
    Ok(())
}

impl<'a> SessionStart<'a> {
    /// The session row `event` describes, starting at its time, with its addresses as text
    /// (`peer`, `local`) and its instance's `table` when known.
    pub fn of_event(
        event: &'a Event,
        table: Option<&'a str>,
        peer: &'a str,
        local: &'a str,
    ) -> SessionStart<'a> {
        SessionStart {
            session: &event.session,
            sensor: &event.sensor,
            plugin: &event.plugin,
            table,
            protocol: &event.protocol,
            peer,
            peer_port: event.src_port,
            local,
            local_port: event.dst_port,
            start: &event.time,
        }
    }
}

impl<'a> RowHead<'a> {
    /// The fixed columns of `event`'s row, with its addresses as text (`peer`, `local`).
    pub fn of_event(event: &'a Event, peer: &'a str, local: &'a str) -> RowHead<'a> {
        RowHead {
            session: &event.session,
            time: &event.time,
            peer,
            local,
            peer_port: event.src_port,
            local_port: event.dst_port,
            event_id: &event.id,
            event_type: event.kind.as_str(),
        }
    }

    /// The eight fixed values, in [`FIXED_COLUMNS`] order after `ID`.
    fn params(&self) -> [&dyn rusqlite::ToSql; 8] {
        [
            &self.session,
            &self.time,
            &self.peer,
            &self.local,
            &self.peer_port,
            &self.local_port,
            &self.event_id,
            &self.event_type,
        ]
    }
}

/// Applies one event the way a sensor records it: a `session.start` creates the session's row
/// (the first start stays), a `session.end` fills in its end (an error when the session has no
/// row), `input.raw` goes to `rawInput`, the capture's events to `p0f`, `fingerprints` and
/// `scans`, `file.written` to `files`, `download.attempt` to `downloads`, and every other event is a row in its plug-in
/// instance's configured table. Each data key the table has no column for is logged and
/// counted in `unknown_columns`, and its value not stored.
pub fn write_event<S: EventSink>(
    sink: &S,
    conn: &S::Conn,
    event: &Event,
    unknown_columns: &AtomicU64,
) -> Result<(), StoreError> {
    let peer = event.src_ip.to_string();
    let local = event.dst_ip.to_string();
    match event.kind {
        EventType::SessionStart => {
            let start = SessionStart::of_event(event, text(event, "table"), &peer, &local);
            sink.start_session(conn, &start, SessionConflict::KeepFirst)?;
        }
        EventType::SessionEnd => {
            if !sink.end_session(conn, event)? {
                return Err(StoreError::NoSession(event.session.clone()));
            }
        }
        EventType::InputRaw => sink.raw_input(conn, event, &peer, &local)?,
        EventType::FingerprintP0f => sink.p0f(conn, event, &peer, &local)?,
        EventType::FingerprintTls | EventType::FingerprintHttp => {
            sink.fingerprint(conn, event, &peer, &local)?
        }
        kind if kind.is_scan() => sink.scan(conn, event, &peer, &local)?,
        EventType::FileWritten => sink.file_written(conn, event, &peer, &local)?,
        EventType::DownloadAttempt => sink.download(conn, event, &peer, &local)?,
        _ => {
            let head = RowHead::of_event(event, &peer, &local);
            sink.configured_row(conn, &event.plugin, &head, &event.data, &mut |column| {
                unknown_columns.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(plugin = %event.plugin, column = %column, "column not in the instance's table; value not stored");
            })?;
        }
    }
    Ok(())
}

/// False for an event the packet capture made of no session: a scan report, or the p0f
/// fingerprint of a SYN that opened no session (`"opened_session": false`; its `session` is
/// then the fingerprint's own id, as every event needs one).
pub fn opened_session(event: &Event) -> bool {
    !event.kind.is_scan() && event.data.get("opened_session") != Some(&Value::Bool(false))
}

/// A scan event's `ports` (a JSON array of port numbers) as the `scans` table keeps them:
/// `"22,23,80"`, numbers only (anything else in the array is left out).
pub fn scan_ports(event: &Event) -> String {
    let mut out = String::new();
    if let Some(Value::Array(ports)) = event.data.get("ports") {
        for port in ports
            .iter()
            .filter_map(Value::as_u64)
            .filter(|p| *p <= 65_535)
        {
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(&port.to_string());
        }
    }
    out
}

/// The bytes of a `file.written` event as the `files` table keeps them: its `data` (standard
/// base64) decoded, at most [`MAX_FILE_DATA_BYTES`] of them, and whether that cut the data.
/// Missing or malformed base64 keeps no bytes (the row still records the path, size and hash).
/// Only as much of the text as the cap needs is decoded.
pub fn file_data(event: &Event) -> (Option<Vec<u8>>, bool) {
    use base64::Engine;
    let Some(encoded) = text(event, "data") else {
        return (None, false);
    };
    // Four characters make three bytes: decode whole groups, one more than the cap needs.
    let needed = MAX_FILE_DATA_BYTES.div_ceil(3) * 4;
    let cut = encoded.len() > needed;
    let Some(part) = encoded.get(..encoded.len().min(needed)) else {
        return (None, false);
    };
    match base64::engine::general_purpose::STANDARD.decode(part) {
        Ok(mut bytes) => {
            let over = bytes.len() > MAX_FILE_DATA_BYTES;
            bytes.truncate(MAX_FILE_DATA_BYTES);
            (Some(bytes), cut || over)
        }
        Err(_) => (None, false),
    }
}

/// A JSON value bound as the matching SQLite value: strings as TEXT (not JSON-quoted), integers
/// as INTEGER, other numbers as REAL, booleans as 0/1, missing or null as NULL, and arrays or
/// objects as their JSON text.
pub struct Bind<'a>(pub Option<&'a Value>);

impl rusqlite::ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, Value as Sql, ValueRef};
        Ok(match self.0 {
            None | Some(Value::Null) => ToSqlOutput::Owned(Sql::Null),
            Some(Value::String(s)) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Some(Value::Bool(b)) => ToSqlOutput::Owned(Sql::Integer(i64::from(*b))),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(i) => ToSqlOutput::Owned(Sql::Integer(i)),
                None => ToSqlOutput::Owned(Sql::Real(n.as_f64().unwrap_or(f64::NAN))),
            },
            Some(other) => ToSqlOutput::Owned(Sql::Text(other.to_string())),
        })
    }
}

/// The column type a first value suggests (for a grown table).
pub fn column_type(value: &Value) -> ColumnType {
    match value {
        Value::Bool(_) => ColumnType::Integer,
        Value::Number(n) if n.is_i64() || n.is_u64() => ColumnType::Integer,
        Value::Number(_) => ColumnType::Real,
        _ => ColumnType::Text,
    }
}

fn text<'a>(event: &'a Event, key: &str) -> Option<&'a str> {
    event.data.get(key).and_then(Value::as_str)
}

fn int(event: &Event, key: &str) -> Option<i64> {
    event.data.get(key).and_then(Value::as_i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Column, ColumnType};

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = crate::writer::open(&dir.path().join("e.sqlite"), &[]).unwrap();
        (dir, conn)
    }

    fn start<'a>(time: &'a str, table: Option<&'a str>) -> SessionStart<'a> {
        SessionStart {
            session: "s1",
            sensor: "sensor",
            plugin: "web",
            table,
            protocol: "http",
            peer: "203.0.113.7",
            peer_port: 40000,
            local: "127.0.0.1",
            local_port: 8080,
            start: time,
        }
    }

    fn session(conn: &Connection) -> (String, Option<String>, Option<String>) {
        conn.query_row(
            "SELECT startTime, tableName, ident FROM sessions WHERE session = 's1'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap()
    }

    const HEAD: RowHead<'static> = RowHead {
        session: "s1",
        time: "t",
        peer: "203.0.113.7",
        local: "127.0.0.1",
        peer_port: 40000,
        local_port: 8080,
        event_id: "e1",
        event_type: "http.request",
    };

    #[test]
    fn a_sensor_keeps_the_first_start_and_the_central_store_merges_the_earliest() {
        let (_dir, conn) = store();
        let sink = SqliteSink::default();
        sink.start_session(&conn, &start("t2", None), SessionConflict::KeepFirst)
            .unwrap();
        sink.start_session(
            &conn,
            &start("t1", Some("http")),
            SessionConflict::KeepFirst,
        )
        .unwrap();
        assert_eq!(session(&conn), ("t2".into(), None, None));

        let (_dir, conn) = store();
        let merge = SessionConflict::MergeEarliest { ident: "sensor-1" };
        sink.start_session(&conn, &start("t2", None), merge)
            .unwrap();
        sink.start_session(&conn, &start("t3", Some("http")), merge)
            .unwrap();
        sink.start_session(&conn, &start("t1", Some("other")), merge)
            .unwrap();
        assert_eq!(
            session(&conn),
            ("t1".into(), Some("http".into()), Some("sensor-1".into()))
        );
    }

    #[test]
    fn configured_rows_report_unknown_keys_and_grown_tables_refuse_store_names() {
        let (_dir, conn) = store();
        let spec = TableSpec {
            name: "http".into(),
            columns: vec![Column::new("path", ColumnType::Text)],
        };
        crate::schema::migrate_table(&conn, &spec).unwrap();
        let mut sink = SqliteSink::with_configured([("web", &spec)]);
        let mut data = Row::new();
        data.insert("path".into(), "/".into());
        data.insert("bogus".into(), 1.into());
        let mut unknown = Vec::new();
        sink.configured_row(&conn, "web", &HEAD, &data, &mut |k| {
            unknown.push(k.to_owned())
        })
        .unwrap();
        assert_eq!(unknown, vec!["bogus".to_string()]);
        assert!(matches!(
            sink.configured_row(&conn, "nope", &HEAD, &data, &mut |_| {}),
            Err(StoreError::UnknownPlugin(_))
        ));

        sink.grown_row(&conn, "grown", &HEAD, &data).unwrap();
        data.insert("more".into(), 0.5.into());
        sink.grown_row(&conn, "grown", &HEAD, &data).unwrap();
        let typ: String = conn
            .query_row(
                "SELECT typeof(more) FROM grown WHERE more IS NOT NULL",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(typ, "real");
        assert!(matches!(
            sink.grown_row(&conn, "sessions", &HEAD, &data),
            Err(StoreError::BadTable(_))
        ));
        data.insert("eventId".into(), "x".into());
        assert!(matches!(
            sink.grown_row(&conn, "grown", &HEAD, &data),
            Err(StoreError::BadColumn(_))
        ));
    }

    fn capture_event(kind: EventType, session: &str, data: serde_json::Value) -> Event {
        Event {
            schema: crate::SCHEMA_VERSION,
            id: crate::new_id(),
            sensor: "sensor".into(),
            session: session.into(),
            time: "2026-12-07T10:00:00.000000Z".into(),
            kind,
            plugin: "capture".into(),
            protocol: "tcp".into(),
            src_ip: "203.0.113.7".parse().unwrap(),
            src_port: 40000,
            dst_ip: "127.0.0.1".parse().unwrap(),
            dst_port: 23,
            data: data.as_object().unwrap().clone(),
        }
    }

    #[test]
    fn fingerprints_and_scans_go_to_their_tables() {
        let (_dir, conn) = store();
        let sink = SqliteSink::default();
        let unknown = AtomicU64::new(0);
        let p0f = serde_json::json!({"os": "Linux 2.2.x-3.x", "os_class": "unix", "distance": 0,
            "raw_signature": "4:64+0:0:65495:mss*20,7:mss,sok,ts,nop,ws:df,id+:0", "quality": "exact"});
        let mut without = p0f.clone();
        without["opened_session"] = false.into();
        let mut without = p0f.clone();
        without["opened_session"] = false.into();
        write_event(
            &sink,
            &conn,
            &capture_event(EventType::FingerprintP0f, "s1", p0f),
            &unknown,
        )
        .unwrap();
        write_event(
            &sink,
            &conn,
            &capture_event(EventType::FingerprintP0f, &crate::new_id(), without),
            &unknown,
        )
        .unwrap();
        let rows: Vec<(Option<String>, String, i64, String, String)> = conn
            .prepare("SELECT session, os, distance, quality, osClass FROM p0f ORDER BY ID")
            .unwrap()
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].0.as_deref(), Some("s1"));
        assert_eq!(rows[1].0, None, "a SYN that opened no session");
        assert_eq!(
            (
                rows[0].1.as_str(),
                rows[0].2,
                rows[0].3.as_str(),
                rows[0].4.as_str()
            ),
            ("Linux 2.2.x-3.x", 0, "exact", "unix")
        );

        let tls = serde_json::json!({"fingerprint": "t13d1516h2_8daaf6152771_02713d6af862",
            "detail": "t13d1516h2_002f,0035_0005,000a", "sni": "<script>"});
        write_event(
            &sink,
            &conn,
            &capture_event(EventType::FingerprintTls, "s1", tls),
            &unknown,
        )
        .unwrap();
        let http = serde_json::json!({"fingerprint": "1:Host,User-Agent:Accept:curl/", "detail": "curl",
            "claimed_os": "Windows", "tcp_os": "Linux 2.2.x-3.x", "contradiction": true});
        write_event(
            &sink,
            &conn,
            &capture_event(EventType::FingerprintHttp, "s1", http),
            &unknown,
        )
        .unwrap();
        let rows: Vec<(String, String, Option<String>, Option<i64>)> = conn
            .prepare("SELECT kind, fingerprint, sni, contradiction FROM fingerprints ORDER BY ID")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows[0],
            (
                "tls".into(),
                "t13d1516h2_8daaf6152771_02713d6af862".into(),
                Some("<script>".into()),
                None
            )
        );
        assert_eq!(rows[1].0, "http");
        assert_eq!(rows[1].3, Some(1));

        let scan = serde_json::json!({"ports": [22, 23, "x", 70000, 80], "port_count": 3,
            "packets": 6, "first_seen": "2026-12-07T09:59:58.000000Z",
            "last_seen": "2026-12-07T09:59:59.000000Z"});
        write_event(
            &sink,
            &conn,
            &capture_event(EventType::ScanSyn, &crate::new_id(), scan),
            &unknown,
        )
        .unwrap();
        let (kind, ports, count, packets): (String, String, i64, i64) = conn
            .query_row(
                "SELECT kind, ports, portCount, packets FROM scans",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .unwrap();
        assert_eq!(
            (kind.as_str(), ports.as_str(), count, packets),
            ("syn", "22,23,80", 3, 6)
        );
        assert_eq!(unknown.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn written_files_and_download_urls_go_to_their_tables() {
        use base64::Engine;
        let (_dir, conn) = store();
        let sink = SqliteSink::default();
        let unknown = AtomicU64::new(0);
        let elf = b"\x7fELF\x01\x01\x01\x00<script>";
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let mut written = capture_event(
            EventType::FileWritten,
            "s1",
            serde_json::json!({"path": "/tmp/.x<img src=x>", "size": 13,
                "sha256": "ABCDEF0123", "data": b64(elf), "truncated": false, "via": "redirect"}),
        );
        written.plugin = "telnet".into();
        write_event(&sink, &conn, &written, &unknown).unwrap();
        // Malformed base64: the row stays, without bytes; a sensor's own cut is kept.
        let bad = capture_event(
            EventType::FileWritten,
            "s1",
            serde_json::json!({"path": "/tmp/y", "size": 99999, "sha256": "00",
                "data": "not base64!", "truncated": true, "via": "scp"}),
        );
        write_event(&sink, &conn, &bad, &unknown).unwrap();
        type FileRow = (
            String,
            i64,
            String,
            Option<Vec<u8>>,
            bool,
            Option<String>,
            String,
        );
        let rows: Vec<FileRow> = conn
            .prepare(
                "SELECT path, size, sha256, data, truncated, via, eventId FROM files ORDER BY ID",
            )
            .unwrap()
            .query_map([], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows[0],
            (
                "/tmp/.x<img src=x>".into(),
                13,
                "abcdef0123".into(),
                Some(elf.to_vec()),
                false,
                Some("redirect".into()),
                written.id.clone()
            )
        );
        assert_eq!(
            (rows[1].3.clone(), rows[1].4, rows[1].1),
            (None, true, 99999)
        );

        let download = capture_event(
            EventType::DownloadAttempt,
            "s1",
            serde_json::json!({"url": "http://203.0.113.9/x.sh?a=<b>", "command": "wget"}),
        );
        write_event(&sink, &conn, &download, &unknown).unwrap();
        let (url, command): (String, String) = conn
            .query_row("SELECT url, command FROM downloads", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(
            (url.as_str(), command.as_str()),
            ("http://203.0.113.9/x.sh?a=<b>", "wget")
        );
        assert_eq!(unknown.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn file_data_is_bounded() {
        use base64::Engine;
        let big = vec![0x41u8; MAX_FILE_DATA_BYTES + 10];
        let encoded = base64::engine::general_purpose::STANDARD.encode(&big);
        let event = capture_event(
            EventType::FileWritten,
            "s1",
            serde_json::json!({"data": encoded}),
        );
        let (data, cut) = file_data(&event);
        assert_eq!(data.map(|d| d.len()), Some(MAX_FILE_DATA_BYTES));
        assert!(cut);
        let exact = base64::engine::general_purpose::STANDARD.encode(&big[..MAX_FILE_DATA_BYTES]);
        let event = capture_event(
            EventType::FileWritten,
            "s1",
            serde_json::json!({"data": exact}),
        );
        assert!(!file_data(&event).1);
        let event = capture_event(
            EventType::FileWritten,
            "s1",
            serde_json::json!({"data": "\u{e9}\u{e9}"}),
        );
        assert_eq!(file_data(&event), (None, false));
        let event = capture_event(EventType::FileWritten, "s1", serde_json::json!({}));
        assert_eq!(file_data(&event), (None, false));
    }
}
