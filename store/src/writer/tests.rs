//! The recorder's tests.
use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use super::*;
use crate::event::{new_id, now_rfc3339};
use crate::schema::{Column, ColumnType};

fn instances() -> Vec<InstanceTable> {
    vec![InstanceTable {
        plugin: "web".into(),
        table: TableSpec {
            name: "http".into(),
            columns: vec![
                Column::new("command", ColumnType::Text),
                Column::new("path", ColumnType::Text),
                Column::new("status", ColumnType::Integer),
            ],
        },
    }]
}

fn event(session: &str, kind: EventType, data: serde_json::Value) -> Event {
    Event {
        schema: crate::SCHEMA_VERSION,
        id: new_id(),
        sensor: "test".into(),
        session: session.into(),
        time: now_rfc3339(),
        kind,
        plugin: "web".into(),
        protocol: "http".into(),
        src_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        src_port: 40000,
        dst_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        dst_port: 8080,
        data: data.as_object().cloned().unwrap_or_default(),
    }
}

#[tokio::test]
async fn records_sessions_rows_and_raw_input_then_drains_on_finish() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/recce7.sqlite");
    let (conn, migrations) = open(&path, &instances()).unwrap();
    assert_eq!(migrations, vec![("http".to_string(), Migration::Created)]);
    let recorder = Recorder::start(conn, &instances(), 16, 4).unwrap();
    let h = recorder.handle();
    let n = 100;
    for i in 0..n {
        let s = new_id();
        h.record(event(&s, EventType::SessionStart, json!({"table": "http"})))
            .await
            .unwrap();
        h.record(event(
            &s,
            EventType::HttpRequest,
            json!({"command": "GET", "path": format!("/{i}"), "status": 200, "bogus": 1}),
        ))
        .await
        .unwrap();
        h.record(event(
            &s,
            EventType::InputRaw,
            json!({"reason": "not http", "length": 3, "bytes": "\\x16\\x03\\x01"}),
        ))
        .await
        .unwrap();
        h.record(event(
            &s,
            EventType::SessionEnd,
            json!({"bytes_in": 10, "bytes_out": 20, "reason": "peer closed"}),
        ))
        .await
        .unwrap();
    }
    h.flush().await.unwrap();
    let stats = recorder.finish().await;
    assert_eq!(stats.events, 4 * n);
    assert_eq!(stats.failed, 0);
    assert_eq!(stats.unknown_columns, n);
    assert!(
        h.record(event("x", EventType::SessionStart, json!({})))
            .await
            .is_err()
    );

    let db = Connection::open(&path).unwrap();
    let count = |sql: &str| db.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(
        count(
            "SELECT count(*) FROM sessions WHERE endTime IS NOT NULL AND closeReason = 'peer closed' AND bytesIn = 10"
        ),
        n as i64
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM http WHERE command = 'GET' AND status = 200 AND eventType = 'http.request'"
        ),
        n as i64
    );
    assert_eq!(
        count("SELECT count(*) FROM rawInput WHERE length = 3"),
        n as i64
    );
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[tokio::test]
async fn hostile_values_are_bound_not_spliced() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("x.sqlite");
    let (conn, _) = open(&path, &instances()).unwrap();
    let recorder = Recorder::start(conn, &instances(), 4, 4).unwrap();
    let h = recorder.handle();
    let nasty = "'); DROP TABLE sessions; --";
    h.record(event("s1", EventType::SessionStart, json!({})))
        .await
        .unwrap();
    h.record(event("s1", EventType::HttpRequest, json!({"path": nasty})))
        .await
        .unwrap();
    recorder.finish().await;
    let db = Connection::open(&path).unwrap();
    let path_back: String = db
        .query_row("SELECT path FROM http", [], |r| r.get(0))
        .unwrap();
    assert_eq!(path_back, nasty);
    let sessions: i64 = db
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 1);
}

#[tokio::test]
async fn a_full_disk_is_counted_never_silent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.sqlite");
    let (conn, _) = open(&path, &instances()).unwrap();
    // A database that cannot grow: what a full disk looks like to SQLite.
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 2))
        .unwrap();
    let recorder = Recorder::start(conn, &instances(), 64, 8).unwrap();
    let h = recorder.handle();
    let total = 200u64;
    for i in 0..total {
        let s = format!("s{i}");
        h.record(event(
            &s,
            EventType::HttpRequest,
            json!({"path": "x".repeat(4000)}),
        ))
        .await
        .unwrap();
    }
    let stats = recorder.finish().await;
    assert!(stats.failed > 0, "{stats:?}");
    assert_eq!(
        stats.events + stats.failed,
        total,
        "every event is either committed or counted as failed"
    );
    assert_eq!(
        stats.disk_full, stats.failed,
        "each failure is counted as a full disk"
    );
    let db = Connection::open(&path).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM http", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows as u64, stats.events);
}

#[tokio::test]
async fn outbox_gets_every_event_in_the_same_transaction_until_full() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite");
    let (conn, _) = open(&path, &instances()).unwrap();
    let recorder = Recorder::start_with_outbox(conn, &instances(), 16, 4, Some(5)).unwrap();
    let h = recorder.handle();
    let mut sent = Vec::new();
    for i in 0..8 {
        let e = event(
            "s1",
            EventType::HttpRequest,
            json!({"path": format!("/{i}")}),
        );
        sent.push(e.clone());
        h.record(e).await.unwrap();
    }
    let stats = recorder.finish().await;
    assert_eq!(
        (
            stats.events,
            stats.outboxed,
            stats.outbox_full,
            stats.outbox_unsent
        ),
        (8, 5, 3, 5)
    );
    let db = Connection::open(&path).unwrap();
    let rows: i64 = db
        .query_row("SELECT count(*) FROM http", [], |r| r.get(0))
        .unwrap();
    assert_eq!(rows, 8, "local recording goes on when the outbox is full");
    let payloads: Vec<String> = db
        .prepare("SELECT payload FROM outbox ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let back: Vec<Event> = payloads
        .iter()
        .map(|p| serde_json::from_str(p).unwrap())
        .collect();
    assert_eq!(back, sent[..5]);
    // A restart counts what is already waiting.
    let (conn, _) = open(&path, &instances()).unwrap();
    let again = Recorder::start_with_outbox(conn, &instances(), 16, 4, Some(5)).unwrap();
    assert_eq!(again.stats().outbox.unsent(), 5);
    again.finish().await;
}

#[tokio::test]
async fn a_full_disk_leaves_the_outbox_count_equal_to_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full-outbox.sqlite");
    let (conn, _) = open(&path, &instances()).unwrap();
    let pages: i64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    conn.execute_batch(&format!("PRAGMA max_page_count = {}", pages + 4))
        .unwrap();
    let recorder = Recorder::start_with_outbox(conn, &instances(), 64, 8, Some(10_000)).unwrap();
    let h = recorder.handle();
    for i in 0..200 {
        h.record(event(
            &format!("s{i}"),
            EventType::HttpRequest,
            json!({"path": "x".repeat(2000)}),
        ))
        .await
        .unwrap();
    }
    let stats = recorder.finish().await;
    assert!(stats.disk_full > 0, "{stats:?}");
    let db = Connection::open(&path).unwrap();
    let (rows, unsent): (i64, i64) = db
        .query_row(
            "SELECT count(*), count(*) FILTER (WHERE sentMicros IS NULL) FROM outbox",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (stats.outboxed, stats.outbox_unsent),
        (rows as u64, unsent as u64),
        "events rolled back by a full disk are not counted as queued: {stats:?}"
    );
}

/// A reloaded configuration: a new instance gets its table and its rows, a changed one its
/// new column, `storeMeta` lists the new set, and a removed instance's live session still
/// records where it started.
#[tokio::test]
async fn a_reconfigured_recorder_routes_new_instances_and_keeps_removed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("r.sqlite");
    let (conn, _) = open(&path, &instances()).unwrap();
    let recorder = Recorder::start(conn, &instances(), 16, 4).unwrap();
    let h = recorder.handle();
    let old = new_id();
    h.record(event(
        &old,
        EventType::SessionStart,
        json!({"table": "http"}),
    ))
    .await
    .unwrap();
    let ftp = InstanceTable {
        plugin: "ftp".into(),
        table: TableSpec {
            name: "ftp".into(),
            columns: vec![Column::new("username", ColumnType::Text)],
        },
    };
    let meta = vec![crate::meta::InstanceMeta {
        kind: "rules".into(),
        name: "ftp".into(),
        port: 2121,
        table: "ftp".into(),
    }];
    let migrations = h.reconfigure(vec![ftp], meta.clone()).await.unwrap();
    assert_eq!(migrations, vec![("ftp".to_string(), Migration::Created)]);
    let s = new_id();
    let mut start = event(&s, EventType::SessionStart, json!({"table": "ftp"}));
    start.plugin = "ftp".into();
    h.record(start).await.unwrap();
    let mut input = event(&s, EventType::ServiceInput, json!({"username": "root"}));
    input.plugin = "ftp".into();
    h.record(input).await.unwrap();
    // The removed instance's session goes on recording into its table.
    h.record(event(
        &old,
        EventType::HttpRequest,
        json!({"command": "GET", "path": "/late", "status": 200}),
    ))
    .await
    .unwrap();
    // A table that cannot exist refuses the whole reconfiguration.
    let bad = InstanceTable {
        plugin: "x".into(),
        table: TableSpec {
            name: "sessions".into(),
            columns: vec![],
        },
    };
    assert!(h.reconfigure(vec![bad], Vec::new()).await.is_err());
    h.flush().await.unwrap();
    recorder.finish().await;
    let conn = Connection::open(&path).unwrap();
    let user: String = conn
        .query_row("SELECT username FROM ftp", [], |r| r.get(0))
        .unwrap();
    assert_eq!(user, "root");
    let late: i64 = conn
        .query_row("SELECT count(*) FROM http WHERE path = '/late'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(late, 1);
    assert_eq!(crate::meta::read_instances(&conn).unwrap(), Some(meta));
}
