//! geoloc's entry, the same shape as every role's: [`load`] the settings, then [`run`] them
//! until the [`Shutdown`]; the [`GeolocSummary`] prints as the end-of-run line.

use std::fmt;
use std::path::Path;

use roleconfig::ConfigProblems;
use shutdown::{Phase, Shutdown};

use crate::GeolocError;
use crate::config::GeolocSettings;
use crate::consumer::GeolocSummary;

/// Reads and validates a geoloc configuration file: every problem, or the settings.
pub fn load(path: &Path) -> Result<GeolocSettings, ConfigProblems> {
    crate::config::load(path)
}

/// Runs geoloc until `shutdown` begins: subscribes, publishes one record per attack, keeps
/// `ipInfo` current. Returns the final counters.
pub async fn run(
    settings: GeolocSettings,
    shutdown: Shutdown,
) -> Result<GeolocSummary, GeolocError> {
    crate::consumer::run(settings, shutdown.token(Phase::StopAccepting)).await
}

/// The end-of-run line.
impl fmt::Display for GeolocSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "geoloc stopped: {} received, {} published, {} duplicates, {} refused, {} ipInfo sightings written",
            self.received, self.published, self.duplicates, self.refused, self.ip_info_written
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_is_the_end_of_run_line() {
        let s = GeolocSummary {
            received: 4,
            published: 2,
            duplicates: 1,
            skipped: 0,
            refused: 1,
            ip_info_written: 2,
        };
        assert_eq!(
            s.to_string(),
            "geoloc stopped: 4 received, 2 published, 1 duplicates, 1 refused, 2 ipInfo sightings written"
        );
    }
}
