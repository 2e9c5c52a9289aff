//! The outbox API's tests: the bound, the order, marking sent, resending and pruning.

use std::net::{IpAddr, Ipv4Addr};

use super::*;
use crate::event::{EventType, new_id, now_rfc3339};

fn store() -> (tempfile::TempDir, std::path::PathBuf, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.sqlite");
    let (conn, _) = crate::writer::open(&path, &[]).unwrap();
    (dir, path, conn)
}

fn event(n: u32) -> Event {
    let mut data = crate::Row::new();
    data.insert("n".into(), n.into());
    Event {
        schema: crate::SCHEMA_VERSION,
        id: new_id(),
        sensor: "test".into(),
        session: format!("s{n}"),
        time: now_rfc3339(),
        kind: EventType::HttpRequest,
        plugin: "web".into(),
        protocol: "http".into(),
        src_ip: IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)),
        src_port: 40000,
        dst_ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
        dst_port: 8080,
        data,
    }
}

/// Enqueues `events` in one committed transaction, as the recorder does.
fn enqueue_committed(conn: &Connection, state: &OutboxState, max: u64, events: &[Event]) -> u64 {
    conn.execute_batch("BEGIN").unwrap();
    let mut pending = 0;
    for e in events {
        pending += u64::from(enqueue(conn, state, max, pending, e).unwrap());
    }
    state.before_commit(pending);
    conn.execute_batch("COMMIT").unwrap();
    state.committed_events(pending);
    pending
}

#[test]
fn enqueue_honours_the_bound_on_unsent_events_and_counts_the_rest() {
    let (_dir, _path, conn) = store();
    let state = OutboxState::default();
    let events: Vec<Event> = (0..5).map(event).collect();
    assert_eq!(enqueue_committed(&conn, &state, 3, &events), 3);
    assert_eq!((state.unsent(), state.queued(), state.full()), (3, 3, 2));
    assert_eq!(count_unsent(&conn).unwrap(), 3);
    // Still full in the next transaction.
    assert_eq!(enqueue_committed(&conn, &state, 3, &events[..1]), 0);
    assert_eq!(state.full(), 3);
    // A failed commit takes its events back out of the count.
    state.before_commit(2);
    state.commit_failed(2);
    assert_eq!(state.unsent(), 3);
}

#[tokio::test]
async fn a_commit_that_queued_events_wakes_the_publisher() {
    let (_dir, _path, conn) = store();
    let state = OutboxState::default();
    enqueue_committed(&conn, &state, 10, &[event(1)]);
    tokio::time::timeout(Duration::from_secs(1), state.committed())
        .await
        .expect("woken");
}

#[test]
fn batches_come_in_order_and_marking_them_sent_lowers_the_count() {
    let (_dir, path, conn) = store();
    let state = Arc::new(OutboxState::default());
    let events: Vec<Event> = (0..5).map(event).collect();
    enqueue_committed(&conn, &state, 100, &events);
    let outbox = Outbox::open(&path, state.clone()).unwrap();
    assert_eq!(outbox.last_sent_micros().unwrap(), None);
    let batch = outbox.next_unsent(3).unwrap();
    let ids: Vec<String> = batch
        .iter()
        .map(|q| serde_json::from_str::<Event>(&q.payload).unwrap().id)
        .collect();
    let want: Vec<String> = events[..3].iter().map(|e| e.id.clone()).collect();
    assert_eq!(ids, want);
    assert!(batch.windows(2).all(|w| w[0].seq < w[1].seq));
    let marked = outbox.mark_sent(batch[0].seq, batch[2].seq, 1_000).unwrap();
    assert_eq!(marked, 3);
    assert_eq!(outbox.unsent(), 2);
    assert_eq!(outbox.last_sent_micros().unwrap(), Some(1_000));
    // Marking again marks nothing and counts nothing.
    assert_eq!(
        outbox.mark_sent(batch[0].seq, batch[2].seq, 2_000).unwrap(),
        0
    );
    assert_eq!(outbox.unsent(), 2);
    let rest = outbox.next_unsent(10).unwrap();
    assert_eq!(rest.len(), 2);
    assert!(rest[0].seq > batch[2].seq);
}

#[test]
fn resend_since_marks_recent_rows_unsent_and_prune_deletes_only_old_sent_rows() {
    let (_dir, path, conn) = store();
    let state = Arc::new(OutboxState::default());
    let events: Vec<Event> = (0..4).map(event).collect();
    enqueue_committed(&conn, &state, 100, &events);
    let outbox = Outbox::open(&path, state.clone()).unwrap();
    let batch = outbox.next_unsent(4).unwrap();
    outbox.mark_sent(batch[0].seq, batch[0].seq, 100).unwrap();
    outbox.mark_sent(batch[1].seq, batch[1].seq, 200).unwrap();
    outbox.mark_sent(batch[2].seq, batch[2].seq, 300).unwrap();
    assert_eq!(outbox.unsent(), 1);
    // Rows sent at or after 200 go out again.
    assert_eq!(outbox.resend_since(200).unwrap(), 2);
    assert_eq!(outbox.unsent(), 3);
    assert_eq!(count_unsent(&conn).unwrap(), 3);
    let again: Vec<i64> = outbox
        .next_unsent(10)
        .unwrap()
        .iter()
        .map(|q| q.seq)
        .collect();
    assert_eq!(again, vec![batch[1].seq, batch[2].seq, batch[3].seq]);
    // Pruning keeps unsent rows and rows sent since the cut.
    assert_eq!(outbox.prune_sent_before(1_000_000).unwrap(), 1);
    assert_eq!(outbox.prune_sent_before(1_000_000).unwrap(), 0);
    let left: i64 = conn
        .query_row("SELECT count(*) FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 3);
}

#[test]
fn retention_deletes_the_oldest_sent_rows_first_within_its_budget() {
    let (_dir, path, conn) = store();
    let state = Arc::new(OutboxState::default());
    let events: Vec<Event> = (0..4).map(event).collect();
    enqueue_committed(&conn, &state, 100, &events);
    let outbox = Outbox::open(&path, state).unwrap();
    let batch = outbox.next_unsent(4).unwrap();
    outbox.mark_sent(batch[2].seq, batch[2].seq, 100).unwrap();
    outbox.mark_sent(batch[0].seq, batch[0].seq, 200).unwrap();
    outbox.mark_sent(batch[1].seq, batch[1].seq, 300).unwrap();
    assert_eq!(delete_sent_oldest(&conn, 250, 1).unwrap(), 1);
    let left: Vec<i64> = conn
        .prepare("SELECT seq FROM outbox ORDER BY seq")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(left, vec![batch[0].seq, batch[1].seq, batch[3].seq]);
    assert_eq!(delete_sent_oldest(&conn, 250, 10).unwrap(), 1);
    assert_eq!(count_unsent(&conn).unwrap(), 1);
}
