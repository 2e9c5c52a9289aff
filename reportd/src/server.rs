//! The report service's HTTP server: hyper's HTTP/1 with the limits a service an attacker can
//! reach needs, which `axum::serve` does not set. In `recce7 up` the report service shares its
//! process, and so its descriptors and memory, with the sensor: a flood of connections to the
//! dashboard must not take the sensor down.
//!
//! - At most [`ServerLimits::max_connections`] connections at once, and
//!   [`ServerLimits::max_connections_per_source`] from one address: past the global cap the server
//!   stops accepting (the kernel's backlog holds the rest, which is backpressure, not a drop);
//!   past the per-source cap a new connection is closed at once and counted.
//! - A request head must arrive within [`ServerLimits::header_read_timeout`], and a kept-alive
//!   connection waiting for its next request is closed after the same time (slowloris).
//! - A request head larger than [`ServerLimits::max_head_bytes`] is refused (431) before it is
//!   buffered whole.
//! - At shutdown every connection is asked to finish its request and close; the server returns
//!   once they have (live streams end on the same token).
//! - Every request carries its peer's address as axum's [`ConnectInfo`] (IPv4-mapped IPv6
//!   addresses shown as IPv4), for handlers that count or record by source (the registrar).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower_layer::Layer;

/// The limits of one HTTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Connections open at once from one address.
    pub max_connections_per_source: usize,
    /// Longest wait for a whole request head, and for the next request on a kept-alive
    /// connection.
    pub header_read_timeout: Duration,
    /// The largest request head (request line and headers), at least 8,192 bytes.
    pub max_head_bytes: usize,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_connections: 64,
            max_connections_per_source: 32,
            header_read_timeout: Duration::from_secs(10),
            max_head_bytes: 64 * 1024,
        }
    }
}

/// What the server refused, for `/metrics`.
#[derive(Debug, Default)]
pub struct ServerCounters {
    /// Connections closed at once because their address had too many open.
    pub refused_per_source: AtomicU64,
    /// Connections open now.
    pub open: AtomicU64,
}

/// One address's share of the connections, given back when the connection ends.
struct SourceSlot {
    counts: Arc<Mutex<HashMap<IpAddr, usize>>>,
    ip: IpAddr,
}

impl SourceSlot {
    fn take(counts: &Arc<Mutex<HashMap<IpAddr, usize>>>, ip: IpAddr, max: usize) -> Option<Self> {
        let mut map = counts.lock().unwrap_or_else(|e| e.into_inner());
        let n = map.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(SourceSlot {
            counts: counts.clone(),
            ip,
        })
    }
}

impl Drop for SourceSlot {
    fn drop(&mut self) {
        let mut map = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = map.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` under `limits` until `shutdown`, then lets open connections
/// finish their request (at most 5 s) and returns.
pub async fn serve_router(
    listener: TcpListener,
    app: Router,
    limits: ServerLimits,
    counters: Arc<ServerCounters>,
    shutdown: CancellationToken,
) {
    let tracker = TaskTracker::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let sources: Arc<Mutex<HashMap<IpAddr, usize>>> = Arc::default();
    while let Some((permit, stream, peer)) =
        shutdown::accept_until(&listener, &slots, &shutdown).await
    {
        // Answers go out as they are written, not after the client's delayed ACK (Nagle).
        let _ = stream.set_nodelay(true);
        let peer = SocketAddr::new(peer.ip().to_canonical(), peer.port());
        let Some(slot) = SourceSlot::take(&sources, peer.ip(), limits.max_connections_per_source)
        else {
            counters.refused_per_source.fetch_add(1, Ordering::Relaxed);
            drop(stream);
            continue;
        };
        let service =
            TowerToHyperService::new(axum::Extension(ConnectInfo(peer)).layer(app.clone()));
        let stop = shutdown.clone();
        let counters = counters.clone();
        counters.open.fetch_add(1, Ordering::Relaxed);
        tracker.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read_timeout)
                .max_buf_size(limits.max_head_bytes.max(8192))
                .keep_alive(true);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::trace!(error = %e, "connection ended");
                    }
                }
                () = stop.cancelled() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(Duration::from_secs(5), connection).await;
                }
            }
            counters.open.fetch_sub(1, Ordering::Relaxed);
            drop(slot);
            drop(permit);
        });
    }
    tracker.close();
    tracker.wait().await;
}
