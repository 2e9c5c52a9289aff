//! Test support for recce7: the real peers a user has (the hpfeeds3 broker and Python client),
//! started on loopback with ephemeral ports, bounded in time, and stopped when dropped.
//!
//! The Python tools come from a virtualenv: `$RECCE7_VENV`, or `.venv` at the workspace root,
//! which `scripts/test-all.sh` creates. A missing tool is a test failure with the install hint,
//! never a silent skip.

pub mod packets;
pub mod postgres;
pub mod prometheus;
pub mod role;
pub mod sensor;

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The hpfeeds3 release the tests are written against.
pub const HPFEEDS_PIN: &str = "hpfeeds[broker]==3.1.0";

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit sits in the workspace")
        .to_path_buf()
}

/// The virtualenv holding hpfeeds3.
pub fn venv_dir() -> PathBuf {
    std::env::var_os("RECCE7_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join(".venv"))
}

/// A program from the virtualenv; panics with the install hint when it is missing.
pub fn venv_bin(name: &str) -> PathBuf {
    let path = venv_dir().join("bin").join(name);
    assert!(
        path.exists(),
        "{} not found. Run ./scripts/test-all.sh (it creates .venv with {HPFEEDS_PIN}), or: \
         python3 -m venv .venv && .venv/bin/pip install '{HPFEEDS_PIN}' (or set RECCE7_VENV)",
        path.display()
    );
    path
}

/// A helper script shipped in `testkit/py/`.
pub fn py_script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("py").join(name)
}

/// A TCP port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("local address").port()
}

/// An hpfeeds authkey: an ident, its secret and the channels it may use.
#[derive(Debug, Clone)]
pub struct Authkey {
    /// The ident.
    pub ident: String,
    /// The secret.
    pub secret: String,
    /// Channels it may publish on.
    pub pubchans: Vec<String>,
    /// Channels it may subscribe to.
    pub subchans: Vec<String>,
}

impl Authkey {
    /// A key allowed to publish on and subscribe to `channels`.
    pub fn new(ident: &str, secret: &str, channels: &[&str]) -> Self {
        let chans: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        Self {
            ident: ident.into(),
            secret: secret.into(),
            pubchans: chans.clone(),
            subchans: chans,
        }
    }

    /// This key with other publish and subscribe lists.
    pub fn with_channels(mut self, pubchans: &[&str], subchans: &[&str]) -> Self {
        self.pubchans = pubchans.iter().map(|c| c.to_string()).collect();
        self.subchans = subchans.iter().map(|c| c.to_string()).collect();
        self
    }

    fn to_json(&self) -> String {
        let list = |v: &[String]| {
            v.iter()
                .map(|c| format!("\"{}\"", json_escape(c)))
                .collect::<Vec<_>>()
                .join(",")
        };
        format!(
            "\"{}\": {{\"owner\": \"tests\", \"secret\": \"{}\", \"pubchans\": [{}], \"subchans\": [{}]}}",
            json_escape(&self.ident),
            json_escape(&self.secret),
            list(&self.pubchans),
            list(&self.subchans)
        )
    }
}

/// `s` as the inside of a JSON string (control characters too: a test may use hostile idents).
fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// A child process killed and reaped on drop.
pub struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// Wraps a spawned child.
    pub fn new(child: Child) -> Self {
        Self(Some(child))
    }

    /// The child, while it runs.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("child already stopped")
    }

    /// Kills (SIGKILL) and reaps the child.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The hpfeeds3 broker (`hpfeeds-broker` from PyPI) on 127.0.0.1.
pub struct HpfeedsBroker {
    process: ChildGuard,
    port: u16,
    dir: tempfile::TempDir,
    name: String,
    /// `--auth`: the users.json path, or `sqlite` for the live sqlite.db in `dir`.
    auth: PathBuf,
}

impl HpfeedsBroker {
    /// Starts a broker with these authkeys on a free port and waits until it greets clients.
    pub fn start(keys: &[Authkey]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let users = keys
            .iter()
            .map(Authkey::to_json)
            .collect::<Vec<_>>()
            .join(",\n");
        std::fs::write(dir.path().join("users.json"), format!("{{{users}}}\n"))
            .expect("write users.json");
        let auth = dir.path().join("users.json");
        Self::launch(dir, auth)
    }

    /// Starts a broker whose authkeys live in hpfeeds3's sqlite store (`sqlite.db` in its
    /// working directory), which it reads at every AUTH: [`HpfeedsBroker::add_key`] and
    /// [`HpfeedsBroker::remove_key`] take effect without a restart.
    pub fn start_with_live_keys(keys: &[Authkey]) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let db = rusqlite::Connection::open(dir.path().join("sqlite.db")).expect("sqlite.db");
        db.execute_batch(
            "create table logs (id integer primary key autoincrement, data TEXT);
             create table stats (id integer primary key autoincrement, ak TEXT, uid TEXT, data TEXT);
             create table authkeys (id integer primary key autoincrement, owner TEXT, ident TEXT,
                 secret TEXT, pubchans TEXT, subchans TEXT);",
        )
        .expect("create the authkeys tables");
        drop(db);
        let broker = Self::launch(dir, PathBuf::from("sqlite"));
        for key in keys {
            broker.add_key(key);
        }
        broker
    }

    fn sqlite_keys(&self) -> rusqlite::Connection {
        assert_eq!(
            self.auth,
            Path::new("sqlite"),
            "only a broker with live keys"
        );
        rusqlite::Connection::open(self.dir.path().join("sqlite.db")).expect("sqlite.db")
    }

    /// Adds an authkey to a broker started with [`HpfeedsBroker::start_with_live_keys`].
    pub fn add_key(&self, key: &Authkey) {
        let list = |v: &[String]| {
            format!(
                "[{}]",
                v.iter()
                    .map(|c| format!("\"{}\"", json_escape(c)))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        self.sqlite_keys()
            .execute(
                "insert into authkeys (owner, ident, secret, pubchans, subchans) values ('tests', ?1, ?2, ?3, ?4)",
                [&key.ident, &key.secret, &list(&key.pubchans), &list(&key.subchans)],
            )
            .expect("insert an authkey");
    }

    /// The live keys' `sqlite.db` of a broker started with
    /// [`HpfeedsBroker::start_with_live_keys`] (for `recce7 registrar`'s `broker_auth_db`).
    pub fn auth_db(&self) -> PathBuf {
        assert_eq!(
            self.auth,
            Path::new("sqlite"),
            "only a broker with live keys"
        );
        self.dir.path().join("sqlite.db")
    }

    /// Removes an ident's authkey from a broker started with live keys: its next AUTH fails.
    pub fn remove_key(&self, ident: &str) {
        self.sqlite_keys()
            .execute("delete from authkeys where ident = ?1", [ident])
            .expect("delete an authkey");
    }

    fn launch(dir: tempfile::TempDir, auth: PathBuf) -> Self {
        let port = free_port();
        let name = format!("recce7-test-{port}");
        let process = Self::spawn(dir.path(), port, &name, &auth);
        let mut broker = Self {
            process,
            port,
            dir,
            name,
            auth,
        };
        broker.wait_ready();
        broker
    }

    fn spawn(dir: &Path, port: u16, name: &str, auth: &Path) -> ChildGuard {
        let exporter = free_port();
        let child = Command::new(venv_bin("hpfeeds-broker"))
            .arg("--bind")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--exporter")
            .arg(format!("127.0.0.1:{exporter}"))
            .arg("--auth")
            .arg(auth)
            .arg("--name")
            .arg(name)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hpfeeds-broker");
        ChildGuard::new(child)
    }

    /// Waits (up to 20 s) until the broker accepts a connection and sends its INFO frame.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.process.child().try_wait() {
                panic!("hpfeeds-broker exited early: {status}");
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                use std::io::Read;
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut header = [0u8; 5];
                if s.read_exact(&mut header).is_ok() && header[4] == 1 {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "hpfeeds-broker did not come up on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The broker's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's name, as its INFO frame carries it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The broker's process id (to pause it with SIGSTOP, say).
    pub fn pid(&mut self) -> u32 {
        self.process.child().id()
    }

    /// Kills the broker (SIGKILL), as a crash or a power cut would.
    pub fn kill(&mut self) {
        self.process.kill();
    }

    /// Starts the broker again on the same port with the same keys.
    pub fn restart(&mut self) {
        self.process.kill();
        self.process = Self::spawn(self.dir.path(), self.port, &self.name, &self.auth);
        self.wait_ready();
    }
}

/// A running program whose stdout lines arrive on a channel.
pub struct LineProcess {
    process: ChildGuard,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl LineProcess {
    /// Spawns `cmd` with stdout piped (stderr inherited, for the test log).
    pub fn spawn(mut cmd: Command) -> Self {
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            process: ChildGuard::new(child),
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Waits up to `timeout` for a line that satisfies `pred`, and returns it.
    pub fn wait_line(&mut self, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line) {
                        return Some(line);
                    }
                }
                Err(_) => return None,
            }
        }
    }

    /// Every line read so far.
    pub fn seen(&self) -> &[String] {
        &self.seen
    }

    /// The process.
    pub fn process(&mut self) -> &mut ChildGuard {
        &mut self.process
    }
}

/// Sends `signal` (`"TERM"`, `"KILL"`, ...) to process `pid` with the kill(2) system call, so the
/// tests need no `kill` program (procps is not on every fresh machine).
pub fn signal(pid: u32, signal: &str) {
    use nix::sys::signal::{Signal, kill};
    let sig: Signal = format!("SIG{signal}")
        .parse()
        .unwrap_or_else(|e| panic!("signal {signal}: {e}"));
    let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).expect("a pid fits in i32"));
    let _ = kill(pid, sig);
}

/// Runs a command to completion, killing it after `timeout` (the Python hpfeeds CLI retries a
/// refused connection forever).
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait for child"),
        Err(_) => {
            // The child is still ours (not reaped), so its pid cannot have been reused.
            signal(pid, "KILL");
            let out = rx.recv().expect("child reaped").expect("wait for child");
            panic!(
                "{cmd:?} did not finish within {timeout:?}; stdout: {} stderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The Python `hpfeeds` CLI with the connection options for `key` on `broker`.
pub fn hpfeeds_cli(broker: &HpfeedsBroker, key: &Authkey, action: &str, channel: &str) -> Command {
    let mut cmd = Command::new(venv_bin("hpfeeds"));
    cmd.arg(action)
        .args(["--host", "127.0.0.1", "-p"])
        .arg(broker.port().to_string())
        .args(["-i", &key.ident, "-s", &key.secret, "-c", channel]);
    cmd
}

/// `subscribe_dump.py` (hpfeeds3's Python client) subscribed to `channel`.
pub fn python_dump_subscriber(broker: &HpfeedsBroker, key: &Authkey, channel: &str) -> LineProcess {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg("-u").arg(py_script("subscribe_dump.py")).args([
        "127.0.0.1",
        &broker.port().to_string(),
        &key.ident,
        &key.secret,
        channel,
    ]);
    LineProcess::spawn(cmd)
}

/// A `MSG` line of `subscribe_dump.py`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpedMessage {
    /// Publisher ident.
    pub ident: String,
    /// Channel.
    pub channel: String,
    /// Payload length.
    pub len: usize,
    /// SHA-256 of the payload, hex.
    pub sha256: String,
    /// The payload's first 4096 bytes.
    pub head: Vec<u8>,
}

impl DumpedMessage {
    /// Parses a `MSG` line.
    pub fn parse(line: &str) -> Option<Self> {
        let mut parts = line.split(' ');
        if parts.next()? != "MSG" {
            return None;
        }
        let ident = parts.next()?.to_string();
        let channel = parts.next()?.to_string();
        let len = parts.next()?.parse().ok()?;
        let sha256 = parts.next()?.to_string();
        let hex = parts.next().unwrap_or("");
        let head = (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16))
            .collect::<Result<_, _>>()
            .ok()?;
        Some(Self {
            ident,
            channel,
            len,
            sha256,
            head,
        })
    }
}

/// Decodes a Python `bytes` literal as `repr` prints it (`b'...'` or `b"..."`).
pub fn python_bytes_literal(lit: &str) -> Option<Vec<u8>> {
    let lit = lit.strip_prefix('b')?;
    let quote = lit.chars().next()?;
    if quote != '\'' && quote != '"' {
        return None;
    }
    let inner = lit.strip_prefix(quote)?.strip_suffix(quote)?;
    let mut out = Vec::new();
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        if b != b'\\' {
            out.push(b);
            continue;
        }
        match bytes.next()? {
            b'\\' => out.push(b'\\'),
            b'\'' => out.push(b'\''),
            b'"' => out.push(b'"'),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'x' => {
                let hi = bytes.next()?;
                let lo = bytes.next()?;
                out.push(u8::from_str_radix(std::str::from_utf8(&[hi, lo]).ok()?, 16).ok()?);
            }
            _ => return None,
        }
    }
    Some(out)
}

/// SHA-256 of `data`, hex, computed by the virtualenv's Python (keeps the tests free of a hash
/// crate and checks against the same implementation the subscriber uses).
pub fn python_sha256(data: &[u8]) -> String {
    use std::io::Write;
    let mut child = Command::new(venv_bin("python"))
        .args([
            "-c",
            "import hashlib,sys;print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest())",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(data)
        .expect("write");
    let out = child.wait_with_output().expect("python output");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A `subscribe_dump.py` subscriber on `channel` that is proven to be subscribed: hpfeeds never
/// acknowledges SUBSCRIBE, so probes are published as `probe_key` (with hpfeeds3's own CLI)
/// until one arrives. Probe payloads start with `probe-`.
pub fn subscribed_dump_subscriber(
    broker: &HpfeedsBroker,
    key: &Authkey,
    probe_key: &Authkey,
    channel: &str,
) -> LineProcess {
    let mut sub = python_dump_subscriber(broker, key, channel);
    assert!(
        sub.wait_line(Duration::from_secs(30), |l| l == "READY")
            .is_some(),
        "the subscriber did not start: {:?}",
        sub.seen()
    );
    for i in 0..40 {
        let mut cmd = hpfeeds_cli(broker, probe_key, "publish", channel);
        cmd.arg(format!("probe-{i}"));
        let out = run_with_timeout(cmd, Duration::from_secs(30));
        assert!(out.status.success(), "probe publish failed: {out:?}");
        // "probe-" in hex, as subscribe_dump.py prints payloads.
        if sub
            .wait_line(Duration::from_millis(300), |l| l.contains("70726f62652d"))
            .is_some()
        {
            return sub;
        }
    }
    panic!("the subscriber never saw a probe: {:?}", sub.seen());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_bytes_literals_decode() {
        assert_eq!(
            python_bytes_literal(r#"b'a\'b\\c\x00\n'"#).unwrap(),
            b"a'b\\c\x00\n"
        );
        assert_eq!(python_bytes_literal(r#"b"it's""#).unwrap(), b"it's");
        assert!(python_bytes_literal("'x'").is_none());
    }

    #[test]
    fn dump_lines_parse() {
        let m = DumpedMessage::parse("MSG id chan 2 abcd 00ff").unwrap();
        assert_eq!((m.len, m.head), (2, vec![0, 255]));
        assert!(DumpedMessage::parse("READY").is_none());
    }
}
