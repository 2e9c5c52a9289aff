//! The recce7 sensor run as a user runs it: the real binary with a config file, on loopback
//! ports, stopped with SIGTERM (or killed when dropped).

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::{LineProcess, free_port};

/// A `[[plugin]]` table for a config: `kind` on `port` recording to `table`.
pub fn plugin(name: &str, kind: &str, port: u16, table: &str) -> String {
    format!(
        "\n[[plugin]]\nname = \"{name}\"\nkind = \"{kind}\"\nport = {port}\ntable = \"{table}\"\n"
    )
}

/// A sensor process with its own temporary directory and database.
pub struct SensorProcess {
    process: LineProcess,
    dir: tempfile::TempDir,
    /// The SQLite file it records to.
    pub db: PathBuf,
    /// The config file it was started with.
    pub config: PathBuf,
}

/// Free ports for a test, one per name.
pub fn ports<const N: usize>() -> [u16; N] {
    let mut out = [0u16; N];
    for i in 0..N {
        loop {
            let p = free_port();
            if !out[..i].contains(&p) {
                out[i] = p;
                break;
            }
        }
    }
    out
}

impl SensorProcess {
    /// Starts `bin sensor --config F` where F is a `[sensor]` table (name "test", listening on
    /// 127.0.0.1, a database in a fresh temporary directory, 1 s shutdown grace) followed by
    /// `body` (`[limits]` and `[[plugin]]` tables). Waits until every listener is reported.
    pub fn start(bin: &Path, body: &str) -> SensorProcess {
        let dir = tempfile::tempdir().expect("temporary directory");
        Self::start_in(bin, dir, body)
    }

    /// Like [`SensorProcess::start`], in an existing directory (to restart over one database).
    pub fn start_in(bin: &Path, dir: tempfile::TempDir, body: &str) -> SensorProcess {
        let db = dir.path().join("sensor.sqlite");
        Self::start_with_database(bin, dir, db, body)
    }

    /// Like [`SensorProcess::start_in`], recording to `db` (a file on another filesystem, say)
    /// while the config and the log stay in `dir`.
    pub fn start_with_database(
        bin: &Path,
        dir: tempfile::TempDir,
        db: PathBuf,
        body: &str,
    ) -> SensorProcess {
        let config = dir.path().join("sensor.toml");
        let text = format!(
            "[sensor]\nname = \"test\"\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\nshutdown_grace_secs = 1\n{body}",
            db.display()
        );
        std::fs::write(&config, &text).expect("write the config");
        let expected = text.matches("[[plugin]]").count() - text.matches("enabled = false").count();
        let mut cmd = Command::new(bin);
        cmd.arg("sensor").arg("--config").arg(&config);
        // The log goes to a file the test can read (and shows on failure).
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("sensor.log"))
            .expect("the sensor's log file");
        cmd.stderr(log);
        let mut process = LineProcess::spawn(cmd);
        for _ in 0..expected {
            if process
                .wait_line(Duration::from_secs(20), |l| l.contains("listening on"))
                .is_none()
            {
                panic!(
                    "the sensor did not report its listeners; stdout so far: {:?}; log: {}",
                    process.seen(),
                    std::fs::read_to_string(dir.path().join("sensor.log")).unwrap_or_default()
                );
            }
        }
        SensorProcess {
            process,
            dir,
            db,
            config,
        }
    }

    /// The process id.
    pub fn pid(&mut self) -> u32 {
        self.process.process().child().id()
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit status.
    pub fn terminate(mut self, timeout: Duration) -> (ExitStatus, tempfile::TempDir) {
        let pid = self.pid();
        crate::signal(pid, "TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.process.process().child().try_wait() {
                return (status, self.dir);
            }
            if Instant::now() > deadline {
                panic!("the sensor did not exit within {timeout:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Gives up the process (killing it if it still runs) and keeps its directory, to inspect
    /// the database or start again over it.
    pub fn into_dir(self) -> tempfile::TempDir {
        let SensorProcess { process, dir, .. } = self;
        drop(process);
        dir
    }

    /// Everything the sensor has logged so far (its standard error), in this directory.
    pub fn log(dir: &Path) -> String {
        std::fs::read_to_string(dir.join("sensor.log")).unwrap_or_default()
    }

    /// The temporary directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}
