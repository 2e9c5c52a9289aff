//! Packet capture (docs/capture.md) against real tools, as root (CI runs as root): the sensor's
//! p0f fingerprints of this machine's SYNs agree with Debian's `p0f -i lo` on the same traffic;
//! real nmap scans (`-sS`, `-sT`, `-sN`, `-sF`, `-sX`, `-O`, a port sweep) each become their
//! `scan.*` event with the right source and ports, and ordinary connections none; JA4 of Python's
//! and curl's ClientHellos equals an independent implementation's (tests/support/ja4.py); a flood
//! of spoofed SYNs stays within the caps; and without CAP_NET_RAW the sensor runs on without
//! capture, saying so once.
//!
//! The capture sees every TCP packet on loopback, so these tests run one at a time.

mod sensor_common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sensor_common::*;
use testkit::ChildGuard;
use testkit::role::{Readiness, RoleProcess};

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const SIGNATURES: &str = "/etc/p0f/p0f.fp";

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

fn require_root() {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "0",
        "packet capture tests need root (as CI runs them): sudo ./scripts/test-all.sh"
    );
}

fn require_signatures() {
    assert!(
        Path::new(SIGNATURES).exists(),
        "{SIGNATURES} not found: run ./scripts/test-all.sh (it installs it) or: apt-get install -y p0f"
    );
}

/// A sensor with telnet and HTTP on loopback, capturing with Debian's signatures, reporting a
/// scan after 1 s of quiet.
struct CaptureSensor {
    sensor: RoleProcess,
    telnet: u16,
    http: u16,
    metrics: u16,
}

impl CaptureSensor {
    fn start(capture: &str) -> CaptureSensor {
        Self::start_with(&sensor_common::bin(), capture)
    }

    fn start_with(bin: &Path, capture: &str) -> CaptureSensor {
        let [telnet, http, metrics] = testkit::sensor::ports();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sensor.sqlite");
        let text = format!(
            r#"[sensor]
name = "capture-test"
listen = ["127.0.0.1"]
database = "{db}"
shutdown_grace_secs = 1
metrics_listen = "127.0.0.1:{metrics}"

[capture]
signatures = "{SIGNATURES}"
scan_quiet_secs = 1
handshake_timeout_secs = 1
scan_window_secs = 60
sweep_ports = 20
{capture}

[[plugin]]
name = "telnet"
kind = "telnet"
port = {telnet}
table = "telnet"
# Any login, at once (the tests log in to check the capture, not the policy).
[plugin.options.credentials]
accept_after = [0, 0]

[[plugin]]
name = "web"
kind = "http"
port = {http}
table = "http"
"#,
            db = db.display()
        );
        // The start line of each listener; the capture says before them whether it is on.
        let sensor = RoleProcess::start_owned(
            bin,
            "sensor",
            dir,
            db,
            &text,
            Readiness::lines_containing(2, "listening on"),
        );
        CaptureSensor {
            sensor,
            telnet,
            http,
            metrics,
        }
    }

    fn db(&self) -> rusqlite::Connection {
        db(self.sensor.db())
    }

    fn metrics(&self) -> String {
        String::from_utf8_lossy(&curl(self.metrics, "/metrics", &[]).body).into_owned()
    }

    /// One sample of the metrics page (`name{labels} value`), by its exact name and labels.
    fn metric(&self, series: &str) -> f64 {
        let page = self.metrics();
        page.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{series} not in /metrics:\n{page}"))
    }

    /// The scans recorded so far: (kind, source, ports, port count).
    fn scans(&self) -> Vec<(String, String, BTreeSet<u16>, i64)> {
        rows(
            &self.db(),
            "SELECT kind, peerAddress, ports, portCount FROM scans ORDER BY ID",
        )
        .into_iter()
        .map(|r| {
            let ports = r[2]
                .split(',')
                .filter(|p| !p.is_empty())
                .map(|p| p.parse().unwrap())
                .collect();
            (r[0].clone(), r[1].clone(), ports, r[3].parse().unwrap())
        })
        .collect()
    }
}

fn nmap(args: &str) -> String {
    let nmap = require("nmap", "nmap");
    sh(
        &format!("{} -Pn -n --max-retries 1 {args} 127.0.0.1", nmap.display()),
        Duration::from_secs(180),
    )
}

/// A port nothing listens on (and that the sensor does not serve).
fn closed_ports<const N: usize>() -> [u16; N] {
    testkit::sensor::ports()
}

/// Debian's p0f on `lo`, writing its log to `log`.
struct P0fDaemon {
    _process: ChildGuard,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl P0fDaemon {
    fn start() -> P0fDaemon {
        let p0f = require("p0f", "p0f");
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("p0f.log");
        let mut cmd = Command::new(p0f);
        cmd.args(["-i", "lo", "-f", SIGNATURES, "-o"])
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start p0f");
        let mut out = child.stdout.take().unwrap();
        let process = ChildGuard::new(child);
        // p0f prints "[+] Entered main event loop." once it captures.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut buf = [0u8; 1024];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
                if seen.windows(10).any(|w| w == b"event loop") {
                    let _ = tx.send(());
                }
            }
        });
        rx.recv_timeout(Duration::from_secs(15))
            .expect("p0f did not start capturing on lo");
        P0fDaemon {
            _process: process,
            log,
            _dir: dir,
        }
    }

    /// p0f's fields of its `mod=syn` (or `mod=http request`) line for client port `port`.
    fn line(&self, module: &str, port: u16) -> Option<std::collections::HashMap<String, String>> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let client = format!("cli=127.0.0.1/{port}|");
        text.lines()
            .filter(|l| l.contains(&format!("mod={module}|")) && l.contains(&client))
            .map(|l| {
                // "[2026/12/07 16:40:00] mod=syn|cli=...|os=Linux 2.2.x-3.x|...|raw_sig=..."
                let fields = l.split_once("] ").map_or(l, |(_, rest)| rest);
                fields
                    .split('|')
                    .filter_map(|f| f.split_once('='))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            })
            .next()
    }
}

#[test]
fn this_machines_syns_match_linux_and_agree_with_debians_p0f() {
    let _serial = serial();
    require_root();
    require_signatures();
    let p0f = P0fDaemon::start();
    let s = CaptureSensor::start("");
    assert!(
        s.sensor.log().contains("packet capture on"),
        "{}",
        s.sensor.log()
    );
    assert_eq!(s.metric("recce7_capture_enabled"), 1.0);
    // A telnet client, a bare connection and curl: this machine's own TCP stack each time.
    let mut telnet = connect(s.telnet);
    let telnet_port = telnet.local_addr().unwrap().port();
    let _ = read_until(&mut telnet, b"login: ");
    drop(telnet);
    let bare = connect(s.telnet);
    let bare_port = bare.local_addr().unwrap().port();
    drop(bare);
    let answer = curl(s.http, "/", &[]);
    assert!(answer.status > 0);
    let conn = s.db();
    assert!(
        wait_until(Duration::from_secs(10), || count(
            &conn,
            "SELECT count(*) FROM p0f WHERE session IS NOT NULL"
        ) >= 3),
        "p0f rows: {:?}",
        rows(&conn, "SELECT * FROM p0f")
    );
    let found = rows(
        &conn,
        "SELECT p.peerPort, p.os, p.osClass, p.quality, p.rawSignature, p.distance, s.plugin
         FROM p0f AS p JOIN sessions AS s ON s.session = p.session ORDER BY p.ID",
    );
    let ports: Vec<u16> = found.iter().map(|r| r[0].parse().unwrap()).collect();
    assert!(
        ports.contains(&telnet_port) && ports.contains(&bare_port),
        "{found:?}"
    );
    // The sessions row the fingerprint names is the connection it came from.
    for r in &found {
        let port: u16 = r[0].parse().unwrap();
        assert!(r[1].starts_with("Linux"), "this machine is Linux: {r:?}");
        assert_eq!(r[2], "unix", "{r:?}");
        assert_eq!(r[5], "0", "loopback is no hop away: {r:?}");
        // Debian's p0f on the same SYN: the same raw signature and the same OS.
        assert!(
            wait_until(Duration::from_secs(10), || p0f.line("syn", port).is_some()),
            "p0f logged no SYN from port {port}"
        );
        let golden = p0f.line("syn", port).unwrap();
        assert_eq!(
            Some(&r[4]),
            golden.get("raw_sig"),
            "raw signature of port {port} against p0f's {golden:?}"
        );
        assert_eq!(
            Some(&r[1]),
            golden.get("os"),
            "os of port {port} against p0f's {golden:?}"
        );
    }
    // curl's request: p0f's HTTP signature, and no contradiction (curl claims no OS).
    let http = rows(
        &conn,
        "SELECT fingerprint, detail, tcpOs, contradiction, peerPort FROM fingerprints WHERE kind = 'http'",
    );
    assert_eq!(http.len(), 1, "{http:?}");
    assert!(http[0][0].contains(":curl/"), "{http:?}");
    assert!(http[0][2].starts_with("Linux"), "{http:?}");
    assert_eq!(http[0][3], "0", "{http:?}");
    if let Some(golden) = p0f.line("http request", http[0][4].parse().unwrap()) {
        assert_eq!(Some(&http[0][0]), golden.get("raw_sig"), "{golden:?}");
    }
    // Ordinary connections are no scan.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(s.scans(), vec![], "ordinary connections made scans");
}

#[test]
fn a_browser_user_agent_on_a_linux_stack_is_a_contradiction() {
    let _serial = serial();
    require_root();
    require_signatures();
    let s = CaptureSensor::start("");
    let windows_ua = "User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
    curl(s.http, "/", &[windows_ua]);
    let conn = s.db();
    assert!(wait_until(Duration::from_secs(10), || count(
        &conn,
        "SELECT count(*) FROM fingerprints WHERE kind = 'http'"
    ) == 1));
    let row = rows(
        &conn,
        "SELECT claimedOs, tcpOs, contradiction FROM fingerprints WHERE kind = 'http'",
    );
    assert!(row[0][0].contains("Windows"), "{row:?}");
    assert!(row[0][1].starts_with("Linux"), "{row:?}");
    assert_eq!(
        row[0][2], "1",
        "a Windows browser on a Linux stack: {row:?}"
    );
}

/// Waits for a scan of `kind` from 127.0.0.1 whose ports include `ports`.
fn expect_scan(s: &CaptureSensor, kind: &str, ports: &[u16]) {
    let want: BTreeSet<u16> = ports.iter().copied().collect();
    let found = wait_until(Duration::from_secs(15), || {
        s.scans()
            .iter()
            .any(|(k, src, got, _)| k == kind && src == "127.0.0.1" && want.is_subset(got))
    });
    assert!(
        found,
        "no scan.{kind} with ports {want:?}; scans: {:?}",
        s.scans()
    );
}

#[test]
fn nmap_scans_become_scan_events_and_ordinary_connections_do_not() {
    let _serial = serial();
    require_root();
    require_signatures();
    let s = CaptureSensor::start("");
    let [closed_a, closed_b] = closed_ports();
    let open = [s.telnet, s.http];
    let all = [s.telnet, s.http, closed_a, closed_b];
    let list = all.map(|p| p.to_string()).join(",");
    nmap(&format!("-sS -p {list}"));
    expect_scan(&s, "syn", &all);
    nmap(&format!("-sT -p {list}"));
    expect_scan(&s, "connect", &open);
    nmap(&format!("-sN -p {list}"));
    expect_scan(&s, "null", &all);
    nmap(&format!("-sF -p {list}"));
    expect_scan(&s, "fin", &all);
    nmap(&format!("-sX -p {list}"));
    expect_scan(&s, "xmas", &all);
    nmap(&format!("-O -p {},{closed_a}", s.telnet));
    expect_scan(&s, "os", &[s.telnet]);
    // A sweep: 30 ports within the window.
    let sweep: [u16; 30] = closed_ports();
    nmap(&format!(
        "-sS -p {}",
        sweep.map(|p| p.to_string()).join(",")
    ));
    expect_scan(&s, "ports", &sweep);
    // Every scan of these ports names only ports nmap was given. (The capture sees all of
    // loopback: another program's traffic on this machine is not this test's.)
    let asked: BTreeSet<u16> = all.iter().chain(sweep.iter()).copied().collect();
    for (kind, src, ports, count) in s.scans() {
        if ports.is_disjoint(&asked) {
            continue;
        }
        assert_eq!(src, "127.0.0.1");
        assert!(ports.is_subset(&asked), "{kind}: {ports:?} not all asked");
        assert_eq!(count as usize, ports.len(), "{kind}");
    }
    // Published like any event: the sessions table has none of them, the metrics count them.
    let conn = s.db();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sessions WHERE session IN (SELECT session FROM scans)"
        ),
        0
    );
    assert!(s.metric("recce7_capture_scans_total") >= 7.0);
    // Then ordinary use: a telnet login and a few requests make no scan.
    std::thread::sleep(Duration::from_millis(2500));
    let before = s.scans().len();
    telnet_login(s.telnet, "root", "xc3511", &["uname -a"]);
    for _ in 0..3 {
        curl(s.http, "/", &[]);
    }
    std::thread::sleep(Duration::from_millis(3000));
    let after = s.scans();
    assert_eq!(
        after.len(),
        before,
        "ordinary use made scans: {:?}",
        &after[before..]
    );
}

/// JA4 of the ClientHello `client` sends to `port`, by tests/support/ja4.py (listening itself).
fn reference_ja4(client: &dyn Fn(u16)) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let script = testkit::workspace_root().join("tests/support/ja4.py");
    let mut child = Command::new("/usr/bin/python3")
        .arg(&script)
        .arg(&port_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 tests/support/ja4.py");
    assert!(wait_until(Duration::from_secs(10), || port_file.exists()));
    let port: u16 = std::fs::read_to_string(&port_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    client(port);
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines = text.lines();
    match (lines.next(), lines.next()) {
        (Some(a), Some(b)) => (a.to_string(), b.to_string()),
        _ => panic!(
            "ja4.py printed {text:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

fn python_tls(port: u16) {
    let code = format!(
        "import socket, ssl\n\
         ctx = ssl.create_default_context()\n\
         ctx.check_hostname = False\n\
         ctx.verify_mode = ssl.CERT_NONE\n\
         ctx.set_alpn_protocols(['h2', 'http/1.1'])\n\
         s = socket.create_connection(('127.0.0.1', {port}), timeout=5)\n\
         try:\n    ctx.wrap_socket(s, server_hostname='printer.example.org')\n\
         except Exception:\n    pass\n"
    );
    let out = testkit::run_with_timeout(
        {
            let mut c = Command::new("/usr/bin/python3");
            c.arg("-c").arg(code);
            c
        },
        Duration::from_secs(20),
    );
    assert!(out.status.code().is_some(), "python's TLS client hung");
}

fn curl_tls(port: u16) {
    let curl = require("curl", "curl");
    let mut c = Command::new(curl);
    c.args(["-sk", "--max-time", "5", "-o", "/dev/null"])
        .arg(format!("https://127.0.0.1:{port}/"));
    testkit::run_with_timeout(c, Duration::from_secs(20));
}

#[test]
fn ja4_of_python_and_curl_matches_an_independent_implementation() {
    let _serial = serial();
    require_root();
    require_signatures();
    let s = CaptureSensor::start("");
    let clients: [(&str, &dyn Fn(u16)); 2] = [("python", &python_tls), ("curl", &curl_tls)];
    for (name, client) in clients {
        let (ja4, ja4_r) = reference_ja4(client);
        let conn = s.db();
        let before = count(
            &conn,
            "SELECT count(*) FROM fingerprints WHERE kind = 'tls'",
        );
        client(s.http);
        assert!(
            wait_until(Duration::from_secs(10), || count(
                &conn,
                "SELECT count(*) FROM fingerprints WHERE kind = 'tls'"
            ) > before),
            "{name}: no fingerprint.tls"
        );
        let got = rows(
            &conn,
            "SELECT fingerprint, detail, sni FROM fingerprints WHERE kind = 'tls' ORDER BY ID DESC LIMIT 1",
        );
        assert_eq!(got[0][0], ja4, "{name}: JA4 against tests/support/ja4.py");
        assert_eq!(
            got[0][1], ja4_r,
            "{name}: JA4_r against tests/support/ja4.py"
        );
        if name == "python" {
            assert_eq!(got[0][2], "printer.example.org");
        }
    }
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS")
}

#[test]
fn a_spoofed_syn_flood_stays_within_the_caps() {
    let _serial = serial();
    require_root();
    require_signatures();
    let mut s = CaptureSensor::start("max_sources = 500\nmax_flows = 500");
    let pid = s.sensor.pid();
    let [target] = closed_ports();
    // Warm up, then measure from here.
    std::thread::sleep(Duration::from_millis(500));
    let before = rss_kib(pid);
    let raw = testkit::packets::RawSender::to_loopback(target);
    const SYNS: u32 = 50_000;
    let started = Instant::now();
    for i in 0..SYNS {
        // Sources all over 127/8 (loopback accepts them), a new one every packet.
        let syn = testkit::packets::spoofed_syn(
            testkit::packets::spoofed_source(i),
            1024 + (i % 60_000) as u16,
            target,
            1024,
        );
        if !raw.send(&syn) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let sent_in = started.elapsed();
    // The detector reports after 1 s of quiet; let it and the writer catch up.
    std::thread::sleep(Duration::from_secs(4));
    let after = rss_kib(pid);
    eprintln!("{SYNS} spoofed SYNs sent in {sent_in:?}; RSS {before} KiB -> {after} KiB");
    assert!(
        after < before + 16 * 1024,
        "the flood grew the sensor from {before} to {after} KiB"
    );
    let tracked = s.metric("recce7_capture_tracked{state=\"source\"}");
    assert!(
        tracked <= 500.0,
        "{tracked} sources tracked over the cap of 500"
    );
    assert!(s.metric("recce7_capture_tracked{state=\"handshake\"}") <= 500.0);
    let evicted = s.metric("recce7_capture_evictions_total{state=\"source\"}");
    let packets = s.metric("recce7_capture_packets_total");
    let drops = s.metric("recce7_capture_kernel_drops_total");
    eprintln!("packets {packets}, kernel drops {drops}, sources evicted {evicted}");
    // Every SYN is either read or counted as dropped by the kernel (nothing silent).
    assert!(
        packets + drops >= f64::from(SYNS),
        "{packets} + {drops} < {SYNS}"
    );
    assert!(evicted > 0.0, "50,000 sources through a cap of 500 evict");
    // What reaches the database is bounded by the rate limit, and the rest counted.
    let conn = s.db();
    let recorded = count(&conn, "SELECT count(*) FROM scans")
        + count(&conn, "SELECT count(*) FROM p0f WHERE session IS NULL");
    let suppressed = s.metric("recce7_capture_events_suppressed_total");
    let elapsed = started.elapsed().as_secs_f64();
    eprintln!("recorded {recorded}, suppressed {suppressed} in {elapsed:.1} s");
    assert!(
        (recorded as f64) <= 500.0 + 50.0 * elapsed + 10.0,
        "{recorded} capture events in {elapsed:.1} s is over the rate limit"
    );
    assert!(suppressed > 0.0, "the flood was not held back");
    // The sensor still serves.
    let mut t = connect(s.telnet);
    assert!(!read_until(&mut t, b"login: ").is_empty());
    t.write_all(b"\r\n").unwrap();
}

#[test]
fn without_cap_net_raw_the_sensor_runs_without_capture_and_says_so_once() {
    let _serial = serial();
    require_root();
    require_signatures();
    let setpriv = require("setpriv", "util-linux");
    let dir = tempfile::tempdir().unwrap();
    let wrapper = dir.path().join("recce7-without-net-raw");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nexec {} --bounding-set -net_raw --inh-caps -net_raw {} \"$@\"\n",
            setpriv.display(),
            sensor_common::bin().display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let s = CaptureSensor::start_with(&wrapper, "");
    let log = s.sensor.log();
    assert_eq!(
        log.matches("packet capture is off").count(),
        1,
        "said once: {log}"
    );
    assert!(log.contains("CAP_NET_RAW"), "{log}");
    assert_eq!(s.metric("recce7_capture_enabled"), 0.0);
    // The sensor runs: a session is recorded, and a TLS hello is still fingerprinted (JA4 needs
    // no capture).
    let mut t = connect(s.telnet);
    let _ = read_until(&mut t, b"login: ");
    drop(t);
    python_tls(s.http);
    let conn = s.db();
    assert!(wait_until(Duration::from_secs(10), || count(
        &conn,
        "SELECT count(*) FROM sessions"
    ) >= 2));
    assert!(wait_until(Duration::from_secs(10), || count(
        &conn,
        "SELECT count(*) FROM fingerprints WHERE kind = 'tls'"
    ) == 1));
    assert_eq!(count(&conn, "SELECT count(*) FROM p0f"), 0);
    let _ = std::io::stdout().flush();
}
