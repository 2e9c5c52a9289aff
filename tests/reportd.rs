//! The report service (issue 7) as a user reaches it: `recce7 reportd` over a real sensor's
//! database, asked with real curl; the dashboard in headless Chromium; a real Prometheus
//! scraping a running sensor and reportd for every Grafana panel's query; the dashboards
//! type-checked against @grafana/schema with tsc.

mod sensor_common;

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use serde_json::Value;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports, telnet_any_login};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A finished sensor run: its directory (with `sensor.sqlite`), its ports, the session ids.
struct Recorded {
    dir: tempfile::TempDir,
    telnet_port: u16,
    http_port: u16,
    /// An enabled instance nobody attacked.
    quiet_port: u16,
}

impl Recorded {
    fn db(&self) -> PathBuf {
        self.dir.path().join("sensor.sqlite")
    }
}

fn http(port: u16, request: &str) {
    let mut s = connect(port);
    send(&mut s, request.as_bytes());
    read_to_close(&mut s);
}

/// A sensor with a telnet and an HTTP instance, attacked a little, then stopped.
fn record_some_attacks() -> Recorded {
    let [telnet_port, http_port, quiet_port] = ports();
    let body = format!(
        "{}{}{}",
        telnet_any_login("telnet", telnet_port, "telnet"),
        plugin("web", "http", http_port, "http"),
        plugin("quiet", "http", quiet_port, "http_quiet")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    telnet_login(
        telnet_port,
        "root",
        "xc3511",
        &["uname -a", "cat /proc/cpuinfo"],
    );
    telnet_login(telnet_port, "admin", "admin", &["uname -a"]);
    http(
        http_port,
        "POST /login.cgi HTTP/1.1\r\nHost: router\r\nContent-Length: 29\r\nConnection: close\r\n\r\nusername=admin&password=admin",
    );
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
    Recorded {
        dir,
        telnet_port,
        http_port,
        quiet_port,
    }
}

fn start_reportd(dir: &Path, database: &Path, extra: &str) -> (RoleProcess, u16) {
    let [port] = ports();
    let config = format!(
        "[reportd]\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\n{extra}",
        database.display()
    );
    (RoleProcess::start(&bin(), "reportd", dir, &config), port)
}

fn ok_json(port: u16, path: &str) -> Value {
    let a = curl(port, path, &[]);
    assert_eq!(
        a.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&a.body)
    );
    assert!(
        a.header("content-type")
            .unwrap_or_default()
            .starts_with("application/json"),
        "{path}: {}",
        a.headers
    );
    a.json()
}

fn is_rfc3339(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
            && s.ends_with('Z')
    })
}

#[test]
fn recce7_api_shapes_over_a_real_sensor_database() {
    let rec = record_some_attacks();
    let dir = tempfile::tempdir().unwrap();
    let (reportd, port) = start_reportd(dir.path(), &rec.db(), "");
    let base = format!("http://127.0.0.1:{port}");

    let links = ok_json(port, "/v1/analytics");
    let rels: BTreeSet<&str> = links["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    assert!(
        rels.contains("ports") && rels.contains("ipaddresses"),
        "{links}"
    );
    assert_eq!(
        links["links"][0]["href"],
        format!("{base}/v1/analytics/ports")
    );

    // Ports: every port, numbers as numbers, RECCE7's field names.
    let ports_list = ok_json(port, "/v1/analytics/ports");
    let list = ports_list.as_array().unwrap();
    assert_eq!(list.len(), 3, "every enabled port: {ports_list}");
    let quiet = list.iter().find(|p| p["port"] == rec.quiet_port).unwrap();
    assert_eq!(
        (
            quiet["total_attacks"].as_i64(),
            quiet["unique_ipaddresses"].as_i64()
        ),
        (Some(0), Some(0))
    );
    let telnet = list.iter().find(|p| p["port"] == rec.telnet_port).unwrap();
    assert_eq!(telnet["total_attacks"], 2);
    let web = list.iter().find(|p| p["port"] == rec.http_port).unwrap();
    assert_eq!(web["total_attacks"], 1);
    assert_eq!(telnet["unique_ipaddresses"], 1);
    assert_eq!(telnet["timespan"], "days=1");
    assert_eq!(
        telnet["rel_link"],
        format!("{base}/v1/analytics/ports/{}?days=1", rec.telnet_port)
    );
    let keys: BTreeSet<&str> = telnet
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        BTreeSet::from([
            "port",
            "rel_link",
            "timespan",
            "total_attacks",
            "unique_ipaddresses"
        ])
    );

    // One port's sessions as summaries (issue 12: lists no longer embed rows, they count them);
    // each session's rows from its detail.
    let detail = ok_json(
        port,
        &format!("/v1/analytics/ports/{}?hours=2", rec.telnet_port),
    );
    assert_eq!(detail["timespan"], "hours=2");
    assert_eq!(detail["port"], rec.telnet_port);
    assert_eq!(detail["truncated"], false);
    let items = detail["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    for s in items {
        assert!(
            is_rfc3339(&s["begin_time"]) && is_rfc3339(&s["end_time"]),
            "{s}"
        );
        assert!(s["duration"].as_f64().is_some_and(|d| d >= 0.0), "{s}");
        assert_eq!(s["peer_address"], "127.0.0.1");
        assert_eq!(s["local_address"], "127.0.0.1");
        assert!(s["session"].as_str().is_some_and(store::is_id));
        assert!(s.get("session_items").is_none(), "a summary: {s}");
    }
    let root = items
        .iter()
        .map(|s| {
            ok_json(
                port,
                &format!("/v1/sessions/{}", s["session"].as_str().unwrap()),
            )
        })
        .find(|s| {
            s["session_items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["password"] == "xc3511")
        })
        .expect("the root session");
    assert_eq!(
        root["item_count"].as_u64(),
        Some(root["session_items"].as_array().unwrap().len() as u64),
        "{root}"
    );
    let listed = items
        .iter()
        .find(|s| s["session"] == root["session"])
        .unwrap();
    assert_eq!(listed["item_count"], root["item_count"]);
    let inputs: Vec<&str> = root["session_items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["user_input"].as_str())
        .collect();
    assert_eq!(inputs, ["uname -a", "cat /proc/cpuinfo", "exit"]);
    let first = &root["session_items"][0];
    for key in [
        "ID",
        "session",
        "eventDateTime",
        "peerAddress",
        "localAddress",
    ] {
        assert!(first.get(key).is_some(), "RECCE7's row columns: {first}");
    }

    // An address, under RECCE7's three spellings; IPv4-mapped and IPv6 forms.
    let by_address = ok_json(port, "/v1/analytics/ipaddresses/127.0.0.1");
    assert_eq!(by_address["ipaddress"], "127.0.0.1");
    let ports_of = by_address["ports"].as_array().unwrap();
    assert_eq!(ports_of.len(), 3, "every port listed: {by_address}");
    let telnet_key = rec.telnet_port.to_string();
    let telnet_sessions = ports_of
        .iter()
        .find_map(|p| p.get(&telnet_key))
        .expect("the telnet port");
    assert_eq!(telnet_sessions.as_array().unwrap().len(), 2);
    for alias in [
        "/v1/ipaddresses/127.0.0.1",
        "/v1/ipaddress/127.0.0.1",
        "/v1/analytics/ipaddresses/::ffff:127.0.0.1",
    ] {
        assert_eq!(
            ok_json(port, alias)["ports"],
            by_address["ports"],
            "{alias}"
        );
    }
    let v6 = ok_json(port, "/v1/analytics/ipaddresses/2001:db8::7");
    assert_eq!(v6["ipaddress"], "2001:db8::7");
    assert!(
        v6["ports"].as_array().unwrap().iter().all(|p| p
            .as_object()
            .unwrap()
            .values()
            .all(|v| v.as_array().unwrap().is_empty())),
        "{v6}"
    );

    // What RECCE7 left for later: attackers, credentials, commands, sessions, sensors.
    let attackers = ok_json(port, "/v1/analytics/ipaddresses");
    assert_eq!(attackers["items"][0]["ipaddress"], "127.0.0.1");
    assert_eq!(attackers["items"][0]["total_attacks"], 3);
    let creds = ok_json(port, "/v1/analytics/credentials");
    let pairs: Vec<(String, i64)> = creds["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                format!(
                    "{}/{}",
                    c["username"].as_str().unwrap(),
                    c["password"].as_str().unwrap()
                ),
                c["count"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            ("admin/admin".to_string(), 2),
            ("root/xc3511".to_string(), 1)
        ]
    );
    let commands = ok_json(port, "/v1/analytics/commands");
    let counted: Vec<(&str, i64)> = commands["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["command"].as_str().unwrap(), c["count"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        counted,
        [("exit", 2), ("uname -a", 2), ("cat /proc/cpuinfo", 1)],
        "most typed first, then by text"
    );
    assert_eq!(ok_json(port, "/v1/sensors")["items"][0]["sensor"], "test");

    // Paging: one session per page, following the cursor (and the Link header) visits every
    // session exactly once.
    let mut seen = Vec::new();
    let mut path = "/v1/sessions?limit=1".to_string();
    loop {
        let a = curl(port, &path, &[]);
        assert_eq!(a.status, 200);
        let page = a.json();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 1);
        seen.extend(
            items
                .iter()
                .map(|s| s["session"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                let link = a.header("link").expect("a Link header with the next page");
                assert!(link.ends_with("rel=\"next\""), "{link}");
                assert!(link.contains("limit=1"), "{link}");
                path = format!("/v1/sessions?limit=1&cursor={}", urlencode(cursor));
            }
            None => break,
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        3,
        "no session twice"
    );

    // Drill-down, a page at a time: two rows a page visit the same rows in the same order.
    let mut paged: Vec<Value> = Vec::new();
    let mut path = format!("/v1/sessions/{}?limit=2", root["session"].as_str().unwrap());
    loop {
        let page = ok_json(port, &path);
        paged.extend(page["session_items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => {
                path = format!(
                    "/v1/sessions/{}?limit=2&cursor={}",
                    root["session"].as_str().unwrap(),
                    urlencode(c)
                )
            }
            None => break,
        }
    }
    assert_eq!(Value::Array(paged), root["session_items"]);

    // Errors: JSON bodies that name the problem.
    for (path, status, parameter) in [
        ("/v1/analytics/ports?days=0", 400, Some("days")),
        ("/v1/analytics/ports?days=1&hours=2", 400, Some("days")),
        ("/v1/analytics/ports?weeks=many", 400, Some("weeks")),
        ("/v1/analytics/ports/70000", 400, Some("port")),
        ("/v1/analytics/ports/0", 400, Some("port")),
        (
            "/v1/analytics/ipaddresses/300.1.1.1",
            400,
            Some("ipaddress"),
        ),
        ("/v1/analytics/ports?day=1", 400, Some("day")),
        ("/v1/sessions?cursor=bogus", 400, Some("cursor")),
        ("/v1/sessions?limit=0", 400, Some("limit")),
        ("/v1/worldmap?format=gif", 400, Some("format")),
        (
            "/v1/sessions/01a20a83-aa19-7048-b6f8-da76f3b8d472",
            404,
            None,
        ),
        ("/v1/no/such/thing", 404, None),
    ] {
        let a = curl(port, path, &[]);
        assert_eq!(a.status, status, "{path}");
        let body = a.json();
        assert_eq!(body["status"], status, "{path}: {body}");
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{path}: {body}"
        );
        assert_eq!(body["parameter"].as_str(), parameter, "{path}: {body}");
    }

    // The OpenAPI document lists every route.
    let openapi = ok_json(port, "/v1/openapi.json");
    let paths: BTreeSet<&str> = openapi["paths"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for route in [
        "/v1/analytics",
        "/v1/analytics/ports",
        "/v1/analytics/ports/{port}",
        "/v1/analytics/ipaddresses",
        "/v1/analytics/ipaddresses/{ip}",
        "/v1/ipaddresses/{ip}",
        "/v1/ipaddress/{ip}",
        "/v1/analytics/credentials",
        "/v1/analytics/commands",
        "/v1/analytics/summary",
        "/v1/sessions",
        "/v1/sessions/{id}",
        "/v1/sensors",
        "/v1/scans",
        "/v1/analytics/scans",
        "/v1/worldmap",
        "/v1/analytics/worldmap",
        "/v1/stream",
        "/v1/openapi.json",
        "/metrics",
    ] {
        assert!(
            paths.contains(route),
            "{route} missing from the OpenAPI document"
        );
    }

    // Metrics by route template, never by address.
    let metrics = curl(port, "/metrics", &[]);
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains(
            "recce7_reportd_requests_total{route=\"/v1/analytics/ipaddresses/{ip}\",status=\"200\"}"
        ),
        "{text}"
    );
    assert!(!text.contains("127.0.0.1"), "no address in a label: {text}");

    // The store is only read.
    let before = std::fs::metadata(rec.db()).unwrap().modified().unwrap();
    ok_json(port, "/v1/analytics/summary");
    assert_eq!(
        std::fs::metadata(rec.db()).unwrap().modified().unwrap(),
        before
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn live_stream_map_token_cors_and_database_errors() {
    let rec = record_some_attacks();
    // Places for the map: what geoloc would have written for two attackers (test data).
    {
        let conn = rusqlite::Connection::open(rec.db()).unwrap();
        conn.execute_batch(&format!(
            "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress, peerPort,
               localAddress, localPort, startTime) VALUES
               ('{}', 'test', 'telnet', 'telnet', 'telnet', '81.2.69.142', 4000, '10.0.0.1', 23, '{}'),
               ('{}', 'test', 'telnet', 'telnet', 'telnet', '2.125.160.216', 4001, '10.0.0.1', 23, '{}');
             INSERT INTO ipInfo (ipAddress, firstSeen, lastSeen, city, country, countryCode, latitude, longitude)
             VALUES ('81.2.69.142', '{now}', '{now}', 'London', 'United Kingdom', 'GB', 51.5142, -0.0931),
                    ('2.125.160.216', '{now}', '{now}', 'Boxford', 'United Kingdom', 'GB', 51.75, -1.25);",
            store::new_id(),
            store::now_rfc3339(),
            store::new_id(),
            store::now_rfc3339(),
            now = store::now_rfc3339(),
        ))
        .unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let token = "s3cret-token-0123456789";
    let (reportd, port) = start_reportd(
        dir.path(),
        &rec.db(),
        &format!("token = \"{token}\"\ncors_origins = [\"https://grafana.example.org\"]\n"),
    );
    let auth = format!("Authorization: Bearer {token}");

    // The token: 401 without it or with a wrong one, the dashboard's static files stay open.
    let denied = curl(port, "/v1/analytics/ports", &[]);
    assert_eq!(denied.status, 401);
    assert_eq!(denied.header("www-authenticate").as_deref(), Some("Bearer"));
    assert!(
        denied.json()["error"]
            .as_str()
            .unwrap()
            .contains("bearer token")
    );
    assert_eq!(
        curl(
            port,
            "/v1/analytics/ports",
            &["Authorization: Bearer wrong-token-000000000"]
        )
        .status,
        401
    );
    assert_eq!(curl(port, "/metrics", &[]).status, 401);
    assert_eq!(curl(port, "/v1/analytics/ports", &[&auth]).status, 200);
    assert_eq!(
        curl(
            port,
            &format!("/v1/analytics/ports?access_token={token}"),
            &[]
        )
        .status,
        200
    );
    assert_eq!(curl(port, "/", &[]).status, 200);
    assert_eq!(curl(port, "/assets/app.js", &[]).status, 200);

    // CORS for the configured origin only.
    let cors = curl(
        port,
        "/v1/analytics/ports",
        &[&auth, "Origin: https://grafana.example.org"],
    );
    assert_eq!(
        cors.header("access-control-allow-origin").as_deref(),
        Some("https://grafana.example.org")
    );
    let other = curl(
        port,
        "/v1/analytics/ports",
        &[&auth, "Origin: https://evil.example"],
    );
    assert_eq!(other.header("access-control-allow-origin"), None);

    // The world map: SVG by default, PNG on request, a title line, one circle per place.
    let svg = curl(port, "/v1/worldmap?days=1", &[&auth]);
    assert_eq!(svg.status, 200);
    assert_eq!(svg.header("content-type").as_deref(), Some("image/svg+xml"));
    let text = String::from_utf8_lossy(&svg.body);
    assert!(
        text.starts_with("<svg") || text.starts_with("<?xml"),
        "{}",
        &text[..80.min(text.len())]
    );
    assert_eq!(text.matches("<circle").count(), 2, "London and Boxford");
    assert!(
        text.contains(">last 1 day: 3 unique addresses, 5 attacks</text>"),
        "title: {}",
        &text[text.len().saturating_sub(400)..]
    );
    let alias = curl(port, "/v1/analytics/worldmap?days=1", &[&auth]);
    assert_eq!(alias.body, svg.body);
    let png = curl(port, "/v1/worldmap?days=1&format=png&width=800", &[&auth]);
    assert_eq!(png.header("content-type").as_deref(), Some("image/png"));
    assert_eq!(&png.body[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(
        u32::from_be_bytes(png.body[16..20].try_into().unwrap()),
        800
    );

    // The live stream: a session recorded while a client listens arrives as an event.
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The service's own address as Host: any other name is refused (DNS rebinding).
    write!(
        stream,
        "GET /v1/stream?access_token={token} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .unwrap();
    let head = read_until(&mut stream, b"\r\n\r\n");
    assert!(
        String::from_utf8_lossy(&head).contains("text/event-stream"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let live = store::new_id();
    {
        let conn = rusqlite::Connection::open(rec.db()).unwrap();
        conn.execute(
            "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress, peerPort,
               localAddress, localPort, startTime) VALUES (?1, 'test', 'web', 'http', 'http', '192.0.2.9', 5, '10.0.0.1', 80, ?2)",
            [&live, &store::now_rfc3339()],
        )
        .unwrap();
    }
    let event = read_until(&mut stream, live.as_bytes());
    assert!(
        String::from_utf8_lossy(&event).contains("event: session"),
        "{}",
        String::from_utf8_lossy(&event)
    );
    drop(stream);

    // A database error is a 500 with a JSON body, not a dropped connection.
    {
        let conn = rusqlite::Connection::open(rec.db()).unwrap();
        conn.execute_batch("DROP TABLE ipInfo").unwrap();
    }
    let broken = curl(port, "/v1/analytics/ipaddresses", &[&auth]);
    assert_eq!(broken.status, 500);
    assert_eq!(
        broken.json()["error"],
        "database error (see the service's log)"
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert!(
        log.contains("no such table: ipInfo"),
        "the detail is logged: {log}"
    );
}

/// A package starts the sensor and reportd together, and compose starts reportd beside the
/// normalizer that creates the central store: reportd started first answers 503 until the
/// store exists, then serves it, without a restart.
#[test]
fn reportd_started_before_the_sensor_waits_for_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let sensor_dir = tempfile::tempdir().unwrap();
    // Where the sensor below creates its database.
    let db = sensor_dir.path().join("sensor.sqlite");
    let (reportd, port) = start_reportd(dir.path(), &db, "");
    let early = curl(port, "/v1/sessions", &[]);
    assert_eq!(
        early.status,
        503,
        "{}",
        String::from_utf8_lossy(&early.body)
    );
    assert_eq!(
        early.json()["error"],
        "the store does not exist yet: the sensor or the normalizer creates it when it starts"
    );
    let [telnet_port] = ports();
    let sensor = RoleProcess::sensor_in(
        &bin(),
        sensor_dir,
        &telnet_any_login("telnet", telnet_port, "telnet"),
    );
    assert_eq!(sensor.db(), db);
    telnet_login(telnet_port, "root", "xc3511", &["uname -a"]);
    let sessions = ok_json(port, "/v1/sessions");
    assert!(sessions["items"].is_array(), "{sessions}");
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert!(log.contains("the store does not exist yet"), "{log}");
    assert!(log.contains("the store exists now"), "{log}");
    drop(sensor);
}

#[test]
fn a_public_listener_without_a_token_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("reportd.toml");
    std::fs::write(
        &file,
        "[reportd]\nlisten = \"0.0.0.0:8880\"\ndatabase = \"x.sqlite\"\n",
    )
    .unwrap();
    for args in [vec!["check-config"], vec!["reportd", "--config"]] {
        let out = Command::new(bin()).args(&args).arg(&file).output().unwrap();
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("reportd.token: required when listening on 0.0.0.0:8880"),
            "{args:?}: {err}"
        );
    }
}

/// Chromium from Debian, with the hint to install it.
fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "chromium-headless-shell"] {
        for dir in ["/usr/bin", "/usr/lib/chromium"] {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "chromium not found: run ./scripts/test-all.sh (it installs it) or: apt-get install -y chromium"
    );
}

#[test]
fn the_dashboard_shows_a_recorded_session_in_headless_chromium() {
    let rec = record_some_attacks();
    let dir = tempfile::tempdir().unwrap();
    let (reportd, port) = start_reportd(dir.path(), &rec.db(), "");
    let conn = db(&rec.db());
    let newest: String = conn
        .query_row(
            "SELECT session FROM sessions ORDER BY startTime DESC LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    // `live=0`: no event stream, whose open request would keep Chromium's virtual time from
    // ever running out (the stream itself is tested above over a socket).
    let url = format!("http://127.0.0.1:{port}/?live=0");
    let run = |extra: &[String]| {
        let mut cmd = Command::new(chromium());
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            // No connections of its own: this machine's network is closed, and a test browser
            // has no business calling out.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--virtual-time-budget=10000",
            "--window-size=1280,1800",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(&url);
        testkit::run_with_timeout(cmd, Duration::from_secs(90))
    };
    let dom = run(&["--dump-dom".to_string()]);
    assert!(dom.status.success(), "{dom:?}");
    let html = String::from_utf8_lossy(&dom.stdout);
    assert!(
        html.contains(&newest),
        "the recent sessions table shows {newest}: {html}"
    );
    assert!(html.contains("xc3511"), "credentials are listed: {html}");
    assert!(html.contains("uname -a"), "commands are listed");
    assert!(
        html.contains("/v1/worldmap?days=1&amp;_="),
        "the map is requested: {html}"
    );
    let shot = testkit::workspace_root().join("target/dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let out = run(&[format!("--screenshot={}", shot.display())]);
    assert!(out.status.success(), "{out:?}");
    let png = std::fs::read(&shot).expect("the screenshot is saved");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    eprintln!("dashboard screenshot: {}", shot.display());
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

#[test]
fn prometheus_scrapes_sensor_and_reportd_and_every_grafana_panel_has_data() {
    let [telnet_port, metrics_port] = ports();
    let body = format!(
        "metrics_listen = \"127.0.0.1:{metrics_port}\"\n{}",
        telnet_any_login("telnet", telnet_port, "telnet")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    telnet_login(telnet_port, "root", "xc3511", &["uname -a"]);
    let dir = tempfile::tempdir().unwrap();
    let token = "prometheus-token-0123456789";
    let (reportd, report_port) =
        start_reportd(dir.path(), sensor.db(), &format!("token = \"{token}\"\n"));
    assert_eq!(
        curl(
            report_port,
            "/v1/analytics/ports",
            &[&format!("Authorization: Bearer {token}")]
        )
        .status,
        200
    );
    let prometheus = testkit::prometheus::PrometheusServer::start(&[
        ("recce7-sensor", format!("127.0.0.1:{metrics_port}"), None),
        (
            "recce7-reportd",
            format!("127.0.0.1:{report_port}"),
            Some(token.to_string()),
        ),
    ]);
    prometheus.wait_scraped(3, Duration::from_secs(60));
    telnet_login(telnet_port, "admin", "admin", &[]);
    std::thread::sleep(Duration::from_secs(2));
    let dashboards = testkit::workspace_root().join("configs/grafana/dashboards");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dashboards).unwrap() {
        let path = entry.unwrap().path();
        let json = std::fs::read_to_string(&path).unwrap();
        let queries = testkit::prometheus::dashboard_queries(&json);
        assert!(!queries.is_empty(), "{}", path.display());
        for (title, expr) in queries {
            assert!(
                prometheus.has_data(&expr),
                "{}: panel {title:?}: {expr} returned nothing: {}",
                path.display(),
                prometheus.query(&expr)
            );
            checked += 1;
        }
    }
    assert!(checked >= 20, "{checked} queries");
    drop(prometheus);
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
}

#[test]
fn grafana_dashboards_type_check_against_grafana_schema() {
    let script = testkit::workspace_root().join("tests/grafana-schema/check.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script);
    let out = testkit::run_with_timeout(cmd, Duration::from_secs(300));
    assert!(
        out.status.success(),
        "tsc --noEmit against @grafana/schema failed (needs node and npm: apt-get install -y nodejs npm):\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `recce7 up` in a network namespace of its own (util-linux `unshare -rn`, loopback brought up
/// with iproute2's `ip`): its fixed sensor ports (2323, 8022, 8080, 8081, 9108) cannot clash with
/// anything else on this machine, and nothing outside the namespace can reach it. `ns_curl`
/// runs curl inside the namespace with `nsenter`.
fn up_in_namespace(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let ip = require("ip", "iproute2");
    let mut cmd = Command::new(require("unshare", "util-linux"));
    cmd.args(["-rn", "sh", "-c"])
        .arg(format!(
            "{} link set lo up && exec \"$0\" \"$@\"",
            ip.display()
        ))
        .arg(bin())
        .arg("up")
        .arg("--database")
        .arg(dir.join("up.sqlite"))
        .args(args)
        .current_dir(dir)
        .env_remove("RECCE7_REPORT_TOKEN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// curl inside the network namespace of process `pid`, on `url`.
fn ns_curl(pid: u32, url: &str, args: &[&str]) -> sensor_common::Answer {
    let mut cmd = Command::new(require("nsenter", "util-linux"));
    cmd.arg("-t")
        .arg(pid.to_string())
        .args(["-U", "-n", "--preserve-credentials"])
        .arg(require("curl", "curl"));
    curl_with(cmd, args, url)
}

/// A `recce7 up` started with [`up_in_namespace`], up to its `dashboard:` line.
struct NamespacedUp {
    process: testkit::LineProcess,
    pid: u32,
    /// The dashboard's address as `up` printed it.
    dashboard: String,
}

impl NamespacedUp {
    fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> NamespacedUp {
        let mut process = testkit::LineProcess::spawn(up_in_namespace(dir, args, env));
        let pid = process.process().child().id();
        let Some(line) =
            process.wait_line(Duration::from_secs(30), |l| l.starts_with("dashboard: "))
        else {
            panic!(
                "recce7 up did not start its report service: {:?}",
                process.seen()
            );
        };
        // The notes after the dashboard line, up to the guide's last line.
        process.wait_line(Duration::from_secs(10), |l| {
            l.starts_with("stop with Ctrl-C")
        });
        let dashboard = line["dashboard: ".len()..]
            .split_whitespace()
            .next()
            .unwrap()
            .to_owned();
        NamespacedUp {
            process,
            pid,
            dashboard,
        }
    }

    /// curl inside the namespace, on `url`.
    fn curl(&self, url: &str, args: &[&str]) -> sensor_common::Answer {
        ns_curl(self.pid, url, args)
    }

    fn terminate(mut self) {
        testkit::signal(self.pid, "TERM");
        let deadline = std::time::Instant::now() + TIMEOUT;
        loop {
            if let Ok(Some(status)) = self.process.process().child().try_wait() {
                assert!(status.success(), "recce7 up exited with {status}");
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "recce7 up did not stop"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

#[test]
fn up_refuses_a_public_report_address_without_a_token() {
    for (report, env) in [
        ("0.0.0.0:8880", vec![]),
        ("[::]:8880", vec![]),
        ("0.0.0.0:8880", vec![("RECCE7_REPORT_TOKEN", "")]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let out = testkit::run_with_timeout(
            up_in_namespace(dir.path(), &["--report", report], &env),
            Duration::from_secs(30),
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{report} {env:?}: {err}");
        let addr: std::net::SocketAddr = report.parse().unwrap();
        assert!(
            err.contains(&format!("reportd.token: required when listening on {addr}")),
            "{report}: {err}"
        );
        assert!(
            err.contains("RECCE7_REPORT_TOKEN") && err.contains("--token-file"),
            "the refusal says how to give a token: {err}"
        );
        assert!(
            !String::from_utf8_lossy(&out.stdout).contains("dashboard:"),
            "{report}: nothing served"
        );
        assert!(
            !dir.path().join("up.sqlite").exists(),
            "refused before anything started"
        );
    }
    // A token that is too short is refused the same way, naming where it came from.
    let dir = tempfile::tempdir().unwrap();
    let out = testkit::run_with_timeout(
        up_in_namespace(
            dir.path(),
            &["--report", "0.0.0.0:8880"],
            &[("RECCE7_REPORT_TOKEN", "short")],
        ),
        Duration::from_secs(30),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("RECCE7_REPORT_TOKEN: must be at least 16"),
        "{err}"
    );
    // Never the token itself as an argument (`ps` shows arguments to every user).
    let out = Command::new(bin())
        .args(["up", "--token", "0123456789abcdef0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn up_serves_a_public_report_address_with_a_token_from_the_environment_or_a_file() {
    let token = "up-token-0123456789abcdef";
    let bearer = format!("Authorization: Bearer {token}");
    for from_file in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, format!("{token}\n")).unwrap();
        let file_arg = file.display().to_string();
        let (args, env): (Vec<&str>, Vec<(&str, &str)>) = if from_file {
            (
                vec!["--report", "0.0.0.0:8880", "--token-file", &file_arg],
                vec![],
            )
        } else {
            (
                vec!["--report", "0.0.0.0:8880"],
                vec![("RECCE7_REPORT_TOKEN", token)],
            )
        };
        let up = NamespacedUp::start(dir.path(), &args, &env);
        let seen = up.process_seen();
        assert!(
            !up.dashboard.contains("0.0.0.0"),
            "a link that works, not the wildcard: {seen:?}"
        );
        assert!(
            seen.iter().any(|l| l.contains("bearer token")),
            "up says the token is needed: {seen:?}"
        );
        // The printed link works: the page is open, it asks for the token; the API needs it.
        let page = up.curl(&up.dashboard, &[]);
        assert_eq!(page.status, 200, "{}", up.dashboard);
        let api = format!("{}v1/analytics/ports", up.dashboard);
        let denied = up.curl(&api, &[]);
        assert_eq!(denied.status, 401, "from_file={from_file}");
        assert_eq!(up.curl(&api, &["-H", &bearer]).status, 200);
        // Reached by the machine's address from elsewhere (here, the namespace's loopback
        // address as a remote client would use its LAN address).
        assert_eq!(
            up.curl("http://127.0.0.1:8880/v1/sessions", &["-H", &bearer])
                .status,
            200
        );
        up.terminate();
    }
    // `--report localhost:PORT` is loopback, without a token.
    let dir = tempfile::tempdir().unwrap();
    let up = NamespacedUp::start(dir.path(), &["--report", "localhost:8880"], &[]);
    let api = format!("{}v1/analytics/ports", up.dashboard);
    assert_eq!(up.curl(&api, &[]).status, 200, "{api}");
    assert_eq!(
        up.curl("http://localhost:8880/v1/analytics/ports", &[])
            .status,
        200
    );
    up.terminate();
}

impl NamespacedUp {
    fn process_seen(&self) -> Vec<String> {
        self.process.seen().to_vec()
    }
}

#[test]
fn reportd_answers_only_its_own_names_and_builds_links_from_its_configuration() {
    let rec = record_some_attacks();
    let dir = tempfile::tempdir().unwrap();
    let (reportd, port) = start_reportd(dir.path(), &rec.db(), "");
    let base = format!("http://127.0.0.1:{port}");
    // A DNS-rebinding page reaches 127.0.0.1 under its own name: refused, whatever the path.
    for (path, host) in [
        ("/v1/analytics/credentials", "evil.example".to_string()),
        ("/v1/analytics/credentials", format!("evil.example:{port}")),
        ("/", format!("evil.example:{port}")),
        ("/v1/no/such/thing", "evil.example".to_string()),
        ("/v1/sessions", format!("127.0.0.1.evil.example:{port}")),
    ] {
        let a = curl(port, path, &[&format!("Host: {host}")]);
        assert_eq!(a.status, 421, "{path} Host: {host}");
        let body = a.json();
        assert_eq!(body["status"], 421);
        assert!(
            body["error"].as_str().unwrap().contains("reportd.hosts"),
            "says what to configure: {body}"
        );
    }
    // No Host at all (HTTP/1.1 requires one).
    let a = curl(port, "/v1/analytics/credentials", &["Host:"]);
    assert_eq!(a.status, 400, "{}", a.headers);
    assert_eq!(a.json()["status"], 400);
    // The names of loopback are fine, and links come from the configuration, not the request.
    for host in [
        format!("localhost:{port}"),
        "localhost".to_string(),
        format!("[::1]:{port}"),
        format!("127.0.0.1:{port}"),
    ] {
        let a = curl(
            port,
            "/v1/analytics",
            &[&format!("Host: {host}"), "X-Forwarded-Proto: https"],
        );
        assert_eq!(a.status, 200, "Host: {host}");
        assert_eq!(
            a.json()["links"][0]["href"],
            format!("{base}/v1/analytics/ports"),
            "Host: {host}"
        );
    }
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");

    // Behind a proxy: its name is configured, and so is the address clients use.
    let public = "https://reports.example.org/recce7";
    let (reportd, port) = start_reportd(
        dir.path(),
        &rec.db(),
        &format!("hosts = [\"reports.example.org\"]\npublic_url = \"{public}\"\n"),
    );
    let proxied = ["Host: reports.example.org"];
    let links = curl(port, "/v1/analytics", &proxied);
    assert_eq!(links.status, 200);
    assert_eq!(
        links.json()["links"][0]["href"],
        format!("{public}/v1/analytics/ports")
    );
    let ports_list = curl(
        port,
        "/v1/analytics/ports",
        &[&format!("Host: 127.0.0.1:{port}")],
    );
    assert_eq!(ports_list.status, 200);
    assert!(
        ports_list.json()[0]["rel_link"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{public}/v1/analytics/ports/")),
        "{}",
        ports_list.json()
    );
    let page = curl(port, "/v1/sessions?limit=1", &["Host: localhost"]);
    let link = page.header("link").expect("a next page");
    assert!(
        link.starts_with(&format!("<{public}/v1/sessions?")),
        "{link}"
    );
    assert_eq!(
        curl(port, "/v1/analytics", &["Host: other.example.org"]).status,
        421
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

/// `VmRSS` and `VmHWM` (peak) of a process, in KiB, from /proc.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or_else(|| panic!("{name} in {status}"))
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// One HTTP request with a body of `body_bytes` on a new connection (or `requests` of them,
/// kept alive), read to the close: one session.
fn http_session(port: u16, requests: usize, body_bytes: usize) {
    let mut s = connect(port);
    let body = vec![b'A'; body_bytes];
    for i in 0..requests {
        let last = i + 1 == requests;
        let head = format!(
            "POST /login.cgi HTTP/1.1\r\nHost: router\r\nContent-Length: {body_bytes}\r\nConnection: {}\r\n\r\n",
            if last { "close" } else { "keep-alive" }
        );
        send(&mut s, head.as_bytes());
        send(&mut s, &body);
        if !last {
            read_until(&mut s, b"</html>");
        }
    }
    read_to_close(&mut s);
}

/// Every answer within the byte budget (`max_response_bytes`, default 1 MiB, plus this slack).
const BUDGET_BYTES: usize = 1024 * 1024;
const BUDGET_SLACK_BYTES: usize = 1024;
/// The most the report service's peak RSS may grow over its RSS before the concurrent
/// requests (docs/BENCHMARKS.md has the measured figures).
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;

/// Issue 12, item 2: an attacker decides how large the recorded rows are. 60 HTTP sessions of
/// about 1 MiB each, then concurrent list and detail requests: every answer stays within the
/// budget, cut values and truncation are marked, paging continues where the budget stopped,
/// and the report service's memory stays within a stated bound: first `recce7 reportd` over
/// the database `recce7 sensor` recorded, then `recce7 up` (both in one process, the case the
/// issue measured) over a copy of it, in a network namespace of its own for its fixed ports.
#[test]
fn answers_stay_within_the_byte_budget_under_large_sessions() {
    let [http_port] = ports();
    let body = format!(
        "[limits]\nmax_request_bytes = 2097152\nmax_raw_bytes = 1048576\nmax_session_bytes = 4194304\n{}",
        plugin("web", "http", http_port, "http")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    const BIG_SESSIONS: usize = 60;
    for _ in 0..BIG_SESSIONS {
        http_session(http_port, 1, 1024 * 1024 - 1024);
    }
    // One session of 30 rows of 60 KiB (1.8 MiB: more than one answer holds), one of 120 small
    // rows (more than one page of 50).
    http_session(http_port, 30, 60 * 1024);
    http_session(http_port, 120, 16);
    let (status, rec_dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(rec_dir.path()));
    let database = rec_dir.path().join("sensor.sqlite");
    let conn = db(&database);
    let stored = count(&conn, "SELECT coalesce(sum(length(body)), 0) FROM http");
    assert!(
        stored > (BIG_SESSIONS as i64) * 1_000_000,
        "about 1 MiB stored per session: {stored}"
    );
    let big: String = conn
        .query_row(
            "SELECT session FROM http GROUP BY session HAVING count(*) = 1 LIMIT 1",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let wide: String = conn
        .query_row(
            "SELECT session FROM http GROUP BY session HAVING count(*) = 30",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let long: String = conn
        .query_row(
            "SELECT session FROM http GROUP BY session HAVING count(*) = 120",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);

    let dir = tempfile::tempdir().unwrap();
    let (mut reportd, port) = start_reportd(dir.path(), &database, "");
    let pid = reportd.pid();
    let paths = [
        "/v1/sessions?limit=500".to_string(),
        format!("/v1/analytics/ports/{http_port}?limit=500"),
        "/v1/analytics/ipaddresses/127.0.0.1?limit=500".to_string(),
        format!("/v1/sessions/{big}"),
        format!("/v1/sessions/{wide}"),
    ];
    // Warm up once (threads, connections), then measure.
    for path in &paths {
        assert_eq!(curl(port, path, &[]).status, 200, "{path}");
    }
    let (rss_before, _) = memory_kib(pid);
    const CLIENTS: usize = 6;
    let answers: Vec<(String, u16, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .flat_map(|_| paths.iter())
            .map(|path| {
                scope.spawn(move || {
                    let a = curl(port, path, &[]);
                    (path.clone(), a.status, a.body.len())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (rss_after, peak) = memory_kib(pid);
    let mut largest: Vec<(String, u16, usize)> = Vec::new();
    for answer in &answers {
        match largest.iter_mut().find(|(p, _, _)| *p == answer.0) {
            Some(seen) => seen.2 = seen.2.max(answer.2),
            None => largest.push(answer.clone()),
        }
    }
    eprintln!(
        "answers (path, status, bytes): {largest:?}; reportd RSS before {rss_before} KiB, after {rss_after} KiB, peak {peak} KiB"
    );
    for (path, status, len) in &answers {
        assert_eq!(*status, 200, "{path} (0: curl gave up after 20 s)");
        assert!(
            *len <= BUDGET_BYTES + BUDGET_SLACK_BYTES,
            "{path}: {len} bytes, over the {BUDGET_BYTES}-byte budget"
        );
    }
    assert!(
        peak.saturating_sub(rss_before) <= RSS_GROWTH_BOUND_KIB,
        "peak RSS {peak} KiB grew more than {RSS_GROWTH_BOUND_KIB} KiB over {rss_before} KiB"
    );

    // Lists carry summaries: no rows, a count of them; the budget marks what it cut.
    let list = ok_json(port, "/v1/sessions?limit=500");
    let items = list["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(items.len() <= 62, "{}", items.len());
    assert_eq!(list["truncated"], false, "summaries of 62 sessions fit");
    for s in items {
        assert!(s.get("session_items").is_none(), "a summary: {s}");
        assert!(s["item_count"].as_i64().is_some_and(|n| n >= 1), "{s}");
    }
    let detail = ok_json(port, &format!("/v1/sessions/{big}"));
    assert_eq!(detail["item_count"], 1);
    assert_eq!(detail["truncated"], false);
    assert_eq!(detail["next_cursor"], Value::Null);
    let body_value = detail["session_items"][0]["body"].as_str().unwrap();
    assert!(
        body_value.len() < 70 * 1024 && body_value.ends_with(" bytes]"),
        "a 1 MiB body is cut to a prefix with a marker: {} bytes, ends {:?}",
        body_value.len(),
        &body_value[body_value.len().saturating_sub(30)..]
    );
    assert!(body_value.contains("…[cut "), "marker");

    // Past the budget, a session's rows continue at next_cursor: every row once, in order.
    for (id, rows, page_limit) in [(&wide, 30, 500), (&long, 120, 50)] {
        let mut seen: Vec<i64> = Vec::new();
        let mut pages = 0;
        let mut path = format!("/v1/sessions/{id}?limit={page_limit}");
        loop {
            let a = curl(port, &path, &[]);
            assert_eq!(a.status, 200, "{path}");
            assert!(a.body.len() <= BUDGET_BYTES + BUDGET_SLACK_BYTES, "{path}");
            let page = a.json();
            pages += 1;
            let got = page["session_items"].as_array().unwrap();
            assert!(got.len() <= page_limit);
            seen.extend(got.iter().map(|i| i["ID"].as_i64().unwrap()));
            match page["next_cursor"].as_str() {
                Some(c) => {
                    assert!(a.header("link").is_some_and(|l| l.contains("cursor=")));
                    path = format!(
                        "/v1/sessions/{id}?limit={page_limit}&cursor={}",
                        urlencode(c)
                    );
                }
                None => break,
            }
            assert!(pages < 20, "paging ends");
        }
        assert_eq!(seen.len(), rows, "{id}: {seen:?}");
        assert!(seen.windows(2).all(|w| w[0] < w[1]), "in order, none twice");
        assert!(pages >= 2, "{id}: more than one page");
    }
    let first = ok_json(port, &format!("/v1/sessions/{wide}"));
    assert_eq!(
        first["truncated"], true,
        "1.8 MiB of rows: the budget ended the page"
    );
    assert_eq!(
        curl(port, &format!("/v1/sessions/{wide}?cursor=bogus"), &[]).status,
        400
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");

    // The case the issue measured: `recce7 up`, the sensor and the report service in one
    // process, over the same database; the same concurrent requests, the same bounds.
    let up_dir = tempfile::tempdir().unwrap();
    std::fs::copy(&database, up_dir.path().join("up.sqlite")).unwrap();
    let up = NamespacedUp::start(up_dir.path(), &[], &[]);
    let url = |path: &str| format!("http://127.0.0.1:8880{path}");
    for path in &paths {
        assert_eq!(up.curl(&url(path), &[]).status, 200, "{path}");
    }
    let (up_before, _) = memory_kib(up.pid);
    let up_pid = up.pid;
    let answers: Vec<(String, u16, usize)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..CLIENTS)
            .flat_map(|_| paths.iter())
            .map(|path| {
                scope.spawn(move || {
                    let a = ns_curl(up_pid, &url(path), &[]);
                    (path.clone(), a.status, a.body.len())
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let (up_after, up_peak) = memory_kib(up.pid);
    eprintln!("recce7 up: RSS before {up_before} KiB, after {up_after} KiB, peak {up_peak} KiB");
    for (path, status, len) in &answers {
        assert_eq!(*status, 200, "up: {path}");
        assert!(
            *len <= BUDGET_BYTES + BUDGET_SLACK_BYTES,
            "up: {path}: {len} bytes, over the {BUDGET_BYTES}-byte budget"
        );
    }
    assert!(
        up_peak.saturating_sub(up_before) <= RSS_GROWTH_BOUND_KIB,
        "up: peak RSS {up_peak} KiB grew more than {RSS_GROWTH_BOUND_KIB} KiB over {up_before} KiB"
    );
    up.terminate();
}

/// Issue 12, item 12: `/metrics` has series only for what an instance's kind can record: no
/// telnet instance with `http.request` events, no HTTP instance with `telnet.login`.
#[test]
fn metrics_have_no_series_for_impossible_plugin_and_type_pairs() {
    let [telnet_port, http_port, metrics_port] = ports();
    let body = format!(
        "metrics_listen = \"127.0.0.1:{metrics_port}\"\n{}{}",
        telnet_any_login("telnet", telnet_port, "telnet"),
        plugin("web", "http", http_port, "http")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let page = curl(metrics_port, "/metrics", &[]);
    assert_eq!(page.status, 200);
    let text = String::from_utf8_lossy(&page.body).into_owned();
    let series = |plugin: &str, kind: &str| {
        text.contains(&format!(
            "recce7_events_total{{plugin=\"{plugin}\",type=\"{kind}\"}}"
        ))
    };
    for (plugin, kind) in [
        ("telnet", "session.start"),
        ("telnet", "telnet.login"),
        ("telnet", "telnet.command"),
        ("web", "session.end"),
        ("web", "http.request"),
        ("web", "input.raw"),
    ] {
        assert!(
            series(plugin, kind),
            "{plugin} x {kind} is listed (at 0): {text}"
        );
    }
    for (plugin, kind) in [
        ("telnet", "http.request"),
        ("telnet", "service.input"),
        ("web", "telnet.login"),
        ("web", "telnet.command"),
        ("web", "service.input"),
    ] {
        assert!(!series(plugin, kind), "no {plugin} x {kind} series: {text}");
    }
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
}

/// A WebSocket to Chromium's DevTools endpoint (`ws://127.0.0.1:PORT/devtools/...`): just
/// enough of RFC 6455 for text messages, to run one expression in the page and read its value.
struct DevTools {
    stream: TcpStream,
    next_id: u64,
}

impl DevTools {
    fn connect(url: &str) -> DevTools {
        let rest = url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, path) = rest.split_at(rest.find('/').unwrap());
        let mut stream = TcpStream::connect(host).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: cmVjY2U3LWRldnRvb2xzIQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).unwrap();
            head.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&head);
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        DevTools { stream, next_id: 1 }
    }

    fn send(&mut self, text: &str) {
        let payload = text.as_bytes();
        let mut frame = vec![0x81u8];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xFFFF => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        let mask = [0x5a, 0x17, 0xc3, 0x08];
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.stream.write_all(&frame).unwrap();
    }

    /// One whole text message (fragments joined).
    fn receive(&mut self) -> String {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.stream.read_exact(&mut head).unwrap();
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.stream.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            let mut payload = vec![0u8; len as usize];
            self.stream.read_exact(&mut payload).unwrap();
            message.extend_from_slice(&payload);
            if head[0] & 0x80 != 0 {
                return String::from_utf8(message).unwrap();
            }
        }
    }

    /// Calls `method` and returns the whole reply (`result` or `error`).
    fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&serde_json::json!({"id": id, "method": method, "params": params}).to_string());
        loop {
            let reply: Value = serde_json::from_str(&self.receive()).unwrap();
            if reply["id"] == id {
                return reply;
            }
        }
    }

    /// Evaluates a promise-valued expression in the page once it has loaded; returns its
    /// value. (An evaluation that the page's first navigation interrupts is tried again.)
    fn evaluate(&mut self, expression: &str) -> Value {
        for _ in 0..50 {
            let reply = self.call(
                "Runtime.evaluate",
                serde_json::json!({"expression": expression, "awaitPromise": true, "returnByValue": true}),
            );
            if reply.get("error").is_some() {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            let result = &reply["result"];
            assert!(result.get("exceptionDetails").is_none(), "{result}");
            return result["result"]["value"].clone();
        }
        panic!("the page never answered Runtime.evaluate");
    }
}

/// Issue 12, item 12, in a real browser: without a GeoIP database the map says so and how to
/// add one; credentials and commands far longer than a panel stay inside it (measured from the
/// DOM); the "end" column shows a time; a session's rows open in the detail panel.
#[test]
fn the_dashboard_fits_long_strings_shows_end_times_and_explains_an_empty_map() {
    let [telnet_port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &telnet_any_login("telnet", telnet_port, "telnet"));
    let long_user = "u".repeat(300);
    let long_password = "p".repeat(300);
    let long_command = format!("echo {}", "x".repeat(700));
    telnet_login(telnet_port, &long_user, &long_password, &[&long_command]);
    telnet_login(telnet_port, "root", "xc3511", &["uname -a"]);
    let (status, rec_dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(rec_dir.path()));
    let dir = tempfile::tempdir().unwrap();
    let (reportd, port) = start_reportd(dir.path(), &rec_dir.path().join("sensor.sqlite"), "");

    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        "--window-size=1280,1800",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("http://127.0.0.1:{port}/?live=0"))
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped());
    let mut browser = testkit::ChildGuard::new(cmd.spawn().expect("chromium"));
    let stderr = browser.child().stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    let browser_url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("chromium's DevTools address");
    let devtools_port: u16 = browser_url
        .trim_start_matches("ws://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let mut page_url = None;
    assert!(wait_until(Duration::from_secs(30), || {
        let list = curl(devtools_port, "/json/list", &[]);
        page_url = serde_json::from_slice::<Value>(&list.body)
            .ok()
            .and_then(|l| {
                l.as_array()?
                    .iter()
                    .find(|t| {
                        t["type"] == "page"
                            && t["url"].as_str().is_some_and(|u| u.contains("live=0"))
                    })
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(str::to_owned))
            });
        page_url.is_some()
    }));
    let mut page = DevTools::connect(&page_url.unwrap());
    let measured = page.evaluate(
        r##"(async () => {
          await new Promise((r) => document.readyState === "complete" ? r() : addEventListener("load", r));
          const until = async (f) => { for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 50)); return f(); };
          await until(() => document.querySelectorAll("#recent tbody tr").length >= 2
                        && document.querySelectorAll("#credentials tr").length >= 2
                        && document.querySelectorAll("#commands tr").length >= 2);
          const panels = [...document.querySelectorAll(".grid > div")].map((p) => {
            const box = p.getBoundingClientRect();
            const cells = [...p.querySelectorAll("td")];
            return {
              title: p.querySelector("h2").textContent,
              client: p.clientWidth, scroll: p.scrollWidth,
              cellsInside: cells.every((c) => c.getBoundingClientRect().right <= box.right + 1),
              titles: cells.map((c) => c.title).filter((t) => t.length > 0),
            };
          });
          const ends = [...document.querySelectorAll("#recent tbody tr")].map((r) => r.cells[5].textContent);
          const note = document.getElementById("map-note");
          document.querySelector("#recent tbody tr").click();
          await until(() => document.querySelectorAll("#detail-rows tr").length >= 2);
          const detail = document.getElementById("detail");
          return {
            panels, ends,
            note: note && !note.hidden ? note.textContent : null,
            detailFits: detail.scrollWidth <= detail.clientWidth + 1,
            detailRows: document.querySelectorAll("#detail-rows tr").length - 1,
            page: document.documentElement.scrollWidth <= window.innerWidth,
          };
        })()"##,
    );
    drop(page);
    browser.kill();
    let panels = measured["panels"].as_array().expect("panels");
    assert_eq!(panels.len(), 6, "{measured}");
    for p in panels {
        assert!(
            p["scroll"].as_i64() <= p["client"].as_i64(),
            "the panel {} overflows: {p}",
            p["title"]
        );
        assert_eq!(p["cellsInside"], true, "cells inside {}: {p}", p["title"]);
    }
    let titles = |name: &str| -> Vec<String> {
        panels.iter().find(|p| p["title"] == name).unwrap()["titles"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        titles("credentials tried").contains(&format!("{long_user} / {long_password}")),
        "the full credential is the cell's tooltip: {measured}"
    );
    assert!(
        titles("commands typed").contains(&long_command),
        "{measured}"
    );
    assert_eq!(
        measured["page"], true,
        "no horizontal scrolling: {measured}"
    );
    let ends: Vec<&str> = measured["ends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert_eq!(ends.len(), 2, "{measured}");
    for end in &ends {
        let t = end.replace(' ', "T");
        assert!(
            time::OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339).is_ok(),
            "the end column shows a time: {end:?}"
        );
    }
    let note = measured["note"].as_str().expect("the map explains itself");
    assert!(
        note.contains("GeoIP") && note.contains("--geoip") && note.contains("docs/geoip.md"),
        "{note}"
    );
    assert!(measured["detailRows"].as_i64().unwrap() >= 1, "{measured}");
    assert_eq!(measured["detailFits"], true, "{measured}");
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

#[test]
fn api_refuses_repeated_parameters_and_wrong_methods_takes_any_bearer_case_and_localhost() {
    let rec = record_some_attacks();
    let dir = tempfile::tempdir().unwrap();
    let [port] = ports();
    let token = "case-token-0123456789";
    let config = format!(
        "[reportd]\nlisten = \"localhost:{port}\"\ndatabase = \"{}\"\ntoken = \"{token}\"\n",
        rec.db().display()
    );
    let reportd = RoleProcess::start(&bin(), "reportd", dir.path(), &config);
    let auth = format!("Authorization: Bearer {token}");
    // The scheme is case-insensitive (RFC 9110, 11.1); the token is not.
    for header in [
        format!("authorization: bearer {token}"),
        format!("Authorization: BEARER {token}"),
        format!("Authorization: bEaReR {token}"),
    ] {
        assert_eq!(
            curl(port, "/v1/sensors", &[&header]).status,
            200,
            "{header}"
        );
    }
    for header in [
        format!("Authorization: Bearer {}", token.to_uppercase()),
        format!("Authorization: Basic {token}"),
        format!("Authorization: Bearer{token}"),
    ] {
        assert_eq!(
            curl(port, "/v1/sensors", &[&header]).status,
            401,
            "{header}"
        );
    }
    // A repeated parameter is a 400 naming it, not a silent pick of one value.
    for (path, parameter) in [
        ("/v1/analytics/ports?days=1&days=2", "days"),
        ("/v1/sessions?sensor=a&sensor=test", "sensor"),
        ("/v1/sessions?limit=1&limit=1", "limit"),
        ("/v1/worldmap?format=svg&format=png", "format"),
    ] {
        let a = curl(port, path, &[&auth]);
        assert_eq!(a.status, 400, "{path}");
        let body = a.json();
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains("more than once"),
            "{path}: {body}"
        );
    }
    // A wrong method: 405, JSON, and what is allowed.
    let dir_curl = Command::new(require("curl", "curl"));
    let post = curl_with(
        dir_curl,
        &["-X", "POST", "-H", &auth, "--data", "x=1"],
        &format!("http://127.0.0.1:{port}/v1/sessions"),
    );
    assert_eq!(post.status, 405);
    let allow: BTreeSet<String> = post
        .header("allow")
        .expect("an Allow header")
        .split(',')
        .map(|m| m.trim().to_owned())
        .collect();
    assert_eq!(allow, BTreeSet::from(["GET".to_owned(), "HEAD".to_owned()]));
    assert_eq!(post.json()["status"], 405);
    assert!(post.json()["error"].as_str().unwrap().contains("POST"));
    let delete = curl_with(
        Command::new(require("curl", "curl")),
        &["-X", "DELETE", "-H", &auth],
        &format!("http://127.0.0.1:{port}/"),
    );
    assert_eq!(delete.status, 405);
    assert_eq!(delete.json()["status"], 405);
    // The request head limit docs/reportd.md states (64 KiB, 100 fields; one read may overshoot
    // it, by 64 KiB at most): a 60 KiB header is served; a 130 KiB head sent in pieces (as a
    // slow client sends it), a 1 MiB head and a 101st header field get 431.
    let raw_in = |head: String, piece: usize| {
        let mut s = connect(port);
        let request = format!(
            "GET /v1/sensors HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n{head}Connection: close\r\n\r\n"
        );
        for part in request.as_bytes().chunks(piece) {
            if std::io::Write::write_all(&mut s, part).is_err() {
                break;
            }
            if piece < request.len() {
                // Pieces, not one write the kernel would coalesce.
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let (answer, _) = read_to_close(&mut s);
        String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned()
    };
    let raw = |head: String| raw_in(head, usize::MAX);
    assert_eq!(
        raw(format!("X-Big: {}\r\n", "a".repeat(60 * 1024))),
        "HTTP/1.1 200"
    );
    assert_eq!(
        raw_in(format!("X-Big: {}\r\n", "a".repeat(130 * 1024)), 1000),
        "HTTP/1.1 431"
    );
    assert_eq!(
        raw(format!("X-Big: {}\r\n", "a".repeat(1024 * 1024))),
        "HTTP/1.1 431"
    );
    let fields = |n: usize| (0..n).map(|i| format!("X-F{i}: a\r\n")).collect::<String>();
    // Host, Authorization and Connection are three of the hundred.
    assert_eq!(raw(fields(97)), "HTTP/1.1 200");
    assert_eq!(raw(fields(98)), "HTTP/1.1 431");
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

/// Issue 12, item 2: lists past the budget (`max_response_bytes = 65536`, 600 sessions of one
/// address) say `truncated` and continue at `next_cursor`: every session once, every page
/// within the budget.
#[test]
fn lists_past_the_byte_budget_are_truncated_and_continue_at_next_cursor() {
    let rec = record_some_attacks();
    const MANY: usize = 600;
    {
        let conn = rusqlite::Connection::open(rec.db()).unwrap();
        // Distinct start times within this second ("YYYY-MM-DDTHH:MM:SS." and microseconds).
        let now = store::now_rfc3339();
        for i in 0..MANY {
            let start = format!("{}{:06}Z", &now[..20], 999_999 - i);
            conn.execute(
                "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress,
                   peerPort, localAddress, localPort, startTime, endTime, closeReason)
                 VALUES (?1, 'test', 'telnet', 'telnet', 'telnet', '198.51.100.7', 4000,
                   '127.0.0.1', ?2, ?3, ?3, 'peer closed')",
                rusqlite::params![store::new_id(), rec.telnet_port, start],
            )
            .unwrap();
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let budget = 65536;
    let (reportd, port) = start_reportd(
        dir.path(),
        &rec.db(),
        &format!("max_response_bytes = {budget}\n"),
    );
    let sessions_of = |page: &Value| -> Vec<String> {
        let list: Vec<&Value> = match page.get("ports") {
            Some(ports) => ports
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|p| p.as_object().unwrap().values())
                .flat_map(|v| v.as_array().unwrap())
                .collect(),
            None => page["items"].as_array().unwrap().iter().collect(),
        };
        list.iter()
            .map(|s| s["session"].as_str().unwrap().to_owned())
            .collect()
    };
    for (path, expected) in [
        ("/v1/sessions".to_string(), MANY + 3),
        (format!("/v1/analytics/ports/{}", rec.telnet_port), MANY + 2),
        ("/v1/analytics/ipaddresses/198.51.100.7".to_string(), MANY),
    ] {
        let mut seen = BTreeSet::new();
        let mut pages = 0;
        let mut url = format!("{path}?limit=500");
        loop {
            let a = curl(port, &url, &[]);
            assert_eq!(a.status, 200, "{url}");
            assert!(a.body.len() <= budget, "{url}: {} bytes", a.body.len());
            let page = a.json();
            let got = sessions_of(&page);
            if pages == 0 {
                assert_eq!(page["truncated"], true, "{url}: {} items", got.len());
            }
            pages += 1;
            for s in got {
                assert!(seen.insert(s), "{url}: a session twice");
            }
            match page["next_cursor"].as_str() {
                Some(c) => url = format!("{path}?limit=500&cursor={}", urlencode(c)),
                None => break,
            }
            assert!(pages < 100);
        }
        assert_eq!(seen.len(), expected, "{path}");
        assert!(pages > 2, "{path}: {pages} pages");
    }
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

/// Connections that never finish a request (slowloris), kept-alive connections left idle, and
/// a flood from one address cannot hold the report service (and, in `recce7 up`, the sensor's
/// descriptors): the per-source cap closes the extra ones at once and counts them, and a head
/// not complete within `header_timeout_secs` (or an idle wait that long) ends the connection.
#[test]
fn slow_and_flooding_clients_are_capped_and_timed_out() {
    use std::io::{Read, Write};
    let rec = record_some_attacks();
    let dir = tempfile::tempdir().unwrap();
    let (reportd, port) = start_reportd(
        dir.path(),
        &rec.db(),
        "max_connections = 8\nmax_connections_per_source = 4\nheader_timeout_secs = 2\n",
    );
    let started = std::time::Instant::now();
    // Four slow clients: a request line and one header, then a header every 300 ms, never the
    // blank line that ends the head.
    let mut slow: Vec<std::net::TcpStream> = (0..4)
        .map(|_| {
            let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
            s.write_all(b"GET /v1/analytics HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                .unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    // A fifth from the same address is closed at once, with nothing sent.
    let mut fifth = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let _ = fifth.write_all(b"GET /v1/analytics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buf = [0u8; 64];
    assert!(
        matches!(fifth.read(&mut buf), Ok(0) | Err(_)),
        "a connection past the per-source cap is served"
    );
    // The slow ones trickle on; the head timeout ends them all the same.
    let mut closed = [false; 4];
    while started.elapsed() < Duration::from_secs(8) && closed.contains(&false) {
        for (i, s) in slow.iter_mut().enumerate() {
            if closed[i] {
                continue;
            }
            s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
            let write_failed = s.write_all(b"X-Slow: 1\r\n").is_err();
            // End of stream, or any answer (the wait for the head is over), or a reset.
            let read_ended = match s.read(&mut buf) {
                Ok(_) => true,
                Err(e) => !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
            };
            let gone = write_failed || read_ended;
            closed[i] = gone;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let took = started.elapsed();
    assert!(
        !closed.contains(&false),
        "slow clients still connected after {took:?}"
    );
    assert!(
        took >= Duration::from_millis(1500),
        "closed too early: {took:?}"
    );
    drop(slow);
    // A kept-alive connection left idle is closed after the same time.
    let mut idle = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /v1/analytics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let idle_since = std::time::Instant::now();
    let mut answer = Vec::new();
    let _ = idle.read_to_end(&mut answer);
    let idle_for = idle_since.elapsed();
    assert!(
        String::from_utf8_lossy(&answer).starts_with("HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        (Duration::from_millis(1500)..Duration::from_secs(8)).contains(&idle_for),
        "an idle kept-alive connection lived {idle_for:?}"
    );
    // The service answers as before, and counted the refusal.
    let metrics = curl(port, "/metrics", &[]);
    assert_eq!(metrics.status, 200);
    let text = String::from_utf8_lossy(&metrics.body).into_owned();
    let refused: f64 = text
        .lines()
        .find_map(|l| l.strip_prefix("recce7_reportd_connections_refused_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no refusal counter in {text}"));
    assert!(refused >= 1.0, "{text}");
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

/// Concurrent PNG maps cannot add up to a Pi's memory: maps are drawn one at a time, a PNG is
/// at most 2048 pixels wide (sixteen concurrent 4096-pixel PNGs took `recce7 up` to 964 MB).
#[test]
fn concurrent_png_maps_are_drawn_one_at_a_time() {
    let rec = record_some_attacks();
    let dir = tempfile::tempdir().unwrap();
    let (mut reportd, port) = start_reportd(dir.path(), &rec.db(), "");
    let too_wide = curl(port, "/v1/worldmap?format=png&width=4096", &[]);
    assert_eq!(too_wide.status, 400);
    assert_eq!(too_wide.json()["parameter"], "width");
    // The SVG is text the browser draws: 4096 is still fine there.
    assert_eq!(curl(port, "/v1/worldmap?width=4096", &[]).status, 200);
    let pid = reportd.pid();
    let (rss_before, _) = memory_kib(pid);
    // Read without curl's 20 s limit: one after the other they take a while in a debug build.
    const MAPS: usize = 8;
    let statuses: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..MAPS)
            .map(|_| {
                scope.spawn(move || {
                    use std::io::{Read, Write};
                    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(180))).unwrap();
                    s.write_all(
                        b"GET /v1/worldmap?format=png&width=1536 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                    )
                    .unwrap();
                    let mut answer = Vec::new();
                    let _ = s.read_to_end(&mut answer);
                    String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses, vec!["HTTP/1.1 200".to_string(); MAPS]);
    let (_, peak) = memory_kib(pid);
    // Measured here (debug build): eight 1536-pixel maps drawn one at a time, about 10 MB
    // more; drawn at once (before), about 70 MB more.
    const GROWTH_BOUND_KIB: u64 = 48 * 1024;
    eprintln!("{MAPS} concurrent PNG maps: RSS before {rss_before} KiB, peak {peak} KiB");
    assert!(
        peak.saturating_sub(rss_before) <= GROWTH_BOUND_KIB,
        "peak RSS {peak} KiB grew more than {GROWTH_BOUND_KIB} KiB over {rss_before} KiB"
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}
