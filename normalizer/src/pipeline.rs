//! The writer side of the normalizer: one thread owns the [`CentralStore`], fed by a bounded
//! queue, committing in batches. The subscriber waits when the queue is full (backpressure on
//! the broker connection), so nothing is dropped between the socket and the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use intake::parse::{PayloadLimits, parse};
use tokio::sync::{mpsc, oneshot};

use crate::NormalizerError;
use crate::central::{CentralStore, Item, Received};

/// How often a batch the database refused is tried again before it is counted as lost.
const BATCH_RETRIES: [Duration; 3] = [
    Duration::from_millis(200),
    Duration::from_secs(1),
    Duration::from_secs(5),
];

/// The normalizer's counters (for logs and `/metrics`).
#[derive(Debug, Default)]
pub struct NormalizerStats {
    /// Messages received from the broker (or fed directly).
    pub received: AtomicU64,
    /// Records written to the store.
    pub written: AtomicU64,
    /// Records skipped as already stored.
    pub duplicates: AtomicU64,
    /// Payloads kept in the quarantine.
    pub quarantined: AtomicU64,
    /// Messages lost because the database refused their batch after every retry.
    pub failed: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
}

/// A copy of [`NormalizerStats`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NormalizerSnapshot {
    /// Messages received.
    pub received: u64,
    /// Records written.
    pub written: u64,
    /// Duplicates skipped.
    pub duplicates: u64,
    /// Payloads quarantined.
    pub quarantined: u64,
    /// Messages lost to database failures.
    pub failed: u64,
    /// Transactions committed.
    pub batches: u64,
}

impl NormalizerStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> NormalizerSnapshot {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        NormalizerSnapshot {
            received: get(&self.received),
            written: get(&self.written),
            duplicates: get(&self.duplicates),
            quarantined: get(&self.quarantined),
            failed: get(&self.failed),
            batches: get(&self.batches),
        }
    }
}

enum Command {
    Item(Box<Item>),
    Flush(oneshot::Sender<()>),
}

/// The writer thread and the queue to it.
pub struct Pipeline {
    tx: mpsc::Sender<Command>,
    stats: Arc<NormalizerStats>,
    limits: PayloadLimits,
    thread: Option<JoinHandle<()>>,
}

/// Parses one message into an [`Item`], stamping the receipt time.
pub fn make_item(channel: &str, ident: &str, payload: Bytes, limits: &PayloadLimits) -> Item {
    let parsed = parse(channel, ident, &payload, limits).map_err(|r| r.to_string());
    Item {
        received: Received {
            channel: channel.to_owned(),
            ident: ident.to_owned(),
            time: store::now_rfc3339(),
        },
        payload,
        parsed,
    }
}

impl Pipeline {
    /// Starts the writer thread over `store`.
    pub fn start(
        store: Box<dyn CentralStore>,
        queue_capacity: usize,
        batch_max: usize,
        limits: PayloadLimits,
    ) -> Result<Pipeline, NormalizerError> {
        let (tx, rx) = mpsc::channel(queue_capacity.max(1));
        let stats = Arc::new(NormalizerStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("central-store".into())
            .spawn(move || write_loop(store, rx, batch_max.max(1), &thread_stats))
            .map_err(|_| NormalizerError::Closed)?;
        Ok(Pipeline {
            tx,
            stats,
            limits,
            thread: Some(thread),
        })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<NormalizerStats> {
        self.stats.clone()
    }

    /// Parses one message and queues it for the store; waits while the queue is full. A
    /// refused payload is logged with its channel and ident and queued for the quarantine.
    pub async fn submit(
        &self,
        channel: &str,
        ident: &str,
        payload: Bytes,
    ) -> Result<(), NormalizerError> {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let item = make_item(channel, ident, payload, &self.limits);
        if let Err(reason) = &item.parsed {
            tracing::warn!(%channel, %ident, %reason, bytes = item.payload.len(), "payload refused; kept in the quarantine");
        }
        self.tx
            .send(Command::Item(Box::new(item)))
            .await
            .map_err(|_| NormalizerError::Closed)
    }

    /// Resolves once everything queued before it is committed.
    pub async fn flush(&self) -> Result<(), NormalizerError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Flush(done))
            .await
            .map_err(|_| NormalizerError::Closed)?;
        wait.await.map_err(|_| NormalizerError::Closed)
    }

    /// Writes everything queued and stops the thread.
    pub async fn finish(self) -> NormalizerSnapshot {
        let Pipeline {
            tx, stats, thread, ..
        } = self;
        drop(tx);
        if let Some(thread) = thread {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        stats.snapshot()
    }
}

fn write_loop(
    mut store: Box<dyn CentralStore>,
    mut rx: mpsc::Receiver<Command>,
    batch_max: usize,
    stats: &NormalizerStats,
) {
    let mut batch: Vec<Item> = Vec::with_capacity(batch_max);
    let mut flushes = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut next = Some(first);
        while let Some(cmd) = next.take() {
            match cmd {
                Command::Item(item) => batch.push(*item),
                Command::Flush(done) => flushes.push(done),
            }
            if batch.len() < batch_max {
                next = rx.try_recv().ok();
            }
        }
        write_batch(store.as_mut(), &batch, stats);
        batch.clear();
        for done in flushes.drain(..) {
            let _ = done.send(());
        }
    }
}

fn write_batch(store: &mut dyn CentralStore, batch: &[Item], stats: &NormalizerStats) {
    if batch.is_empty() {
        return;
    }
    let mut attempt = 0;
    loop {
        match store.write(batch) {
            Ok(outcome) => {
                stats.written.fetch_add(outcome.written, Ordering::Relaxed);
                stats
                    .duplicates
                    .fetch_add(outcome.duplicates, Ordering::Relaxed);
                stats
                    .quarantined
                    .fetch_add(outcome.quarantined, Ordering::Relaxed);
                stats.batches.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Err(e) => match BATCH_RETRIES.get(attempt) {
                Some(wait) => {
                    tracing::warn!(error = %e, messages = batch.len(), retry_in = ?wait, "the central store refused a batch; retrying");
                    std::thread::sleep(*wait);
                    attempt += 1;
                }
                None => {
                    stats
                        .failed
                        .fetch_add(batch.len() as u64, Ordering::Relaxed);
                    tracing::error!(error = %e, lost = batch.len(), "the central store refused a batch after every retry");
                    return;
                }
            },
        }
    }
}
