//! The report service's entry, the same shape as every role's: [`load`](crate::load) the
//! settings, then [`run`] them until the [`Shutdown`]; the [`ReportdSummary`] prints as the
//! end-of-run line. [`run_on`] serves on a listener bound earlier (before the start line is
//! printed, or before privileges are dropped).

use std::fmt;

use shutdown::{Phase, Shutdown};

use crate::ReportError;
use crate::config::ReportdSettings;

/// What a finished run reports: that it stopped (requests are counted on `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportdSummary;

/// The end-of-run line.
impl fmt::Display for ReportdSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("reportd stopped")
    }
}

/// Opens the database, binds `settings.listen` and serves until `shutdown` begins.
pub async fn run(
    settings: ReportdSettings,
    shutdown: Shutdown,
) -> Result<ReportdSummary, ReportError> {
    crate::api::serve(settings, None, shutdown.token(Phase::StopAccepting)).await?;
    Ok(ReportdSummary)
}

/// Like [`run`], on a listener already bound (non-blocking).
pub async fn run_on(
    listener: std::net::TcpListener,
    settings: ReportdSettings,
    shutdown: Shutdown,
) -> Result<ReportdSummary, ReportError> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| ReportError::Serve(e.to_string()))?;
    crate::api::serve_on(
        listener,
        settings,
        None,
        shutdown.token(Phase::StopAccepting),
    )
    .await?;
    Ok(ReportdSummary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_end_of_run_line() {
        assert_eq!(ReportdSummary.to_string(), "reportd stopped");
    }
}
