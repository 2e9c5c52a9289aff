//! Retention and crash recovery for a sensor's store.
//!
//! Retention bounds the database by age and by size. It runs on the recorder's thread between
//! batches (so it never competes with the recorder for the write lock), in small transactions
//! of at most [`RetentionPolicy::batch_rows`] rows: the oldest sessions go first, each with
//! every row it has in any table. A session is never pruned while it is open or while any of
//! its events waits unsent in the outbox, and an unsent outbox row is never deleted. Freed pages
//! go back to the file system with `PRAGMA incremental_vacuum`, and the WAL is truncated with a
//! checkpoint, so the file really shrinks.
//!
//! Crash recovery ([`close_interrupted_sessions`]) closes the sessions a `kill -9` or a power
//! cut left open, at start-up, before anything is accepted.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;
use crate::event::{Event, EventType, SCHEMA_VERSION, format_rfc3339, new_id};
use crate::outbox;
use crate::schema::table_columns;

/// Rows deleted in one pruning transaction by default: a few milliseconds of write lock.
pub const DEFAULT_PRUNE_BATCH_ROWS: usize = 500;

/// Free pages handed back to the file system per incremental-vacuum step.
pub const VACUUM_STEP_PAGES: u64 = 512;

/// The close reason of a session closed at start-up because the last run never ended it.
pub const CLOSE_REASON_RESTART: &str = "sensor restart";

/// Pruning stops this far under the size cap (per cent), so that it does not run again at
/// once, and so that the WAL (bounded to an eighth of the cap) fits under the cap too.
pub const SIZE_TARGET_PERCENT: u64 = 85;

/// What to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Sessions that started longer ago than this are pruned (none: no age limit).
    pub max_age: Option<Duration>,
    /// The database (its pages in use plus the WAL) is kept under this many bytes (none: no
    /// size limit).
    pub max_bytes: Option<u64>,
    /// How often the size is measured and the age limit applied.
    pub check_interval: Duration,
    /// The most rows deleted in one transaction.
    pub batch_rows: usize,
    /// Over the size cap, sent outbox rows go first, but only those the publisher would prune
    /// anyway (sent longer ago than its `keep_sent`): the newer ones are what it sends again
    /// after a lost connection, or holds for a broker that is down.
    pub keep_sent: Duration,
}

impl Default for RetentionPolicy {
    fn default() -> Self {
        RetentionPolicy {
            max_age: None,
            max_bytes: None,
            check_interval: Duration::from_secs(60),
            batch_rows: DEFAULT_PRUNE_BATCH_ROWS,
            keep_sent: Duration::from_secs(60),
        }
    }
}

impl RetentionPolicy {
    /// True when there is anything to enforce.
    pub fn is_enabled(&self) -> bool {
        self.max_age.is_some() || self.max_bytes.is_some()
    }

    /// Where size pruning stops: [`SIZE_TARGET_PERCENT`] of the cap.
    pub fn target_bytes(&self) -> Option<u64> {
        self.max_bytes
            .map(|m| m / 100 * SIZE_TARGET_PERCENT + m % 100 * SIZE_TARGET_PERCENT / 100)
    }

    /// The WAL's size after a checkpoint (`journal_size_limit`): an eighth of the cap, between
    /// 64 KiB and 4 MiB (SQLite's usual WAL is about 4 MiB).
    pub fn wal_limit_bytes(&self) -> u64 {
        self.max_bytes
            .map_or(4 << 20, |m| (m / 8).clamp(64 << 10, 4 << 20))
    }
}

/// How big the store is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreSize {
    /// Bytes of pages in use (the file's pages minus the free list).
    pub used_bytes: u64,
    /// Bytes of free pages in the file (returned by an incremental vacuum).
    pub free_bytes: u64,
    /// The WAL file's size.
    pub wal_bytes: u64,
}

impl StoreSize {
    /// What counts against the cap: pages in use plus the WAL.
    pub fn counted_bytes(&self) -> u64 {
        self.used_bytes + self.wal_bytes
    }
}

fn pragma_u64(conn: &Connection, name: &str) -> Result<u64, StoreError> {
    let v: i64 = conn.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0))?;
    Ok(v.max(0) as u64)
}

/// Measures the store: page counts from SQLite, the WAL from the file system.
pub fn store_size(conn: &Connection) -> Result<StoreSize, StoreError> {
    let page = pragma_u64(conn, "page_size")?;
    let pages = pragma_u64(conn, "page_count")?;
    let free = pragma_u64(conn, "freelist_count")?;
    let wal_bytes = conn
        .path()
        .filter(|p| !p.is_empty())
        .and_then(|p| std::fs::metadata(PathBuf::from(format!("{p}-wal"))).ok())
        .map_or(0, |m| m.len());
    Ok(StoreSize {
        used_bytes: pages.saturating_sub(free) * page,
        free_bytes: free * page,
        wal_bytes,
    })
}

/// Makes sure the file can shrink: switches it to `auto_vacuum = INCREMENTAL`. A new store is
/// created that way (see [`crate::open`]); an older file is converted once with a `VACUUM`,
/// which rewrites it (and needs as much free disk as the file takes). Returns true when it
/// converted.
pub fn enable_incremental_vacuum(conn: &Connection) -> Result<bool, StoreError> {
    if pragma_u64(conn, "auto_vacuum")? == 2 {
        return Ok(false);
    }
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL; VACUUM;")?;
    Ok(pragma_u64(conn, "auto_vacuum")? == 2)
}

/// The tables that hold rows of sessions (a `session` column): every plug-in instance's table,
/// configured now or not, `rawInput` and `p0f`.
pub fn session_tables(conn: &Connection) -> Result<Vec<String>, StoreError> {
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'
             AND name NOT IN ('sessions', 'outbox', 'storeMeta', 'ipInfo') ORDER BY name",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut tables = Vec::new();
    for name in names {
        if table_columns(conn, &name)?
            .iter()
            .any(|(c, _)| c.eq_ignore_ascii_case("session"))
        {
            tables.push(name);
        }
    }
    Ok(tables)
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Why a pruning step deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prune {
    /// Over the size cap: sent outbox rows sent before `sent_before_micros` (unix µs) first,
    /// then the oldest sessions, whatever their age.
    Size {
        /// Sent outbox rows sent since then are kept.
        sent_before_micros: i64,
        /// The step stops once the pages in use are down to this (checked after each session:
        /// on a small cap, one step of rows could be most of the database).
        target_bytes: u64,
    },
    /// Older than the age limit: sessions that started before `cutoff` (RFC 3339), sent outbox
    /// rows sent before `cutoff_micros`, `ipInfo` rows last seen before `cutoff`.
    Age {
        /// The oldest start time kept.
        cutoff: String,
        /// The same instant in unix microseconds (the outbox's `sentMicros`).
        cutoff_micros: i64,
    },
}

fn unix_micros(t: time::OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

impl Prune {
    /// The size rule as of now, keeping outbox rows sent within `keep_sent`, down to
    /// `target_bytes` of pages in use.
    pub fn size(keep_sent: Duration, target_bytes: u64) -> Prune {
        Prune::Size {
            sent_before_micros: unix_micros(time::OffsetDateTime::now_utc() - keep_sent),
            target_bytes,
        }
    }

    /// The age rule for a limit of `max_age`, as of now.
    pub fn age(max_age: Duration) -> Prune {
        let now = time::OffsetDateTime::now_utc();
        let cutoff = now - max_age;
        Prune::Age {
            cutoff: format_rfc3339(cutoff),
            cutoff_micros: unix_micros(cutoff),
        }
    }
}

/// What one pruning step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PruneStep {
    /// Rows deleted, in all tables.
    pub rows: u64,
    /// Sessions deleted with all their rows.
    pub sessions: u64,
}

const CANDIDATES: &str = "SELECT session, startTime FROM sessions AS s
    WHERE endTime IS NOT NULL AND (?1 IS NULL OR startTime < ?1)
    AND NOT EXISTS (SELECT 1 FROM outbox AS o WHERE o.session = s.session AND o.sentMicros IS NULL)
    ORDER BY startTime LIMIT 64";

/// Deletes at most `batch_rows` rows in one transaction: the oldest ended sessions with no
/// unsent event (all their rows in `tables`, then their `sessions` row), and by age also sent
/// outbox rows and `ipInfo` rows. A session with more rows than the budget loses them over
/// several steps; its `sessions` row goes last. Never touches an unsent outbox row.
pub fn prune_step(
    conn: &Connection,
    tables: &[String],
    why: &Prune,
    batch_rows: usize,
) -> Result<PruneStep, StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    match prune_in_transaction(conn, tables, why, batch_rows.max(1) as u64) {
        Ok(step) => match conn.execute_batch("COMMIT") {
            Ok(()) => Ok(step),
            Err(e) => {
                let _ = conn.execute_batch("ROLLBACK");
                Err(e.into())
            }
        },
        Err(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Err(e)
        }
    }
}

fn prune_in_transaction(
    conn: &Connection,
    tables: &[String],
    why: &Prune,
    budget: u64,
) -> Result<PruneStep, StoreError> {
    let mut step = PruneStep::default();
    // Pages in use as this transaction sees them (the free list counts its own deletes).
    let reached = |target: Option<u64>| -> Result<bool, StoreError> {
        Ok(match target {
            Some(t) => {
                let page = pragma_u64(conn, "page_size")?;
                let used = pragma_u64(conn, "page_count")?
                    .saturating_sub(pragma_u64(conn, "freelist_count")?);
                used * page <= t
            }
            None => false,
        })
    };
    let (cutoff, target) = match why {
        Prune::Size {
            sent_before_micros,
            target_bytes,
        } => {
            step.rows += outbox::delete_sent_oldest(conn, *sent_before_micros, budget)?;
            if step.rows >= budget || reached(Some(*target_bytes))? {
                return Ok(step);
            }
            (None, Some(*target_bytes))
        }
        Prune::Age { cutoff, .. } => (Some(cutoff.as_str()), None),
    };
    let sessions: Vec<(String, String)> = conn
        .prepare_cached(CANDIDATES)?
        .query_map([cutoff], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    // Rows of no session (scans, and fingerprints of SYNs that opened none) go by their own
    // time: by age before the cutoff, by size as old as the sessions this step deletes.
    let orphans_before = match (cutoff, sessions.last()) {
        (Some(cutoff), _) => Some(cutoff.to_owned()),
        (None, Some((_, start))) => Some(start.clone()),
        (None, None) => None,
    };
    step.rows += delete_orphans(conn, orphans_before.as_deref(), budget - step.rows)?;
    if step.rows >= budget {
        return Ok(step);
    }
    let sessions: Vec<String> = sessions.into_iter().map(|(s, _)| s).collect();
    'sessions: for session in &sessions {
        for table in tables {
            let left = budget - step.rows;
            let n = conn
                .prepare_cached(&format!(
                    "DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} WHERE session = ?1 LIMIT ?2)",
                    t = quote(table)
                ))?
                .execute(params![session, left as i64])? as u64;
            step.rows += n;
            if n == left {
                // The budget is spent; the session may have rows left, so its row stays.
                break 'sessions;
            }
        }
        step.rows += conn
            .prepare_cached("DELETE FROM sessions WHERE session = ?1")?
            .execute([session])? as u64;
        step.sessions += 1;
        if step.rows >= budget || reached(target)? {
            break;
        }
    }
    if let Prune::Age {
        cutoff,
        cutoff_micros,
    } = why
    {
        if step.rows < budget {
            step.rows += outbox::delete_sent_oldest(conn, *cutoff_micros, budget - step.rows)?;
        }
        if step.rows < budget {
            step.rows +=
                conn.prepare_cached(
                    "DELETE FROM ipInfo WHERE rowid IN (SELECT rowid FROM ipInfo
                     WHERE lastSeen < ?1 LIMIT ?2)",
                )?
                .execute(params![cutoff, (budget - step.rows) as i64])? as u64;
        }
    }
    Ok(step)
}

/// Deletes at most `budget` rows that belong to no session: `scans` rows and `p0f` rows without
/// a session, older than `before` (all of them, oldest first, when `None`), never one whose
/// event is still waiting in the outbox. Both tables exist in every store [`crate::open`] opened.
fn delete_orphans(conn: &Connection, before: Option<&str>, budget: u64) -> Result<u64, StoreError> {
    const ORPHANS: [(&str, &str); 2] =
        [("scans", "session IS NOT NULL"), ("p0f", "session IS NULL")];
    let mut deleted = 0u64;
    for (table, which) in ORPHANS {
        if deleted >= budget {
            break;
        }
        deleted += conn
            .prepare_cached(&format!(
                "DELETE FROM {table} WHERE rowid IN (SELECT rowid FROM {table} AS t
                 WHERE {which} AND (?1 IS NULL OR eventDateTime < ?1)
                 AND NOT EXISTS (SELECT 1 FROM outbox AS o
                     WHERE o.sentMicros IS NULL AND o.eventId = t.eventId)
                 ORDER BY eventDateTime LIMIT ?2)"
            ))?
            .execute(params![before, (budget - deleted) as i64])? as u64;
    }
    Ok(deleted)
}

/// Hands up to `pages` free pages back to the file system; returns the free pages left.
pub fn vacuum_step(conn: &Connection, pages: u64) -> Result<u64, StoreError> {
    conn.execute_batch(&format!("PRAGMA incremental_vacuum({pages})"))?;
    pragma_u64(conn, "freelist_count")
}

/// Copies the WAL into the database and truncates it to nothing (when no reader holds an old
/// snapshot; otherwise as far as it can). Returns true when the WAL was truncated.
pub fn checkpoint_truncate(conn: &Connection) -> Result<bool, StoreError> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    Ok(busy == 0)
}

/// What [`close_interrupted_sessions`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Sessions closed.
    pub sessions: u64,
    /// Their `session.end` events queued in the outbox.
    pub outboxed: u64,
    /// Events not queued because the outbox was full (counted like the recorder counts them).
    pub outbox_full: u64,
}

/// Closes the sessions the last run left open (`endTime` NULL after a `kill -9`, a crash or a
/// power cut): call it at start-up, before anything is accepted, when no session is live.
///
/// Each gets `endTime` = the time of its last recorded row (its start when it has none), close
/// reason [`CLOSE_REASON_RESTART`], and NULL byte counts: they were only in the dead process's
/// memory, and 0 would claim that nothing was exchanged. With `outbox_max` (when publishing),
/// each session's `session.end` event, shaped as the sensor publishes a normal end, is queued
/// in the outbox, up to `outbox_max` unsent events. One transaction for all of it.
pub fn close_interrupted_sessions(
    conn: &mut Connection,
    outbox_max: Option<u64>,
) -> Result<Recovered, StoreError> {
    let tables = session_tables(conn)?;
    let tx = conn.transaction()?;
    let mut done = Recovered::default();
    type Open = (
        String,
        String,
        String,
        String,
        String,
        u16,
        String,
        u16,
        String,
    );
    let open: Vec<Open> = tx
        .prepare(
            "SELECT session, sensor, plugin, protocol, peerAddress, peerPort, localAddress,
             localPort, startTime FROM sessions WHERE endTime IS NULL ORDER BY startTime",
        )?
        .query_map([], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
                r.get(7)?,
                r.get(8)?,
            ))
        })?
        .collect::<Result<_, _>>()?;
    let mut unsent = outbox::count_unsent(&tx)?;
    for (session, sensor, plugin, protocol, peer, peer_port, local, local_port, start) in open {
        let mut end = start.clone();
        for table in &tables {
            let last: Option<String> = tx
                .prepare_cached(&format!(
                    "SELECT max(eventDateTime) FROM {} WHERE session = ?1",
                    quote(table)
                ))?
                .query_row([&session], |r| r.get(0))
                .optional()?
                .flatten();
            if let Some(last) = last.filter(|l| *l > end) {
                end = last;
            }
        }
        tx.prepare_cached(
            "UPDATE sessions SET endTime = ?2, closeReason = ?3, bytesIn = NULL, bytesOut = NULL
             WHERE session = ?1",
        )?
        .execute(params![session, end, CLOSE_REASON_RESTART])?;
        done.sessions += 1;
        let Some(max) = outbox_max else { continue };
        if unsent >= max {
            done.outbox_full += 1;
            continue;
        }
        let (Ok(src_ip), Ok(dst_ip)) = (peer.parse::<IpAddr>(), local.parse::<IpAddr>()) else {
            tracing::warn!(%session, "addresses of an interrupted session do not parse; its end is not published");
            continue;
        };
        let mut data = crate::Row::new();
        data.insert("reason".into(), CLOSE_REASON_RESTART.into());
        let event = Event {
            schema: SCHEMA_VERSION,
            id: new_id(),
            sensor,
            session: session.clone(),
            time: end,
            kind: EventType::SessionEnd,
            plugin,
            protocol,
            src_ip,
            src_port: peer_port,
            dst_ip,
            dst_port: local_port,
            data,
        };
        outbox::insert(&tx, &event)?;
        unsent += 1;
        done.outboxed += 1;
    }
    tx.commit()?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = crate::open(
            &dir.path().join("r.sqlite"),
            &[crate::InstanceTable {
                plugin: "web".into(),
                table: crate::TableSpec {
                    name: "http".into(),
                    columns: vec![crate::Column::new("path", crate::ColumnType::Text)],
                },
            }],
        )
        .unwrap();
        (dir, conn)
    }

    fn session(conn: &Connection, id: &str, start: &str, end: Option<&str>, rows: usize) {
        conn.execute(
            "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress,
             peerPort, localAddress, localPort, startTime, endTime, bytesIn, bytesOut, closeReason)
             VALUES (?1, 's', 'web', 'http', 'http', '203.0.113.9', 4000, '127.0.0.1', 8080, ?2, ?3, 1, 2, 'x')",
            params![id, start, end],
        )
        .unwrap();
        for i in 0..rows {
            conn.execute(
                "INSERT INTO http (session, eventDateTime, peerAddress, localAddress, path)
                 VALUES (?1, ?2, '203.0.113.9', '127.0.0.1', ?3)",
                params![id, format!("{start}{i:04}"), "x".repeat(200)],
            )
            .unwrap();
        }
    }

    fn one(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn scans_and_sessionless_fingerprints_age_out_unless_unsent() {
        let (_dir, conn) = store();
        for (id, time) in [
            ("old", "2026-01-01T00:00:00.000000Z"),
            ("unsent", "2026-01-02T00:00:00.000000Z"),
            ("new", "2026-06-01T00:00:00.000000Z"),
        ] {
            conn.execute(
                "INSERT INTO scans (session, eventDateTime, peerAddress, localAddress, eventId, kind,
                 ports, portCount, packets, firstSeen, lastSeen)
                 VALUES (?1, ?2, '203.0.113.9', '127.0.0.1', ?1, 'syn', '22', 1, 1, ?2, ?2)",
                params![id, time],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO p0f (session, eventDateTime, peerAddress, eventId) VALUES (NULL, ?2, '203.0.113.9', ?1)",
                params![format!("p-{id}"), time],
            )
            .unwrap();
        }
        // A p0f row of a session stays with its session.
        conn.execute(
            "INSERT INTO p0f (session, eventDateTime, peerAddress, eventId) VALUES ('s', '2026-01-01T00:00:00.000000Z', '203.0.113.9', 'p-s')",
            [],
        )
        .unwrap();
        for id in ["unsent", "p-unsent"] {
            conn.execute(
                "INSERT INTO outbox (eventId, eventDateTime, payload, session) VALUES (?1, 't', '{}', ?1)",
                [id],
            )
            .unwrap();
        }
        let tables = session_tables(&conn).unwrap();
        let age = Prune::Age {
            cutoff: "2026-03-01T00:00:00.000000Z".into(),
            cutoff_micros: 0,
        };
        let step = prune_step(&conn, &tables, &age, 100).unwrap();
        assert_eq!(step.rows, 2, "the old scan and the old sessionless p0f row");
        let left = |sql: &str| -> Vec<String> {
            conn.prepare(sql)
                .unwrap()
                .query_map([], |r| r.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        assert_eq!(
            left("SELECT session FROM scans ORDER BY ID"),
            ["unsent", "new"]
        );
        assert_eq!(
            left("SELECT eventId FROM p0f ORDER BY ID"),
            ["p-unsent", "p-new", "p-s"]
        );
    }

    #[test]
    fn new_stores_can_shrink() {
        let (_dir, conn) = store();
        assert_eq!(pragma_u64(&conn, "auto_vacuum").unwrap(), 2);
        assert!(!enable_incremental_vacuum(&conn).unwrap());
    }

    #[test]
    fn written_files_and_download_urls_go_with_their_sessions() {
        let (_dir, conn) = store();
        for (id, start) in [
            ("old", "2026-01-01T00:00:00.000000Z"),
            ("new", "2026-06-01T00:00:00.000000Z"),
        ] {
            session(&conn, id, start, Some(start), 1);
            conn.execute(
                "INSERT INTO files (session, eventDateTime, peerAddress, localAddress, path, size,
                 sha256, data, truncated) VALUES (?1, ?2, '203.0.113.9', '127.0.0.1', '/tmp/x', 3,
                 'ab', x'010203', 0)",
                params![id, start],
            )
            .unwrap();
            conn.execute(
                "INSERT INTO downloads (session, eventDateTime, peerAddress, localAddress, url,
                 command) VALUES (?1, ?2, '203.0.113.9', '127.0.0.1', 'http://203.0.113.9/x', 'wget')",
                params![id, start],
            )
            .unwrap();
        }
        let tables = session_tables(&conn).unwrap();
        assert!(tables.contains(&"files".to_string()) && tables.contains(&"downloads".to_string()));
        let age = Prune::Age {
            cutoff: "2026-03-01T00:00:00.000000Z".into(),
            cutoff_micros: 0,
        };
        while prune_step(&conn, &tables, &age, 100).unwrap().rows > 0 {}
        assert_eq!(
            one(&conn, "SELECT count(*) FROM files WHERE session = 'old'"),
            0
        );
        assert_eq!(
            one(
                &conn,
                "SELECT count(*) FROM downloads WHERE session = 'old'"
            ),
            0
        );
        assert_eq!(
            one(&conn, "SELECT count(*) FROM files WHERE session = 'new'"),
            1
        );
        assert_eq!(
            one(
                &conn,
                "SELECT count(*) FROM downloads WHERE session = 'new'"
            ),
            1
        );
    }

    #[test]
    fn oldest_first_in_small_steps_never_open_or_unsent_sessions() {
        let (_dir, conn) = store();
        session(
            &conn,
            "a-old",
            "2026-01-01T00:00:00.000000Z",
            Some("2026-01-01T00:00:01.000000Z"),
            3,
        );
        session(
            &conn,
            "b-unsent",
            "2026-01-02T00:00:00.000000Z",
            Some("2026-01-02T00:00:01.000000Z"),
            3,
        );
        session(&conn, "c-open", "2026-01-03T00:00:00.000000Z", None, 3);
        session(
            &conn,
            "d-big",
            "2026-01-04T00:00:00.000000Z",
            Some("2026-01-04T00:00:01.000000Z"),
            7,
        );
        session(
            &conn,
            "e-new",
            "2026-06-01T00:00:00.000000Z",
            Some("2026-06-01T00:00:01.000000Z"),
            2,
        );
        conn.execute(
            "INSERT INTO outbox (eventId, eventDateTime, payload, session) VALUES ('e1', 't', '{}', 'b-unsent')",
            [],
        )
        .unwrap();
        let tables = session_tables(&conn).unwrap();
        assert!(tables.contains(&"http".to_string()) && tables.contains(&"rawInput".to_string()));
        // By age: only sessions started before March; 4 rows per transaction.
        let age = Prune::Age {
            cutoff: "2026-03-01T00:00:00.000000Z".into(),
            cutoff_micros: 0,
        };
        let first = prune_step(&conn, &tables, &age, 4).unwrap();
        assert_eq!(
            first,
            PruneStep {
                rows: 4,
                sessions: 1
            },
            "a-old: 3 rows and its session"
        );
        let second = prune_step(&conn, &tables, &age, 4).unwrap();
        assert_eq!(
            second,
            PruneStep {
                rows: 4,
                sessions: 0
            },
            "d-big, part of it"
        );
        let mut total = PruneStep::default();
        loop {
            let s = prune_step(&conn, &tables, &age, 4).unwrap();
            if s.rows == 0 {
                break;
            }
            total.rows += s.rows;
            total.sessions += s.sessions;
        }
        assert_eq!(
            total,
            PruneStep {
                rows: 4,
                sessions: 1
            },
            "the rest of d-big"
        );
        let left: Vec<String> = conn
            .prepare("SELECT session FROM sessions ORDER BY session")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(left, ["b-unsent", "c-open", "e-new"]);
        assert_eq!(one(&conn, "SELECT count(*) FROM http"), 8);
        // By size: whatever the age, but still never open or unsent.
        while prune_step(
            &conn,
            &tables,
            &Prune::Size {
                sent_before_micros: 0,
                target_bytes: 0,
            },
            4,
        )
        .unwrap()
        .rows
            > 0
        {}
        assert_eq!(one(&conn, "SELECT count(*) FROM sessions"), 2);
        assert_eq!(
            one(
                &conn,
                "SELECT count(*) FROM outbox WHERE sentMicros IS NULL"
            ),
            1
        );
        // Once sent, it may go.
        conn.execute("UPDATE outbox SET sentMicros = 1", [])
            .unwrap();
        while prune_step(
            &conn,
            &tables,
            &Prune::Size {
                sent_before_micros: 0,
                target_bytes: 0,
            },
            4,
        )
        .unwrap()
        .rows
            > 0
        {}
        assert_eq!(
            one(&conn, "SELECT count(*) FROM sessions"),
            1,
            "the open one stays"
        );
    }

    #[test]
    fn the_file_shrinks() {
        let (dir, conn) = store();
        for i in 0..200 {
            session(
                &conn,
                &format!("s{i:03}"),
                &format!("2026-01-01T00:{:02}:{:02}.000000Z", i / 60, i % 60),
                Some("2026-01-01T01:00:00.000000Z"),
                20,
            );
        }
        checkpoint_truncate(&conn).unwrap();
        let file = dir.path().join("r.sqlite");
        let before = std::fs::metadata(&file).unwrap().len();
        let tables = session_tables(&conn).unwrap();
        while prune_step(
            &conn,
            &tables,
            &Prune::Size {
                sent_before_micros: 0,
                target_bytes: 0,
            },
            500,
        )
        .unwrap()
        .rows
            > 0
        {}
        let size = store_size(&conn).unwrap();
        assert!(size.free_bytes > before / 2, "{size:?} of {before}");
        while vacuum_step(&conn, VACUUM_STEP_PAGES).unwrap() > 0 {}
        assert!(checkpoint_truncate(&conn).unwrap());
        let after = std::fs::metadata(&file).unwrap().len();
        assert!(after < before / 4, "{before} -> {after}");
        assert_eq!(store_size(&conn).unwrap().wal_bytes, 0);
    }

    #[test]
    fn interrupted_sessions_end_at_their_last_row_and_are_queued_once() {
        let (_dir, mut conn) = store();
        session(&conn, "cut", "2026-01-01T00:00:00.000000Z", None, 3);
        session(&conn, "bare", "2026-01-02T00:00:00.000000Z", None, 0);
        session(
            &conn,
            "done",
            "2026-01-03T00:00:00.000000Z",
            Some("2026-01-03T00:00:09.000000Z"),
            1,
        );
        let done = close_interrupted_sessions(&mut conn, Some(10)).unwrap();
        assert_eq!(
            done,
            Recovered {
                sessions: 2,
                outboxed: 2,
                outbox_full: 0
            }
        );
        let ends: Vec<(String, String, String, Option<i64>)> = conn
            .prepare("SELECT session, endTime, closeReason, bytesIn FROM sessions ORDER BY session")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            ends,
            [
                (
                    "bare".into(),
                    "2026-01-02T00:00:00.000000Z".into(),
                    CLOSE_REASON_RESTART.into(),
                    None
                ),
                (
                    "cut".into(),
                    "2026-01-01T00:00:00.000000Z0002".into(),
                    CLOSE_REASON_RESTART.into(),
                    None
                ),
                (
                    "done".into(),
                    "2026-01-03T00:00:09.000000Z".into(),
                    "x".into(),
                    Some(1)
                ),
            ]
        );
        let payload: String = conn
            .query_row(
                "SELECT payload FROM outbox WHERE session = 'cut'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let event: Event = serde_json::from_str(&payload).unwrap();
        assert_eq!(event.kind, EventType::SessionEnd);
        assert_eq!(event.time, "2026-01-01T00:00:00.000000Z0002");
        assert_eq!(event.plugin, "web");
        assert_eq!(event.src_ip.to_string(), "203.0.113.9");
        assert_eq!(event.data["reason"], CLOSE_REASON_RESTART);
        assert!(event.data.get("bytes_in").is_none());
        assert_eq!(
            close_interrupted_sessions(&mut conn, Some(10)).unwrap(),
            Recovered::default()
        );
        // The outbox bound holds here too.
        session(&conn, "again", "2026-01-04T00:00:00.000000Z", None, 0);
        let full = close_interrupted_sessions(&mut conn, Some(2)).unwrap();
        assert_eq!(
            full,
            Recovered {
                sessions: 1,
                outboxed: 0,
                outbox_full: 1
            }
        );
    }
}
