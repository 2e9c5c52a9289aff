//! The report service (issue 7) as a user reaches it: `recce7 reportd` over a real sensor's
//! database, asked with real curl; the dashboard in headless Chromium; a real Prometheus
//! scraping a running sensor and reportd for every Grafana panel's query; the dashboards
//! type-checked against @grafana/schema with tsc.

mod sensor_common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use serde_json::Value;
use testkit::role::RoleProcess;
use testkit::sensor::{SensorProcess, plugin, ports};

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
        plugin("telnet", "telnet", telnet_port, "telnet"),
        plugin("web", "http", http_port, "http"),
        plugin("quiet", "http", quiet_port, "http_quiet")
    );
    let sensor = SensorProcess::start(&bin(), &body);
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
    let (status, dir) = sensor.terminate(TIMEOUT);
    assert!(status.success(), "{}", SensorProcess::log(dir.path()));
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

    // One port's sessions with every recorded row.
    let detail = ok_json(
        port,
        &format!("/v1/analytics/ports/{}?hours=2", rec.telnet_port),
    );
    assert_eq!(detail["timespan"], "hours=2");
    assert_eq!(detail["port"], rec.telnet_port);
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
    }
    let root = items
        .iter()
        .find(|s| {
            s["session_items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["password"] == "xc3511")
        })
        .expect("the root session");
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

    // Drill-down.
    let one = ok_json(
        port,
        &format!("/v1/sessions/{}", root["session"].as_str().unwrap()),
    );
    assert_eq!(one["session_items"], root["session_items"]);

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
        plugin("telnet", "telnet", telnet_port, "telnet")
    );
    let sensor = SensorProcess::start(&bin(), &body);
    telnet_login(telnet_port, "root", "xc3511", &["uname -a"]);
    let dir = tempfile::tempdir().unwrap();
    let token = "prometheus-token-0123456789";
    let (reportd, report_port) =
        start_reportd(dir.path(), &sensor.db, &format!("token = \"{token}\"\n"));
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
    let (status, dir) = sensor.terminate(TIMEOUT);
    assert!(status.success(), "{}", SensorProcess::log(dir.path()));
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
/// with iproute2's `ip`): its fixed sensor ports (2323, 8080, 8081, 9108) cannot clash with
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
        let mut cmd = Command::new(require("nsenter", "util-linux"));
        cmd.arg("-t")
            .arg(self.pid.to_string())
            .args(["-U", "-n", "--preserve-credentials"])
            .arg(require("curl", "curl"));
        curl_with(cmd, args, url)
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
    // The request head limit docs/reportd.md states (hyper's): a 100 KiB header is served, a
    // 1 MiB head and a 101st header field get 431.
    let raw = |head: String| {
        let mut s = connect(port);
        send(
            &mut s,
            format!("GET /v1/sensors HTTP/1.1\r\nHost: localhost\r\n{auth}\r\n{head}Connection: close\r\n\r\n")
                .as_bytes(),
        );
        let (answer, _) = read_to_close(&mut s);
        String::from_utf8_lossy(&answer[..answer.len().min(12)]).into_owned()
    };
    assert_eq!(
        raw(format!("X-Big: {}\r\n", "a".repeat(100 * 1024))),
        "HTTP/1.1 200"
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
