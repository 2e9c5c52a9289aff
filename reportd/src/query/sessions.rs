//! Sessions: their summaries (lists newest first, paged by [`SessionCursor`]), one session by
//! id, its rows a page at a time ([`ItemCursor`]) and the sessions the live stream has not
//! sent yet.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::{Filter, Page, SessionOut, instance_tables, json_value, seconds_between};
use crate::QueryError;
use crate::budget::BoundedArray;

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
/// in `item_tables`, its ID). Handed out as `time~table~ID` (its `Display`); the API parses
/// it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemCursor {
    /// The row's `eventDateTime` (empty when it has none).
    pub time: String,
    /// The index of the row's table in `item_tables`: 0 or 1.
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
