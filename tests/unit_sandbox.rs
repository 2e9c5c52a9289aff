//! The sandbox the shipped systemd units put recce7 in, exercised without systemd (this machine
//! does not run it as PID 1): `tests/sandbox/seccomp_exec.py` applies a unit's
//! `SystemCallFilter=`, `SystemCallErrorNumber=`, `RestrictAddressFamilies=` and
//! `MemoryDenyWriteExecute=` with libseccomp, as systemd does, and the role runs under it as an
//! unprivileged user: a sensor records a telnet login, a command and an HTTP request and exits
//! cleanly on SIGTERM; reportd serves what it recorded. A role that needed a refused system call
//! fails here instead of on a user's machine.

mod sensor_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports, telnet_any_login};

/// The unprivileged user the roles run as here (the packages' `recce7` user may not exist).
const NOBODY: u32 = 65534;

fn unit(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy-scripts/systemd")
        .join(name)
}

/// A script that runs recce7 as `nobody` under `unit`'s sandbox, taking recce7's arguments.
fn sandboxed_bin(dir: &Path, unit_name: &str) -> PathBuf {
    let python = Path::new("/usr/bin/python3");
    assert!(
        python.exists()
            && Command::new(python)
                .args(["-c", "import seccomp"])
                .status()
                .is_ok_and(|s| s.success()),
        "Debian's python3-seccomp is missing: run ./scripts/test-all.sh (it installs it) or: apt-get install -y python3-seccomp"
    );
    let setpriv = require("setpriv", "util-linux");
    let helper = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sandbox/seccomp_exec.py");
    let script = dir.join(format!("sandboxed-{unit_name}.sh"));
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nexec {} --reuid={NOBODY} --regid={NOBODY} --clear-groups {} {} {} -- {} \"$@\"\n",
            setpriv.display(),
            python.display(),
            helper.display(),
            unit(unit_name).display(),
            bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script
}

/// A directory the unprivileged user can write (its database, its log).
fn writable_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    dir
}

#[test]
fn the_sensor_and_reportd_work_inside_their_units_system_call_sandbox() {
    assert!(
        is_root(),
        "this test runs the roles as another user: run it as root (CI does)"
    );
    let scripts = tempfile::tempdir().unwrap();
    std::fs::set_permissions(scripts.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let sensor_bin = sandboxed_bin(scripts.path(), "recce7-sensor.service");
    let reportd_bin = sandboxed_bin(scripts.path(), "recce7-reportd.service");

    let [telnet_port, http_port] = ports();
    let sensor = RoleProcess::sensor_in(
        &sensor_bin,
        writable_dir(),
        &format!(
            "{}{}",
            telnet_any_login("telnet", telnet_port, "telnet"),
            plugin("web", "http", http_port, "http")
        ),
    );
    telnet_login(telnet_port, "root", "xc3511", &["uname -a"]);
    let mut s = connect(http_port);
    send(
        &mut s,
        b"GET /cgi-bin/luci HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let (answer, _) = read_to_close(&mut s);
    assert!(answer.starts_with(b"HTTP/1.1 "), "{answer:?}");
    let db_path = sensor.db().to_path_buf();
    let (status, dir) = sensor.terminate_keeping_dir(Duration::from_secs(20));
    let log = testkit::sensor::log(dir.path());
    assert!(
        status.success(),
        "the sandboxed sensor exited with {status}: {log}"
    );
    assert!(log.contains("system calls allowed, others EPERM"), "{log}");
    let conn = db(&db_path);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM telnet WHERE user_input LIKE 'uname%'"
        ),
        1
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM http"), 1);
    assert!(
        count(
            &conn,
            "SELECT count(*) FROM sessions WHERE endTime IS NOT NULL"
        ) >= 2
    );
    drop(conn);

    let reportd_dir = writable_dir();
    let [api_port] = ports();
    let reportd = RoleProcess::start(
        &reportd_bin,
        "reportd",
        reportd_dir.path(),
        &format!(
            "[reportd]\nlisten = \"127.0.0.1:{api_port}\"\ndatabase = \"{}\"\n",
            db_path.display()
        ),
    );
    let answer = curl(api_port, "/v1/analytics/commands", &[]);
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert!(
        String::from_utf8_lossy(&answer.body).contains("uname -a"),
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    let (status, log) = reportd.terminate(Duration::from_secs(20));
    assert!(
        status.success(),
        "the sandboxed reportd exited with {status}: {log}"
    );
    drop(dir);
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}
