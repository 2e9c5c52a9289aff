//! recce7 benchmarks. One command runs them all and prints Markdown for docs/BENCHMARKS.md:
//!
//! ```text
//! cargo run --release -p bench -- hpfeeds
//! ```
//!
//! - codec: PUBLISH frames (a 146-byte JSON event) encoded and decoded per second, in memory.
//! - broker: messages per second delivered through the real hpfeeds3 broker to one subscriber
//!   (our client), with our client publishing and with hpfeeds3's Python client publishing,
//!   interleaved runs, medians.
//!
//! The sensor benchmarks (see [`sensor`]) need the release binary:
//!
//! ```text
//! cargo build --release && cargo run --release -p bench -- sensor
//! ```
//!
//! `sensor-idle`, `sensor-http`, `sensor-telnet` and `sensor-10k` run one measurement each;
//! `publish` measures the sensor's publishing, `consumers` the normalizer and geoloc, and
//! `reportd` the report service's API and map over a generated million-event store,
//! `retention` the sensor's pruning (see [`retention`]), and `plugins` the service pack's rules
//! and Lua plug-ins beside the built-in telnet (see [`plugins`]), `ssh` the SSH plug-in's logins
//! per second and memory per idle session beside telnet's (see [`ssh`]), and `capture` the
//! packet capture's packets per second and CPU (see [`capture`]; as root).

mod capture;
mod consumers;
mod plugins;
mod publish;
mod reportd;
mod retention;
mod sensor;
mod ssh;

use std::process::Command;
use std::time::{Duration, Instant};

use broker_client::{Client, ClientConfig, FrameRef, HpfeedsCodec};
use bytes::BytesMut;
use testkit::{Authkey, HpfeedsBroker, run_with_timeout, venv_bin};
use tokio_util::codec::{Decoder, Encoder};

/// A typical event, 146 bytes, like the ones FACTS.md measured the broker with.
const EVENT: &str = r#"{"id":"01JDQ8Z6X3","sensor":"pi-zero-1","type":"telnet.login","src_ip":"203.0.113.7","src_port":51234,"data":{"user":"root","pass":"xc3511"}}"#;
const CHAN: &str = "recce7.events";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn codec_rates(frames: usize, runs: usize) -> (f64, f64) {
    let mut codec = HpfeedsCodec::default();
    let frame = FrameRef::Publish {
        ident: b"pi-zero-1",
        channel: CHAN.as_bytes(),
        payload: EVENT.as_bytes(),
    };
    let mut enc = Vec::new();
    let mut dec = Vec::new();
    for _ in 0..runs {
        let mut buf = BytesMut::with_capacity(frames * 180);
        let t = Instant::now();
        for _ in 0..frames {
            codec.encode(frame, &mut buf).expect("encode");
        }
        enc.push(frames as f64 / t.elapsed().as_secs_f64());

        let t = Instant::now();
        let mut n = 0;
        while let Some(f) = codec.decode(&mut buf).expect("decode") {
            std::hint::black_box(&f);
            n += 1;
        }
        dec.push(n as f64 / t.elapsed().as_secs_f64());
        assert_eq!(n, frames);
    }
    (median(enc), median(dec))
}

/// Delivered rate at one subscriber: messages between the first and the last arrival.
async fn receive_rate(sub: &mut Client, n: usize) -> f64 {
    let first = tokio::time::timeout(Duration::from_secs(30), sub.recv())
        .await
        .expect("first message")
        .expect("stream open")
        .expect("a message");
    std::hint::black_box(first);
    let t = Instant::now();
    for _ in 1..n {
        tokio::time::timeout(Duration::from_secs(30), sub.recv())
            .await
            .expect("message within 30 s")
            .expect("stream open")
            .expect("a message");
    }
    (n - 1) as f64 / t.elapsed().as_secs_f64()
}

async fn rust_publish(broker: &HpfeedsBroker, key: &Authkey, sub: &mut Client, n: usize) -> f64 {
    let cfg = ClientConfig::new("127.0.0.1", broker.port(), &key.ident, &key.secret);
    let publisher = Client::connect(cfg).await.expect("connect publisher");
    let p = publisher.publisher();
    let sender = tokio::spawn(async move {
        for _ in 0..n {
            p.publish(CHAN, EVENT).await.expect("publish");
        }
    });
    let rate = receive_rate(sub, n).await;
    sender.await.expect("sender");
    publisher.close().await.expect("close");
    rate
}

async fn python_publish(broker: &HpfeedsBroker, key: &Authkey, sub: &mut Client, n: usize) -> f64 {
    let mut cmd = Command::new(venv_bin("python"));
    cmd.arg(testkit::py_script("publish_n.py")).args([
        "127.0.0.1",
        &broker.port().to_string(),
        &key.ident,
        &key.secret,
        CHAN,
        &n.to_string(),
        EVENT,
    ]);
    let runner = std::thread::spawn(move || run_with_timeout(cmd, Duration::from_secs(120)));
    let rate = receive_rate(sub, n).await;
    let out = runner.join().expect("python publisher");
    assert!(out.status.success(), "{out:?}");
    rate
}

async fn broker_rates(n: usize, runs: usize) -> (Vec<f64>, Vec<f64>) {
    let key = Authkey::new("bench", "bench", &[CHAN]);
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let cfg = ClientConfig::new("127.0.0.1", broker.port(), &key.ident, &key.secret);
    let mut sub = Client::connect(cfg).await.expect("connect subscriber");
    sub.subscribe(CHAN).await.expect("subscribe");
    // Wait for the subscription to be live, then drain.
    let probe = Client::connect(ClientConfig::new(
        "127.0.0.1",
        broker.port(),
        &key.ident,
        &key.secret,
    ))
    .await
    .expect("probe");
    loop {
        probe.publish(CHAN, "probe").await.expect("probe");
        if let Ok(Some(Ok(_))) = tokio::time::timeout(Duration::from_millis(200), sub.recv()).await
        {
            break;
        }
    }
    probe.close().await.expect("probe close");
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {}

    let (mut ours, mut python) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        ours.push(rust_publish(&broker, &key, &mut sub, n).await);
        python.push(python_publish(&broker, &key, &mut sub, n).await);
    }
    (ours, python)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpu}, {cores} cores")
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "hpfeeds".into());
    if what == "publish" {
        publish::run();
        return;
    }
    if what == "consumers" {
        println!("machine: {}", machine());
        consumers::run();
        return;
    }
    if what == "reportd" {
        println!("machine: {}", machine());
        reportd::run();
        return;
    }
    if what == "capture" {
        capture::run();
        return;
    }
    if what == "plugins" {
        plugins::run();
        return;
    }
    if what == "ssh" {
        ssh::run();
        return;
    }
    if what == "retention" {
        println!("machine: {}", machine());
        retention::run();
        return;
    }
    if let Some(which) = sensor::Which::parse(&what) {
        sensor::run(which);
        return;
    }
    if what != "hpfeeds" && what != "codec" {
        eprintln!(
            "usage: bench [hpfeeds|codec|sensor|sensor-idle|sensor-http|sensor-telnet|sensor-10k|plugins|ssh|capture|publish|consumers|reportd|retention]"
        );
        std::process::exit(2);
    }
    println!("machine: {}", machine());
    let (enc, dec) = codec_rates(1_000_000, 7);
    println!(
        "| codec (146-byte event, median of 7 × 1,000,000) | encode {:.2} M frames/s | decode {:.2} M frames/s |",
        enc / 1e6,
        dec / 1e6
    );
    if what == "codec" {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (n, runs) = (50_000, 5);
    let (ours, python) = rt.block_on(broker_rates(n, runs));
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|r| format!("{:.0}", r))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "| through hpfeeds3 broker, {n} msgs × {runs} runs | recce7 client {:.0} msg/s (runs: {}) | Python hpfeeds3 client {:.0} msg/s (runs: {}) | ratio {:.2} |",
        median(ours.clone()),
        fmt(&ours),
        median(python.clone()),
        fmt(&python),
        median(ours.clone()) / median(python.clone())
    );
}
