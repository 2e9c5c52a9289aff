//! Sensor benchmarks: the release binary `recce7 sensor` run as a user runs it (its own config
//! and database in a temporary directory, on 127.0.0.1, stopped with SIGTERM), driven by load
//! generators in this process.
//!
//! - idle: VmRSS and VmHWM of a sensor with one telnet and one HTTP instance, 3 s after start.
//! - http: keep-alive GET requests recorded per second (rows in the `http` table after SIGTERM,
//!   over the generator's run time), checked against the responses the generator got.
//! - telnet: complete logins (connect, user, password, shell prompt, `exit`) recorded per second
//!   (`telnet.login` rows with a password), checked against the generator's count.
//! - 10k: VmRSS with 10,000 idle telnet connections open, and every one of them in `sessions`
//!   with its end record after SIGTERM.
//!
//! Each measurement starts a fresh sensor and checks that it exits 0 on SIGTERM. The sensor and
//! the generators share the machine's cores, so the rates are what one machine does when it is
//! both the honeypot and its attacker.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports, telnet_any_login};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::{machine, median};

/// Starts per measurement for the medians.
const RUNS: usize = 3;
/// How long each load generator runs.
const LOAD_SECS: u64 = 10;
/// Concurrent connections of the HTTP generator.
const HTTP_CONNECTIONS: usize = 64;
/// Concurrent clients of the telnet generator.
const TELNET_CLIENTS: usize = 64;
/// Idle connections held open in the last measurement.
const IDLE_CONNECTIONS: usize = 10_000;
/// How long a sensor may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);

/// The request the HTTP generator sends, over and over, on each keep-alive connection.
const HTTP_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n";

/// Goals, from the sensor's issue: the Pi Zero budget.
const GOAL_IDLE_MB: f64 = 5.0;
const GOAL_HTTP_PER_SEC: f64 = 20_000.0;
const GOAL_LOGINS_PER_SEC: f64 = 5_000.0;
const GOAL_10K_MB: f64 = 64.0;

/// Which sensor measurements to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Which {
    /// All four.
    All,
    /// Idle RSS only.
    Idle,
    /// HTTP requests recorded per second only.
    Http,
    /// Telnet logins recorded per second only.
    Telnet,
    /// 10,000 idle connections only.
    TenK,
}

impl Which {
    /// `sensor`, `sensor-idle`, `sensor-http`, `sensor-telnet`, `sensor-10k`.
    pub fn parse(arg: &str) -> Option<Which> {
        Some(match arg {
            "sensor" => Which::All,
            "sensor-idle" => Which::Idle,
            "sensor-http" => Which::Http,
            "sensor-telnet" => Which::Telnet,
            "sensor-10k" => Which::TenK,
            _ => return None,
        })
    }

    fn includes(self, one: Which) -> bool {
        self == Which::All || self == one
    }
}

/// One line of the result table.
struct Line {
    what: String,
    result: String,
    goal: String,
    pass: Option<bool>,
}

/// Results and the problems found on the way (a mismatch between what the generator saw and
/// what the sensor recorded, a bad exit status).
#[derive(Default)]
struct Report {
    lines: Vec<Line>,
    problems: Vec<String>,
}

impl Report {
    fn line(&mut self, what: &str, result: String, goal: &str, pass: Option<bool>) {
        self.lines.push(Line {
            what: what.into(),
            result,
            goal: goal.into(),
            pass,
        });
    }

    fn check(&mut self, ok: bool, problem: impl FnOnce() -> String) {
        if !ok {
            let p = problem();
            eprintln!("bench: PROBLEM: {p}");
            self.problems.push(p);
        }
    }
}

/// The release binary: `$RECCE7_BIN`, or `target/release/recce7` in the workspace.
pub(crate) fn binary() -> PathBuf {
    let bin = std::env::var_os("RECCE7_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| testkit::workspace_root().join("target/release/recce7"));
    if !bin.exists() {
        eprintln!(
            "bench: {} not found; run `cargo build --release` first (or set RECCE7_BIN)",
            bin.display()
        );
        std::process::exit(2);
    }
    bin
}

/// The `[capture]` table of a measurement: packet capture on as shipped (it runs when the
/// benchmark runs as root). `RECCE7_BENCH_CAPTURE=off` turns it off; `=absent` leaves the table
/// out (a comment stands in, so the test kit adds none either), for binaries from before it.
pub(crate) fn capture_table() -> String {
    match std::env::var("RECCE7_BENCH_CAPTURE").as_deref() {
        Ok("absent") => "# [capture] left out (RECCE7_BENCH_CAPTURE=absent)\n".into(),
        Ok("off") => "[capture]\nenabled = false\n".into(),
        _ => "[capture]\nenabled = true\n".into(),
    }
}

/// The `[sensor]` keys, `[limits]` and `[capture]` tables every measurement uses: quiet
/// logging, limits high enough that they never refuse the load (the default per-source limit
/// is 32), and [`capture_table`].
pub(crate) fn limits(idle_timeout_secs: u64) -> String {
    format!(
        "log_level = \"warn\"\n\
         {}\
         [limits]\n\
         max_connections = 20000\n\
         max_connections_per_source = 20000\n\
         idle_timeout_secs = {idle_timeout_secs}\n\
         session_timeout_secs = 600\n\
         max_session_bytes = 1073741824\n",
        capture_table()
    )
}

/// Free ports for the telnet and HTTP instances, and the config body that runs both (tables
/// `telnet` and `http`) under [`limits`].
fn config(idle_timeout_secs: u64) -> (u16, u16, String) {
    let [telnet, http] = ports::<2>();
    let body = format!(
        "{}{}{}",
        limits(idle_timeout_secs),
        telnet_any_login("telnet", telnet, "telnet"),
        plugin("http", "http", http, "http")
    );
    (telnet, http, body)
}

/// A process's memory from `/proc/PID/status`, in kB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Memory {
    /// VmRSS: resident now.
    pub(crate) rss: u64,
    /// VmHWM: the most ever resident.
    pub(crate) hwm: u64,
    /// RssAnon: heap, stacks and other private memory.
    pub(crate) anon: u64,
    /// RssFile: resident pages of mapped files (the binary, libc, the SQLite -shm file).
    pub(crate) file: u64,
}

pub(crate) fn memory_kb(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc/PID/status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in /proc/{pid}/status"))
    };
    Memory {
        rss: field("VmRSS:"),
        hwm: field("VmHWM:"),
        anon: field("RssAnon:"),
        file: field("RssFile:"),
    }
}

pub(crate) fn mb(kb: u64) -> f64 {
    kb as f64 / 1024.0
}

/// Sends SIGTERM, waits for the exit, and checks the status is 0. Returns the directory
/// holding the database (removed when dropped).
fn stop(sensor: RoleProcess, report: &mut Report, what: &str) -> (PathBuf, tempfile::TempDir) {
    let db = sensor.db().to_path_buf();
    let t = Instant::now();
    let (status, dir) = sensor.terminate_keeping_dir(EXIT_TIMEOUT);
    eprintln!(
        "bench: {what}: sensor exited with {status} {:.2} s after SIGTERM",
        t.elapsed().as_secs_f64()
    );
    report.check(status.success(), || {
        format!("{what}: the sensor exited with {status}, not 0, after SIGTERM")
    });
    (db, dir)
}

fn count(db: &Path, sql: &str) -> u64 {
    try_count(db, sql).unwrap_or_else(|e| panic!("{e}"))
}

/// Reads one count from the database of a stopped sensor.
pub(crate) fn try_count(db: &Path, sql: &str) -> Result<u64, String> {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("open {}: {e}", db.display()))?;
    conn.query_row(sql, [], |r| r.get::<_, i64>(0))
        .map(|n| n as u64)
        .map_err(|e| format!("{sql}: {e}"))
}

fn fmt_runs(v: &[f64], digits: usize) -> String {
    v.iter()
        .map(|x| format!("{x:.digits$}"))
        .collect::<Vec<_>>()
        .join(" / ")
}

// ---------------------------------------------------------------------------------------------
// 1. Idle RSS

/// The shipped `configs/sensor.toml` as a body for [`RoleProcess::sensor`]: its `[sensor]` keys
/// but the ones the test kit sets (name, listen, database, shutdown grace), every instance and
/// the metrics endpoint on a free port, everything else as shipped (logging, limits, retention,
/// capture, the credential policy, the SSH instance), without its comments.
fn shipped_body() -> String {
    let text = std::fs::read_to_string(testkit::workspace_root().join("configs/sensor.toml"))
        .expect("configs/sensor.toml");
    let mut out = String::new();
    for line in text.lines() {
        let key = line.split('=').next().unwrap_or("").trim();
        // Comments go (the test kit counts `[[plugin]]` and `enabled = false` in the text).
        let line = if line.trim_start().starts_with('#')
            || line.trim() == "[sensor]"
            || ["name", "listen", "database", "shutdown_grace_secs"].contains(&key)
                && out.matches("\n[").count() == 0
        {
            continue;
        } else if key == "port" {
            format!("port = {}", ports::<1>()[0])
        } else if key == "metrics_listen" {
            format!("metrics_listen = \"127.0.0.1:{}\"", ports::<1>()[0])
        } else {
            line.to_owned()
        };
        out.push_str(&line);
        out.push('\n');
    }
    out
}

/// Idle RSS of `bin` on each config `body()` makes, median of [`RUNS`], as one report line.
fn idle_row(bin: &Path, report: &mut Report, what: &str, body: impl Fn() -> String) {
    let mut runs = Vec::new();
    for run in 0..RUNS {
        let mut sensor = RoleProcess::sensor(bin, &body());
        std::thread::sleep(Duration::from_secs(3));
        let m = memory_kb(sensor.pid());
        eprintln!("bench: idle ({what}) run {}: {m:?} (kB)", run + 1);
        runs.push(m);
        stop(sensor, report, "idle");
    }
    let rss: Vec<f64> = runs.iter().map(|m| mb(m.rss)).collect();
    let pick = |f: fn(&Memory) -> u64| median(runs.iter().map(|m| mb(f(m))).collect());
    let m = median(rss.clone());
    report.line(
        &format!("idle RSS, {what}, 3 s after start (median of 3)"),
        format!(
            "{m:.2} MB (runs {}): RssAnon {:.2} MB + RssFile {:.2} MB; VmHWM {:.2} MB",
            fmt_runs(&rss, 2),
            pick(|m| m.anon),
            pick(|m| m.file),
            pick(|m| m.hwm),
        ),
        "≤ 5 MB",
        Some(m <= GOAL_IDLE_MB),
    );
}

fn idle(bin: &Path, report: &mut Report) {
    // The binary's pages in the page cache, all of them, as after an install or a while of
    // running: how many of them an idle sensor maps depends on it (the kernel maps the cached
    // neighbours of each page it faults in), and a binary just written by the linker is only
    // partly cached (0.5 MB less RssFile, measured).
    drop(std::fs::read(bin));
    idle_row(bin, report, "telnet + HTTP instances", || config(60).2);
    if std::env::var("RECCE7_BENCH_SHIPPED").as_deref() != Ok("off") {
        idle_row(bin, report, "the shipped configs/sensor.toml", shipped_body);
    }
}

// ---------------------------------------------------------------------------------------------
// 2. HTTP requests recorded per second

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The Content-Length of a response head (the bytes before the blank line).
fn content_length(head: &[u8]) -> Option<usize> {
    let head = std::str::from_utf8(head).ok()?;
    head.split("\r\n").find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse().ok())?
    })
}

/// Reads one response in full (head, then the body by its Content-Length) and removes it from
/// `buf`. Returns whether its status was 200.
pub(crate) async fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> Result<bool, String> {
    let (head_end, body_len) = loop {
        if let Some(end) = find(buf, b"\r\n\r\n") {
            let len = content_length(&buf[..end]).ok_or_else(|| {
                format!(
                    "a response without Content-Length: {:?}",
                    String::from_utf8_lossy(&buf[..end])
                )
            })?;
            break (end + 4, len);
        }
        if s.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("closed by the sensor before a response head".into());
        }
    };
    while buf.len() < head_end + body_len {
        if s.read_buf(buf).await.map_err(|e| e.to_string())? == 0 {
            return Err("closed by the sensor in a response body".into());
        }
    }
    let ok = buf.starts_with(b"HTTP/1.1 200");
    buf.drain(..head_end + body_len);
    Ok(ok)
}

/// One keep-alive connection sending requests one at a time (not pipelined) until `deadline`.
/// Returns the responses received; counts those that were not 200 in `not_ok`.
async fn http_client(port: u16, deadline: Instant, not_ok: Arc<AtomicU64>) -> Result<u64, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    s.set_nodelay(true).map_err(|e| e.to_string())?;
    let mut buf: Vec<u8> = Vec::with_capacity(16 * 1024);
    let mut got = 0u64;
    while Instant::now() < deadline {
        s.write_all(HTTP_REQUEST)
            .await
            .map_err(|e| format!("write after {got} responses: {e}"))?;
        let ok = tokio::time::timeout(Duration::from_secs(10), read_response(&mut s, &mut buf))
            .await
            .map_err(|_| format!("no response within 10 s after {got} responses"))?
            .map_err(|e| format!("{e} after {got} responses"))?;
        if !ok {
            not_ok.fetch_add(1, Ordering::Relaxed);
        }
        got += 1;
    }
    Ok(got)
}

/// Runs the generator; returns (responses, errors, seconds, non-200 responses).
async fn http_load(port: u16) -> (u64, Vec<String>, f64, u64) {
    let statuses = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(LOAD_SECS);
    let tasks: Vec<_> = (0..HTTP_CONNECTIONS)
        .map(|_| tokio::spawn(http_client(port, deadline, statuses.clone())))
        .collect();
    let (mut total, mut errors) = (0, Vec::new());
    for t in tasks {
        match t.await.expect("http client task") {
            Ok(n) => total += n,
            Err(e) => errors.push(e),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    (total, errors, secs, statuses.load(Ordering::Relaxed))
}

fn http(bin: &Path, rt: &tokio::runtime::Runtime, report: &mut Report) {
    let (mut rates, mut runs) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let (_, http_port, body) = config(60);
        let mut sensor = RoleProcess::sensor(bin, &body);
        let (responses, errors, secs, not_ok) = rt.block_on(http_load(http_port));
        let hwm = memory_kb(sensor.pid()).hwm;
        let (db, _dir) = stop(sensor, report, "http");
        let rows = count(&db, "SELECT COUNT(*) FROM http");
        let ended = count(&db, "SELECT COUNT(endTime) FROM sessions");
        let rate = rows as f64 / secs;
        eprintln!(
            "bench: http run {}: {responses} responses in {secs:.2} s, {rows} rows committed \
             ({rate:.0}/s), {ended} sessions ended, {not_ok} not 200, {} client errors, sensor VmHWM {hwm} kB",
            run + 1,
            errors.len()
        );
        report.check(errors.is_empty(), || {
            format!("http run {}: client errors: {errors:?}", run + 1)
        });
        report.check(not_ok == 0, || {
            format!("http run {}: {not_ok} responses were not 200", run + 1)
        });
        report.check(rows == responses, || {
            format!(
                "http run {}: {rows} rows committed but the generator got {responses} responses",
                run + 1
            )
        });
        rates.push(rate);
        runs.push((rows, responses, hwm));
    }
    let m = median(rates.clone());
    let detail = runs
        .iter()
        .map(|(rows, resp, _)| format!("{rows} rows = {resp} responses"))
        .collect::<Vec<_>>()
        .join("; ");
    report.line(
        &format!(
            "HTTP requests recorded/s, {HTTP_CONNECTIONS} keep-alive connections, {LOAD_SECS} s (median of 3)"
        ),
        format!(
            "{m:.0}/s (runs {}; {detail}; sensor VmHWM up to {:.1} MB)",
            fmt_runs(&rates, 0),
            mb(runs.iter().map(|r| r.2).max().unwrap_or(0))
        ),
        "≥ 20,000/s",
        Some(m >= GOAL_HTTP_PER_SEC),
    );
}

// ---------------------------------------------------------------------------------------------
// 3. Telnet logins recorded per second

/// Reads until `marker` has arrived (anywhere in what came since the last send).
pub(crate) async fn read_until(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    marker: &[u8],
) -> Result<(), String> {
    loop {
        if find(buf, marker).is_some() {
            return Ok(());
        }
        match s.read_buf(buf).await {
            Ok(0) => {
                return Err(format!(
                    "closed before {:?}; got {:?}",
                    String::from_utf8_lossy(marker),
                    String::from_utf8_lossy(buf)
                ));
            }
            Ok(_) => {}
            Err(e) => return Err(format!("{e} before {:?}", String::from_utf8_lossy(marker))),
        }
    }
}

/// One complete login, then `exit` and the sensor's close. The error says whether the shell
/// prompt had come (so the login with its password is recorded) before things went wrong.
async fn telnet_login(port: u16, buf: &mut Vec<u8>) -> Result<(), (bool, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|e| (false, format!("connect: {e}")))?;
    s.set_nodelay(true).map_err(|e| (false, e.to_string()))?;
    buf.clear();
    read_until(&mut s, buf, b"login: ")
        .await
        .map_err(|e| (false, e))?;
    for (send, expect) in [
        (&b"root\r\n"[..], &b"Password: "[..]),
        (b"xc3511\r\n", b"# "),
    ] {
        buf.clear();
        s.write_all(send)
            .await
            .map_err(|e| (false, e.to_string()))?;
        read_until(&mut s, buf, expect)
            .await
            .map_err(|e| (false, e))?;
    }
    buf.clear();
    s.write_all(b"exit\r\n")
        .await
        .map_err(|e| (true, format!("write exit: {e}")))?;
    loop {
        match s.read_buf(buf).await {
            Ok(0) => return Ok(()),
            Ok(_) => buf.clear(),
            Err(e) => return Err((true, format!("after exit: {e}"))),
        }
    }
}

/// One client looping over complete logins until `deadline`. Returns (logins, errors).
async fn telnet_client(port: u16, deadline: Instant) -> (u64, Vec<String>) {
    let mut buf = Vec::with_capacity(4096);
    let (mut logins, mut errors) = (0, Vec::new());
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(10), telnet_login(port, &mut buf)).await {
            Ok(Ok(())) => logins += 1,
            Ok(Err((logged_in, e))) => {
                logins += u64::from(logged_in);
                errors.push(e);
            }
            Err(_) => errors.push("a login took more than 10 s".into()),
        }
        if errors.len() > 10 {
            break;
        }
    }
    (logins, errors)
}

async fn telnet_load(port: u16) -> (u64, Vec<String>, f64) {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(LOAD_SECS);
    let tasks: Vec<_> = (0..TELNET_CLIENTS)
        .map(|_| tokio::spawn(telnet_client(port, deadline)))
        .collect();
    let (mut total, mut errors) = (0, Vec::new());
    for t in tasks {
        let (n, e) = t.await.expect("telnet client task");
        total += n;
        errors.extend(e);
    }
    (total, errors, start.elapsed().as_secs_f64())
}

fn telnet(bin: &Path, rt: &tokio::runtime::Runtime, report: &mut Report) {
    let (mut rates, mut runs) = (Vec::new(), Vec::new());
    for run in 0..RUNS {
        let (telnet_port, _, body) = config(60);
        let mut sensor = RoleProcess::sensor(bin, &body);
        let (logins, errors, secs) = rt.block_on(telnet_load(telnet_port));
        let hwm = memory_kb(sensor.pid()).hwm;
        let (db, _dir) = stop(sensor, report, "telnet");
        let rows = count(
            &db,
            "SELECT COUNT(*) FROM telnet WHERE eventType = 'telnet.login' AND password IS NOT NULL",
        );
        let commands = count(
            &db,
            "SELECT COUNT(*) FROM telnet WHERE eventType = 'telnet.command'",
        );
        let sessions = count(&db, "SELECT COUNT(endTime) FROM sessions");
        let rate = rows as f64 / secs;
        eprintln!(
            "bench: telnet run {}: {logins} logins in {secs:.2} s, {rows} login rows with a \
             password ({rate:.0}/s), {commands} command rows, {sessions} sessions ended, {} client \
             errors, sensor VmHWM {hwm} kB",
            run + 1,
            errors.len()
        );
        report.check(errors.is_empty(), || {
            let first: Vec<_> = errors.iter().take(5).collect();
            format!(
                "telnet run {}: {} client errors, first: {first:?}",
                run + 1,
                errors.len()
            )
        });
        report.check(rows == logins, || {
            format!(
                "telnet run {}: {rows} login rows committed but the generator completed {logins} logins",
                run + 1
            )
        });
        rates.push(rate);
        runs.push((rows, logins, hwm));
    }
    let m = median(rates.clone());
    let detail = runs
        .iter()
        .map(|(rows, logins, _)| format!("{rows} rows = {logins} logins"))
        .collect::<Vec<_>>()
        .join("; ");
    report.line(
        &format!(
            "telnet complete logins recorded/s, {TELNET_CLIENTS} clients, {LOAD_SECS} s (median of 3)"
        ),
        format!(
            "{m:.0}/s (runs {}; {detail}; sensor VmHWM up to {:.1} MB)",
            fmt_runs(&rates, 0),
            mb(runs.iter().map(|r| r.2).max().unwrap_or(0))
        ),
        "≥ 5,000/s",
        Some(m >= GOAL_LOGINS_PER_SEC),
    );
}

// ---------------------------------------------------------------------------------------------
// 4. 10,000 idle connections

/// The soft and hard limits on open files of this process (the sensor inherits them).
fn nofile() -> (u64, u64) {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or("");
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match nums[..] {
        [soft, hard, ..] => (soft, hard),
        _ => (0, 0),
    }
}

/// Makes sure this process (and so the sensor it starts) may open `needed` files: raises the
/// soft limit to the hard one with util-linux's `prlimit` when it is too low. Returns the
/// problem when that is not possible.
fn ensure_nofile(needed: u64) -> Result<(), String> {
    let (soft, hard) = nofile();
    if soft >= needed {
        return Ok(());
    }
    if hard < needed {
        return Err(format!(
            "open-file limit: hard {hard} < {needed} needed; run as a user with `ulimit -Hn` ≥ {needed}"
        ));
    }
    let _ = std::process::Command::new("prlimit")
        .arg("--pid")
        .arg(std::process::id().to_string())
        .arg(format!("--nofile={hard}:{hard}"))
        .status();
    let (soft, _) = nofile();
    if soft >= needed {
        eprintln!("bench: raised the open-file soft limit to {soft}");
        Ok(())
    } else {
        Err(format!(
            "open-file limit: soft {soft} < {needed} needed and prlimit could not raise it; run \
             `ulimit -n {needed}` first"
        ))
    }
}

/// Opens `n` connections (64 at a time) and waits for each to get its login prompt.
async fn open_idle(port: u16, n: usize) -> Result<Vec<TcpStream>, String> {
    let workers = 64;
    let tasks: Vec<_> = (0..workers)
        .map(|w| {
            let mine = n / workers + usize::from(w < n % workers);
            tokio::spawn(async move {
                let mut held = Vec::with_capacity(mine);
                let mut buf = Vec::with_capacity(256);
                for _ in 0..mine {
                    let mut s = TcpStream::connect(("127.0.0.1", port))
                        .await
                        .map_err(|e| format!("connect #{}: {e}", held.len()))?;
                    buf.clear();
                    tokio::time::timeout(
                        Duration::from_secs(20),
                        read_until(&mut s, &mut buf, b"login: "),
                    )
                    .await
                    .map_err(|_| "no login prompt within 20 s".to_string())??;
                    held.push(s);
                }
                Ok::<_, String>(held)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.expect("connect task")?);
    }
    Ok(all)
}

fn ten_k(bin: &Path, rt: &tokio::runtime::Runtime, report: &mut Report) {
    let what = "10,000 idle telnet connections: sensor VmRSS 2 s after the last login prompt";
    // Each side holds one descriptor per connection, plus a few of its own.
    if let Err(e) = ensure_nofile(IDLE_CONNECTIONS as u64 + 200) {
        report.check(false, || format!("10k: {e}"));
        report.line(what, format!("not run: {e}"), "≤ 64 MB", None);
        return;
    }
    let (telnet_port, _, body) = config(600);
    let mut sensor = RoleProcess::sensor(bin, &body);
    let before = memory_kb(sensor.pid());
    let t = Instant::now();
    let held = rt.block_on(open_idle(telnet_port, IDLE_CONNECTIONS));
    let open_secs = t.elapsed().as_secs_f64();
    let held = match held {
        Ok(h) => h,
        Err(e) => {
            report.check(false, || format!("10k: {e}"));
            report.line(what, format!("failed: {e}"), "≤ 64 MB", Some(false));
            stop(sensor, report, "10k");
            return;
        }
    };
    std::thread::sleep(Duration::from_secs(2));
    let after = memory_kb(sensor.pid());
    eprintln!(
        "bench: 10k: {} connections open in {open_secs:.1} s; sensor {after:?} kB ({before:?} kB \
         before)",
        held.len()
    );
    let (db, _dir) = stop(sensor, report, "10k");
    {
        let _enter = rt.enter();
        drop(held);
    }
    let sessions = count(&db, "SELECT COUNT(*) FROM sessions");
    let ended = count(
        &db,
        "SELECT COUNT(*) FROM sessions WHERE endTime IS NOT NULL AND closeReason IS NOT NULL",
    );
    let shutdown = count(
        &db,
        "SELECT COUNT(*) FROM sessions WHERE closeReason = 'sensor shutdown'",
    );
    eprintln!(
        "bench: 10k: {sessions} sessions, {ended} with end records, {shutdown} closed by 'sensor shutdown'"
    );
    report.check(
        sessions == IDLE_CONNECTIONS as u64 && ended == sessions,
        || format!("10k: {sessions} sessions rows, {ended} with end records; {IDLE_CONNECTIONS} expected"),
    );
    let m = mb(after.rss);
    let per_connection =
        after.anon.saturating_sub(before.anon) as f64 * 1024.0 / IDLE_CONNECTIONS as f64;
    report.line(
        what,
        format!(
            "{m:.1} MB (RssAnon {:.1} MB, about {per_connection:.0} bytes per connection; VmHWM \
             {:.1} MB; all {sessions} sessions rows ended)",
            mb(after.anon),
            mb(after.hwm),
        ),
        "≤ 64 MB",
        Some(m <= GOAL_10K_MB),
    );
}

// ---------------------------------------------------------------------------------------------

pub(crate) fn today() -> String {
    std::process::Command::new("date")
        .arg("+%Y-%m-%d")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown date".into())
}

/// Runs the chosen sensor measurements and prints a Markdown table (figure, goal, pass/fail).
/// Exits 1 when a check failed (the sensor recorded something other than what the generator
/// saw, or did not exit 0 on SIGTERM); a missed goal is reported, not a failure.
pub fn run(which: Which) {
    let bin = binary();
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut report = Report::default();
    if which.includes(Which::Idle) {
        idle(&bin, &mut report);
    }
    if which.includes(Which::Http) {
        http(&bin, &rt, &mut report);
    }
    if which.includes(Which::Telnet) {
        telnet(&bin, &rt, &mut report);
    }
    if which.includes(Which::TenK) {
        ten_k(&bin, &rt, &mut report);
    }

    println!("machine: {}; date: {}", machine(), today());
    println!();
    println!("| what | result | goal | |");
    println!("|---|---|---|---|");
    for l in &report.lines {
        let verdict = match l.pass {
            Some(true) => "pass",
            Some(false) => "**missed**",
            None => "-",
        };
        println!("| {} | {} | {} | {verdict} |", l.what, l.result, l.goal);
    }
    println!(
        "| release binary `target/release/recce7` | {size} bytes ({:.1} MiB) | | |",
        size as f64 / (1024.0 * 1024.0)
    );
    if !report.problems.is_empty() {
        println!();
        for p in &report.problems {
            println!("PROBLEM: {p}");
        }
        std::process::exit(1);
    }
}
