//! Shared helpers of the sensor's end-to-end tests.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// The recce7 binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_recce7"))
}

/// Panics with the install hint when a tool the test needs is missing (never a silent skip).
pub fn require(tool: &str, package: &str) -> PathBuf {
    for dir in ["/usr/bin", "/bin", "/usr/local/bin", "/usr/sbin"] {
        let p = Path::new(dir).join(tool);
        if p.exists() {
            return p;
        }
    }
    panic!(
        "{tool} not found: run ./scripts/test-all.sh (it installs it) or: apt-get install -y {package}"
    );
}

/// Opens the sensor's database read-only.
pub fn db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()))
}

/// One integer from a query.
pub fn count(conn: &rusqlite::Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every row of a query as strings (NULL as "NULL").
pub fn rows(conn: &rusqlite::Connection, sql: &str) -> Vec<Vec<String>> {
    let mut stmt = conn.prepare(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    let n = stmt.column_count();
    stmt.query_map([], |r| {
        (0..n)
            .map(|i| {
                Ok(match r.get_ref(i)? {
                    rusqlite::types::ValueRef::Null => "NULL".to_string(),
                    rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                    rusqlite::types::ValueRef::Real(v) => v.to_string(),
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                })
            })
            .collect()
    })
    .unwrap()
    .collect::<Result<_, _>>()
    .unwrap()
}

/// Polls `f` until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    f()
}

/// Connects to 127.0.0.1:port with a read timeout.
pub fn connect(port: u16) -> TcpStream {
    let s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the sensor");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until `needle` appears (or EOF/timeout), returning everything read.
pub fn read_until(s: &mut TcpStream, needle: &[u8]) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(needle.len()).any(|w| w == needle) {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    got
}

/// Reads until the peer closes (or the timeout), returning everything read.
pub fn read_to_close(s: &mut TcpStream) -> (Vec<u8>, bool) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
            Err(_) => return (got, false),
        }
    }
}

/// Sends bytes.
pub fn send(s: &mut TcpStream, bytes: &[u8]) {
    s.write_all(bytes).expect("send to the sensor");
}

/// Runs a shell command line (bounded in time) and returns its stdout, asserting success.
pub fn sh(script: &str, timeout: Duration) -> String {
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(script);
    let out = testkit::run_with_timeout(cmd, timeout);
    assert!(
        out.status.success(),
        "{script} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Debian's hydra as user `root` against `url` (`telnet://...`, `ssh://...`) over `passwords`:
/// one task, stop at the first valid pair, no restore file, bounded. Returns the password hydra
/// reports; fails with its output when it found none.
pub fn hydra_root(url: &str, passwords: &[&str]) -> String {
    let hydra = require("hydra", "hydra");
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("passwords.txt");
    std::fs::write(&list, passwords.join("\n") + "\n").unwrap();
    let mut cmd = Command::new(hydra);
    cmd.args(["-l", "root", "-P"])
        .arg(&list)
        .args(["-t", "1", "-f", "-I", "-w", "10"])
        .arg(url)
        .current_dir(dir.path());
    let out = testkit::run_with_timeout(cmd, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let found = stdout
        .lines()
        .find_map(|l| {
            l.split_once("login: root   password: ")
                .map(|(_, p)| p.trim().to_owned())
        })
        .unwrap_or_else(|| {
            panic!(
                "hydra found no password:\n{stdout}\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    assert!(stdout.contains("1 valid password found"), "{stdout}");
    found
}

/// Logs in over telnet as `user`, runs `commands` at the shell prompt, logs out.
pub fn telnet_login(port: u16, user: &str, password: &str, commands: &[&str]) {
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    send(&mut s, format!("{user}\r\n").as_bytes());
    read_until(&mut s, b"Password: ");
    send(&mut s, format!("{password}\r\n").as_bytes());
    read_until(&mut s, b"# ");
    for c in commands {
        send(&mut s, format!("{c}\r\n").as_bytes());
        read_until(&mut s, b"# ");
    }
    send(&mut s, b"exit\r\n");
    read_to_close(&mut s);
}

/// What curl got: status, headers (lowercase names), body.
pub struct Answer {
    /// The HTTP status (0 when curl failed).
    pub status: u16,
    /// The response headers as received.
    pub headers: String,
    /// The body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
}

/// GET `http://127.0.0.1:port{path}` with the real curl.
pub fn curl(port: u16, path: &str, headers: &[&str]) -> Answer {
    let args: Vec<String> = headers
        .iter()
        .flat_map(|h| ["-H".to_string(), h.to_string()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    curl_with(
        Command::new(require("curl", "curl")),
        &args,
        &format!("http://127.0.0.1:{port}{path}"),
    )
}

/// Runs `cmd` (curl, or a command that runs curl, such as nsenter) with `args` (e.g. `-X`,
/// `POST`, `-H`, `Host: x`) on `url`, and reads what it got.
pub fn curl_with(mut cmd: Command, args: &[&str], url: &str) -> Answer {
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("head");
    let body = dir.path().join("body");
    cmd.args(["-s", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&head)
        .args(["-w", "%{http_code}", "--max-time", "20"]);
    cmd.args(args);
    cmd.arg(url);
    let out = testkit::run_with_timeout(cmd, Duration::from_secs(30));
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    Answer {
        status,
        headers: std::fs::read_to_string(head).unwrap_or_default(),
        body: std::fs::read(body).unwrap_or_default(),
    }
}

/// Sends `requests` one after another over one keep-alive connection to `port`, reading each
/// response in full (by its Content-Length); returns how many were answered (fewer if the
/// sensor goes away).
pub fn keep_alive_requests(port: u16, requests: impl IntoIterator<Item = String>) -> usize {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let mut answered = 0;
    for request in requests {
        if s.write_all(request.as_bytes()).is_err() {
            return answered;
        }
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= end + 4 + len {
                    buf.drain(..end + 4 + len);
                    break;
                }
            }
            match s.read(&mut chunk) {
                Ok(got) if got > 0 => buf.extend_from_slice(&chunk[..got]),
                _ => return answered,
            }
        }
        answered += 1;
    }
    answered
}

/// hpfeeds never acknowledges SUBSCRIBE: publishes probe sessions on `recce7.events` as
/// `prober`, from a sensor named `sensor`, until the normalizer has one in `central`.
pub fn wait_until_normalizer_subscribed(
    broker: &testkit::HpfeedsBroker,
    prober: &testkit::Authkey,
    sensor: &str,
    central: &Path,
) {
    for _ in 0..40 {
        let probe = serde_json::json!({
            "schema": 1, "id": store::new_id(), "sensor": sensor, "session": store::new_id(),
            "time": store::now_rfc3339(), "type": "session.start", "plugin": "probe",
            "protocol": "probe", "src_ip": "192.0.2.1", "src_port": 1, "dst_ip": "192.0.2.2",
            "dst_port": 2, "data": {"table": "probe"},
        });
        let mut cmd = testkit::hpfeeds_cli(broker, prober, "publish", "recce7.events");
        cmd.arg(probe.to_string());
        let out = testkit::run_with_timeout(cmd, Duration::from_secs(30));
        assert!(out.status.success(), "publish failed: {out:?}");
        let stored = wait_until(Duration::from_millis(500), || {
            central.exists()
                && count(
                    &db(central),
                    &format!(
                        "SELECT count(*) FROM sessions WHERE ident = '{}'",
                        prober.ident
                    ),
                ) > 0
        });
        if stored {
            return;
        }
    }
    panic!("the normalizer never stored a probe");
}

/// What `nmap -sT -sV` says of some loopback ports: its whole output, and each port's line.
pub struct NmapVersions {
    /// nmap's output.
    pub output: String,
}

impl NmapVersions {
    /// Runs Debian's nmap's version detection on `ports` of 127.0.0.1 (a connect scan: no root
    /// needed), bounded in time.
    pub fn scan(ports: &[u16]) -> NmapVersions {
        let nmap = require("nmap", "nmap");
        let list: Vec<String> = ports.iter().map(u16::to_string).collect();
        let output = sh(
            &format!(
                "{} -sT -sV -Pn -n --host-timeout 180s -p {} 127.0.0.1",
                nmap.display(),
                list.join(",")
            ),
            Duration::from_secs(240),
        );
        eprintln!("nmap -sV said:\n{output}");
        NmapVersions { output }
    }

    /// The line of `port` (`2121/tcp open ftp vsftpd 3.0.3`), empty when nmap has none.
    pub fn line(&self, port: u16) -> String {
        self.output
            .lines()
            .find(|l| l.starts_with(&format!("{port}/tcp")))
            .unwrap_or_default()
            .to_string()
    }
}
