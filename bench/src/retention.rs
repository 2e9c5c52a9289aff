//! Retention pruning speed: a generated store of 10,000 ended sessions (20 HTTP rows each, with
//! a 400-byte body, about 100 MB) is pruned by size to a quarter of itself with the recorder's
//! own steps (500 rows per transaction, oldest sessions first), then the freed pages are handed
//! back with incremental vacuum and the WAL is truncated.
//!
//! ```text
//! cargo run --release -p bench -- retention
//! ```
//!
//! Reported: rows deleted per second, how long one transaction holds the write lock (what the
//! recorder may wait for: median and maximum), the vacuum's time, and the file before and after.

use std::time::{Duration, Instant};

use rusqlite::params;
use store::retention::{self, DEFAULT_PRUNE_BATCH_ROWS, Prune, VACUUM_STEP_PAGES};
use store::{Column, ColumnType, InstanceTable, TableSpec};

const SESSIONS: usize = 10_000;
const ROWS_PER_SESSION: usize = 20;

fn file_mb(path: &std::path::Path) -> f64 {
    let len = |p: std::path::PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    (len(path.to_path_buf()) + len(wal.into())) as f64 / 1_048_576.0
}

/// Runs the benchmark and prints a Markdown table row set.
pub fn run() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("retention.sqlite");
    let instances = [InstanceTable {
        plugin: "http".into(),
        table: TableSpec {
            name: "http".into(),
            columns: vec![
                Column::new("path", ColumnType::Text),
                Column::new("body", ColumnType::Text),
            ],
        },
    }];
    let (mut conn, _) = store::open(&path, &instances).expect("open the store");
    let started = Instant::now();
    let body = "x".repeat(400);
    let tx = conn.transaction().expect("transaction");
    for s in 0..SESSIONS {
        let session = format!("{s:08}");
        let start = format!("2026-01-01T00:00:00.{s:06}Z");
        tx.execute(
            "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress,
             peerPort, localAddress, localPort, startTime, endTime, closeReason)
             VALUES (?1, 'bench', 'http', 'http', 'http', '203.0.113.7', 40000, '10.0.0.1', 80,
             ?2, ?2, 'peer closed')",
            params![session, start],
        )
        .expect("session");
        for r in 0..ROWS_PER_SESSION {
            tx.execute(
                "INSERT INTO http (session, eventDateTime, peerAddress, localAddress, eventType,
                 path, body) VALUES (?1, ?2, '203.0.113.7', '10.0.0.1', 'http.request', ?3, ?4)",
                params![session, start, format!("/{r}"), body],
            )
            .expect("row");
        }
    }
    tx.commit().expect("commit");
    retention::checkpoint_truncate(&conn).expect("checkpoint");
    let generated = started.elapsed();
    let before = retention::store_size(&conn).expect("size");
    let before_mb = file_mb(&path);
    let target = before.used_bytes / 4;
    let tables = retention::session_tables(&conn).expect("tables");
    let mut steps: Vec<Duration> = Vec::new();
    let mut rows = 0u64;
    let mut sessions = 0u64;
    let started = Instant::now();
    while retention::store_size(&conn).expect("size").used_bytes > target {
        let t = Instant::now();
        let step = retention::prune_step(
            &conn,
            &tables,
            &Prune::size(Duration::ZERO, target),
            DEFAULT_PRUNE_BATCH_ROWS,
        )
        .expect("prune");
        steps.push(t.elapsed());
        rows += step.rows;
        sessions += step.sessions;
        if step.rows == 0 {
            break;
        }
    }
    let pruning = started.elapsed();
    let started = Instant::now();
    while retention::vacuum_step(&conn, VACUUM_STEP_PAGES).expect("vacuum") > 0 {}
    retention::checkpoint_truncate(&conn).expect("checkpoint");
    let vacuum = started.elapsed();
    let after_mb = file_mb(&path);
    steps.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "| store | {SESSIONS} sessions × {ROWS_PER_SESSION} rows (400-byte body), {before_mb:.1} MB, generated in {:.1} s |",
        generated.as_secs_f64()
    );
    println!(
        "| size pruning to a quarter | {rows} rows ({sessions} sessions) in {:.2} s: {:.0} rows/s, {} transactions of ≤ {DEFAULT_PRUNE_BATCH_ROWS} rows |",
        pruning.as_secs_f64(),
        rows as f64 / pruning.as_secs_f64(),
        steps.len()
    );
    println!(
        "| write lock per transaction | median {:.1} ms, max {:.1} ms |",
        ms(steps[steps.len() / 2]),
        ms(*steps.last().expect("at least one step"))
    );
    println!(
        "| incremental vacuum + truncating checkpoint | {:.2} s; file {before_mb:.1} MB → {after_mb:.1} MB |",
        vacuum.as_secs_f64()
    );
}
