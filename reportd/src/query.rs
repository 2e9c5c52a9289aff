//! The SQL behind each endpoint. Every function takes a read-only connection and returns typed
//! rows; every list is bounded (`LIMIT`), every value is a bound parameter, and table names come
//! from the database's own catalogue and are checked before they are quoted.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::QueryError;
use crate::budget::{BoundedArray, cap_bytes, cap_string, cut_marker};

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

/// A count by key (ports, countries) for the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyCount {
    /// The key (a port number, a country code, `unknown`).
    pub key: String,
    /// Sessions.
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

/// Ports with sessions in the window, and every other port ever attacked with zeros (RECCE7
/// listed every enabled port).
pub fn ports(conn: &Connection, f: &Filter) -> Result<Vec<PortCount>, QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT localPort, count(*), count(DISTINCT peerAddress) FROM sessions
         WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2) GROUP BY +localPort",
    )?;
    let mut out: Vec<PortCount> = stmt
        .query_map(params![f.since, f.sensor], |r| {
            Ok(PortCount {
                port: r.get::<_, i64>(0)?.clamp(0, 65535) as u16,
                total_attacks: r.get(1)?,
                unique_ipaddresses: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    for port in all_ports(conn, f.sensor.as_deref())? {
        if !out.iter().any(|p| p.port == port) {
            out.push(PortCount {
                port,
                total_attacks: 0,
                unique_ipaddresses: 0,
            });
        }
    }
    out.sort_by_key(|p| p.port);
    Ok(out)
}

const SESSION_COLUMNS: &str = "session, sensor, ident, plugin, protocol, startTime, endTime,
    peerAddress, peerPort, localAddress, localPort, bytesIn, bytesOut, closeReason, linkedSession,
    tableName";

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<(SessionOut, Option<String>)> {
    let begin: String = r.get(5)?;
    let end: Option<String> = r.get(6)?;
    let duration = end.as_deref().and_then(|e| seconds_between(&begin, e));
    Ok((
        SessionOut {
            session: r.get(0)?,
            sensor: r.get(1)?,
            ident: r.get(2)?,
            plugin: r.get(3)?,
            protocol: r.get(4)?,
            begin_time: begin,
            end_time: end,
            duration,
            peer_address: r.get(7)?,
            peer_port: r.get(8)?,
            local_address: r.get(9)?,
            local_port: r.get(10)?,
            bytes_in: r.get(11)?,
            bytes_out: r.get(12)?,
            close_reason: r.get(13)?,
            linked_session: r.get(14)?,
            item_count: 0,
        },
        r.get(15)?,
    ))
}

/// The tables a session's rows live in, in answer order: its instance table (when it is one of
/// `tables`, the file's instance tables read once per request), then raw input.
fn item_tables<'a>(tables: &'a [String], table: Option<&'a str>) -> Vec<&'a str> {
    let table = table.filter(|t| tables.iter().any(|x| x == t));
    table
        .into_iter()
        .chain(std::iter::once("rawInput"))
        .collect()
}

/// How many rows `session` recorded (indexed counts, no row is read).
pub fn item_count(
    conn: &Connection,
    tables: &[String],
    session: &str,
    table: Option<&str>,
) -> Result<i64, QueryError> {
    let mut n = 0;
    for t in item_tables(tables, table) {
        let sql = format!("SELECT count(*) FROM \"{t}\" WHERE session = ?1");
        n += conn
            .prepare_cached(&sql)?
            .query_row([session], |r| r.get::<_, i64>(0))?;
    }
    Ok(n)
}

/// Where a page of a session's rows starts: after this row (its time, the index of its table
/// in [`item_tables`], its ID). Handed out as `time~table~ID` (its `Display`); the API parses
/// it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCursor {
    /// The row's `eventDateTime` (empty when it has none).
    pub time: String,
    /// The index of the row's table in [`item_tables`]: 0 or 1.
    pub table: usize,
    /// The row's `ID`.
    pub id: i64,
}

impl std::fmt::Display for ItemCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}~{}", self.time, self.table, self.id)
    }
}

/// One page of a session's rows, serialized under a byte budget.
#[derive(Debug)]
pub struct ItemPage {
    /// The rows as a JSON array.
    pub json: Vec<u8>,
    /// Rows in it.
    pub count: usize,
    /// Where the next page starts, when rows are left.
    pub next_cursor: Option<ItemCursor>,
    /// True when the budget, not `limit`, ended the page.
    pub truncated: bool,
}

/// Up to `limit` of `session`'s rows after `cursor` in time order (instance table rows before
/// raw input at the same time), as a JSON array of at most `room` bytes with every text value
/// cut to `cap` bytes. Only the rows' keys are sorted; each row is then read by its ID and
/// serialized on its own, so memory stays within `room` plus one row whatever the rows hold.
#[allow(clippy::too_many_arguments)]
pub fn session_items_page(
    conn: &Connection,
    tables: &[String],
    session: &str,
    table: Option<&str>,
    limit: usize,
    cursor: Option<&ItemCursor>,
    room: usize,
    cap: usize,
) -> Result<ItemPage, QueryError> {
    let sources = item_tables(tables, table);
    // The keys after the cursor, limit + 1 of each table, merged.
    let mut keys: Vec<(String, usize, i64)> = Vec::new();
    for (k, t) in sources.iter().enumerate() {
        let (after_time, after_id) = match cursor {
            None => (None, i64::MIN),
            Some(c) if k > c.table => (Some(c.time.as_str()), i64::MIN),
            Some(c) if k == c.table => (Some(c.time.as_str()), c.id),
            Some(c) => (Some(c.time.as_str()), i64::MAX),
        };
        let sql = format!(
            "SELECT coalesce(eventDateTime, ''), ID FROM \"{t}\" WHERE session = ?1
               AND (?2 IS NULL OR coalesce(eventDateTime, '') > ?2
                    OR (coalesce(eventDateTime, '') = ?2 AND ID > ?3))
             ORDER BY 1, ID LIMIT ?4"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let found = stmt.query_map(
            params![session, after_time, after_id, (limit + 1) as i64],
            |r| Ok((r.get::<_, String>(0)?, k, r.get::<_, i64>(1)?)),
        )?;
        for key in found {
            keys.push(key?);
        }
    }
    keys.sort();
    let more = keys.len() > limit;
    keys.truncate(limit);
    let mut array = BoundedArray::new(room);
    let mut last: Option<ItemCursor> = None;
    for (time, k, id) in keys.iter() {
        let t = sources[*k];
        let sql = format!("SELECT * FROM \"{t}\" WHERE ID = ?1");
        let mut stmt = conn.prepare_cached(&sql)?;
        let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
        let mut rows = stmt.query([id])?;
        let Some(row) = rows.next()? else { continue };
        let mut item = Map::new();
        for (i, name) in names.iter().enumerate() {
            item.insert(name.clone(), json_value(row.get_ref(i)?, cap));
        }
        if t == "rawInput" {
            item.insert("eventType".into(), Value::from("input.raw"));
        }
        if !array.push(&item) {
            break;
        }
        last = Some(ItemCursor {
            time: time.clone(),
            table: *k,
            id: *id,
        });
    }
    let truncated = array.is_full();
    let next_cursor = if truncated || more { last } else { None };
    Ok(ItemPage {
        count: array.len(),
        json: array.finish(),
        next_cursor,
        truncated,
    })
}

/// Where a page of a session list starts: after the session that started at `begin_time` with
/// id `session` (lists are newest first). Handed out as `begin_time~session` (its `Display`);
/// the API parses it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCursor {
    /// The last listed session's start, UTC RFC 3339.
    pub begin_time: String,
    /// The last listed session's id.
    pub session: String,
}

impl SessionCursor {
    /// The cursor that continues a session list after `s`.
    pub fn after(s: &SessionOut) -> SessionCursor {
        SessionCursor {
            begin_time: s.begin_time.clone(),
            session: s.session.clone(),
        }
    }
}

impl std::fmt::Display for SessionCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.begin_time, self.session)
    }
}

/// Sessions matching `condition` (newest first), as summaries with text cut to `cap` bytes;
/// `limit` of them after `cursor`, and the cursor of the next page.
fn session_page(
    conn: &Connection,
    condition: &str,
    key: Option<&str>,
    f: &Filter,
    limit: usize,
    cursor: Option<&SessionCursor>,
    cap: usize,
) -> Page<SessionOut> {
    let (after_time, after_session) = cursor
        .map(|c| (c.begin_time.as_str(), c.session.as_str()))
        .unzip();
    let sql = format!(
        "SELECT {SESSION_COLUMNS} FROM sessions
         WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2) AND {condition}
           AND (?4 IS NULL OR startTime < ?4 OR (startTime = ?4 AND session < ?5))
         ORDER BY startTime DESC, session DESC LIMIT ?6"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found: Vec<(SessionOut, Option<String>)> = stmt
        .query_map(
            params![
                f.since,
                f.sensor,
                key,
                after_time,
                after_session,
                (limit + 1) as i64
            ],
            session_row,
        )?
        .collect::<Result<_, _>>()?;
    let next = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|(s, _)| session_cursor(s))
    } else {
        None
    };
    let mut out = Vec::with_capacity(found.len());
    let tables = instance_tables(conn)?;
    for (mut s, table) in found {
        s.item_count = item_count(conn, &tables, &s.session, table.as_deref())?;
        s.cap(cap);
        out.push(s);
    }
    Ok((out, next))
}

/// The cursor that continues a session list after `s`, as handed out.
pub fn session_cursor(s: &SessionOut) -> String {
    SessionCursor::after(s).to_string()
}

/// Sessions on `port` in the window, newest first.
pub fn port_sessions(
    conn: &Connection,
    port: u16,
    f: &Filter,
    limit: usize,
    cursor: Option<&SessionCursor>,
    cap: usize,
) -> Page<SessionOut> {
    let port = port.to_string();
    session_page(conn, "localPort = ?3", Some(&port), f, limit, cursor, cap)
}

/// Sessions from `address` in the window, newest first.
pub fn address_sessions(
    conn: &Connection,
    address: &str,
    f: &Filter,
    limit: usize,
    cursor: Option<&SessionCursor>,
    cap: usize,
) -> Page<SessionOut> {
    session_page(
        conn,
        "peerAddress = ?3",
        Some(address),
        f,
        limit,
        cursor,
        cap,
    )
}

/// Every session in the window, newest first.
pub fn recent_sessions(
    conn: &Connection,
    f: &Filter,
    limit: usize,
    cursor: Option<&SessionCursor>,
    cap: usize,
) -> Page<SessionOut> {
    session_page(conn, "?3 IS NULL", None, f, limit, cursor, cap)
}

/// A session found by id: its summary, its instance table and the file's instance tables (what
/// [`session_items_page`] takes).
pub type FoundSession = (SessionOut, Option<String>, Vec<String>);

/// One session's summary, whatever its age, with where its rows are.
pub fn session(
    conn: &Connection,
    id: &str,
    cap: usize,
) -> Result<Option<FoundSession>, QueryError> {
    let sql = format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE session = ?1");
    let found = conn
        .prepare_cached(&sql)?
        .query_row([id], session_row)
        .optional()?;
    match found {
        None => Ok(None),
        Some((mut s, table)) => {
            let tables = instance_tables(conn)?;
            s.item_count = item_count(conn, &tables, &s.session, table.as_deref())?;
            s.cap(cap);
            Ok(Some((s, table, tables)))
        }
    }
}

/// Ports every session of an address reached in the window (RECCE7 listed each with zeros).
pub fn all_ports(conn: &Connection, sensor: Option<&str>) -> Result<Vec<u16>, QueryError> {
    const SKIP_SCAN: &str = "WITH RECURSIVE p(port) AS (
           SELECT min(localPort) FROM sessions
           UNION ALL
           SELECT (SELECT min(localPort) FROM sessions WHERE localPort > p.port) FROM p
           WHERE p.port IS NOT NULL)
         SELECT port FROM p WHERE port IS NOT NULL AND ?1 IS NULL";
    let mut stmt = conn.prepare_cached(if sensor.is_none() {
        SKIP_SCAN
    } else {
        "SELECT DISTINCT localPort FROM sessions WHERE ?1 IS NULL OR sensor = ?1 ORDER BY 1"
    })?;
    let mut ports: Vec<u16> = stmt
        .query_map(params![sensor], |r| r.get::<_, i64>(0))?
        .map(|p| p.map(|p| p.clamp(0, 65535) as u16))
        .collect::<Result<_, _>>()?;
    // A sensor's own database also knows its enabled ports, attacked or not.
    let instances: Option<String> = conn
        .prepare_cached("SELECT value FROM storeMeta WHERE key = 'instances'")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if let Some(list) = instances.and_then(|t| serde_json::from_str::<Vec<Value>>(&t).ok()) {
        ports.extend(
            list.iter()
                .filter_map(|i| i["port"].as_u64())
                .filter_map(|p| u16::try_from(p).ok()),
        );
    }
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// The next offset cursor, when a page came back full.
fn next_offset(offset: usize, limit: usize, got: usize) -> Option<String> {
    (got > limit).then(|| (offset + limit).to_string())
}

/// Attacking addresses in the window, most sessions first.
pub fn addresses(
    conn: &Connection,
    f: &Filter,
    limit: usize,
    offset: usize,
) -> Result<(Vec<AddressCount>, Option<String>), QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.peerAddress, c.n, c.ports, c.first, c.last, i.country, i.countryCode, i.city
         FROM (SELECT peerAddress, count(*) AS n, group_concat(DISTINCT localPort) AS ports,
                      min(startTime) AS first, max(startTime) AS last
               FROM sessions WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2)
               GROUP BY +peerAddress ORDER BY n DESC, peerAddress LIMIT ?3 OFFSET ?4) c
         LEFT JOIN ipInfo i ON i.ipAddress = c.peerAddress ORDER BY c.n DESC, c.peerAddress",
    )?;
    let mut out: Vec<AddressCount> = stmt
        .query_map(
            params![f.since, f.sensor, (limit + 1) as i64, offset as i64],
            |r| {
                let ports: Option<String> = r.get(2)?;
                let mut ports: Vec<u16> = ports
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|p| p.parse().ok())
                    .collect();
                ports.sort_unstable();
                Ok(AddressCount {
                    ipaddress: r.get(0)?,
                    total_attacks: r.get(1)?,
                    ports,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                    country: r.get(5)?,
                    country_code: r.get(6)?,
                    city: r.get(7)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = next_offset(offset, limit, out.len());
    out.truncate(limit);
    Ok((out, next))
}

/// Rows of instance tables having all of `needed` columns, in the window.
fn tables_with(conn: &Connection, needed: &[&str]) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::new();
    for t in instance_tables(conn)? {
        let cols = columns(conn, &t)?;
        if needed.iter().all(|n| cols.iter().any(|c| c == n)) {
            out.push(t);
        }
    }
    Ok(out)
}

const SENSOR_SESSIONS: &str =
    "(?2 IS NULL OR session IN (SELECT session FROM sessions WHERE sensor = ?2))";

/// Username and password pairs tried in the window, most tried first, summed over every
/// instance table that records them (one query: a UNION of the tables, grouped and limited by
/// SQLite, so the answer is bounded however many pairs there are).
pub fn credentials(
    conn: &Connection,
    f: &Filter,
    limit: usize,
    offset: usize,
    cap: usize,
) -> Result<(Vec<Credential>, Option<String>), QueryError> {
    let parts: Vec<String> = tables_with(conn, &["username", "password"])?
        .iter()
        .map(|t| {
            format!(
                "SELECT username AS k1, password AS k2, count(*) AS n, min(eventDateTime) AS f,
                        max(eventDateTime) AS l FROM \"{t}\"
                 WHERE eventDateTime >= ?1 AND username IS NOT NULL AND {SENSOR_SESSIONS}
                 GROUP BY username, password"
            )
        })
        .collect();
    if parts.is_empty() {
        return Ok((Vec::new(), None));
    }
    let sql = format!(
        "SELECT k1, k2, sum(n), min(f), max(l) FROM ({}) GROUP BY k1, k2
         ORDER BY sum(n) DESC, k1, k2 LIMIT ?3 OFFSET ?4",
        parts.join(" UNION ALL ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out: Vec<Credential> = stmt
        .query_map(
            params![f.since, f.sensor, (limit + 1) as i64, offset as i64],
            |r| {
                let mut password: Option<String> = r.get(1)?;
                if let Some(p) = &mut password {
                    cap_string(p, cap);
                }
                Ok(Credential {
                    username: cap_bytes(r.get_ref(0)?.as_bytes().unwrap_or_default(), cap),
                    password,
                    count: r.get(2)?,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = next_offset(offset, limit, out.len());
    out.truncate(limit);
    Ok((out, next))
}

/// Commands typed in the window, most typed first, summed over every instance table that
/// records commands (`user_input` rows of a `...command` type), bounded like [`credentials`].
pub fn commands(
    conn: &Connection,
    f: &Filter,
    limit: usize,
    offset: usize,
    cap: usize,
) -> Result<(Vec<CommandCount>, Option<String>), QueryError> {
    let parts: Vec<String> = tables_with(conn, &["user_input"])?
        .iter()
        .map(|t| {
            format!(
                "SELECT user_input AS k, count(*) AS n, min(eventDateTime) AS f,
                        max(eventDateTime) AS l FROM \"{t}\"
                 WHERE eventDateTime >= ?1 AND user_input IS NOT NULL
                   AND eventType LIKE '%command' AND {SENSOR_SESSIONS}
                 GROUP BY user_input"
            )
        })
        .collect();
    if parts.is_empty() {
        return Ok((Vec::new(), None));
    }
    let sql = format!(
        "SELECT k, sum(n), min(f), max(l) FROM ({}) GROUP BY k
         ORDER BY sum(n) DESC, k LIMIT ?3 OFFSET ?4",
        parts.join(" UNION ALL ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out: Vec<CommandCount> = stmt
        .query_map(
            params![f.since, f.sensor, (limit + 1) as i64, offset as i64],
            |r| {
                Ok(CommandCount {
                    command: cap_bytes(r.get_ref(0)?.as_bytes().unwrap_or_default(), cap),
                    count: r.get(1)?,
                    first_seen: r.get(2)?,
                    last_seen: r.get(3)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = next_offset(offset, limit, out.len());
    out.truncate(limit);
    Ok((out, next))
}

/// The dashboard's counters.
pub fn summary(conn: &Connection, f: &Filter, top: usize) -> Result<Summary, QueryError> {
    let (sessions, unique_addresses): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), count(DISTINCT peerAddress) FROM sessions
             WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2)",
        )?
        .query_row(params![f.since, f.sensor], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let by_port = ports(conn, f)?
        .into_iter()
        .filter(|p| p.total_attacks > 0)
        .map(|p| KeyCount {
            key: p.port.to_string(),
            count: p.total_attacks,
        });
    let mut by_port: Vec<KeyCount> = by_port.collect();
    by_port.sort_by_key(|p| std::cmp::Reverse(p.count));
    by_port.truncate(top);
    // Sessions by country, and those with a place on the map, in one pass over the window's
    // addresses (a country is one group of at most a few hundred; the top are kept).
    let mut stmt = conn.prepare_cached(
        "SELECT coalesce(i.countryCode, 'unknown'), sum(c.n),
                sum(CASE WHEN i.latitude IS NOT NULL AND i.longitude IS NOT NULL THEN c.n ELSE 0 END)
         FROM (SELECT peerAddress, count(*) AS n FROM sessions
               WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2) GROUP BY +peerAddress) c
         LEFT JOIN ipInfo i ON i.ipAddress = c.peerAddress
         GROUP BY 1 ORDER BY 2 DESC, 1",
    )?;
    let mut located_sessions = 0i64;
    let mut by_country: Vec<KeyCount> = Vec::new();
    let mut rows = stmt.query(params![f.since, f.sensor])?;
    while let Some(r) = rows.next()? {
        located_sessions += r.get::<_, i64>(2)?;
        if by_country.len() < top {
            by_country.push(KeyCount {
                key: r.get(0)?,
                count: r.get(1)?,
            });
        }
    }
    Ok(Summary {
        sessions,
        unique_addresses,
        by_port,
        by_country,
        located_sessions,
    })
}

/// The sensors in the store, most recently active first.
pub fn sensors(conn: &Connection) -> Result<Vec<SensorInfo>, QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT sensor, count(*), max(startTime) FROM sessions GROUP BY sensor ORDER BY 3 DESC LIMIT 1000",
    )?;
    let out = stmt
        .query_map([], |r| {
            Ok(SensorInfo {
                // A fleet's sensors name themselves: 1,000 names of at most 1 KiB.
                sensor: cap_bytes(
                    r.get_ref(0)?.as_bytes().unwrap_or_default(),
                    crate::budget::MIN_VALUE_BYTES,
                ),
                sessions: r.get(1)?,
                last_seen: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// Map places in the window, with the number of distinct addresses and of sessions.
pub fn places(conn: &Connection, f: &Filter) -> Result<(Vec<Place>, i64, i64), QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT round(i.latitude, 1), round(i.longitude, 1), sum(c.n) FROM
           (SELECT peerAddress, count(*) AS n FROM sessions
            WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2) GROUP BY peerAddress) c
         JOIN ipInfo i ON i.ipAddress = c.peerAddress
         WHERE i.latitude IS NOT NULL AND i.longitude IS NOT NULL
         GROUP BY 1, 2 LIMIT 100000",
    )?;
    let places = stmt
        .query_map(params![f.since, f.sensor], |r| {
            Ok(Place {
                latitude: r.get(0)?,
                longitude: r.get(1)?,
                count: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    let (unique, total): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(DISTINCT peerAddress), count(*) FROM sessions
             WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2)",
        )?
        .query_row(params![f.since, f.sensor], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((places, unique, total))
}

/// The newest session row id (for the live stream), or 0.
pub fn latest_rowid(conn: &Connection) -> Result<i64, QueryError> {
    Ok(
        conn.query_row("SELECT coalesce(max(rowid), 0) FROM sessions", [], |r| {
            r.get(0)
        })?,
    )
}

/// Sessions added after row `after` (oldest first, at most `limit`), as summaries with text cut
/// to `cap` bytes, with their row ids.
pub fn sessions_after(
    conn: &Connection,
    after: i64,
    limit: usize,
    cap: usize,
) -> Result<Vec<(i64, SessionOut)>, QueryError> {
    let sql = format!(
        "SELECT {SESSION_COLUMNS}, rowid FROM sessions WHERE rowid > ?1 ORDER BY rowid LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows: Vec<(i64, SessionOut, Option<String>)> = stmt
        .query_map(params![after, limit as i64], |r| {
            let (s, table) = session_row(r)?;
            Ok((r.get::<_, i64>(16)?, s, table))
        })?
        .collect::<Result<_, _>>()?;
    let tables = instance_tables(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (rowid, mut s, table) in rows {
        s.item_count = item_count(conn, &tables, &s.session, table.as_deref())?;
        s.cap(cap);
        out.push((rowid, s));
    }
    Ok(out)
}

/// Where an address is, from `ipInfo` (null when unknown).
pub fn ip_info(conn: &Connection, address: &str) -> Result<Option<Value>, QueryError> {
    let found = conn
        .prepare_cached(
            "SELECT city, region, country, countryCode, latitude, longitude, org, asn, firstSeen, lastSeen
             FROM ipInfo WHERE ipAddress = ?1",
        )?
        .query_row([address], |r| {
            let mut m = Map::new();
            for (i, key) in [
                "city",
                "region",
                "country",
                "country_code",
                "latitude",
                "longitude",
                "org",
                "asn",
                "first_seen",
                "last_seen",
            ]
            .iter()
            .enumerate()
            {
                m.insert(
                    (*key).to_owned(),
                    json_value(r.get_ref(i)?, crate::budget::MIN_VALUE_BYTES),
                );
            }
            Ok(Value::Object(m))
        })
        .optional()?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with one session whose rows interleave an instance table and raw input, with a
    /// tie in time between the two.
    fn store_with_rows() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let (conn, _) = store::open(&path, &[]).unwrap();
        conn.execute_batch(
            "CREATE TABLE web (ID INTEGER PRIMARY KEY, session TEXT, eventDateTime TEXT,
               peerAddress TEXT, localAddress TEXT, body TEXT);
             INSERT INTO web (session, eventDateTime, peerAddress, localAddress, body) VALUES
               ('s', '2026-01-01T00:00:03.000000Z', 'a', 'b', 'w3'),
               ('s', '2026-01-01T00:00:01.000000Z', 'a', 'b', 'w1'),
               ('s', '2026-01-01T00:00:02.000000Z', 'a', 'b', 'w2'),
               ('other', '2026-01-01T00:00:02.000000Z', 'a', 'b', 'not this session');
             INSERT INTO rawInput (session, eventDateTime, peerAddress, localAddress, plugin,
               reason, length, bytes) VALUES
               ('s', '2026-01-01T00:00:02.000000Z', 'a', 'b', 'web', 'junk', 2, 'r2'),
               ('s', '2026-01-01T00:00:00.000000Z', 'a', 'b', 'web', 'junk', 2, 'r0');",
        )
        .unwrap();
        (dir, conn)
    }

    fn labels(json: &[u8]) -> Vec<String> {
        let rows: Vec<Map<String, Value>> = serde_json::from_slice(json).unwrap();
        rows.iter()
            .map(|r| {
                r.get("body")
                    .or(r.get("bytes"))
                    .and_then(Value::as_str)
                    .unwrap()
                    .to_owned()
            })
            .collect()
    }

    #[test]
    fn a_sessions_rows_page_in_time_order_across_both_tables() {
        let (_dir, conn) = store_with_rows();
        let tables = instance_tables(&conn).unwrap();
        assert_eq!(item_count(&conn, &tables, "s", Some("web")).unwrap(), 5);
        let whole =
            session_items_page(&conn, &tables, "s", Some("web"), 100, None, 1 << 20, 1024).unwrap();
        let order = ["r0", "w1", "w2", "r2", "w3"];
        assert_eq!(
            labels(&whole.json),
            order,
            "the instance row first at a tie"
        );
        assert_eq!((whole.next_cursor, whole.truncated), (None, false));
        // One, then two rows a page: the same rows, once each.
        for limit in [1, 2] {
            let mut seen = Vec::new();
            let mut cursor = None;
            loop {
                let page = session_items_page(
                    &conn,
                    &tables,
                    "s",
                    Some("web"),
                    limit,
                    cursor.as_ref(),
                    1 << 20,
                    1024,
                )
                .unwrap();
                assert!(page.count <= limit);
                seen.extend(labels(&page.json));
                match page.next_cursor {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            assert_eq!(seen, order, "limit {limit}");
        }
        // A table that is not an instance table is never read.
        let raw_only = session_items_page(
            &conn,
            &tables,
            "s",
            Some("sessions"),
            100,
            None,
            1 << 20,
            1024,
        )
        .unwrap();
        assert_eq!(labels(&raw_only.json), ["r0", "r2"]);
    }

    #[test]
    fn the_budget_ends_a_page_and_cuts_long_values() {
        let (_dir, conn) = store_with_rows();
        conn.execute(
            "UPDATE web SET body = ?1 WHERE body = 'w2'",
            [format!("w2{}", "x".repeat(5000))],
        )
        .unwrap();
        let tables = instance_tables(&conn).unwrap();
        // Values cut at 1 KiB; room for about two rows.
        let page =
            session_items_page(&conn, &tables, "s", Some("web"), 100, None, 1500, 1024).unwrap();
        assert!(page.truncated);
        assert!(page.json.len() <= 1500, "{}", page.json.len());
        let got = labels(&page.json);
        assert_eq!(got[..2], ["r0", "w1"]);
        let rest = session_items_page(
            &conn,
            &tables,
            "s",
            Some("web"),
            100,
            page.next_cursor.as_ref(),
            1 << 20,
            1024,
        )
        .unwrap();
        let rest = labels(&rest.json);
        assert!(rest[0].starts_with("w2xxx") && rest[0].ends_with("…[cut 3978 bytes]"));
        assert_eq!(rest[0].len(), 1024 + "…[cut 3978 bytes]".len());
        assert_eq!(rest[1..], ["r2", "w3"]);
    }
}
