//! The consumer roles (`recce7 normalizer`, `recce7 geoloc`) run as a user runs them: the real
//! binary with a config file in a temporary directory, stopped with SIGTERM (or killed when
//! dropped). Their log (standard error) goes to `<role>.log` in that directory.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use crate::LineProcess;

/// A running role.
pub struct RoleProcess {
    process: LineProcess,
    role: String,
    dir: PathBuf,
}

impl RoleProcess {
    /// Writes `config` to `<dir>/<role>.toml`, starts `bin <role> --config` on it and waits
    /// for its start line (`recce7 <role>: ...` on standard output).
    pub fn start(bin: &Path, role: &str, dir: &Path, config: &str) -> RoleProcess {
        let file = dir.join(format!("{role}.toml"));
        std::fs::write(&file, config).expect("write the config");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join(format!("{role}.log")))
            .expect("the log file");
        let mut cmd = Command::new(bin);
        cmd.arg(role).arg("--config").arg(&file).stderr(log);
        let mut process = LineProcess::spawn(cmd);
        let prefix = format!("recce7 {role}: ");
        if process
            .wait_line(Duration::from_secs(20), |l| l.starts_with(&prefix))
            .is_none()
        {
            panic!(
                "recce7 {role} did not start; stdout: {:?}; log: {}",
                process.seen(),
                Self::read_log(dir, role)
            );
        }
        RoleProcess {
            process,
            role: role.to_owned(),
            dir: dir.to_path_buf(),
        }
    }

    /// The process id (to read its memory from /proc).
    pub fn pid(&mut self) -> u32 {
        self.process.process().child().id()
    }

    /// Everything the role has logged so far.
    pub fn log(&self) -> String {
        Self::read_log(&self.dir, &self.role)
    }

    fn read_log(dir: &Path, role: &str) -> String {
        std::fs::read_to_string(dir.join(format!("{role}.log"))).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (up to `timeout`) for the exit status; returns it with the log.
    pub fn terminate(mut self, timeout: Duration) -> (ExitStatus, String) {
        let pid = self.process.process().child().id();
        crate::signal(pid, "TERM");
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.process.process().child().try_wait() {
                return (status, self.log());
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
}
