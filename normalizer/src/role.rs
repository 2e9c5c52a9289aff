//! The normalizer's entry, the same shape as every role's: [`load`](crate::load) the settings,
//! then [`run`] them until the [`Shutdown`]; the [`NormalizerSnapshot`] prints as the end-of-run
//! line.

use std::fmt;

use shutdown::{Phase, Shutdown};

use crate::NormalizerError;
use crate::config::NormalizerSettings;
use crate::pipeline::NormalizerSnapshot;

/// Runs the normalizer until `shutdown` begins: opens the central store, subscribes, writes.
/// Returns the final counters once everything received is committed.
pub async fn run(
    settings: NormalizerSettings,
    shutdown: Shutdown,
) -> Result<NormalizerSnapshot, NormalizerError> {
    crate::consumer::run(settings, shutdown.token(Phase::StopAccepting)).await
}

/// The end-of-run line.
impl fmt::Display for NormalizerSnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "normalizer stopped: {} received, {} written, {} duplicates, {} quarantined, {} lost",
            self.received, self.written, self.duplicates, self.quarantined, self.failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_end_of_run_line() {
        let s = NormalizerSnapshot {
            received: 5,
            written: 3,
            duplicates: 1,
            quarantined: 1,
            failed: 0,
            batches: 2,
        };
        assert_eq!(
            s.to_string(),
            "normalizer stopped: 5 received, 3 written, 1 duplicates, 1 quarantined, 0 lost"
        );
    }
}
