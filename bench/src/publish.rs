//! Publishing from the sensor to a Python hpfeeds subscriber through the real hpfeeds3 broker
//! (issue 5): the latency from an event being recorded to the subscriber receiving it at a steady
//! 1,000 events/s, and the rate from attack to subscriber when the attacks come as fast as they
//! can.
//!
//! `cargo build --release && cargo run --release -p bench -- publish`

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports};
use testkit::{Authkey, DumpedMessage, HpfeedsBroker, LineProcess};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

const CHAN: &str = "recce7.events";

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// `2026-11-23T22:25:30.649422Z` as unix microseconds.
fn parse_time(t: &str) -> Option<i64> {
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
    );
    let dt = time::PrimitiveDateTime::parse(t, fmt).ok()?.assume_utc();
    Some((dt.unix_timestamp_nanos() / 1000) as i64)
}

/// Reads the subscriber's lines on a thread: (event id, event time µs, received µs).
fn collect(mut sub: LineProcess) -> mpsc::Receiver<(String, i64, i64)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        loop {
            let Some(line) = sub.wait_line(Duration::from_secs(120), |l| l.starts_with("MSG "))
            else {
                return;
            };
            let received = now_micros();
            let Some(msg) = DumpedMessage::parse(&line) else {
                continue;
            };
            let Ok(event) = serde_json::from_slice::<serde_json::Value>(&msg.head) else {
                continue;
            };
            let (Some(id), Some(t)) = (event["id"].as_str(), event["time"].as_str()) else {
                continue;
            };
            let Some(at) = parse_time(t) else { continue };
            if tx.send((id.to_owned(), at, received)).is_err() {
                return;
            }
        }
    });
    rx
}

/// Sends `n` requests on one keep-alive connection, one every `every` (or as fast as possible).
async fn requests(port: u16, n: usize, every: Option<Duration>) {
    let mut s = TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let mut buf = Vec::new();
    let start = tokio::time::Instant::now();
    for i in 0..n {
        if let Some(every) = every {
            tokio::time::sleep_until(start + every * i as u32).await;
        }
        s.write_all(format!("GET /{i} HTTP/1.1\r\nHost: bench\r\n\r\n").as_bytes())
            .await
            .expect("send");
        crate::sensor::read_response(&mut s, &mut buf)
            .await
            .expect("a response");
    }
}

/// Waits until `want` distinct events have arrived; returns them by id.
fn receive(
    rx: &mpsc::Receiver<(String, i64, i64)>,
    want: usize,
    timeout: Duration,
) -> HashMap<String, (i64, i64)> {
    let deadline = Instant::now() + timeout;
    let mut got = HashMap::new();
    while got.len() < want {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((id, at, received)) => {
                got.entry(id).or_insert((at, received));
            }
            Err(_) => break,
        }
    }
    got
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs both measurements and prints a table.
pub fn run() {
    let bin = crate::sensor::binary();
    let sensor_key = Authkey::new("sensor-1", "s3nsor", &[CHAN]);
    let collector = Authkey::new("collector", "c0llect", &[CHAN]);
    let broker = HpfeedsBroker::start(&[sensor_key.clone(), collector.clone()]);
    let mut sub = testkit::subscribed_dump_subscriber(&broker, &collector, &collector, CHAN);
    let sub_pid = sub.process().child().id();
    let rx = collect(sub);
    let [port] = ports();
    let body = format!(
        "{}\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"{}\"\nsecret = \"{}\"\n",
        plugin("web", "http", port, "http"),
        broker.port(),
        sensor_key.ident,
        sensor_key.secret
    );
    let sensor = RoleProcess::sensor(&bin, &body);
    let rt = tokio::runtime::Runtime::new().expect("runtime");

    // Latency at a steady 1,000 events/s for 10 s (one request = one event; plus the session's
    // start and end).
    let n = 10_000;
    rt.block_on(requests(port, n, Some(Duration::from_millis(1))));
    let got = receive(&rx, n + 2, Duration::from_secs(60));
    let mut latencies: Vec<f64> = got
        .values()
        .map(|(at, received)| (received - at) as f64 / 1000.0)
        .collect();
    latencies.sort_by(f64::total_cmp);
    let (median, p99, max) = (
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or(f64::NAN),
    );

    // As fast as the attacks come: 4 connections × 10,000 requests.
    let (conns, each) = (4, 10_000);
    let started = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..conns)
            .map(|_| tokio::spawn(requests(port, each, None)))
            .collect();
        for t in tasks {
            t.await.expect("load task");
        }
    });
    let attack_secs = started.elapsed().as_secs_f64();
    let burst = conns * (each + 2);
    let got_burst = receive(&rx, burst, Duration::from_secs(120));
    let delivered_secs = started.elapsed().as_secs_f64();
    let (status, _dir) = sensor.terminate_keeping_dir(Duration::from_secs(60));
    assert!(status.success(), "sensor exit: {status}");
    // The subscriber lives in the collecting thread; stop it here so it outlives nothing.
    testkit::signal(sub_pid, "KILL");

    println!(
        "machine: {}; date: {}",
        crate::machine(),
        crate::sensor::today()
    );
    println!();
    println!("| what | result |");
    println!("|---|---|");
    println!(
        "| latency, recorded → Python subscriber, steady 1,000 events/s for 10 s | median {median:.2} ms, p99 {p99:.2} ms, max {max:.2} ms ({} of {} events received) |",
        got.len(),
        n + 2
    );
    println!(
        "| attack → subscriber, 4 keep-alive connections as fast as they go | {:.0} events/s ({} of {burst} received in {delivered_secs:.2} s; the attacks took {attack_secs:.2} s, {:.0} events/s recorded) |",
        got_burst.len() as f64 / delivered_secs,
        got_burst.len(),
        burst as f64 / attack_secs
    );
}
