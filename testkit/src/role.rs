//! Every role (`recce7 sensor`, `recce7 normalizer`, `recce7 geoloc`, `recce7 reportd`) runs
//! as a user runs it: the real binary with a config file `<role>.toml` in a directory, its log
//! (standard error) in `<role>.log` beside it, stopped with SIGTERM (or killed when dropped).
//!
//! One type, [`RoleProcess`], serves every role; `crate::sensor` adds the sensor's config
//! preamble and waits for its listeners.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::LineProcess;

/// How long a role may take to print that it is ready.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Where a role keeps its config and log: a temporary directory it owns (removed when the
/// last owner drops it) or a directory the test owns.
enum Workdir {
    Owned(tempfile::TempDir),
    Borrowed(PathBuf),
}

impl Workdir {
    fn path(&self) -> &Path {
        match self {
            Workdir::Owned(dir) => dir.path(),
            Workdir::Borrowed(path) => path,
        }
    }
}

/// What a role prints on standard output when it is ready: `count` lines that `is_ready`
/// accepts.
pub struct Readiness {
    count: usize,
    is_ready: Box<dyn Fn(&str) -> bool>,
}

impl Readiness {
    /// The start line every consumer role prints: `recce7 <role>: ...`.
    pub fn start_line(role: &str) -> Readiness {
        let prefix = format!("recce7 {role}: ");
        Readiness {
            count: 1,
            is_ready: Box::new(move |line| line.starts_with(&prefix)),
        }
    }

    /// `count` lines containing `text` (the sensor prints one `listening on` per plug-in).
    pub fn lines_containing(count: usize, text: &'static str) -> Readiness {
        Readiness {
            count,
            is_ready: Box::new(move |line| line.contains(text)),
        }
    }
}

/// A running role.
pub struct RoleProcess {
    process: LineProcess,
    role: String,
    dir: Workdir,
    db: Option<PathBuf>,
    /// The config file it was started with.
    pub config: PathBuf,
}

/// Everything `role` has logged in `dir` (its standard error, `<role>.log`).
pub fn log_in(dir: &Path, role: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{role}.log"))).unwrap_or_default()
}

impl RoleProcess {
    /// Writes `config` to `<dir>/<role>.toml`, starts `bin <role> --config` on it and waits
    /// for its start line (`recce7 <role>: ...` on standard output).
    pub fn start(bin: &Path, role: &str, dir: &Path, config: &str) -> RoleProcess {
        Self::launch(
            bin,
            role,
            Workdir::Borrowed(dir.to_path_buf()),
            config,
            None,
            Readiness::start_line(role),
        )
    }

    /// Starts `bin <role> --config <dir>/<role>.toml` with `config` in a temporary directory
    /// the process owns, recording to `db`, and waits until `ready`.
    pub fn start_owned(
        bin: &Path,
        role: &str,
        dir: tempfile::TempDir,
        db: PathBuf,
        config: &str,
        ready: Readiness,
    ) -> RoleProcess {
        Self::launch(bin, role, Workdir::Owned(dir), config, Some(db), ready)
    }

    fn launch(
        bin: &Path,
        role: &str,
        dir: Workdir,
        config: &str,
        db: Option<PathBuf>,
        ready: Readiness,
    ) -> RoleProcess {
        let file = dir.path().join(format!("{role}.toml"));
        std::fs::write(&file, config).expect("write the config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join(format!("{role}.log")))
            .expect("the log file");
        let mut cmd = Command::new(bin);
        cmd.arg(role).arg("--config").arg(&file).stderr(log);
        let mut process = LineProcess::spawn(cmd);
        for _ in 0..ready.count {
            if process
                .wait_line(START_TIMEOUT, |l| (ready.is_ready)(l))
                .is_none()
            {
                panic!(
                    "recce7 {role} did not start; stdout so far: {:?}; log: {}",
                    process.seen(),
                    log_in(dir.path(), role)
                );
            }
        }
        RoleProcess {
            process,
            role: role.to_owned(),
            dir,
            db,
            config: file,
        }
    }

    /// The process id (to signal it or read its memory from /proc).
    pub fn pid(&mut self) -> u32 {
        self.process.process().child().id()
    }

    /// Everything the role has logged so far.
    pub fn log(&self) -> String {
        log_in(self.dir.path(), &self.role)
    }

    /// The directory holding its config and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The SQLite file it records to; panics for a role started without one.
    pub fn db(&self) -> &Path {
        self.db
            .as_deref()
            .unwrap_or_else(|| panic!("recce7 {} was started without a database", self.role))
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit status; returns it with the log.
    pub fn terminate(mut self, timeout: Duration) -> (ExitStatus, String) {
        let status = self.stop(timeout);
        (status, self.log())
    }

    /// Sends SIGTERM, waits (up to `timeout`) for the exit status, and returns it with the
    /// temporary directory (to inspect the database or start again over it); panics for a role
    /// whose directory the test owns.
    pub fn terminate_keeping_dir(mut self, timeout: Duration) -> (ExitStatus, tempfile::TempDir) {
        let status = self.stop(timeout);
        (status, self.into_dir())
    }

    fn stop(&mut self, timeout: Duration) -> ExitStatus {
        let pid = self.pid();
        crate::signal(pid, "TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.process.process().child().try_wait() {
                return status;
            }
            if Instant::now() > deadline {
                panic!(
                    "recce7 {} did not exit within {timeout:?} of SIGTERM; log: {}",
                    self.role,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Gives up the process (killing it if it still runs) and keeps its temporary directory;
    /// panics for a role whose directory the test owns.
    pub fn into_dir(self) -> tempfile::TempDir {
        let RoleProcess {
            process, dir, role, ..
        } = self;
        drop(process);
        match dir {
            Workdir::Owned(dir) => dir,
            Workdir::Borrowed(path) => {
                panic!(
                    "recce7 {role} runs in {}, which the test owns",
                    path.display()
                )
            }
        }
    }
}
