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
//!
//! This is the delivery policy only: the outbox's SQL, its count of unsent events and the
//! wake-up after a commit belong to [`store::outbox`].

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use broker_client::{Client, ClientConfig, Publisher};
use store::outbox::{Outbox, OutboxState, Queued};
use store::{RecorderStats, StoreError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::SensorError;
use crate::config::HpfeedsSettings;

/// Rows read per round trip to the database.
const BATCH: u64 = 256;

/// How long a shutdown waits for the backlog to go out before leaving it for the next start.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// How often sent rows older than `keep_sent` are pruned, in microseconds.
const PRUNE_EVERY_MICROS: i64 = 5_000_000;

/// How often the backlog is logged while there is one (or no broker), in microseconds.
const REPORT_EVERY_MICROS: i64 = 30_000_000;

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

/// What the publisher knows of the broker connection from one round to the next.
struct Link {
    /// Connections the client had made at the last look.
    connections: u64,
    /// Connected at the last look.
    connected: bool,
    /// When a connection was last seen up (unix µs): what went out shortly before a connection
    /// ended is sent again from here, less the resend window.
    last_seen_up: i64,
    /// The last broker error logged, so each is logged once.
    last_error: Option<String>,
}

/// When the periodic chores last ran (unix µs).
struct Chores {
    last_prune: i64,
    last_report: i64,
}

/// What a round does after reading the outbox.
enum Round {
    /// Hand these rows to the client.
    Publish(Vec<Queued>),
    /// Look again (after a wait, or at once).
    Again,
    /// Stop publishing and close.
    Stop,
}

/// Sends the outbox to the broker.
pub struct OutboxPublisher {
    outbox: Option<Outbox>,
    /// The outbox's shared count of unsent events and its wake-up after a commit.
    state: Arc<OutboxState>,
    settings: HpfeedsSettings,
    stats: Arc<PublisherStats>,
}

impl OutboxPublisher {
    /// Opens its own connection to the store (before privileges are dropped). The recorder's
    /// counters carry the outbox's shared state (its unsent count and wake-up).
    pub fn open(
        path: &Path,
        settings: HpfeedsSettings,
        recorder: Arc<RecorderStats>,
    ) -> Result<OutboxPublisher, SensorError> {
        let outbox = Outbox::open(path, recorder.outbox.clone())?;
        Ok(OutboxPublisher {
            outbox: Some(outbox),
            state: recorder.outbox.clone(),
            settings,
            stats: Arc::new(PublisherStats::default()),
        })
    }

    /// The publisher's counters.
    pub fn stats(&self) -> Arc<PublisherStats> {
        self.stats.clone()
    }

    /// Runs one outbox step on the blocking pool.
    async fn db<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Outbox) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let outbox = self
            .outbox
            .take()
            .expect("the publisher's connection is always put back");
        let (outbox, result) = tokio::task::spawn_blocking(move || {
            let result = f(&outbox);
            (outbox, result)
        })
        .await
        .expect("database step panicked");
        self.outbox = Some(outbox);
        result
    }

    /// Events waiting to be sent (the outbox's shared count).
    fn backlog(&self) -> u64 {
        self.state.unsent()
    }

    /// The resend window in microseconds.
    fn window_micros(&self) -> i64 {
        self.settings.resend_window.as_micros() as i64
    }

    /// Marks rows sent at or after `since` (unix µs) as unsent, and counts them as resent.
    async fn resend_since(&mut self, since: i64, why: &str) {
        match self.db(move |o| o.resend_since(since)).await {
            Ok(0) => {}
            Ok(n) => {
                self.stats.resent.fetch_add(n, Ordering::Relaxed);
                tracing::info!(events = n, why, "events marked to be sent again");
            }
            Err(e) => tracing::error!(error = %e, "cannot mark events for resending"),
        }
    }

    /// Whatever was sent just before the last run ended may not have reached the broker.
    async fn resend_after_restart(&mut self) {
        let last = self.db(|o| o.last_sent_micros()).await.ok().flatten();
        if let Some(last) = last {
            self.resend_since(last - self.window_micros(), "restart")
                .await;
        }
    }

    /// Follows the client's connection: logs it coming up and its errors, and when a
    /// connection ended, marks what went out shortly before it was last seen up for resending.
    async fn follow_link(&mut self, st: broker_client::Status, link: &mut Link) {
        if st.connected && !link.connected {
            let s = &self.settings;
            tracing::info!(broker = %format!("{}:{}", s.host, s.port), name = st.broker_name.as_deref().unwrap_or(""), "publishing to the broker");
        }
        if st.connections > link.connections && link.connections > 0
            || (link.connected && !st.connected)
        {
            // A connection ended: what went out shortly before it was last seen up may be lost.
            self.resend_since(link.last_seen_up - self.window_micros(), "connection lost")
                .await;
        }
        if st.last_error != link.last_error {
            if let Some(err) = &st.last_error {
                tracing::error!(error = %err, "hpfeeds broker");
            }
            link.last_error = st.last_error.clone();
        }
        link.connections = st.connections;
        link.connected = st.connected;
        self.stats
            .connected
            .store(link.connected, Ordering::Relaxed);
        if link.connected {
            link.last_seen_up = now_micros();
        }
    }

    /// Logs the backlog every 30 seconds while there is one, or no broker.
    fn report(&self, chores: &mut Chores, now: i64, connected: bool) {
        if now - chores.last_report <= REPORT_EVERY_MICROS {
            return;
        }
        let backlog = self.backlog();
        if backlog != 0 || !connected {
            let snap = self.stats.snapshot();
            tracing::info!(
                backlog,
                sent = snap.sent,
                resent = snap.resent,
                connected,
                "publisher"
            );
            chores.last_report = now;
        }
    }

    /// Prunes sent rows older than `keep_sent`, every few seconds.
    async fn prune_sent(&mut self, chores: &mut Chores, now: i64) {
        if now - chores.last_prune <= PRUNE_EVERY_MICROS {
            return;
        }
        let before = now - self.settings.keep_sent.as_micros() as i64;
        if let Ok(n) = self.db(move |o| o.prune_sent_before(before)).await {
            tracing::debug!(pruned = n, "sent events pruned");
        }
        chores.last_prune = now;
    }

    /// Decides what to do with the rows read: publish them, wait for more (or for the broker),
    /// or stop (stopping, and everything is out or the drain time is up).
    async fn next_round(
        state: &OutboxState,
        rows: Vec<Queued>,
        connected: bool,
        stop: &CancellationToken,
        drain_deadline: &mut Option<Instant>,
    ) -> Round {
        if stop.is_cancelled() {
            let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_TIMEOUT);
            if rows.is_empty() || Instant::now() >= deadline {
                return Round::Stop;
            }
        }
        if !connected {
            // No broker: events handed to the client now would only wait in its memory,
            // marked sent, pruned after keep_sent_secs, and lost to a crash during a long
            // outage. They wait in the outbox instead, and at shutdown there is nothing more
            // to hand over.
            if stop.is_cancelled() {
                return Round::Stop;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
                _ = stop.cancelled() => {}
            }
            return Round::Again;
        }
        if rows.is_empty() {
            tokio::select! {
                _ = state.committed() => {}
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stop.cancelled() => {}
            }
            return Round::Again;
        }
        Round::Publish(rows)
    }

    /// Hands `rows` to the client in order (until the drain deadline, if stopping) and marks
    /// those handed over as sent.
    async fn publish_rows(
        &mut self,
        publisher: &Publisher,
        rows: Vec<Queued>,
        drain_deadline: Option<Instant>,
    ) {
        let first = rows.first().map_or(0, |r| r.seq);
        let mut last_handed = None;
        let mut handed = 0u64;
        for row in rows {
            let queued = tokio::select! {
                res = publisher.publish(&self.settings.channel, row.payload) => res,
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
            last_handed = Some(row.seq);
        }
        let Some(upto) = last_handed else { return };
        // Rows between `first` and `upto` that were unsent are exactly the ones handed over:
        // they were read unsent in order, and only this task resets rows.
        let sent_at = now_micros();
        match self.db(move |o| o.mark_sent(first, upto, sent_at)).await {
            Ok(n) => tracing::debug!(first, upto, marked = n, "events sent"),
            // Left unsent: they go out again, which is allowed; never lost.
            Err(e) => tracing::error!(error = %e, "cannot mark events as sent"),
        }
        self.stats.sent.fetch_add(handed, Ordering::Relaxed);
    }

    /// Closes the client: the broker takes everything queued, or the recent rows go out again
    /// at the next start.
    async fn close(&mut self, client: Client, last_seen_up: i64) {
        match client.close().await {
            Ok(()) => tracing::info!(
                sent = self.stats.sent.load(Ordering::Relaxed),
                "publisher closed"
            ),
            Err(e) => {
                tracing::warn!(error = %e, "the broker may not have everything; recent events will be sent again at the next start");
                self.resend_since(last_seen_up - self.window_micros(), "unclean close")
                    .await;
            }
        }
    }

    /// Publishes until `stop` is cancelled (after the recorder has drained), then sends what is
    /// left for a short while and closes the client.
    pub async fn run(mut self, stop: CancellationToken) {
        self.resend_after_restart().await;
        let s = &self.settings;
        let client = Client::start(
            ClientConfig::new(&s.host, s.port, &s.ident, &s.secret)
                .with_reconnect_max(s.reconnect_max),
        );
        let publisher = client.publisher();
        let mut link = Link {
            connections: 0,
            connected: false,
            last_seen_up: now_micros(),
            last_error: None,
        };
        let mut chores = Chores {
            last_prune: now_micros(),
            last_report: now_micros(),
        };
        let mut drain_deadline: Option<Instant> = None;
        loop {
            self.follow_link(client.status(), &mut link).await;
            let now = now_micros();
            let rows = match self.db(|o| o.next_unsent(BATCH)).await {
                Ok(rows) => rows,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the outbox");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            self.report(&mut chores, now, link.connected);
            self.prune_sent(&mut chores, now).await;
            match Self::next_round(
                &self.state,
                rows,
                link.connected,
                &stop,
                &mut drain_deadline,
            )
            .await
            {
                Round::Publish(rows) => self.publish_rows(&publisher, rows, drain_deadline).await,
                Round::Again => {}
                Round::Stop => break,
            }
        }
        self.close(client, link.last_seen_up).await;
    }
}
