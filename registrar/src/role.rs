//! The registrar's entry, the same shape as every role's: [`load`](crate::load) the settings,
//! then [`run`] them until the [`Shutdown`]; the [`RegistrarSummary`] prints as the end-of-run
//! line. [`run_on`] serves on a listener bound and a registry opened earlier, so that a bad
//! address or auth store fails before the start line is printed.

use std::fmt;
use std::sync::atomic::Ordering;

use shutdown::{Phase, Shutdown};

use crate::api::{AppState, router};
use crate::config::RegistrarSettings;
use crate::error::RegistrarError;
use crate::registry::Registry;

/// What a finished run reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegistrarSummary {
    /// Sensors registered during the run.
    pub registered: u64,
    /// Sensors revoked during the run.
    pub revoked: u64,
}

/// The end-of-run line.
impl fmt::Display for RegistrarSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "registrar stopped: {} registered, {} revoked",
            self.registered, self.revoked
        )
    }
}

/// `recce7 registrar`'s start line.
pub fn start_line(settings: &RegistrarSettings) -> String {
    format!(
        "recce7 registrar: serving POST /api/sensor/ on http://{} (sensors publish to {}:{}), keys into {}{}",
        settings.listen,
        settings
            .broker_host
            .as_deref()
            .unwrap_or("<the host sensors register with>"),
        settings.broker_port,
        settings.broker_auth_db.display(),
        if settings.admin_token.is_some() {
            "; listing and revoking with the admin token"
        } else {
            "; no admin token: listing and revoking are off"
        }
    )
}

/// Opens the broker's auth store, binds `settings.listen` and serves until `shutdown` begins.
pub async fn run(
    settings: RegistrarSettings,
    shutdown: Shutdown,
) -> Result<RegistrarSummary, RegistrarError> {
    let listener = tokio::net::TcpListener::bind(settings.listen)
        .await
        .map_err(|e| RegistrarError::Bind {
            addr: settings.listen,
            reason: e.to_string(),
        })?;
    let registry = Registry::open(&settings.broker_auth_db)?;
    serve(listener, registry, settings, shutdown).await
}

/// Like [`run`], on a listener already bound (non-blocking) and a registry already opened
/// ([`Registry::open`] on `settings.broker_auth_db`).
pub async fn run_on(
    listener: std::net::TcpListener,
    registry: Registry,
    settings: RegistrarSettings,
    shutdown: Shutdown,
) -> Result<RegistrarSummary, RegistrarError> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| RegistrarError::Serve(e.to_string()))?;
    serve(listener, registry, settings, shutdown).await
}

async fn serve(
    listener: tokio::net::TcpListener,
    registry: Registry,
    settings: RegistrarSettings,
    shutdown: Shutdown,
) -> Result<RegistrarSummary, RegistrarError> {
    let limits = settings.server;
    let state = AppState::new(registry, settings);
    let metrics = state.metrics.clone();
    reportd::server::serve_router(
        listener,
        router(state),
        limits,
        std::sync::Arc::default(),
        shutdown.token(Phase::StopAccepting),
    )
    .await;
    Ok(RegistrarSummary {
        registered: metrics.registrations.load(Ordering::Relaxed),
        revoked: metrics.revocations.load(Ordering::Relaxed),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_end_of_run_line() {
        let s = RegistrarSummary {
            registered: 3,
            revoked: 1,
        };
        assert_eq!(s.to_string(), "registrar stopped: 3 registered, 1 revoked");
    }
}
