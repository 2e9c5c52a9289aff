//! A throwaway PostgreSQL cluster for tests (the central store on PostgreSQL, issue 19):
//! Debian's server programs (`apt-get install postgresql`), a data directory and a socket
//! directory of its own in a temporary directory, a free port on 127.0.0.1, one superuser
//! `recce7` with trust authentication (loopback only), durability off (a test's data need not
//! survive a crash). Stopped (`pg_ctl stop -m immediate`) and removed when dropped.
//!
//! PostgreSQL refuses to run as root: as root (CI), the cluster runs as the `postgres` user the
//! Debian package creates (through util-linux's `runuser`), its directory given to that user.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// How long starting or stopping the cluster may take.
const TIMEOUT: Duration = Duration::from_secs(60);

/// The superuser tests connect as.
pub const USER: &str = "recce7";

/// A running throwaway cluster.
pub struct PostgresServer {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    run_as: Option<String>,
}

/// The directory of Debian's newest PostgreSQL server programs, or a panic with the install
/// hint (never a silent skip).
fn server_bin() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "PostgreSQL's server programs (initdb, pg_ctl) not found under /usr/lib/postgresql: \
             run ./scripts/test-all.sh (it installs them) or: apt-get install -y postgresql"
        ),
    }
}

impl PostgresServer {
    /// Creates and starts a cluster on a free port; returns once it accepts connections.
    pub fn start() -> PostgresServer {
        let bin = server_bin();
        let dir = tempfile::tempdir().expect("temporary directory");
        let run_as = nix::unistd::geteuid().is_root().then(|| {
            let user = nix::unistd::User::from_name("postgres")
                .ok()
                .flatten()
                .expect("the postgres user (Debian's postgresql package creates it)");
            std::os::unix::fs::chown(dir.path(), Some(user.uid.as_raw()), Some(user.gid.as_raw()))
                .expect("give the cluster's directory to postgres");
            "postgres".to_owned()
        });
        let server = PostgresServer {
            dir,
            bin,
            port: crate::free_port(),
            run_as,
        };
        let data = server.data_dir();
        let init = server.run(
            "initdb",
            &[
                "-D",
                &data.display().to_string(),
                "-U",
                USER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--locale=C",
            ],
        );
        assert!(init.status.success(), "initdb: {}", text(&init));
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off",
            server.port,
            server.dir.path().display()
        );
        let log = server.dir.path().join("postgres.log");
        let started = server.run(
            "pg_ctl",
            &[
                "-D",
                &data.display().to_string(),
                "-l",
                &log.display().to_string(),
                "-o",
                &options,
                "-w",
                "-t",
                &TIMEOUT.as_secs().to_string(),
                "start",
            ],
        );
        assert!(
            started.status.success(),
            "pg_ctl start: {}\n{}",
            text(&started),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        server
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A `postgresql://` URL for `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://{USER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Runs `sql` with `psql` in `database` and returns its unaligned, tuples-only output;
    /// panics with psql's message if it fails.
    pub fn psql(&self, database: &str, sql: &str) -> String {
        let mut cmd = Command::new("psql");
        cmd.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url(database))
            .args(["-c", sql]);
        let out = crate::run_with_timeout(cmd, TIMEOUT);
        assert!(out.status.success(), "psql {sql:?}: {}", text(&out));
        String::from_utf8_lossy(&out.stdout).trim_end().to_owned()
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of the server programs, as `postgres` when the test runs as root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let path = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.args(["-u", user, "--"]).arg(&path);
                cmd
            }
            None => Command::new(&path),
        };
        cmd.args(args).current_dir(self.dir.path());
        crate::run_with_timeout(cmd, TIMEOUT)
    }

    /// The cluster's directory (its data, socket and log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        let data = self.data_dir().display().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The harness itself: a cluster starts, answers on its port, keeps what it is given, and
    /// stops with nothing left listening.
    #[test]
    fn a_throwaway_cluster_answers_and_stops() {
        let server = PostgresServer::start();
        assert_eq!(server.psql("postgres", "SELECT 1 + 1"), "2");
        server.psql("postgres", "CREATE DATABASE central");
        server.psql(
            "central",
            "CREATE TABLE t (id bigint PRIMARY KEY); INSERT INTO t VALUES (7)",
        );
        assert_eq!(server.psql("central", "SELECT id FROM t"), "7");
        assert!(server.dir().join("data/PG_VERSION").exists());
        let port = server.port();
        drop(server);
        assert!(
            std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
            "the cluster still listens on {port} after the drop"
        );
    }
}
