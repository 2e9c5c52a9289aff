//! The sensor's runtime over real sockets: graceful shutdown under 1,000 sessions, limits,
//! configuration errors, table migration across restarts, and privilege drop.

mod sensor_common;

use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports, telnet_any_login};

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn a_thousand_sessions_then_sigterm_every_session_ends_and_nothing_is_lost() {
    let [port] = ports();
    let body = format!(
        "[limits]\nmax_connections = 5000\nmax_connections_per_source = 5000\nidle_timeout_secs = 300\n{}",
        telnet_any_login("telnet", port, "telnet")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let n = 1000;
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let open_files: u64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok())
        .unwrap_or(u64::MAX);
    assert!(
        open_files >= 2500,
        "this test holds 2,000 sockets but `ulimit -n` is {open_files}: run ./scripts/test-all.sh (it raises it) or `ulimit -n 65536`"
    );
    let mut clients = Vec::with_capacity(n);
    for i in 0..n {
        let mut s = connect(port);
        send(&mut s, format!("user{i}\r\n").as_bytes());
        clients.push(s);
    }
    // Every client has been answered with the password prompt: all sessions are live.
    for s in &mut clients {
        let got = read_until(s, b"Password: ");
        assert!(got.ends_with(b"Password: "), "{got:?}");
    }
    let (status, dir) = sensor.terminate_keeping_dir(Duration::from_secs(60));
    assert!(status.success(), "exit status {status}");
    drop(clients);
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(count(&conn, "SELECT count(*) FROM sessions"), n as i64);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sessions WHERE endTime IS NOT NULL AND closeReason = 'sensor shutdown' AND bytesIn > 0"
        ),
        n as i64,
        "{:?}",
        rows(
            &conn,
            "SELECT closeReason, count(*) FROM sessions GROUP BY 1"
        )
    );
    // Each session's username, recorded at the close with the password it never got.
    assert_eq!(
        count(
            &conn,
            "SELECT count(DISTINCT username) FROM telnet WHERE eventType = 'telnet.login' AND password IS NULL AND username LIKE 'user%'"
        ),
        n as i64
    );
}

#[test]
fn per_source_cap_idle_timeout_and_oversize_line_close_and_are_recorded() {
    let [port] = ports();
    let body = format!(
        "[limits]\nmax_connections_per_source = 2\nidle_timeout_secs = 1\nmax_line_bytes = 64\n{}",
        telnet_any_login("telnet", port, "telnet")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let mut a = connect(port);
    let mut b = connect(port);
    read_until(&mut a, b"login: ");
    read_until(&mut b, b"login: ");
    let mut third = connect(port);
    let (got, closed) = read_to_close(&mut third);
    assert!(
        closed && got.is_empty(),
        "the third connection is closed at once: {got:?}"
    );
    // The two admitted ones go idle and are closed after about a second.
    let started = std::time::Instant::now();
    let (_, closed) = read_to_close(&mut a);
    assert!(closed && started.elapsed() < Duration::from_secs(5));
    read_to_close(&mut b);
    // An oversize line.
    let mut c = connect(port);
    read_until(&mut c, b"login: ");
    send(&mut c, &[b'A'; 200]);
    let (_, closed) = read_to_close(&mut c);
    assert!(closed);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    let reasons = rows(
        &conn,
        "SELECT closeReason, count(*) FROM sessions GROUP BY 1 ORDER BY 1",
    );
    assert_eq!(
        reasons,
        [
            ["idle timeout", "2"],
            ["limit: connections per source", "1"],
            ["line too long", "1"]
        ]
    );
    let long = rows(
        &conn,
        "SELECT username FROM telnet WHERE eventType = 'telnet.login'",
    );
    assert!(
        long.iter()
            .any(|r| r[0].starts_with("AAAA") && r[0].len() <= 65),
        "{long:?}"
    );
}

#[test]
fn check_config_reports_every_problem_with_file_key_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[sensor]\nname = \"s\"\nsurprise = 1\n\n[[plugin]]\nname = \"a\"\nkind = \"telnet\"\nport = 0\ntable = \"t t\"\n\n[[plugin]]\nname = \"a\"\nkind = \"smtp\"\nport = 25\ntable = \"sessions\"\n",
    )
    .unwrap();
    let out = testkit::run_with_timeout(
        {
            let mut c = Command::new(bin());
            c.arg("check-config").arg(&bad);
            c
        },
        TIMEOUT,
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let file = bad.display().to_string();
    for expected in [
        format!("{file}: sensor.surprise: unknown key"),
        format!("{file}: plugin[0].port: 0 is outside 1..65535"),
        format!("{file}: plugin[0].table: \"t t\" is not a safe SQL identifier"),
        format!("{file}: plugin[1].name: \"a\" is also the name of plugin[0]"),
        format!("{file}: plugin[1].table: \"sessions\" is one of the store's own tables"),
        format!("{file}: plugin[1].kind: unknown kind \"smtp\""),
        "6 problems found".to_string(),
    ] {
        assert!(err.contains(&expected), "missing {expected:?} in:\n{err}");
    }
    // The sensor refuses the same file before binding anything.
    let run = testkit::run_with_timeout(
        {
            let mut c = Command::new(bin());
            c.arg("sensor").arg("--config").arg(&bad);
            c
        },
        TIMEOUT,
    );
    assert_eq!(run.status.code(), Some(1));
    // The shipped default passes.
    let ok = testkit::run_with_timeout(
        {
            let mut c = Command::new(bin());
            c.arg("check-config")
                .arg(testkit::workspace_root().join("configs/sensor.toml"));
            c
        },
        TIMEOUT,
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 enabled instances"));
}

/// `recce7 check-config FILE` on `text`, written to `dir/name`: (exit code, stdout, stderr).
fn check_config_text(dir: &std::path::Path, name: &str, text: &str) -> (i32, String, String) {
    let file = dir.join(name);
    std::fs::write(&file, text).unwrap();
    let out = testkit::run_with_timeout(
        {
            let mut c = Command::new(bin());
            c.arg("check-config").arg(&file);
            c
        },
        TIMEOUT,
    );
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Issue 12, item 10: a wrong type names its key path and the rest of the file is still
/// checked; a metrics port on a plug-in's port, a database directory that is missing or not
/// writable, and a report service's missing database are errors; every line of output starts
/// with the file's name.
#[test]
fn check_config_names_type_errors_by_key_and_checks_the_file_system() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().display().to_string();
    let (code, out, err) = check_config_text(
        dir.path(),
        "types.toml",
        &format!(
            "[sensor]\ndatabase = \"{path}/s.sqlite\"\nlog_level = \"loud\"\nqueue_capacity = \"many\"\n\n[[plugin]]\nname = \"telnet\"\nkind = \"telnet\"\nport = \"2323\"\ntable = \"telnet\"\n\n[[plugin]]\nname = \"web\"\nkind = \"http\"\nport = 8080\ntable = 5\n"
        ),
    );
    let file = format!("{path}/types.toml");
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.is_empty(), "{out}");
    for expected in [
        format!("{file}: plugin[0].port: expected an integer, found the string \"2323\" (line 9)"),
        format!("{file}: plugin[1].table: expected a string, found the integer 5 (line 16)"),
        format!(
            "{file}: sensor.queue_capacity: expected a whole number (0 or more), found the string \"many\" (line 4)"
        ),
        // Found after the type errors: the rest of the file was still validated.
        format!(
            "{file}: sensor.log_level: \"loud\" is not one of error, warn, info, debug, trace (line 3)"
        ),
        format!("{file}: 4 problems found"),
    ] {
        assert!(
            err.lines().any(|l| l == expected),
            "missing {expected:?} in:\n{err}"
        );
    }
    assert!(!err.contains(": -: "), "{err}");
    assert!(
        err.lines().all(|l| l.starts_with(&format!("{file}: "))),
        "{err}"
    );

    // A metrics listener on a plug-in's port; a database in a directory that does not exist.
    let (code, _, err) = check_config_text(
        dir.path(),
        "clash.toml",
        &format!(
            "[sensor]\ndatabase = \"{path}/missing/s.sqlite\"\nmetrics_listen = \"127.0.0.1:2323\"\n\n[[plugin]]\nname = \"telnet\"\nkind = \"telnet\"\nport = 2323\ntable = \"telnet\"\n"
        ),
    );
    let file = format!("{path}/clash.toml");
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{file}: sensor.metrics_listen: 127.0.0.1:2323 is on port 2323, the port of plugin[0] (\"telnet\")"
        )),
        "{err}"
    );
    // Once the metrics port is fixed, the file system is checked.
    let (code, _, err) = check_config_text(
        dir.path(),
        "clash.toml",
        &format!(
            "[sensor]\ndatabase = \"{path}/missing/s.sqlite\"\n\n[[plugin]]\nname = \"telnet\"\nkind = \"telnet\"\nport = 2323\ntable = \"telnet\"\n"
        ),
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{file}: sensor.database: the directory {path}/missing does not exist"
        )),
        "{err}"
    );
    // A directory nobody may create files in, not even root: /proc.
    let (code, _, err) = check_config_text(
        dir.path(),
        "clash.toml",
        "[sensor]\ndatabase = \"/proc/s.sqlite\"\n\n[[plugin]]\nname = \"telnet\"\nkind = \"telnet\"\nport = 2323\ntable = \"telnet\"\n",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains(&format!(
            "{file}: sensor.database: cannot create files in /proc"
        )),
        "{err}"
    );
    // The report service reads a database another role creates: one that does not exist yet
    // is accepted when its directory does (reportd waits for it, answering 503), and a path
    // whose directory is missing too is a mistake.
    let (code, _, err) = check_config_text(
        dir.path(),
        "reportd.toml",
        &format!("[reportd]\ndatabase = \"{path}/nothing.sqlite\"\n"),
    );
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = check_config_text(
        dir.path(),
        "reportd.toml",
        &format!("[reportd]\ndatabase = \"{path}/missing/nothing.sqlite\"\n"),
    );
    assert_eq!(code, 1, "{err}");
    let file = format!("{path}/reportd.toml");
    assert!(
        err.contains(&format!(
            "{file}: reportd.database: neither {path}/missing/nothing.sqlite nor its directory exists"
        )),
        "{err}"
    );
    // A good file: every line of the verdict has the prefix too.
    let (code, out, err) = check_config_text(
        dir.path(),
        "good.toml",
        &format!(
            "[sensor]\ndatabase = \"{path}/s.sqlite\"\n\n[[plugin]]\nname = \"telnet\"\nkind = \"telnet\"\nport = 2323\ntable = \"telnet\"\n"
        ),
    );
    let file = format!("{path}/good.toml");
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().count() >= 2, "{out}");
    assert!(
        out.lines().all(|l| l.starts_with(&format!("{file}: "))),
        "{out}"
    );
}

#[test]
fn changing_an_instances_columns_migrates_its_table_and_keeps_rows() {
    require("curl", "curl");
    let [port] = ports();
    let with_note = format!(
        "{}columns = [[\"command\", \"TEXT\"], [\"path\", \"TEXT\"], [\"note\", \"TEXT\"], [\"version\", \"TEXT\"], [\"headers\", \"TEXT\"], [\"body\", \"TEXT\"], [\"username\", \"TEXT\"], [\"password\", \"TEXT\"], [\"status\", \"INTEGER\"], [\"cookie_rejected\", \"TEXT\"]]\n",
        plugin("web", "http", port, "http")
    );
    let sensor = RoleProcess::sensor(&bin(), &with_note);
    sh(
        &format!("curl -s -o /dev/null http://127.0.0.1:{port}/first"),
        TIMEOUT,
    );
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    // Restart over the same database without the `note` column: the table is rebuilt.
    let sensor = RoleProcess::sensor_in(&bin(), dir, &plugin("web", "http", port, "http"));
    sh(
        &format!("curl -s -o /dev/null http://127.0.0.1:{port}/second"),
        TIMEOUT,
    );
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(&conn, "SELECT path, command FROM http ORDER BY ID"),
        [["/first", "GET"], ["/second", "GET"]]
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM pragma_table_info('http') WHERE name = 'note'"
        ),
        0
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM sessions"), 2);
}

#[test]
fn root_drops_to_an_unprivileged_user_after_binding() {
    let uid = sh("id -u", TIMEOUT);
    assert_eq!(
        uid.trim(),
        "0",
        "this test needs root (CI runs as root); run it with sudo"
    );
    let nobody = sh("id -u nobody", TIMEOUT).trim().to_string();
    let [port] = ports();
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("sensor.sqlite");
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[sensor]\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\nshutdown_grace_secs = 1\n{}",
            db_path.display(),
            telnet_any_login("telnet", port, "telnet")
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("sensor")
        .arg("--config")
        .arg(&config)
        .arg("--user")
        .arg("nobody");
    let mut process = testkit::LineProcess::spawn(cmd);
    assert!(
        process
            .wait_line(TIMEOUT, |l| l.contains("listening on"))
            .is_some()
    );
    let pid = process.process().child().id();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap()
        .to_string();
    let fields: Vec<&str> = uid_line.split_whitespace().skip(1).collect();
    assert!(
        fields.iter().all(|f| *f == nobody),
        "real, effective, saved and fs uid are nobody's: {uid_line}"
    );
    // It still records after the drop.
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    send(&mut s, b"admin\r\n");
    read_until(&mut s, b"Password: ");
    drop(s);
    testkit::signal(pid, "TERM");
    let mut exit = None;
    wait_until(TIMEOUT, || {
        exit = process.process().child().try_wait().ok().flatten();
        exit.is_some()
    });
    assert!(exit.is_some_and(|s| s.success()), "exit: {exit:?}");
    let conn = db(&db_path);
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM telnet WHERE username = 'admin'"
        ),
        1
    );
}
