//! One graceful shutdown for every recce7 role.
//!
//! A [`Shutdown`] starts on SIGINT or SIGTERM ([`Shutdown::on_signals`]) or when its owner says
//! so ([`Shutdown::begin`]), then goes through [`Phase`]s in a fixed order: stop accepting,
//! close the sessions still open after the grace period, stop the outbox publisher, stop the
//! HTTP services. Entering a phase enters every earlier one too, so no part can stop before the
//! parts it depends on: the recorder drains after the sessions are closed and before the
//! publisher stops, and the HTTP services (`/metrics`, `up`'s report service) go last, once
//! everything is committed.
//!
//! Each part waits on its phase's [`CancellationToken`] (from [`Shutdown::token`]), so code that
//! takes a plain token (axum's graceful shutdown, a connection's close signal) works unchanged.
//! Its own crate rather than `roleconfig`: it needs the runtime (tokio signals), which config
//! loading does not, and every role crate uses it.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

/// The phases of a shutdown, in the order they are entered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Stop accepting connections and messages (a signal, or [`Shutdown::begin`]). Sessions
    /// already open go on for the grace period.
    StopAccepting,
    /// The grace period is over: close every session still open (each gets its end record).
    CloseSessions,
    /// Everything is recorded and committed: the outbox publisher sends what it can and stops.
    StopPublisher,
    /// The role's work is done: the HTTP services (`/metrics`, the report service) stop.
    StopServices,
}

impl Phase {
    /// Every phase, in order.
    pub const ALL: [Phase; 4] = [
        Phase::StopAccepting,
        Phase::CloseSessions,
        Phase::StopPublisher,
        Phase::StopServices,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// A role's shutdown: one token per [`Phase`]; cheap to clone, every clone is the same shutdown.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    phases: Arc<[CancellationToken; 4]>,
}

impl Shutdown {
    /// A shutdown that starts only when [`Shutdown::begin`] (or [`Shutdown::enter`]) is called.
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// A shutdown that also starts on SIGINT or SIGTERM (logged as `shutting down`). Call it
    /// inside the runtime: it spawns the task that waits for the signal.
    pub fn on_signals() -> Shutdown {
        let shutdown = Shutdown::new();
        let signalled = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = wait_for_signal() => {
                    tracing::info!("shutting down");
                    signalled.begin();
                }
                () = signalled.reached(Phase::StopAccepting) => {}
            }
        });
        shutdown
    }

    /// Starts the shutdown: [`Phase::StopAccepting`].
    pub fn begin(&self) {
        self.enter(Phase::StopAccepting);
    }

    /// Enters `phase`, and every earlier phase first.
    pub fn enter(&self, phase: Phase) {
        for token in &self.phases[..=phase.index()] {
            token.cancel();
        }
    }

    /// Whether `phase` has been entered.
    pub fn has_reached(&self, phase: Phase) -> bool {
        self.phases[phase.index()].is_cancelled()
    }

    /// Waits until `phase` is entered.
    pub async fn reached(&self, phase: Phase) {
        self.phases[phase.index()].cancelled().await
    }

    /// The token cancelled when `phase` is entered, for code that waits on a plain token.
    pub fn token(&self, phase: Phase) -> CancellationToken {
        self.phases[phase.index()].clone()
    }
}

/// A plain token is the [`Phase::StopAccepting`] of a new shutdown: cancelling it starts the
/// shutdown (for callers and tests that hold a token).
impl From<CancellationToken> for Shutdown {
    fn from(stop_accepting: CancellationToken) -> Shutdown {
        Shutdown {
            phases: Arc::new([
                stop_accepting,
                CancellationToken::new(),
                CancellationToken::new(),
                CancellationToken::new(),
            ]),
        }
    }
}

/// The next connection an HTTP service accepts under its global cap, until `stop`: waits for one
/// of `slots` (at the cap the service stops accepting and the kernel's backlog holds the rest,
/// which is backpressure, not a drop), then for a connection. `None` once `stop` is cancelled.
/// An accept error (out of descriptors, a connection reset before it was accepted) is logged and
/// retried after 50 ms rather than spun on.
pub async fn accept_until(
    listener: &tokio::net::TcpListener,
    slots: &Arc<tokio::sync::Semaphore>,
    stop: &CancellationToken,
) -> Option<(
    tokio::sync::OwnedSemaphorePermit,
    tokio::net::TcpStream,
    std::net::SocketAddr,
)> {
    let permit = tokio::select! {
        () = stop.cancelled() => return None,
        permit = slots.clone().acquire_owned() => permit.ok()?,
    };
    loop {
        tokio::select! {
            () = stop.cancelled() => return None,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => return Some((permit, stream, peer)),
                Err(e) => {
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Waits for SIGTERM or SIGINT (only SIGINT where SIGTERM cannot be handled).
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entering_a_phase_enters_every_earlier_one_and_no_later_one() {
        let shutdown = Shutdown::new();
        assert!(Phase::ALL.iter().all(|p| !shutdown.has_reached(*p)));
        shutdown.enter(Phase::CloseSessions);
        assert!(shutdown.has_reached(Phase::StopAccepting));
        assert!(shutdown.has_reached(Phase::CloseSessions));
        assert!(!shutdown.has_reached(Phase::StopPublisher));
        assert!(!shutdown.has_reached(Phase::StopServices));
    }

    #[test]
    fn clones_share_one_shutdown() {
        let shutdown = Shutdown::new();
        let token = shutdown.token(Phase::StopAccepting);
        shutdown.clone().begin();
        assert!(token.is_cancelled());
        assert!(!shutdown.has_reached(Phase::CloseSessions));
    }

    #[test]
    fn a_plain_token_starts_the_shutdown() {
        let token = CancellationToken::new();
        let shutdown = Shutdown::from(token.clone());
        token.cancel();
        assert!(shutdown.has_reached(Phase::StopAccepting));
        assert!(!shutdown.has_reached(Phase::CloseSessions));
        shutdown.enter(Phase::StopServices);
        assert!(Phase::ALL.iter().all(|p| shutdown.has_reached(*p)));
    }
}
