//! The outbox publisher: sends every event queued in the store's `outbox` table, in order, as
//! JSON on the configured hpfeeds channel, and marks it sent.
//!
//! hpfeeds has no acknowledgement, so delivery is at least once by design:
//! - a row is marked sent (`sentMicros`) when it is handed to the client;
//! - when a connection ends (the client reconnects), every row sent since shortly before the
//!   connection was last seen up (`resend_window`) is marked unsent again and sent again;
//! - at start-up, rows sent within `resend_window` of the last one sent before a crash or
//!   `kill -9` are sent again too;
//! - on a clean shutdown the client's `close()` waits for the broker to take everything; if
//!   it cannot, the recent rows are marked unsent for the next start.
//!
//! Consumers deduplicate by event `id`. Sent rows are pruned after `keep_sent`.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use broker_client::{Client, ClientConfig};
use rusqlite::{Connection, params};
use store::RecorderStats;
use tokio_util::sync::CancellationToken;

use crate::SensorError;
use crate::config::HpfeedsSettings;

/// Rows read per round trip to the database.
const BATCH: i64 = 256;

/// How long a shutdown waits for the backlog to go out before leaving it for the next start.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// The publisher's counters.
#[derive(Debug, Default)]
pub struct PublisherStats {
    /// Events handed to the hpfeeds client.
    pub sent: AtomicU64,
    /// Events marked for sending again after a dropped connection or a restart.
    pub resent: AtomicU64,
    /// A broker connection is up.
    pub connected: AtomicBool,
}

/// A point-in-time copy of [`PublisherStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PublisherSnapshot {
    /// Events handed to the client.
    pub sent: u64,
    /// Events marked for sending again.
    pub resent: u64,
    /// Connected at the time of the snapshot.
    pub connected: bool,
}

impl PublisherStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> PublisherSnapshot {
        PublisherSnapshot {
            sent: self.sent.load(Ordering::Relaxed),
            resent: self.resent.load(Ordering::Relaxed),
            connected: self.connected.load(Ordering::Relaxed),
        }
    }
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// Sends the outbox to the broker.
pub struct OutboxPublisher {
    db: Option<Connection>,
    settings: HpfeedsSettings,
    recorder: Arc<RecorderStats>,
    stats: Arc<PublisherStats>,
}

impl OutboxPublisher {
    /// Opens its own connection to the store (before privileges are dropped).
    pub fn open(
        path: &Path,
        settings: HpfeedsSettings,
        recorder: Arc<RecorderStats>,
    ) -> Result<OutboxPublisher, SensorError> {
        let db = Connection::open(path).map_err(store::StoreError::from)?;
        db.busy_timeout(Duration::from_secs(5))
            .map_err(store::StoreError::from)?;
        Ok(OutboxPublisher {
            db: Some(db),
            settings,
            recorder,
            stats: Arc::new(PublisherStats::default()),
        })
    }

    /// The publisher's counters.
    pub fn stats(&self) -> Arc<PublisherStats> {
        self.stats.clone()
    }

    /// Runs one database step on the blocking pool.
    async fn db<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> rusqlite::Result<T> {
        let conn = self
            .db
            .take()
            .expect("the publisher's connection is always put back");
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn);
            (conn, result)
        })
        .await
        .expect("database step panicked");
        self.db = Some(conn);
        result
    }

    /// Keeps the recorder's count of unsent events (which the outbox bound applies to) in step.
    fn unsent_changed(&self, delta: i64) {
        let _ =
            self.recorder
                .outbox_unsent
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                    Some(v.saturating_add_signed(delta))
                });
    }

    /// Marks rows sent at or after `since` (unix µs) as unsent, and counts them as resent.
    async fn resend_since(&mut self, since: i64, why: &str) {
        match self
            .db(move |c| {
                c.execute(
                    "UPDATE outbox SET sentMicros = NULL WHERE sentMicros >= ?1",
                    [since],
                )
            })
            .await
        {
            Ok(0) => {}
            Ok(n) => {
                self.unsent_changed(n as i64);
                self.stats.resent.fetch_add(n as u64, Ordering::Relaxed);
                tracing::info!(events = n, why, "events marked to be sent again");
            }
            Err(e) => tracing::error!(error = %e, "cannot mark events for resending"),
        }
    }

    /// Publishes until `stop` is cancelled (after the recorder has drained), then sends what is
    /// left for a short while and closes the client.
    pub async fn run(mut self, stop: CancellationToken) {
        let s = self.settings.clone();
        let window = s.resend_window.as_micros() as i64;
        // Whatever was sent just before the last run ended may not have reached the broker.
        let last = self
            .db(|c| {
                c.query_row("SELECT max(sentMicros) FROM outbox", [], |r| {
                    r.get::<_, Option<i64>>(0)
                })
            })
            .await
            .ok()
            .flatten();
        if let Some(last) = last {
            self.resend_since(last - window, "restart").await;
        }
        let client = Client::start(
            ClientConfig::new(&s.host, s.port, &s.ident, &s.secret)
                .with_reconnect_max(s.reconnect_max),
        );
        let publisher = client.publisher();
        let mut connections = 0u64;
        let mut connected = false;
        let mut last_seen_up = now_micros();
        let mut last_error: Option<String> = None;
        let mut last_prune = now_micros();
        let mut last_report = now_micros();
        let mut drain_deadline: Option<tokio::time::Instant> = None;
        loop {
            let st = client.status();
            if st.connected && !connected {
                tracing::info!(broker = %format!("{}:{}", s.host, s.port), name = st.broker_name.as_deref().unwrap_or(""), "publishing to the broker");
            }
            if st.connections > connections && connections > 0 || (connected && !st.connected) {
                // A connection ended: what went out shortly before it was last seen up may be lost.
                self.resend_since(last_seen_up - window, "connection lost")
                    .await;
            }
            if st.last_error != last_error {
                if let Some(err) = &st.last_error {
                    tracing::error!(error = %err, "hpfeeds broker");
                }
                last_error = st.last_error.clone();
            }
            connections = st.connections;
            connected = st.connected;
            self.stats.connected.store(connected, Ordering::Relaxed);
            if connected {
                last_seen_up = now_micros();
            }

            let now = now_micros();
            let report_due = now - last_report > 30_000_000;
            let rows = self
                .db(move |c| {
                    let mut stmt = c.prepare_cached(
                        "SELECT seq, payload FROM outbox WHERE sentMicros IS NULL ORDER BY seq LIMIT ?1",
                    )?;
                    let rows = stmt
                        .query_map([BATCH], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?
                        .collect::<rusqlite::Result<Vec<_>>>()?;
                    Ok(rows)
                })
                .await;
            let rows = match rows {
                Ok(v) => v,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            // The recorder and this task keep the count of unsent events exact between them.
            // The backlog is the recorder's count of unsent events, which this task keeps exact.
            let backlog = self.recorder.outbox_unsent.load(Ordering::Relaxed);
            if report_due && (backlog != 0 || !connected) {
                let snap = self.stats.snapshot();
                tracing::info!(
                    backlog,
                    sent = snap.sent,
                    resent = snap.resent,
                    connected,
                    "publisher"
                );
                last_report = now;
            }
            if now - last_prune > 5_000_000 {
                let before = now - s.keep_sent.as_micros() as i64;
                if let Ok(n) = self
                    .db(move |c| {
                        c.execute(
                            "DELETE FROM outbox WHERE sentMicros IS NOT NULL AND sentMicros < ?1",
                            [before],
                        )
                    })
                    .await
                {
                    tracing::debug!(pruned = n, "sent events pruned");
                }
                last_prune = now;
            }

            if stop.is_cancelled() {
                let deadline = *drain_deadline
                    .get_or_insert_with(|| tokio::time::Instant::now() + DRAIN_TIMEOUT);
                if rows.is_empty() || tokio::time::Instant::now() >= deadline {
                    break;
                }
            }
            if !connected {
                // No broker: events handed to the client now would only wait in its memory,
                // marked sent, pruned after keep_sent_secs, and lost to a crash during a long
                // outage. They wait in the outbox instead, and at shutdown there is nothing more
                // to hand over.
                if stop.is_cancelled() {
                    break;
                }
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }
            if rows.is_empty() {
                tokio::select! {
                    _ = self.recorder.committed.notified() => {}
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = stop.cancelled() => {}
                }
                continue;
            }

            let first = rows.first().map_or(0, |r| r.0);
            let mut last_handed = None;
            let mut handed = 0u64;
            for (seq, payload) in rows {
                let queued = tokio::select! {
                    res = publisher.publish(&s.channel, payload) => res,
                    // A broker that never comes back must not hold up shutdown forever.
                    _ = async {
                        match drain_deadline {
                            Some(d) => tokio::time::sleep_until(d).await,
                            None => std::future::pending().await,
                        }
                    } => break,
                };
                if let Err(e) = queued {
                    tracing::error!(error = %e, "cannot queue an event for the broker");
                    break;
                }
                handed += 1;
                last_handed = Some(seq);
            }
            if let Some(upto) = last_handed {
                // Rows between `first` and `upto` that were unsent are exactly the ones handed
                // over: the query returned unsent rows in order, and only this task resets rows.
                let sent_at = now_micros();
                let marked = self
                    .db(move |c| {
                        c.execute(
                            "UPDATE outbox SET sentMicros = ?1 WHERE seq >= ?2 AND seq <= ?3 AND sentMicros IS NULL",
                            params![sent_at, first, upto],
                        )
                    })
                    .await;
                match marked {
                    Ok(n) => {
                        self.unsent_changed(-(n as i64));
                        tracing::debug!(first, upto, marked = n, "events sent");
                    }
                    // Left unsent: they go out again, which is allowed; never lost.
                    Err(e) => tracing::error!(error = %e, "cannot mark events as sent"),
                }
                self.stats.sent.fetch_add(handed, Ordering::Relaxed);
            }
        }
        // Close: the broker takes everything queued, or the recent rows go out again next time.
        match client.close().await {
            Ok(()) => tracing::info!(
                sent = self.stats.sent.load(Ordering::Relaxed),
                "publisher closed"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "the broker may not have everything; recent events will be sent again at the next start");
                self.resend_since(last_seen_up - window, "unclean close")
                    .await;
            }
        }
    }
}
