//! `bench ssh`: what an SSH login costs the sensor, beside a telnet login on the same run.
//!
//! Each measurement starts a fresh release sensor holding one instance (telnet or SSH, the
//! credential policy letting any login in: `accept_after = [0, 0]`) under
//! [`limits`], and stops it with SIGTERM:
//! - logins/s: 16 clients loop for 10 s over what a brute-forcer does: connect, log in with a
//!   password, leave. Telnet: the login prompt, user, password, the shell prompt, `exit`, the
//!   sensor's close (as `bench plugins`). SSH: russh's client (the sensor's library, its `ring`
//!   backend), version exchange and key exchange (any host key accepted), one password login,
//!   disconnect. The accepted `*.login` rows the sensor committed are checked against the logins
//!   the clients completed; the sensor's and this process's CPU time per login, and the mean time
//!   of each step, say where the time goes. Runs alternate kinds; medians of 3.
//! - idle: 200 sessions held open after a login with a shell (telnet: after the `# ` prompt;
//!   SSH: a `session` channel with a pty and a shell, after its `# ` prompt), RssAnon after minus
//!   RssAnon before, per session. One session is opened and closed before the first reading, so
//!   what the first session sets up once (the SSH host key, generated on the first connection)
//!   is not counted. Medians of 3.
//!
//! The clients and the sensor share the machine's cores: the rates are what one machine does
//! when it is both the honeypot and its attacker.

use std::fmt::Display;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::client::{self, Handle, Msg};
use russh::keys::PublicKeyOrCertificate;
use russh::{Channel, ChannelMsg, Disconnect};
use testkit::role::RoleProcess;
use testkit::sensor::{ANY_LOGIN, plugin, ports};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::median;
use crate::sensor::{Memory, binary, limits, mb, memory_kb, read_until, today};

/// Concurrent clients of the login generator.
const CLIENTS: usize = 16;
/// How long each generator runs.
const LOAD_SECS: u64 = 10;
/// Runs per kind for the medians.
const RUNS: usize = 3;
/// Idle sessions held for the memory figure.
const IDLE: usize = 200;
/// The longest any one step (a connect, an answer, a close) may take.
const STEP: Duration = Duration::from_secs(10);
/// How long a sensor may take to exit after SIGTERM.
const EXIT_TIMEOUT: Duration = Duration::from_secs(60);
/// The credentials every client tries (Mirai's first pair).
const USER: &str = "root";
const PASSWORD: &str = "xc3511";

/// The front doors under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Telnet,
    Ssh,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Telnet => "telnet",
            Kind::Ssh => "ssh",
        }
    }

    /// Quiet logging, limits that never refuse the load, and the one instance (table named
    /// after the kind, the plug-in's default columns) letting any login in.
    fn body(self, port: u16) -> String {
        let name = self.name();
        format!(
            "{}{}{ANY_LOGIN}",
            limits(600),
            plugin(name, name, port, name)
        )
    }

    /// The accepted logins the sensor committed.
    fn accepted_sql(self) -> &'static str {
        match self {
            Kind::Telnet => {
                "SELECT COUNT(*) FROM telnet WHERE eventType = 'telnet.login' AND outcome = 'accepted'"
            }
            Kind::Ssh => {
                "SELECT COUNT(*) FROM ssh WHERE eventType = 'ssh.login' AND outcome = 'accepted'"
            }
        }
    }

    /// The steps of one login, as [`Load::steps`] times them.
    fn steps(self) -> [&'static str; 4] {
        match self {
            Kind::Telnet => [
                "TCP connect",
                "login prompt",
                "user + password → `# `",
                "exit + close",
            ],
            Kind::Ssh => [
                "TCP connect",
                "version + key exchange",
                "password auth",
                "disconnect",
            ],
        }
    }
}

/// Runs `f` for at most [`STEP`]; its error or the timeout named after `what`.
async fn step<T, E: Display>(
    what: &str,
    f: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(STEP, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!("{what}: nothing within {} s", STEP.as_secs())),
    }
}

/// The client side of SSH: accepts any host key (every install generates its own).
struct AnyHostKey;

impl client::Handler for AnyHostKey {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// The client's configuration: russh's defaults (its algorithm preferences), Nagle off.
fn ssh_config() -> Arc<client::Config> {
    Arc::new(client::Config {
        nodelay: true,
        ..Default::default()
    })
}

/// An error of one login, and whether the sensor had accepted it before things went wrong (so
/// its row is expected).
type LoginError = (bool, String);

/// Connects to the sensor, Nagle off.
async fn connect(port: u16) -> Result<TcpStream, String> {
    let s = step("connect", TcpStream::connect(("127.0.0.1", port))).await?;
    s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
    Ok(s)
}

/// A telnet connection up to the shell prompt after a login; `times` gets the first three
/// steps' durations added.
async fn telnet_shell(
    port: u16,
    buf: &mut Vec<u8>,
    times: &mut [Duration; 4],
) -> Result<TcpStream, String> {
    let t = Instant::now();
    let mut s = connect(port).await?;
    times[0] += t.elapsed();
    let t = Instant::now();
    buf.clear();
    step("login prompt", read_until(&mut s, buf, b"login: ")).await?;
    times[1] += t.elapsed();
    let t = Instant::now();
    for (send, expect, what) in [
        (USER, &b"Password: "[..], "password prompt"),
        (PASSWORD, b"# ", "shell prompt"),
    ] {
        buf.clear();
        step("write", s.write_all(format!("{send}\r\n").as_bytes())).await?;
        step(what, read_until(&mut s, buf, expect)).await?;
    }
    times[2] += t.elapsed();
    Ok(s)
}

/// One telnet login: up to the shell prompt, `exit`, the sensor's close.
async fn telnet_login(
    port: u16,
    buf: &mut Vec<u8>,
    times: &mut [Duration; 4],
) -> Result<(), LoginError> {
    let mut s = telnet_shell(port, buf, times)
        .await
        .map_err(|e| (false, e))?;
    let t = Instant::now();
    step("write exit", s.write_all(b"exit\r\n"))
        .await
        .map_err(|e| (true, e))?;
    let closed = async {
        loop {
            buf.clear();
            if s.read_buf(buf).await? == 0 {
                return Ok::<_, std::io::Error>(());
            }
        }
    };
    step("close after exit", closed)
        .await
        .map_err(|e| (true, e))?;
    times[3] += t.elapsed();
    Ok(())
}

/// An SSH connection, its key exchange done and a password login accepted; `times` gets the
/// first three steps' durations added.
async fn ssh_authenticated(
    port: u16,
    config: Arc<client::Config>,
    times: &mut [Duration; 4],
) -> Result<Handle<AnyHostKey>, String> {
    let t = Instant::now();
    let s = connect(port).await?;
    times[0] += t.elapsed();
    let t = Instant::now();
    let mut handle = step(
        "version and key exchange",
        client::connect_stream(config, s, AnyHostKey),
    )
    .await?;
    times[1] += t.elapsed();
    let t = Instant::now();
    let auth = step("password", handle.authenticate_password(USER, PASSWORD)).await?;
    if !auth.success() {
        return Err(format!("password refused: {auth:?}"));
    }
    times[2] += t.elapsed();
    Ok(handle)
}

/// Sends SSH's disconnect and waits for the client's connection task to end (the connection
/// closed).
async fn ssh_disconnect(handle: Handle<AnyHostKey>) -> Result<(), String> {
    step(
        "disconnect",
        handle.disconnect(Disconnect::ByApplication, "", "en"),
    )
    .await?;
    // The connection's task ends with `Disconnect` once the disconnect is sent: the usual end.
    let end = async {
        match handle.await {
            Ok(()) | Err(russh::Error::Disconnect) => Ok(()),
            Err(e) => Err(e),
        }
    };
    step("connection end", end).await
}

/// One SSH login as a brute-forcer does it: key exchange, a password, disconnect.
async fn ssh_login(
    port: u16,
    config: Arc<client::Config>,
    times: &mut [Duration; 4],
) -> Result<(), LoginError> {
    let handle = ssh_authenticated(port, config, times)
        .await
        .map_err(|e| (false, e))?;
    let t = Instant::now();
    ssh_disconnect(handle).await.map_err(|e| (true, e))?;
    times[3] += t.elapsed();
    Ok(())
}

/// What the clients of one run did.
#[derive(Default)]
struct Load {
    /// Logins the sensor accepted (complete ones, and those that failed after the acceptance).
    logins: u64,
    /// Complete logins, over which [`Load::steps`] is summed.
    complete: u64,
    /// The time each step took, summed over complete logins (see [`Kind::steps`]).
    steps: [Duration; 4],
    errors: Vec<String>,
}

impl Load {
    fn add(&mut self, other: Load) {
        self.logins += other.logins;
        self.complete += other.complete;
        for (a, b) in self.steps.iter_mut().zip(other.steps) {
            *a += b;
        }
        self.errors.extend(other.errors);
    }
}

/// One client looping over logins until `deadline` (or its 11th error).
async fn client(kind: Kind, port: u16, deadline: Instant, config: Arc<client::Config>) -> Load {
    let mut load = Load::default();
    let mut buf = Vec::with_capacity(4096);
    while Instant::now() < deadline && load.errors.len() <= 10 {
        let mut times = [Duration::ZERO; 4];
        let one = match kind {
            Kind::Telnet => telnet_login(port, &mut buf, &mut times).await,
            Kind::Ssh => ssh_login(port, config.clone(), &mut times).await,
        };
        match one {
            Ok(()) => {
                load.logins += 1;
                load.complete += 1;
                for (a, b) in load.steps.iter_mut().zip(times) {
                    *a += b;
                }
            }
            Err((accepted, e)) => {
                load.logins += u64::from(accepted);
                load.errors.push(e);
            }
        }
    }
    load
}

/// CPU time (user + system) of a process so far, in seconds, from `/proc/PID/stat`.
fn cpu_secs(pid: &str, ticks_per_sec: f64) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command name (which may hold spaces): state is the first, utime the
    // 12th and stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    match (tick(11), tick(12)) {
        (Some(u), Some(s)) => (u + s) / ticks_per_sec,
        _ => f64::NAN,
    }
}

/// The whole machine's busy CPU time so far (user, nice, system, irq, softirq) and the time
/// the hypervisor stole, in seconds, from `/proc/stat`.
fn machine_cpu_secs(ticks_per_sec: f64) -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    match fields[..] {
        [user, nice, system, _idle, _iowait, irq, softirq, steal, ..] => (
            (user + nice + system + irq + softirq) / ticks_per_sec,
            steal / ticks_per_sec,
        ),
        _ => (f64::NAN, f64::NAN),
    }
}

/// Clock ticks per second (`getconf CLK_TCK`; 100 when it cannot tell).
fn ticks_per_sec() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

/// Stops `sensor` with SIGTERM; the database's path, its directory (removed when dropped) and
/// a problem when the exit status was not 0.
fn stop(
    sensor: RoleProcess,
    what: &str,
) -> (std::path::PathBuf, tempfile::TempDir, Option<String>) {
    let db = sensor.db().to_path_buf();
    let (status, dir) = sensor.terminate_keeping_dir(EXIT_TIMEOUT);
    let problem = (!status.success())
        .then(|| format!("{what}: the sensor exited with {status} after SIGTERM"));
    (db, dir, problem)
}

/// One run of the login generator.
struct Rate {
    /// Accepted logins recorded per second.
    per_sec: f64,
    /// Logins the clients completed (or saw accepted).
    logins: u64,
    /// Accepted login rows the sensor committed.
    rows: u64,
    /// The sensor's CPU time over the run, in seconds.
    sensor_cpu: f64,
    /// This process's (the clients') CPU time over the run, in seconds.
    client_cpu: f64,
    /// CPU time other processes used over the run, and the time the hypervisor stole, in
    /// seconds: what the figures shared the machine with.
    others_cpu: f64,
    steal: f64,
    load: Load,
}

fn rate(
    bin: &Path,
    rt: &tokio::runtime::Runtime,
    kind: Kind,
    ticks: f64,
    problems: &mut Vec<String>,
) -> Rate {
    let [port] = ports::<1>();
    let mut sensor = RoleProcess::sensor(bin, &kind.body(port));
    let pid = sensor.pid().to_string();
    let config = ssh_config();
    let (sensor_cpu0, client_cpu0) = (cpu_secs(&pid, ticks), cpu_secs("self", ticks));
    let (busy0, steal0) = machine_cpu_secs(ticks);
    let start = Instant::now();
    let deadline = start + Duration::from_secs(LOAD_SECS);
    let load = rt.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::spawn(client(kind, port, deadline, config.clone())))
            .collect();
        let mut load = Load::default();
        for t in tasks {
            match t.await {
                Ok(one) => load.add(one),
                Err(e) => load.errors.push(format!("client task: {e}")),
            }
        }
        load
    });
    let secs = start.elapsed().as_secs_f64();
    let sensor_cpu = cpu_secs(&pid, ticks) - sensor_cpu0;
    let client_cpu = cpu_secs("self", ticks) - client_cpu0;
    let (busy, steal) = machine_cpu_secs(ticks);
    // Clock ticks round each reading: a few hundredths below 0 mean none.
    let others_cpu = (busy - busy0 - sensor_cpu - client_cpu).max(0.0);
    let steal = steal - steal0;
    let hwm = memory_kb(sensor.pid()).hwm;
    let (db, _dir, problem) = stop(sensor, kind.name());
    problems.extend(problem);
    let rows = crate::sensor::try_count(&db, kind.accepted_sql()).unwrap_or_else(|e| {
        problems.push(format!("{}: {e}", kind.name()));
        0
    });
    eprintln!(
        "bench: {} run: {} logins in {secs:.2} s, {rows} accepted login rows, {} errors, sensor \
         CPU {sensor_cpu:.2} s, bench CPU {client_cpu:.2} s, other processes {others_cpu:.2} s, \
         stolen {steal:.2} s, sensor VmHWM {hwm} kB",
        kind.name(),
        load.logins,
        load.errors.len()
    );
    if !load.errors.is_empty() {
        let first: Vec<_> = load.errors.iter().take(3).collect();
        problems.push(format!(
            "{}: {} client errors, first {first:?}",
            kind.name(),
            load.errors.len()
        ));
    }
    if rows != load.logins {
        problems.push(format!(
            "{}: {rows} accepted login rows committed, the clients completed {} logins",
            kind.name(),
            load.logins
        ));
    }
    Rate {
        per_sec: rows as f64 / secs,
        logins: load.logins,
        rows,
        sensor_cpu,
        client_cpu,
        others_cpu,
        steal,
        load,
    }
}

/// A session held open at its shell prompt.
enum Held {
    Telnet(TcpStream),
    Ssh(Handle<AnyHostKey>, Channel<Msg>),
}

/// An SSH session channel with a pty and a shell, after its `# ` prompt.
async fn ssh_shell(port: u16, config: Arc<client::Config>) -> Result<Held, String> {
    let mut times = [Duration::ZERO; 4];
    let handle = ssh_authenticated(port, config, &mut times).await?;
    let mut channel = step("open a session channel", handle.channel_open_session()).await?;
    step(
        "pty request",
        channel.request_pty(false, "xterm", 80, 24, 0, 0, &[]),
    )
    .await?;
    step("shell request", channel.request_shell(true)).await?;
    let mut out = Vec::new();
    let prompt = async {
        loop {
            match channel.wait().await {
                Some(ChannelMsg::Data { data }) => {
                    out.extend_from_slice(&data);
                    if out.windows(2).any(|w| w == b"# ") {
                        return Ok(());
                    }
                }
                Some(ChannelMsg::Failure) => return Err("the shell was refused".to_string()),
                Some(ChannelMsg::Eof | ChannelMsg::Close) | None => {
                    return Err(format!(
                        "the channel closed before `# `; got {:?}",
                        String::from_utf8_lossy(&out)
                    ));
                }
                Some(_) => {}
            }
        }
    };
    step("shell prompt", prompt).await?;
    Ok(Held::Ssh(handle, channel))
}

/// One session of `kind` at its shell prompt.
async fn open_shell(kind: Kind, port: u16, config: Arc<client::Config>) -> Result<Held, String> {
    match kind {
        Kind::Telnet => {
            let mut times = [Duration::ZERO; 4];
            let mut buf = Vec::with_capacity(256);
            telnet_shell(port, &mut buf, &mut times)
                .await
                .map(Held::Telnet)
        }
        Kind::Ssh => ssh_shell(port, config).await,
    }
}

/// Ends a held session: SSH's disconnect, or the telnet connection's close.
async fn close(held: Held) -> Result<(), String> {
    match held {
        Held::Telnet(s) => {
            drop(s);
            Ok(())
        }
        Held::Ssh(handle, channel) => {
            drop(channel);
            ssh_disconnect(handle).await
        }
    }
}

/// Memory per idle session for one kind: (bytes per session, before, after).
fn idle(
    bin: &Path,
    rt: &tokio::runtime::Runtime,
    kind: Kind,
) -> Result<(f64, Memory, Memory), String> {
    let [port] = ports::<1>();
    let mut sensor = RoleProcess::sensor(bin, &kind.body(port));
    let config = ssh_config();
    let warm_up = rt.block_on(async {
        let one = open_shell(kind, port, config.clone()).await?;
        close(one).await
    });
    let held = warm_up.and_then(|()| {
        std::thread::sleep(Duration::from_secs(1));
        let before = memory_kb(sensor.pid());
        let held = rt.block_on(async {
            let mut held = Vec::with_capacity(IDLE);
            for _ in 0..IDLE {
                held.push(open_shell(kind, port, config.clone()).await?);
            }
            Ok::<_, String>(held)
        })?;
        Ok((before, held))
    });
    let (before, held) = match held {
        Ok(h) => h,
        Err(e) => {
            stop(sensor, kind.name());
            return Err(e);
        }
    };
    std::thread::sleep(Duration::from_secs(2));
    let after = memory_kb(sensor.pid());
    let per = after.anon.saturating_sub(before.anon) as f64 * 1024.0 / IDLE as f64;
    let (db, _dir, problem) = stop(sensor, kind.name());
    rt.block_on(async { drop(held) });
    if let Some(p) = problem {
        return Err(p);
    }
    let rows = crate::sensor::try_count(&db, kind.accepted_sql())?;
    if rows != IDLE as u64 + 1 {
        return Err(format!(
            "{rows} accepted login rows for {} logins",
            IDLE + 1
        ));
    }
    Ok((per, before, after))
}

/// Checks that `bin` runs SSH instances (a build without the plug-in refuses them).
fn check_ssh(bin: &Path) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("sensor.toml");
    let text = format!(
        "[sensor]\nname = \"check\"\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\n{}",
        dir.path().join("sensor.sqlite").display(),
        Kind::Ssh.body(8022)
    );
    std::fs::write(&config, text).expect("write the check's config");
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("check-config").arg(&config);
    let out = testkit::run_with_timeout(cmd, Duration::from_secs(30));
    if !out.status.success() {
        eprintln!(
            "bench: {} refuses an SSH instance (build it with SSH, or set RECCE7_BIN):\n{}{}",
            bin.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        std::process::exit(2);
    }
}

fn ms(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1000.0 / n.max(1) as f64
}

/// Runs both kinds, alternating, and prints a Markdown table; exits 1 when what the sensor
/// recorded differs from what the clients completed, or a client or sensor failed.
pub fn run() {
    let bin = binary();
    check_ssh(&bin);
    let size = std::fs::metadata(&bin).map(|m| m.len()).unwrap_or(0);
    let ticks = ticks_per_sec();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let kinds = [Kind::Telnet, Kind::Ssh];
    let mut problems = Vec::new();
    let mut rates: [Vec<Rate>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..RUNS {
        for (i, kind) in kinds.iter().enumerate() {
            rates[i].push(rate(&bin, &rt, *kind, ticks, &mut problems));
        }
    }
    let mut idles: [Vec<(f64, Memory, Memory)>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..RUNS {
        for (i, kind) in kinds.iter().enumerate() {
            match idle(&bin, &rt, *kind) {
                Ok(m) => {
                    eprintln!(
                        "bench: {} idle: {:.0} bytes per session (RssAnon {} → {} kB)",
                        kind.name(),
                        m.0,
                        m.1.anon,
                        m.2.anon
                    );
                    idles[i].push(m);
                }
                Err(e) => problems.push(format!("{} idle: {e}", kind.name())),
            }
        }
    }

    println!("machine: {}; date: {}", crate::machine(), today());
    println!();
    println!(
        "| instance | logins recorded/s ({CLIENTS} clients, {LOAD_SECS} s, median of {RUNS}) | \
         rows checked (accepted login rows = logins completed) | CPU per login: sensor / clients | \
         memory per idle session ({IDLE} held at the shell prompt, median of {RUNS}) |"
    );
    println!("|---|---|---|---|---|");
    let mut notes = Vec::new();
    for (i, kind) in kinds.iter().enumerate() {
        let runs = &rates[i];
        let m = median(runs.iter().map(|r| r.per_sec).collect());
        let per_sec: Vec<String> = runs.iter().map(|r| format!("{:.0}", r.per_sec)).collect();
        let checked: Vec<String> = runs
            .iter()
            .map(|r| format!("{} = {}", r.rows, r.logins))
            .collect();
        let logins: u64 = runs.iter().map(|r| r.logins).sum::<u64>().max(1);
        let sensor_us = runs.iter().map(|r| r.sensor_cpu).sum::<f64>() * 1e6 / logins as f64;
        let client_us = runs.iter().map(|r| r.client_cpu).sum::<f64>() * 1e6 / logins as f64;
        let memory = if idles[i].is_empty() {
            "failed".to_string()
        } else {
            let mut sorted = idles[i].clone();
            sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
            let (per, before, after) = sorted[sorted.len() / 2];
            let all: Vec<String> = idles[i].iter().map(|x| format!("{:.0}", x.0)).collect();
            format!(
                "{per:.0} bytes (runs {}; RssAnon {:.2} → {:.2} MB)",
                all.join(" / "),
                mb(before.anon),
                mb(after.anon)
            )
        };
        println!(
            "| {} | {m:.0}/s (runs {}) | {} | {sensor_us:.0} µs / {client_us:.0} µs | {memory} |",
            kind.name(),
            per_sec.join(" / "),
            checked.join("; ")
        );
        let complete: u64 = runs.iter().map(|r| r.load.complete).sum();
        let mut steps = [Duration::ZERO; 4];
        for r in runs {
            for (a, b) in steps.iter_mut().zip(r.load.steps) {
                *a += b;
            }
        }
        let parts: Vec<String> = kind
            .steps()
            .iter()
            .zip(steps)
            .map(|(name, d)| format!("{name} {:.2} ms", ms(d, complete)))
            .collect();
        let others: f64 = runs.iter().map(|r| r.others_cpu).sum();
        let steal: f64 = runs.iter().map(|r| r.steal).sum();
        notes.push(format!(
            "- {} login, mean time per step under load: {}; over the {} runs the sensor used \
             {:.1} CPU-s, the clients {:.1}, other processes {others:.1}, the hypervisor stole \
             {steal:.1}",
            kind.name(),
            parts.join(", "),
            runs.len(),
            runs.iter().map(|r| r.sensor_cpu).sum::<f64>(),
            runs.iter().map(|r| r.client_cpu).sum::<f64>(),
        ));
    }
    println!(
        "| release binary `{}` | {size} bytes ({:.1} MiB) | | | |",
        bin.display(),
        size as f64 / (1024.0 * 1024.0)
    );
    println!();
    for n in notes {
        println!("{n}");
    }
    if !problems.is_empty() {
        println!();
        for p in &problems {
            println!("PROBLEM: {p}");
        }
        std::process::exit(1);
    }
}
