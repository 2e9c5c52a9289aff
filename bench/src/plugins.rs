//! `bench plugins`: what a plug-in a sysadmin writes costs, beside the built-in telnet on the
//! same run: complete sessions recorded per second, and memory per idle session, for a rules
//! plug-in (the service pack's `ftp`) and a Lua plug-in (its `redis`).
//!
//! Each kind runs in a fresh release sensor holding that one instance, taken from the shipped
//! `configs/service-pack.toml` (its port replaced, a relative script made absolute):
//! - sessions/s: 32 clients loop over one complete conversation (connect, greeting, a login or a
//!   command, quit, the sensor's close) for 10 s; the rows the sensor committed are checked
//!   against what the clients completed;
//! - idle: 1,000 connections held open after their first answer, RssAnon before and after.

use std::path::Path;
use std::time::{Duration, Instant};

use testkit::role::RoleProcess;
use testkit::sensor::{ports, telnet_any_login};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::median;
use crate::sensor::{Memory, binary, limits, mb, memory_kb, read_until, today};

/// Concurrent clients of the session generator.
const CLIENTS: usize = 32;
/// How long each generator runs.
const LOAD_SECS: u64 = 10;
/// Runs per kind for the medians.
const RUNS: usize = 3;
/// Idle sessions held for the memory figure.
const IDLE: usize = 1_000;

/// The end of a conversation: the sensor closes the connection.
const CLOSE: &[u8] = b"";

/// One plug-in kind under test.
struct Kind {
    /// The instance in the service pack (or `telnet` for the built-in).
    name: &'static str,
    /// What the client sends and the answer it waits for, in order; the last waits for the
    /// close ([`CLOSE`]).
    conversation: &'static [(&'static [u8], &'static [u8])],
    /// How many of the conversation's steps until the session is idle-ready (its first answer).
    idle_steps: usize,
    /// Rows one complete conversation records in the instance's table.
    rows_per_session: u64,
}

const KINDS: [Kind; 4] = [
    Kind {
        name: "telnet",
        conversation: &[
            (b"", b"login: "),
            (b"root\r\n", b"Password: "),
            (b"xc3511\r\n", b"# "),
            (b"exit\r\n", CLOSE),
        ],
        idle_steps: 1,
        // The login, and `exit` as a command.
        rows_per_session: 2,
    },
    Kind {
        name: "ftp",
        conversation: &[
            (b"", b"220 "),
            (b"USER bench\r\n", b"331 "),
            (b"PASS bench\r\n", b"230 "),
            (b"QUIT\r\n", CLOSE),
        ],
        idle_steps: 1,
        rows_per_session: 3,
    },
    // The same rules without their reply delays (`delay_ms`, 50 ms at PASS): what the engine
    // itself does, where the shipped pack is bound by the delay it chose.
    Kind {
        name: "ftp-nodelay",
        conversation: &[
            (b"", b"220 "),
            (b"USER bench\r\n", b"331 "),
            (b"PASS bench\r\n", b"230 "),
            (b"QUIT\r\n", CLOSE),
        ],
        idle_steps: 1,
        rows_per_session: 3,
    },
    Kind {
        name: "redis",
        conversation: &[
            (b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n"),
            (b"*2\r\n$4\r\nAUTH\r\n$5\r\nbench\r\n", b"\r\n"),
            (b"*1\r\n$4\r\nQUIT\r\n", CLOSE),
        ],
        idle_steps: 1,
        rows_per_session: 3,
    },
];

/// The `[[plugin]]` table of `name` in the shipped service pack, on `port`, as TOML; a name
/// ending in `-nodelay` is that instance with every rule's `delay_ms` removed.
fn pack_instance(name: &str, port: u16) -> String {
    let (name, no_delay) = match name.strip_suffix("-nodelay") {
        Some(base) => (base, true),
        None => (name, false),
    };
    let root = testkit::workspace_root();
    let text = std::fs::read_to_string(root.join("configs/service-pack.toml"))
        .expect("configs/service-pack.toml");
    let pack: toml::Table = text.parse().expect("the service pack parses");
    let mut instance = pack["plugin"]
        .as_array()
        .and_then(|all| {
            all.iter()
                .find(|p| p.get("name").and_then(|n| n.as_str()) == Some(name))
        })
        .and_then(|p| p.as_table())
        .unwrap_or_else(|| panic!("no instance {name:?} in configs/service-pack.toml"))
        .clone();
    instance.insert("port".into(), i64::from(port).into());
    if no_delay
        && let Some(states) = instance
            .get_mut("options")
            .and_then(|o| o.get_mut("states"))
            .and_then(|s| s.as_table_mut())
    {
        for (_, rules) in states.iter_mut() {
            let Some(rules) = rules.as_array_mut() else {
                continue;
            };
            for rule in rules.iter_mut().filter_map(|r| r.as_table_mut()) {
                rule.remove("delay_ms");
            }
        }
    }
    if let Some(options) = instance.get_mut("options").and_then(|o| o.as_table_mut())
        && let Some(script) = options.get("script").and_then(|s| s.as_str())
    {
        let absolute = root.join("configs").join(script);
        options.insert("script".into(), absolute.display().to_string().into());
    }
    let mut doc = toml::Table::new();
    doc.insert(
        "plugin".into(),
        toml::Value::Array(vec![toml::Value::Table(instance)]),
    );
    toml::to_string(&doc).expect("TOML")
}

/// Quiet logging and limits that never refuse the load.
fn body(kind: &Kind, port: u16) -> String {
    let instance = if kind.name == "telnet" {
        telnet_any_login("telnet", port, "telnet")
    } else {
        pack_instance(kind.name, port)
    };
    format!("{}\n{instance}", limits(600))
}

/// Runs `steps` of the conversation on `s`; a [`CLOSE`] step waits for the sensor's close.
async fn converse(
    s: &mut TcpStream,
    steps: &[(&[u8], &[u8])],
    buf: &mut Vec<u8>,
) -> Result<(), String> {
    for (send, expect) in steps {
        buf.clear();
        if !send.is_empty() {
            s.write_all(send).await.map_err(|e| e.to_string())?;
        }
        if !expect.is_empty() {
            read_until(s, buf, expect).await?;
            continue;
        }
        // The sensor's close.
        loop {
            match s.read_buf(buf).await {
                Ok(0) => break,
                Ok(_) => buf.clear(),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
    Ok(())
}

async fn client(kind: &'static Kind, port: u16, deadline: Instant) -> (u64, Vec<String>) {
    let mut buf = Vec::with_capacity(4096);
    let (mut done, mut errors) = (0, Vec::new());
    while Instant::now() < deadline && errors.len() <= 10 {
        let one = async {
            let mut s = TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| e.to_string())?;
            s.set_nodelay(true).map_err(|e| e.to_string())?;
            converse(&mut s, kind.conversation, &mut buf).await
        };
        match tokio::time::timeout(Duration::from_secs(10), one).await {
            Ok(Ok(())) => done += 1,
            Ok(Err(e)) => errors.push(e),
            Err(_) => errors.push("a session took more than 10 s".into()),
        }
    }
    (done, errors)
}

/// Sessions recorded per second for one kind: (rate, sessions, errors, rows, VmHWM kB).
fn rate(
    bin: &Path,
    rt: &tokio::runtime::Runtime,
    kind: &'static Kind,
) -> (f64, u64, Vec<String>, u64, u64) {
    let [port] = ports::<1>();
    let mut sensor = RoleProcess::sensor(bin, &body(kind, port));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(LOAD_SECS);
    let (done, errors) = rt.block_on(async {
        let tasks: Vec<_> = (0..CLIENTS)
            .map(|_| tokio::spawn(client(kind, port, deadline)))
            .collect();
        let (mut done, mut errors) = (0, Vec::new());
        for t in tasks {
            let (n, e) = t.await.expect("client task");
            done += n;
            errors.extend(e);
        }
        (done, errors)
    });
    let secs = start.elapsed().as_secs_f64();
    let hwm = memory_kb(sensor.pid()).hwm;
    let db = sensor.db().to_path_buf();
    let (status, _dir) = sensor.terminate_keeping_dir(Duration::from_secs(60));
    assert!(
        status.success(),
        "{}: the sensor exited with {status}",
        kind.name
    );
    let conn =
        rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("the sensor's database");
    let table = kind.name.trim_end_matches("-nodelay");
    let rows: i64 = conn
        .query_row(
            &format!("SELECT COUNT(*) FROM \"{table}\" WHERE eventType != 'input.raw'"),
            [],
            |r| r.get(0),
        )
        .expect("count rows");
    (done as f64 / secs, done, errors, rows as u64, hwm)
}

/// Memory per idle session for one kind: (bytes per session, before, after).
fn idle(
    bin: &Path,
    rt: &tokio::runtime::Runtime,
    kind: &'static Kind,
) -> Result<(f64, Memory, Memory), String> {
    let [port] = ports::<1>();
    let mut sensor = RoleProcess::sensor(bin, &body(kind, port));
    std::thread::sleep(Duration::from_secs(1));
    let before = memory_kb(sensor.pid());
    let held = rt.block_on(async {
        let mut held = Vec::with_capacity(IDLE);
        let mut buf = Vec::with_capacity(256);
        for _ in 0..IDLE {
            let mut s = TcpStream::connect(("127.0.0.1", port))
                .await
                .map_err(|e| e.to_string())?;
            tokio::time::timeout(
                Duration::from_secs(10),
                converse(&mut s, &kind.conversation[..kind.idle_steps], &mut buf),
            )
            .await
            .map_err(|_| "no first answer within 10 s".to_string())??;
            held.push(s);
        }
        Ok::<_, String>(held)
    });
    let held = held?;
    std::thread::sleep(Duration::from_secs(2));
    let after = memory_kb(sensor.pid());
    let per = after.anon.saturating_sub(before.anon) as f64 * 1024.0 / IDLE as f64;
    let (status, _dir) = sensor.terminate_keeping_dir(Duration::from_secs(60));
    {
        let _enter = rt.enter();
        drop(held);
    }
    if !status.success() {
        return Err(format!("the sensor exited with {status}"));
    }
    Ok((per, before, after))
}

/// Runs every kind and prints a Markdown table; exits 1 when what the sensor recorded differs
/// from what the clients completed.
pub fn run() {
    let bin = binary();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut problems = Vec::new();
    let mut lines = Vec::new();
    for kind in &KINDS {
        let mut rates = Vec::new();
        for run in 0..RUNS {
            let (r, done, errors, rows, hwm) = rate(&bin, &rt, kind);
            eprintln!(
                "bench: {} run {}: {done} sessions ({r:.0}/s), {rows} rows, {} errors, VmHWM {hwm} kB",
                kind.name,
                run + 1,
                errors.len()
            );
            if !errors.is_empty() {
                problems.push(format!(
                    "{}: {} client errors, first {:?}",
                    kind.name,
                    errors.len(),
                    errors.first()
                ));
            }
            if rows < done * kind.rows_per_session {
                problems.push(format!(
                    "{}: {rows} rows for {done} sessions of {} rows each",
                    kind.name, kind.rows_per_session
                ));
            }
            rates.push(r);
        }
        let idle = idle(&bin, &rt, kind);
        if let Err(e) = &idle {
            problems.push(format!("{} idle: {e}", kind.name));
        }
        lines.push((kind.name, median(rates.clone()), rates, idle.ok()));
    }
    println!("machine: {}; date: {}", crate::machine(), today());
    println!();
    println!(
        "| instance | sessions recorded/s ({CLIENTS} clients, {LOAD_SECS} s, median of {RUNS}) | memory per idle session ({IDLE} held) |"
    );
    println!("|---|---|---|");
    for (name, m, rates, idle) in lines {
        let runs: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
        let idle = match idle {
            Some((per, before, after)) => format!(
                "{per:.0} bytes (RssAnon {:.1} → {:.1} MB)",
                mb(before.anon),
                mb(after.anon)
            ),
            None => "failed".into(),
        };
        println!("| {name} | {m:.0}/s (runs {}) | {idle} |", runs.join(" / "));
    }
    if !problems.is_empty() {
        println!();
        for p in &problems {
            println!("PROBLEM: {p}");
        }
        std::process::exit(1);
    }
}
