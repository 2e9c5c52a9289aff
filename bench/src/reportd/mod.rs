//! The report service (issue 7): latency of the REST API and of the world map over a generated
//! store of 1,000,000 events across 20 ports and 50,000 addresses. Goals: p99 under 50 ms for
//! `/v1/analytics/ports?days=7` and `/v1/analytics/ipaddresses/{ip}`, the map under 200 ms.
//!
//! `cargo run --release -p bench -- reportd`
//!
//! The store is generated in a temporary directory; with `RECCE7_BENCH_DB=/some/file.sqlite` it
//! is generated there once and reused by later runs (its times stay where they were generated,
//! so a reused store slowly ages out of the 7-day window; delete it to start afresh).
//!
//! # The store
//!
//! Made by [`store::open`] (every table and index a sensor has), then filled with prepared
//! statements in a few large transactions, row for row what a sensor records (see
//! [`generate`]). Events are counted as the sensor counts them: a `session.start` and a
//! `session.end` are two events stored in one `sessions` row, and every instance-table row is
//! one event. 200,000 sessions with 1 to 5 rows each (3 on average) make 200,000 × 2 + 600,000
//! = 1,000,000 events. One sensor (`bench`, `ident` null, as in a sensor's own database); no
//! `rawInput` rows; ids from [`store::new_id`], so they are ordered by generation, not by the
//! (back-dated) event times.
//!
//! # The measurements
//!
//! reportd runs in this process (`reportd::api::serve_on` on 127.0.0.1:0, a two-thread tokio
//! runtime shared with the client), with the settings of `recce7 up`. The client is a minimal
//! HTTP/1.1 client on one keep-alive connection; each request is timed from the first byte
//! written to the last byte of the body read. Every endpoint gets 10 warm-up requests, then
//! sequential measured ones; every answer must be a 200 with a body. The map handler's two parts,
//! its query and the drawing, are also timed apart, in-process, by calling [`query::places`]
//! and [`WorldMap`] directly.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use ::reportd::ReportdSettings;
use ::reportd::query::{self, Filter};
use ::reportd::worldmap::{MapPoint, WorldMap};
use rusqlite::{Connection, OpenFlags};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

mod client;
mod seed;

use client::{Client, Expect, Timings, measure, repeat, size, thousands};
use seed::{EVENTS, INSTANCES, Rng, SESSIONS, SESSIONS_PER_TX, WINDOW, generate, table_name};

/// A read-only connection set up as reportd sets up its own.
fn read_only(path: &Path) -> Connection {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .expect("open the store read-only");
    conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -4096;")
        .expect("pragmas");
    conn
}

/// What the store holds: sessions, instance rows, events, distinct addresses, ipInfo rows,
/// sessions in the window.
struct Contents {
    sessions: u64,
    rows: u64,
    addresses: u64,
    ip_info: u64,
    in_window: u64,
    newest: String,
}

fn contents(conn: &Connection, since: &str) -> Contents {
    let one = |sql: &str| -> u64 {
        conn.query_row(sql, [], |r| r.get::<_, i64>(0))
            .expect("a count") as u64
    };
    let rows = (0..INSTANCES.len())
        .map(|i| one(&format!("SELECT count(*) FROM \"{}\"", table_name(i))))
        .sum();
    Contents {
        sessions: one("SELECT count(*) FROM sessions"),
        rows,
        addresses: one("SELECT count(DISTINCT peerAddress) FROM sessions"),
        ip_info: one("SELECT count(*) FROM ipInfo"),
        in_window: conn
            .query_row(
                "SELECT count(*) FROM sessions WHERE startTime >= ?1",
                [since],
                |r| r.get::<_, i64>(0),
            )
            .expect("a count") as u64,
        newest: conn
            .query_row("SELECT max(startTime) FROM sessions", [], |r| r.get(0))
            .expect("the newest session"),
    }
}

/// The addresses asked about: the 50 with most sessions in the window (with their counts),
/// and 160 drawn at random from all 50,000 (most have a session or two, many none in the
/// window).
fn pick_addresses(conn: &Connection, since: &str) -> (Vec<(String, i64)>, Vec<String>) {
    let heavy = conn
        .prepare(
            "SELECT peerAddress, count(*) FROM sessions WHERE startTime >= ?1
             GROUP BY peerAddress ORDER BY 2 DESC LIMIT 50",
        )
        .expect("prepare")
        .query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<Vec<_>, _>>()
        .expect("the busiest addresses");
    let mut all = conn
        .prepare("SELECT ipAddress FROM ipInfo ORDER BY ipAddress")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<Vec<String>, _>>()
        .expect("the addresses");
    Rng(7).shuffle(&mut all);
    all.truncate(160);
    (heavy, all)
}

/// The map handler's two parts, in-process on one connection like reportd's: the query
/// ([`query::places`]) and the drawing (SVG and PNG, 1,024 px wide), `runs` times each.
fn map_parts(path: &Path, since: &str, runs: usize) -> (Timings, Timings, Timings, usize) {
    let conn = read_only(path);
    let filter = Filter {
        since: since.to_owned(),
        sensor: None,
    };
    let mut q = Timings::new();
    let mut places = Vec::new();
    for i in 0..=runs {
        let started = Instant::now();
        let (p, unique, total) = query::places(&conn, &filter).expect("the map query");
        if i > 0 {
            q.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            q.bytes.push(p.len());
        }
        places = p;
        std::hint::black_box((unique, total));
    }
    let points: Vec<MapPoint> = places
        .iter()
        .map(|p| MapPoint {
            latitude: p.latitude,
            longitude: p.longitude,
            count: p.count,
        })
        .collect();
    let title =
        "recce7: attacks in the last 7 days (days=7): 9,999 unique addresses, 99,999 sessions";
    let map = WorldMap::embedded();
    let (mut svg, mut png) = (Timings::new(), Timings::new());
    for i in 0..=runs {
        let started = Instant::now();
        let s = map.svg(&points, title, 1024);
        if i > 0 {
            svg.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            svg.bytes.push(s.len());
        }
        let started = Instant::now();
        let p = map.png(&points, title, 1024).expect("a PNG");
        if i > 0 {
            png.ms.push(started.elapsed().as_secs_f64() * 1000.0);
            png.bytes.push(p.len());
        }
    }
    (q, svg, png, places.len())
}

/// Every measurement, over loopback.
struct Results {
    ports: Timings,
    address_heavy: Timings,
    address_light: Timings,
    address_all: Timings,
    svg: Timings,
    png: Timings,
    top_addresses: Timings,
    credentials: Timings,
    summary: Timings,
}

async fn requests(addr: SocketAddr, heavy: &[(String, i64)], light: &[String]) -> Results {
    let mut c = Client::connect(addr).await;
    let n = 200;
    let ports_path = format!("/v1/analytics/ports?{WINDOW}");
    let ports = measure(
        &mut c,
        &repeat(&ports_path, 10),
        &repeat(&ports_path, n),
        Expect::Json,
    )
    .await;

    // One request in four for a busy address, in the order they are sent.
    let detail = |ip: &str| format!("/v1/analytics/ipaddresses/{ip}?{WINDOW}");
    let warm: Vec<String> = light[150..].iter().map(|ip| detail(ip)).collect();
    let mut heavy_paths = heavy.iter().map(|(ip, _)| detail(ip));
    let mut light_paths = light[..150].iter().map(|ip| detail(ip));
    let order: Vec<(bool, String)> = (0..n)
        .map(|i| {
            if i % 4 == 0 {
                (true, heavy_paths.next().expect("50 busy addresses"))
            } else {
                (false, light_paths.next().expect("150 other addresses"))
            }
        })
        .collect();
    let paths: Vec<String> = order.iter().map(|(_, p)| p.clone()).collect();
    let all = measure(&mut c, &warm, &paths, Expect::Json).await;
    let (mut address_heavy, mut address_light) = (Timings::new(), Timings::new());
    for (i, (busy, _)) in order.iter().enumerate() {
        let t = if *busy {
            &mut address_heavy
        } else {
            &mut address_light
        };
        t.ms.push(all.ms[i]);
        t.bytes.push(all.bytes[i]);
    }

    let n = 50;
    let svg_path = format!("/v1/worldmap?{WINDOW}");
    let svg = measure(
        &mut c,
        &repeat(&svg_path, 10),
        &repeat(&svg_path, n),
        Expect::Svg,
    )
    .await;
    let png_path = format!("/v1/worldmap?{WINDOW}&format=png");
    let png = measure(
        &mut c,
        &repeat(&png_path, 10),
        &repeat(&png_path, n),
        Expect::Png,
    )
    .await;
    let mut json = async |path: String| {
        measure(&mut c, &repeat(&path, 10), &repeat(&path, n), Expect::Json).await
    };
    let top_addresses = json(format!("/v1/analytics/ipaddresses?{WINDOW}")).await;
    let credentials = json(format!("/v1/analytics/credentials?{WINDOW}")).await;
    let summary = json(format!("/v1/analytics/summary?{WINDOW}")).await;
    Results {
        ports,
        address_heavy,
        address_light,
        address_all: all,
        svg,
        png,
        top_addresses,
        credentials,
        summary,
    }
}

/// Generates (or reuses) the store, serves it and prints rows for docs/BENCHMARKS.md.
pub fn run() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let temp = tempfile::tempdir().expect("temporary directory");
    let path: PathBuf = std::env::var_os("RECCE7_BENCH_DB")
        .map(PathBuf::from)
        .unwrap_or_else(|| temp.path().join("central.sqlite"));
    let generated = if path.exists() {
        println!("reusing the store {}", path.display());
        None
    } else {
        let g = generate(&path);
        assert_eq!(g.sessions * 2 + g.rows, EVENTS, "events generated");
        Some(g)
    };
    let file_size = std::fs::metadata(&path).expect("the store").len();
    let since = store::event::format_rfc3339(OffsetDateTime::now_utc() - time::Duration::days(7));
    let (c, heavy, light) = {
        let conn = read_only(&path);
        let c = contents(&conn, &since);
        let (heavy, light) = pick_addresses(&conn, &since);
        (c, heavy, light)
    };
    let events = c.sessions * 2 + c.rows;
    assert_eq!(c.sessions as usize, SESSIONS, "sessions in the store");
    assert_eq!(events as usize, EVENTS, "events in the store");

    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("the bound address");
    let settings = ReportdSettings::local(path.clone(), addr);
    let stop = CancellationToken::new();
    let server = rt.spawn(::reportd::api::serve_on(
        listener,
        settings,
        None,
        stop.clone(),
    ));
    let r = rt.block_on(requests(addr, &heavy, &light));
    stop.cancel();
    rt.block_on(server)
        .expect("the server task")
        .expect("reportd served and stopped");
    let (map_query, map_svg, map_png, places) = map_parts(&path, &since, 20);

    println!(
        "store: {} events = {} sessions × 2 (start, end) + {} instance rows, 20 ports (10 telnet, 10 HTTP, one table each), {} addresses ({} ipInfo rows); newest session {}",
        thousands(events),
        thousands(c.sessions),
        thousands(c.rows),
        thousands(c.addresses),
        thousands(c.ip_info),
        c.newest
    );
    println!(
        "window days=7: {} sessions ({:.1}%); the 50 busiest addresses have {} to {} sessions in it",
        thousands(c.in_window),
        100.0 * c.in_window as f64 / c.sessions as f64,
        thousands(heavy.last().map_or(0, |h| h.1) as u64),
        thousands(heavy.first().map_or(0, |h| h.1) as u64)
    );
    println!("p99 is by nearest rank: with n = 50 it is the maximum.");
    println!();
    println!("| what | result | goal |");
    println!("|---|---|---|");
    match &generated {
        Some(g) => println!(
            "| generate the store (store::open, then {} transactions) | {:.1} s ({} events/s), file {} | |",
            SESSIONS.div_ceil(SESSIONS_PER_TX) + 1,
            g.seconds,
            thousands((EVENTS as f64 / g.seconds) as u64),
            size(file_size)
        ),
        None => println!(
            "| the store (reused, RECCE7_BENCH_DB) | file {} | |",
            size(file_size)
        ),
    }
    println!(
        "{}",
        r.ports
            .row(&format!("`/v1/analytics/ports?{WINDOW}`"), Some(50.0))
    );
    println!(
        "{}",
        r.address_all.row(
            &format!(
                "`/v1/analytics/ipaddresses/{{ip}}?{WINDOW}`, 50 busiest + 150 random addresses"
            ),
            Some(50.0)
        )
    );
    println!(
        "{}",
        r.address_heavy
            .row("… of which the 50 busiest addresses", Some(50.0))
    );
    println!(
        "{}",
        r.address_light
            .row("… of which the 150 random addresses", Some(50.0))
    );
    println!(
        "{}",
        r.svg
            .row(&format!("`/v1/worldmap?{WINDOW}` (SVG)"), Some(200.0))
    );
    println!(
        "{}",
        r.png
            .row(&format!("`/v1/worldmap?{WINDOW}&format=png`"), Some(200.0))
    );
    println!(
        "| map parts, in-process: `query::places` ({} places) | {} | |",
        thousands(places as u64),
        map_query.summary()
    );
    println!(
        "| map parts, in-process: drawing the SVG; the PNG (1,024 px wide) | SVG {}; PNG {} | |",
        map_svg.summary(),
        map_png.summary()
    );
    println!(
        "{}",
        r.top_addresses.row(
            &format!("`/v1/analytics/ipaddresses?{WINDOW}` (top 100)"),
            None
        )
    );
    println!(
        "{}",
        r.credentials
            .row(&format!("`/v1/analytics/credentials?{WINDOW}`"), None)
    );
    println!(
        "{}",
        r.summary
            .row(&format!("`/v1/analytics/summary?{WINDOW}`"), None)
    );
}
