//! Attacker bytes printed to a terminal (issue 12, item 8): what recce7's own commands print
//! from a peer's data (logs, `recce7 hpfeeds subscribe`, a broker's error text) has its control
//! characters escaped, so that an analyst's terminal never runs an attacker's escape sequence.

mod sensor_common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use serde_json::json;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports};
use testkit::{Authkey, HpfeedsBroker};

const EVENTS: &str = "recce7.events";
const TIMEOUT: Duration = Duration::from_secs(30);

/// An OSC title change, a bell, a carriage return that redraws the line, a forged log line,
/// shift-out (switches the terminal's character set) and a C1 CSI.
const HOSTILE: &str = "\u{1b}]2;PWNED\u{7}\r\n2026-01-01T00:00:00Z  INFO forged line\u{e}\u{9b}31m";

/// Panics when `text` carries a control character other than newline and tab.
fn assert_terminal_safe(text: &str, what: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && *c != '\n' && *c != '\t')
        .collect();
    assert!(
        bad.is_empty(),
        "{what} printed control characters {bad:?}: {text:?}"
    );
}

#[test]
fn the_normalizers_log_escapes_what_a_publisher_sent() {
    let normalizer_key = Authkey::new("normalizer", "n0rm", &[EVENTS]);
    // The broker's admin named the key; a hostile publisher's ident is logged with each refusal.
    let feeder = Authkey::new(&format!("feeder{HOSTILE}"), "f33d", &[EVENTS]);
    let broker = HpfeedsBroker::start(&[normalizer_key.clone(), feeder.clone()]);
    let dir = tempfile::tempdir().unwrap();
    let central = dir.path().join("central.sqlite");
    let config = format!(
        "[normalizer]\ndatabase = \"{}\"\n\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"normalizer\"\nsecret = \"n0rm\"\nchannels = [\"{EVENTS}\"]\nreconnect_max_secs = 1\n",
        central.display(),
        broker.port()
    );
    let normalizer = RoleProcess::start(&bin(), "normalizer", dir.path(), &config);
    // A column name the normalizer refuses, and logs: the refusal names it.
    let hostile = json!({
        "schema": 1, "id": store::new_id(), "sensor": "feeder", "session": store::new_id(),
        "time": store::now_rfc3339(), "type": "telnet.login", "plugin": "telnet",
        "protocol": "telnet", "src_ip": "198.51.100.7", "src_port": 40000,
        "dst_ip": "10.0.0.5", "dst_port": 2323, "data": {HOSTILE: 1},
    });
    let quarantined =
        || central.exists() && count(&db(&central), "SELECT count(*) FROM quarantine") > 0;
    // hpfeeds never acknowledges SUBSCRIBE: publish until the normalizer has it.
    let mut stored = false;
    for _ in 0..40 {
        let mut cmd = testkit::hpfeeds_cli(&broker, &feeder, "publish", EVENTS);
        cmd.arg(hostile.to_string());
        let out = testkit::run_with_timeout(cmd, TIMEOUT);
        assert!(out.status.success(), "publish failed: {out:?}");
        if wait_until(Duration::from_millis(500), quarantined) {
            stored = true;
            break;
        }
    }
    assert!(stored, "never quarantined; log: {}", normalizer.log());
    let (status, log) = normalizer.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert!(log.contains("payload"), "the refusal is logged: {log}");
    assert!(
        log.contains("ident=feeder\\x1b]2;PWNED\\x07\\x0d\\x0a2026"),
        "the hostile ident is logged escaped: {log}"
    );
    assert!(!log.lines().any(|l| l.starts_with("2026-01-01")), "{log}");
    assert_terminal_safe(&log, "the normalizer's log");
}

#[test]
fn subscribe_and_a_brokers_error_text_are_printed_escaped() {
    // A hostile broker: its name (OP_INFO) and its ERROR text carry escape sequences.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let broker = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let frame = |op: u8, body: &[u8]| {
            let mut f = ((5 + body.len()) as u32).to_be_bytes().to_vec();
            f.push(op);
            f.extend_from_slice(body);
            f
        };
        let name = HOSTILE.as_bytes();
        let mut info = vec![name.len() as u8];
        info.extend_from_slice(name);
        info.extend_from_slice(&[1, 2, 3, 4]);
        s.write_all(&frame(1, &info)).unwrap();
        let mut auth = [0u8; 64];
        let _ = s.read(&mut auth);
        s.write_all(&frame(0, HOSTILE.as_bytes())).unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    let mut cmd = Command::new(bin());
    cmd.args([
        "hpfeeds",
        "publish",
        "--port",
        &port.to_string(),
        "-i",
        "tester",
        "-s",
        "s",
        "-c",
        EVENTS,
        "x",
    ]);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    broker.join().unwrap();
    assert!(!out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("\\x1b]2;PWNED"), "{stderr}");
    assert_terminal_safe(&stderr, "hpfeeds publish");
    assert_terminal_safe(&String::from_utf8_lossy(&out.stdout), "hpfeeds publish");

    // subscribe: channel and ident are printed escaped, like the payload.
    let sub_key = Authkey::new("sub\u{1b}[2J", "s3cret", &[EVENTS]);
    let pub_key = Authkey::new("pub\u{1b}[2J\r", "s3cret", &[EVENTS]);
    let broker = HpfeedsBroker::start(&[sub_key.clone(), pub_key.clone()]);
    let mut sub = Command::new(bin());
    sub.args([
        "hpfeeds",
        "subscribe",
        "--port",
        &broker.port().to_string(),
        "-i",
        &sub_key.ident,
        "-s",
        &sub_key.secret,
        "-c",
        EVENTS,
        "--count",
        "1",
    ]);
    let sub = std::thread::spawn(move || testkit::run_with_timeout(sub, TIMEOUT));
    let mut received = None;
    for _ in 0..40 {
        let mut cmd = testkit::hpfeeds_cli(&broker, &pub_key, "publish", EVENTS);
        cmd.arg(HOSTILE);
        let _ = testkit::run_with_timeout(cmd, TIMEOUT);
        std::thread::sleep(Duration::from_millis(250));
        if sub.is_finished() {
            received = Some(sub.join().unwrap());
            break;
        }
    }
    let out = received.expect("the subscriber received a message");
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("recce7.events pub\\x1b[2J\\x0d \\x1b]2;PWNED"),
        "{stdout}"
    );
    assert_terminal_safe(&stdout, "hpfeeds subscribe");
    assert_terminal_safe(&String::from_utf8_lossy(&out.stderr), "hpfeeds subscribe");
}

/// A standard output whose reader is gone (`recce7 ... | head -n 1` once head has exited): every
/// write to it fails with EPIPE.
fn closed_stdout() -> std::io::PipeWriter {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    writer
}

#[test]
fn check_config_into_a_closed_pipe_is_no_crash() {
    let out = Command::new(bin())
        .args(["check-config", "configs/sensor.toml"])
        .current_dir(testkit::workspace_root())
        .stdout(closed_stdout())
        .output()
        .expect("run check-config");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

/// `deploy_recce7.sh ... | grep -q "already registered"` closes the pipe before `registration
/// apply` reports: the config is written all the same, and the command succeeds.
#[test]
fn registration_apply_into_a_closed_pipe_writes_the_config_and_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::copy(
        testkit::workspace_root().join("configs/sensor.toml"),
        &config,
    )
    .unwrap();
    let answer = dir.path().join("answer.json");
    std::fs::write(
        &answer,
        r#"{"name": "pi", "identifier": "ident-1", "secret": "s3cret", "publish": ["recce7.events"]}"#,
    )
    .unwrap();
    let out = Command::new(bin())
        .args([
            "registration",
            "apply",
            "--status",
            "200",
            "--server-url",
            "https://mhn.example.org",
        ])
        .arg("--answer")
        .arg(&answer)
        .arg("--config")
        .arg(&config)
        .stdout(closed_stdout())
        .output()
        .expect("run registration apply");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("ident = \"ident-1\""), "{text}");
}

#[test]
fn a_sensor_whose_stdout_is_closed_still_serves_and_stops_cleanly() {
    let [port] = ports::<1>();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[sensor]\nname = \"test\"\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\nshutdown_grace_secs = 1\n{}",
            dir.path().join("s.sqlite").display(),
            plugin("web", "http", port, "http")
        ),
    )
    .unwrap();
    let mut child = testkit::ChildGuard::new(
        Command::new(bin())
            .args(["sensor", "--config"])
            .arg(&config)
            .stdout(closed_stdout())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start the sensor"),
    );
    let deadline = std::time::Instant::now() + TIMEOUT;
    let mut stream = loop {
        if let Ok(s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break s;
        }
        if let Ok(Some(status)) = child.child().try_wait() {
            let mut err = String::new();
            child
                .child()
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            panic!("the sensor died ({status}): {err}");
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the sensor never listened"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 "), "{answer:?}");
    testkit::signal(child.child().id(), "TERM");
    let status = child.child().wait().unwrap();
    let mut err = String::new();
    child
        .child()
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(status.success(), "{status}: {err}");
}
