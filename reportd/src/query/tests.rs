use serde_json::Map;

use super::*;

/// A store with one session whose rows interleave an instance table and raw input, with a
/// tie in time between the two.
fn store_with_rows() -> (tempfile::TempDir, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    let (conn, _) = store::open(&path, &[]).unwrap();
    conn.execute_batch(
        "CREATE TABLE web (ID INTEGER PRIMARY KEY, session TEXT, eventDateTime TEXT,
               peerAddress TEXT, localAddress TEXT, body TEXT);
             INSERT INTO web (session, eventDateTime, peerAddress, localAddress, body) VALUES
               ('s', '2026-01-01T00:00:03.000000Z', 'a', 'b', 'w3'),
               ('s', '2026-01-01T00:00:01.000000Z', 'a', 'b', 'w1'),
               ('s', '2026-01-01T00:00:02.000000Z', 'a', 'b', 'w2'),
               ('other', '2026-01-01T00:00:02.000000Z', 'a', 'b', 'not this session');
             INSERT INTO rawInput (session, eventDateTime, peerAddress, localAddress, plugin,
               reason, length, bytes) VALUES
               ('s', '2026-01-01T00:00:02.000000Z', 'a', 'b', 'web', 'junk', 2, 'r2'),
               ('s', '2026-01-01T00:00:00.000000Z', 'a', 'b', 'web', 'junk', 2, 'r0');",
    )
    .unwrap();
    (dir, conn)
}

fn labels(json: &[u8]) -> Vec<String> {
    let rows: Vec<Map<String, Value>> = serde_json::from_slice(json).unwrap();
    rows.iter()
        .map(|r| {
            r.get("body")
                .or(r.get("bytes"))
                .and_then(Value::as_str)
                .unwrap()
                .to_owned()
        })
        .collect()
}

#[test]
fn a_sessions_rows_page_in_time_order_across_both_tables() {
    let (_dir, conn) = store_with_rows();
    let tables = instance_tables(&conn).unwrap();
    assert_eq!(item_count(&conn, &tables, "s", Some("web")).unwrap(), 5);
    let whole =
        session_items_page(&conn, &tables, "s", Some("web"), 100, None, 1 << 20, 1024).unwrap();
    let order = ["r0", "w1", "w2", "r2", "w3"];
    assert_eq!(
        labels(&whole.json),
        order,
        "the instance row first at a tie"
    );
    assert_eq!((whole.next_cursor, whole.truncated), (None, false));
    // One, then two rows a page: the same rows, once each.
    for limit in [1, 2] {
        let mut seen = Vec::new();
        let mut cursor = None;
        loop {
            let page = session_items_page(
                &conn,
                &tables,
                "s",
                Some("web"),
                limit,
                cursor.as_ref(),
                1 << 20,
                1024,
            )
            .unwrap();
            assert!(page.count <= limit);
            seen.extend(labels(&page.json));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen, order, "limit {limit}");
    }
    // A table that is not an instance table is never read.
    let raw_only = session_items_page(
        &conn,
        &tables,
        "s",
        Some("sessions"),
        100,
        None,
        1 << 20,
        1024,
    )
    .unwrap();
    assert_eq!(labels(&raw_only.json), ["r0", "r2"]);
}

#[test]
fn the_budget_ends_a_page_and_cuts_long_values() {
    let (_dir, conn) = store_with_rows();
    conn.execute(
        "UPDATE web SET body = ?1 WHERE body = 'w2'",
        [format!("w2{}", "x".repeat(5000))],
    )
    .unwrap();
    let tables = instance_tables(&conn).unwrap();
    // Values cut at 1 KiB; room for about two rows.
    let page = session_items_page(&conn, &tables, "s", Some("web"), 100, None, 1500, 1024).unwrap();
    assert!(page.truncated);
    assert!(page.json.len() <= 1500, "{}", page.json.len());
    let got = labels(&page.json);
    assert_eq!(got[..2], ["r0", "w1"]);
    let rest = session_items_page(
        &conn,
        &tables,
        "s",
        Some("web"),
        100,
        page.next_cursor.as_ref(),
        1 << 20,
        1024,
    )
    .unwrap();
    let rest = labels(&rest.json);
    assert!(rest[0].starts_with("w2xxx") && rest[0].ends_with("…[cut 3978 bytes]"));
    assert_eq!(rest[0].len(), 1024 + "…[cut 3978 bytes]".len());
    assert_eq!(rest[1..], ["r2", "w3"]);
}
