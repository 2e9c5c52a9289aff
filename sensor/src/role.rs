//! The sensor's entry, the same shape as every role's: [`load`] the settings, then [`run`] them
//! until the [`Shutdown`]; the [`RunSummary`] prints as the end-of-run lines.
//!
//! The binary splits `run` in two ([`Sensor::bind`], then [`Sensor::run`]) when it must do
//! something between binding and accepting: drop privileges, serve `/metrics`, print the guide.

use std::fmt;
use std::path::Path;

use shutdown::Shutdown;

use crate::{ConfigProblems, RunSummary, Sensor, SensorError, ValidConfig};

/// Reads and validates a sensor configuration file: every problem, or the settings.
pub fn load(path: &Path) -> Result<ValidConfig, ConfigProblems> {
    crate::config::load(path)
}

/// Binds, opens the store, accepts and serves until `shutdown` begins, then shuts down in its
/// phases and returns the final counts.
pub async fn run(settings: ValidConfig, shutdown: Shutdown) -> Result<RunSummary, SensorError> {
    Sensor::bind(settings)?.run(shutdown).await
}

impl RunSummary {
    /// Events that were not written: refused by the recorder or failed in it.
    pub fn lost_events(&self) -> u64 {
        self.lost + self.recorder.failed
    }
}

/// The end-of-run lines: sessions and events, then retention and publishing when they did
/// something.
impl fmt::Display for RunSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stopped: {} sessions, {} refused by limits, {} events written, {} lost",
            self.ended,
            self.refused,
            self.recorder.events,
            self.lost_events()
        )?;
        if self.recorder.pruned_rows + self.recorder.disk_full > 0 {
            write!(
                f,
                "\nretention pruned {} rows; {} events dropped because the disk was full",
                self.recorder.pruned_rows, self.recorder.disk_full
            )?;
        }
        if let Some(p) = &self.publisher {
            write!(
                f,
                "\npublished {} events ({} marked to be sent again), {} waiting in the outbox for the next start, {} not queued (outbox full)",
                p.sent, p.resent, self.recorder.outbox_unsent, self.recorder.outbox_full
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quiet_run_is_one_line() {
        let summary = RunSummary {
            accepted: 3,
            refused: 1,
            ended: 3,
            lost: 0,
            recorder: store::RecorderSnapshot::default(),
            publisher: None,
        };
        assert_eq!(
            summary.to_string(),
            "stopped: 3 sessions, 1 refused by limits, 0 events written, 0 lost"
        );
        assert_eq!(summary.lost_events(), 0);
    }
}
