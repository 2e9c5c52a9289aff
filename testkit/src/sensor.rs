//! The recce7 sensor as a [`RoleProcess`]: a config with a `[sensor]` preamble for tests, on
//! loopback ports, in its own temporary directory and database.

use std::path::{Path, PathBuf};

use crate::free_port;
use crate::role::{Readiness, RoleProcess};

/// A `[[plugin]]` table for a config: `kind` on `port` recording to `table`.
pub fn plugin(name: &str, kind: &str, port: u16, table: &str) -> String {
    format!(
        "\n[[plugin]]\nname = \"{name}\"\nkind = \"{kind}\"\nport = {port}\ntable = \"{table}\"\n"
    )
}

/// The `[plugin.options.credentials]` table that lets any login in at once (the credential
/// policy's `accept_after = [0, 0]`, docs/credentials.md), for tests that log in to telnet with
/// whatever credentials to check something else. It must follow its `[[plugin]]` table.
pub const ANY_LOGIN: &str = "[plugin.options.credentials]\naccept_after = [0, 0]\n";

/// A telnet [`plugin`] table whose credential policy lets any login in ([`ANY_LOGIN`]).
pub fn telnet_any_login(name: &str, port: u16, table: &str) -> String {
    format!("{}{ANY_LOGIN}", plugin(name, "telnet", port, table))
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

/// Everything a sensor logged in `dir` (its standard error).
pub fn log(dir: &Path) -> String {
    crate::role::log_in(dir, "sensor")
}

impl RoleProcess {
    /// Starts `bin sensor --config F` where F is a `[sensor]` table (name "test", listening on
    /// 127.0.0.1, a database in a fresh temporary directory, 1 s shutdown grace) followed by
    /// `body` (`[limits]` and `[[plugin]]` tables), with packet capture off unless `body` has
    /// a `[capture]` table. Waits until every listener is reported.
    pub fn sensor(bin: &Path, body: &str) -> RoleProcess {
        let dir = tempfile::tempdir().expect("temporary directory");
        Self::sensor_in(bin, dir, body)
    }

    /// Like [`RoleProcess::sensor`], in an existing directory (to restart over one database).
    pub fn sensor_in(bin: &Path, dir: tempfile::TempDir, body: &str) -> RoleProcess {
        let db = dir.path().join("sensor.sqlite");
        Self::sensor_with_database(bin, dir, db, body)
    }

    /// Like [`RoleProcess::sensor_in`], recording to `db` (a file on another filesystem, say)
    /// while the config and the log stay in `dir`.
    pub fn sensor_with_database(
        bin: &Path,
        dir: tempfile::TempDir,
        db: PathBuf,
        body: &str,
    ) -> RoleProcess {
        let mut text = format!(
            "[sensor]\nname = \"test\"\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\nshutdown_grace_secs = 1\n{body}",
            db.display()
        );
        let listeners =
            text.matches("[[plugin]]").count() - text.matches("enabled = false").count();
        // Packet capture sees every test's traffic on the shared loopback: a test that wants
        // it says so with its own `[capture]` table (tests/capture.rs, the benchmarks).
        if !body.contains("[capture]") {
            text.push_str("\n[capture]\nenabled = false\n");
        }
        Self::start_owned(
            bin,
            "sensor",
            dir,
            db,
            &text,
            Readiness::lines_containing(listeners, "listening on"),
        )
    }
}
