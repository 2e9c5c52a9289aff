//! Keeps the central store's `ipInfo` table current: one thread, a bounded queue, upserts
//! committed in batches.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;

use store::IpInfo;
use tokio::sync::mpsc;

use crate::GeolocError;

/// Most upserts in one transaction.
const BATCH_MAX: usize = 1024;

/// One sighting of a source address.
#[derive(Debug, Clone, PartialEq)]
pub struct Sighting {
    /// The address.
    pub ip: IpAddr,
    /// When (RFC 3339 UTC, the store's format).
    pub seen: String,
    /// What the lookup said.
    pub info: Option<IpInfo>,
}

/// The writer's counters.
#[derive(Debug, Default)]
pub struct IpInfoStats {
    /// Sightings committed.
    pub written: AtomicU64,
    /// Sightings lost to database errors.
    pub failed: AtomicU64,
}

/// The writer thread and its queue.
pub struct IpInfoWriter {
    tx: mpsc::Sender<Sighting>,
    stats: Arc<IpInfoStats>,
    thread: JoinHandle<()>,
}

impl IpInfoWriter {
    /// Opens the central store at `path` (creating its tables if needed) and starts the thread.
    pub fn start(path: &Path, queue_capacity: usize) -> Result<IpInfoWriter, GeolocError> {
        let (conn, _) = store::open(path, &[]).map_err(|e| GeolocError::Store(e.to_string()))?;
        let (tx, mut rx) = mpsc::channel::<Sighting>(queue_capacity.max(1));
        let stats = Arc::new(IpInfoStats::default());
        let thread_stats = stats.clone();
        let thread = std::thread::Builder::new()
            .name("ipinfo".into())
            .spawn(move || {
                let mut batch = Vec::with_capacity(BATCH_MAX);
                while let Some(first) = rx.blocking_recv() {
                    batch.push(first);
                    while batch.len() < BATCH_MAX {
                        match rx.try_recv() {
                            Ok(s) => batch.push(s),
                            Err(_) => break,
                        }
                    }
                    let now = store::now_rfc3339();
                    let result = (|| -> Result<(), store::StoreError> {
                        let tx = conn.unchecked_transaction()?;
                        for s in &batch {
                            store::upsert_ip_info(&tx, s.ip, &s.seen, s.info.as_ref(), &now)?;
                        }
                        tx.commit()?;
                        Ok(())
                    })();
                    let n = batch.len() as u64;
                    match result {
                        Ok(()) => thread_stats.written.fetch_add(n, Ordering::Relaxed),
                        Err(e) => {
                            tracing::error!(error = %e, lost = n, "ipInfo batch not written");
                            thread_stats.failed.fetch_add(n, Ordering::Relaxed)
                        }
                    };
                    batch.clear();
                }
            })
            .map_err(|e| GeolocError::Store(e.to_string()))?;
        Ok(IpInfoWriter { tx, stats, thread })
    }

    /// Queues a sighting; waits while the queue is full.
    pub async fn record(&self, sighting: Sighting) -> Result<(), GeolocError> {
        self.tx
            .send(sighting)
            .await
            .map_err(|_| GeolocError::Store("the ipInfo writer has stopped".into()))
    }

    /// The counters.
    pub fn stats(&self) -> Arc<IpInfoStats> {
        self.stats.clone()
    }

    /// Writes everything queued and stops.
    pub async fn finish(self) {
        drop(self.tx);
        let thread = self.thread;
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
}
