//! The outbox: every event queued for publishing, in the same database (and the same
//! transaction) as the event's rows, until the publisher has sent it and the resend window has
//! passed.
//!
//! This module owns all of it: the SQL (the table itself is created with the fixed tables in
//! [`crate::schema`]), the count of unsent events the outbox bound applies to, and the wake-up
//! the publisher waits on. The recorder enqueues through [`enqueue`] inside its batch
//! transaction and reports the commit to [`OutboxState`]; the publisher reads, marks and prunes
//! through an [`Outbox`] on its own connection. Both sides change the unsent count only here,
//! so it stays exact between the two threads.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::{Connection, params};
use tokio::sync::Notify;

use crate::StoreError;
use crate::event::Event;

const INSERT: &str =
    "INSERT INTO outbox (eventId, eventDateTime, payload, session) VALUES (?1, ?2, ?3, ?4)";

const COUNT_UNSENT: &str = "SELECT count(*) FROM outbox WHERE sentMicros IS NULL";

const NEXT_UNSENT: &str =
    "SELECT seq, payload FROM outbox WHERE sentMicros IS NULL ORDER BY seq LIMIT ?1";

const MARK_SENT: &str =
    "UPDATE outbox SET sentMicros = ?1 WHERE seq >= ?2 AND seq <= ?3 AND sentMicros IS NULL";

const RESEND_SINCE: &str = "UPDATE outbox SET sentMicros = NULL WHERE sentMicros >= ?1";

const PRUNE_SENT: &str = "DELETE FROM outbox WHERE sentMicros IS NOT NULL AND sentMicros < ?1";

/// Sent rows sent before ?1, oldest first (through the index on `sentMicros`), at most ?2.
const DELETE_SENT_OLDEST: &str = "DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox
    WHERE sentMicros IS NOT NULL AND sentMicros < ?1 ORDER BY sentMicros LIMIT ?2)";

const LAST_SENT: &str = "SELECT max(sentMicros) FROM outbox";

/// The outbox's counters and wake-up, shared by the recorder (which enqueues) and the publisher
/// (which sends). Only this module changes them.
#[derive(Debug, Default)]
pub struct OutboxState {
    /// Events in the outbox not sent yet. The outbox bound applies to it, so sent events kept
    /// for the resend window never count.
    unsent: AtomicU64,
    /// Events queued (committed with their rows).
    queued: AtomicU64,
    /// Events recorded locally but not queued because the outbox was full.
    full: AtomicU64,
    /// Woken after a commit that queued events, so the publisher need not poll.
    committed: Notify,
}

impl OutboxState {
    /// Events in the outbox not sent yet.
    pub fn unsent(&self) -> u64 {
        self.unsent.load(Ordering::Relaxed)
    }

    /// Events queued for publishing (committed with their rows) since start.
    pub fn queued(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    /// Events not queued because the outbox was full, since start.
    pub fn full(&self) -> u64 {
        self.full.load(Ordering::Relaxed)
    }

    /// Resolves after the next commit that queued events (or at once if one happened since
    /// the last wait).
    pub async fn committed(&self) {
        self.committed.notified().await;
    }

    /// Sets the unsent count from the table (at start, before anything is enqueued).
    pub fn load_unsent(&self, conn: &Connection) -> Result<(), StoreError> {
        self.unsent.store(count_unsent(conn)?, Ordering::Relaxed);
        Ok(())
    }

    /// Before a batch that enqueued `n` events commits: they count as unsent before the commit
    /// makes them visible, so the publisher can never mark sent (and subtract) events not yet
    /// counted.
    pub fn before_commit(&self, n: u64) {
        self.unsent.fetch_add(n, Ordering::Relaxed);
    }

    /// The commit announced with [`OutboxState::before_commit`] failed: its events are gone.
    pub fn commit_failed(&self, n: u64) {
        self.unsent.fetch_sub(n, Ordering::Relaxed);
    }

    /// The commit succeeded: counts the events as queued and wakes the publisher when any were.
    pub fn committed_events(&self, n: u64) {
        self.queued.fetch_add(n, Ordering::Relaxed);
        if n > 0 {
            // The event leaves now, not at the publisher's next poll.
            self.committed.notify_one();
        }
    }

    fn unsent_changed(&self, delta: i64) {
        let _ = self
            .unsent
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_add_signed(delta))
            });
    }
}

/// Queues `event` in the open transaction on `conn`, unless the outbox already holds `max`
/// unsent events (counting the `pending` ones this transaction queued so far): then the event
/// is counted in `full` (and logged now and then) and not queued. True when queued.
pub fn enqueue(
    conn: &Connection,
    state: &OutboxState,
    max: u64,
    pending: u64,
    event: &Event,
) -> Result<bool, StoreError> {
    if state.unsent() + pending >= max {
        let n = state.full.fetch_add(1, Ordering::Relaxed);
        if n.is_power_of_two() || n == 0 {
            tracing::warn!(
                outbox_max = max,
                not_queued = n + 1,
                "outbox full: events are recorded locally but not queued for publishing"
            );
        }
        return Ok(false);
    }
    insert(conn, event)?;
    Ok(true)
}

/// Inserts `event` as a new unsent row, with no bound and no counting (for start-up recovery,
/// which counts on its own before the recorder starts).
pub fn insert(conn: &Connection, event: &Event) -> Result<(), StoreError> {
    let json = serde_json::to_string(event).map_err(|e| StoreError::Json(e.to_string()))?;
    conn.prepare_cached(INSERT)?
        .execute(params![event.id, event.time, json, event.session])?;
    Ok(())
}

/// Events in the outbox not sent yet, as the table holds them.
pub fn count_unsent(conn: &Connection) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached(COUNT_UNSENT)?
        .query_row([], |r| r.get::<_, i64>(0))?
        .max(0) as u64)
}

/// Deletes at most `limit` sent rows sent before `before_micros` (unix µs), oldest first (for
/// retention under a size cap). Never an unsent row.
pub fn delete_sent_oldest(
    conn: &Connection,
    before_micros: i64,
    limit: u64,
) -> Result<u64, StoreError> {
    Ok(conn
        .prepare_cached(DELETE_SENT_OLDEST)?
        .execute(params![before_micros, limit as i64])? as u64)
}

/// One queued event as the publisher reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its place in the outbox (increasing).
    pub seq: i64,
    /// The event's JSON, as published.
    pub payload: String,
}

/// The publisher's side of the outbox: its own connection to the store, and the shared state.
pub struct Outbox {
    conn: Connection,
    state: Arc<OutboxState>,
}

impl Outbox {
    /// Opens a connection to the store at `path` (before privileges are dropped).
    pub fn open(path: &Path, state: Arc<OutboxState>) -> Result<Outbox, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        Ok(Outbox { conn, state })
    }

    /// The shared counters and wake-up.
    pub fn state(&self) -> &Arc<OutboxState> {
        &self.state
    }

    /// Up to `limit` unsent events, oldest first.
    pub fn next_unsent(&self, limit: u64) -> Result<Vec<Queued>, StoreError> {
        let mut stmt = self.conn.prepare_cached(NEXT_UNSENT)?;
        let rows = stmt
            .query_map([limit as i64], |r| {
                Ok(Queued {
                    seq: r.get(0)?,
                    payload: r.get(1)?,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    /// Marks the unsent rows from `first` to `upto` (inclusive) sent at `at_micros` (unix µs);
    /// returns how many were marked. The caller read them in order with
    /// [`Outbox::next_unsent`] and handed exactly those over, and only the publisher resets
    /// rows, so these are the ones it sent.
    pub fn mark_sent(&self, first: i64, upto: i64, at_micros: i64) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached(MARK_SENT)?
            .execute(params![at_micros, first, upto])? as u64;
        self.state.unsent_changed(-(n as i64));
        Ok(n)
    }

    /// Marks every row sent at or after `since_micros` (unix µs) unsent again; returns how many.
    pub fn resend_since(&self, since_micros: i64) -> Result<u64, StoreError> {
        let n = self
            .conn
            .prepare_cached(RESEND_SINCE)?
            .execute([since_micros])? as u64;
        self.state.unsent_changed(n as i64);
        Ok(n)
    }

    /// Deletes the rows sent before `before_micros` (unix µs); returns how many.
    pub fn prune_sent_before(&self, before_micros: i64) -> Result<u64, StoreError> {
        Ok(self
            .conn
            .prepare_cached(PRUNE_SENT)?
            .execute([before_micros])? as u64)
    }

    /// When the last row was sent (unix µs), if any row is marked sent.
    pub fn last_sent_micros(&self) -> Result<Option<i64>, StoreError> {
        Ok(self
            .conn
            .prepare_cached(LAST_SENT)?
            .query_row([], |r| r.get::<_, Option<i64>>(0))?)
    }

    /// Events not sent yet (the shared count).
    pub fn unsent(&self) -> u64 {
        self.state.unsent()
    }
}

#[cfg(test)]
mod tests;
