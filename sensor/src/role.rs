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

    /// The entry end to end: a session still open when the shutdown begins is closed once the
    /// grace period is over, gets its end record, and the summary counts it.
    #[tokio::test]
    async fn run_closes_open_sessions_after_the_grace_period() {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sensor.sqlite");
        let port = testkit::free_port();
        let config = crate::config::parse(
            &format!(
                r#"
[sensor]
name = "role"
listen = ["127.0.0.1"]
database = "{}"
shutdown_grace_secs = 0

[[plugin]]
name = "ftp"
kind = "banner"
port = {port}
table = "ftp"
[plugin.options]
banner = "220 ready\r\n"
reply = "530 no\r\n"
protocol = "ftp"
"#,
                db.display()
            ),
            "role.toml",
        )
        .expect("a valid config");
        let shutdown = Shutdown::new();
        let running = tokio::spawn(run(config, shutdown.clone()));
        let stream = loop {
            match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
                Ok(s) => break s,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(10)).await,
            }
        };
        let mut lines = tokio::io::BufReader::new(stream).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "220 ready");
        shutdown.begin();
        let summary = running.await.unwrap().expect("a clean run");
        assert!(shutdown.has_reached(shutdown::Phase::CloseSessions));
        assert!(!shutdown.has_reached(shutdown::Phase::StopServices));
        assert_eq!(
            (summary.accepted, summary.ended, summary.lost_events()),
            (1, 1, 0)
        );
        let conn = rusqlite::Connection::open(&db).unwrap();
        let reason: String = conn
            .query_row("SELECT closeReason FROM sessions", [], |r| r.get(0))
            .unwrap();
        assert_eq!(reason, "sensor shutdown");
    }
}
