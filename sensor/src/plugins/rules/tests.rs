//! Unit tests of the rules plug-in: options validation, the state machine, matching speed, and
//! one conversation over an in-memory connection.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use super::engine::{Outcome, Place};
use super::options::compile;
use super::*;
use crate::limits::Limits;

fn compiled(text: &str) -> Result<Compiled, Vec<(String, String)>> {
    let table: toml::Table = toml::from_str(text).unwrap();
    compile(&table, &Limits::default())
        .map_err(|ps| ps.into_iter().map(|p| (p.key, p.reason)).collect())
}

fn problems(text: &str) -> Vec<(String, String)> {
    compiled(text).expect_err("the options should be refused")
}

const PLACE: Place<'static> = Place {
    peer: std::net::SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 9)),
        5555,
    ),
    local: std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 2121),
    session: "s-1",
    passive_port: None,
};

/// Feeds `lines` through the engine; each outcome.
fn run(c: &Compiled, lines: &[&str]) -> (Vec<Outcome>, Conversation) {
    let mut conv = c.rules.start();
    let mut out = Vec::new();
    for line in lines {
        let chosen = c.rules.choose(conv.state, line);
        out.push(c.rules.apply(
            &mut conv,
            chosen.as_ref().map(|(r, caps)| (*r, caps)),
            line.as_bytes(),
            line,
            PLACE,
        ));
    }
    (out, conv)
}

const FTP: &str = r#"
greeting = "220 (vsFTPd 3.0.3)\r\n"
unknown = "530 Please login with USER and PASS.\r\n"
record_lines = { quiet = false }
[[states.start]]
pattern = '(?i)^USER (?P<user>.*)$'
reply = "331 Please specify the password.\r\n"
set = { user = "{user}" }
next = "pass"
[[states.pass]]
pattern = '(?i)^PASS (.*)$'
reply = "230 Login successful.\r\n"
record = { username = "{var.user}", password = "{1}" }
next = "quiet"
[[states.quiet]]
pattern = '^\.$'
reply = "250 ok\r\n"
record = { body = "{var.body}" }
[[states.quiet]]
pattern = '^(.*)$'
append = { body = "{1}\n" }
"#;

#[test]
fn a_conversation_moves_through_its_states_and_records() {
    let c = compiled(FTP).unwrap();
    let (out, conv) = run(
        &c,
        &[
            "HELP",
            "USER anna\r\u{7}X",
            "PASS s3cret",
            "one",
            "two",
            ".",
        ],
    );
    assert_eq!(out[0].reply, b"530 Please login with USER and PASS.\r\n");
    let row = out[0].row.as_ref().unwrap();
    assert_eq!(
        (row["line"].as_str(), row["state"].as_str()),
        (Some("HELP"), Some("start"))
    );
    // The CR/LF a user name carried is not echoed as a protocol line...
    assert_eq!(out[1].reply, b"331 Please specify the password.\r\n");
    let row = out[2].row.as_ref().unwrap();
    assert_eq!(out[2].reply, b"230 Login successful.\r\n");
    // ...but it is recorded with its bytes (escaped).
    assert_eq!(row["username"].as_str(), Some("anna\\x0d\\x07X"));
    assert_eq!(row["password"].as_str(), Some("s3cret"));
    assert_eq!(row["state"].as_str(), Some("pass"));
    // In a state with record_lines = false, lines give no row; the rule's record still does.
    assert!(out[3].row.is_none() && out[4].row.is_none());
    let row = out[5].row.as_ref().unwrap();
    assert_eq!(row["body"].as_str(), Some("one\\x0atwo\\x0a"));
    assert_eq!(row["line"].as_str(), Some("."));
    assert_eq!(conv.steps, 6);
    // First seen walking the states and each rule's keys (TOML tables arrive in name order).
    assert_eq!(c.record_columns, ["password", "username", "body"]);
}

#[test]
fn the_first_matching_rule_wins_and_no_match_keeps_the_state() {
    let c = compiled(
        r#"
unknown = "? {line}\r\n"
[[states.start]]
pattern = '^a'
reply = "first\r\n"
[[states.start]]
pattern = '^ab'
reply = "second\r\n"
next = "other"
[[states.other]]
pattern = ''
reply = "other\r\n"
"#,
    )
    .unwrap();
    let (out, conv) = run(&c, &["ab", "zz\u{1b}[2J"]);
    assert_eq!(out[0].reply, b"first\r\n");
    assert_eq!(out[1].reply, b"? zz[2J\r\n", "control bytes stripped");
    assert_eq!(c.rules.states[conv.state].name, "start");
}

#[test]
fn variables_are_bounded() {
    let c = compiled(
        r#"
max_var_bytes = 8
[[states.start]]
pattern = '^(.*)$'
append = { v = "{1}" }
record = { v = "{var.v}" }
"#,
    )
    .unwrap();
    let (out, conv) = run(&c, &["12345", "67890", "abc"]);
    assert_eq!(conv.vars[0].value, b"12345678");
    assert_eq!(conv.vars[0].dropped, 5, "what did not fit is counted");
    assert_eq!(
        out[1].row.as_ref().unwrap()["v"].as_str(),
        Some("12345"),
        "templates see the value before the rule ran"
    );
    assert_eq!(
        out[2].row.as_ref().unwrap()["v"].as_str(),
        Some("12345678...(+2 bytes)"),
        "a cut value says so"
    );
}

#[test]
fn every_problem_is_reported_with_its_key_path() {
    let got = problems(
        r#"
bogus = 1
initial = "nowhere"
max_var_bytes = 2000000
greeting = "{1}"
unknown = "{nope}"
record_lines = { ghost = false, start = "no" }
[[states.start]]
pattern = '(unclosed'
reply = "{1}"
[[states.start]]
reply = "x"
[[states.start]]
pattern = '^USER (.*)$'
reply = "{2} {var.x} {line|rot13}"
next = "later"
delay_ms = 10001
record = { line = "{1}", "bad name" = "x", ok = 3, eventId = "x" }
set = { "a-b" = "x" }
extra = true
[[states.auth]]
pattern = 'x'
data = "{bad}"
passive = true
active = true
"#,
    );
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        keys,
        [
            "bogus",
            "greeting",
            "unknown",
            "max_var_bytes",
            "initial",
            "states.auth[0].data",
            "states.auth[0].active",
            "states.start[0].pattern",
            "states.start[1].pattern",
            "states.start[2].extra",
            "states.start[2].reply",
            "states.start[2].record.bad name",
            "states.start[2].record.eventId",
            "states.start[2].record.line",
            "states.start[2].record.ok",
            "states.start[2].set.a-b",
            "states.start[2].delay_ms",
            "states.start[2].next",
            "record_lines.ghost",
            "record_lines.start",
        ],
        "{got:#?}"
    );
    let reason = |key: &str| {
        got.iter()
            .find(|(k, _)| k == key)
            .map(|(_, r)| r.clone())
            .unwrap()
    };
    assert!(reason("states.start[0].pattern").starts_with("not a valid pattern: "));
    assert!(reason("states.start[0].pattern").contains("without closing ')'"));
    assert_eq!(reason("states.start[1].pattern"), "is required");
    assert!(reason("states.start[2].reply").contains("the pattern has 1 capture group(s)"));
    assert!(reason("states.start[2].next").contains("\"later\" is not a state"));
    assert!(reason("greeting").contains("only a rule's templates"));
    assert!(reason("unknown").starts_with("unknown value `{nope}` (known: line, "));
    assert!(reason("initial").contains("\"nowhere\" is not a state"));
    assert!(reason("states.start[2].record.eventId").contains("fixed columns"));
    assert!(reason("states.start[2].record.line").contains("recorded for every line"));
}

#[test]
fn states_must_exist_and_be_lists_of_rules() {
    assert_eq!(
        problems(""),
        [(
            "states".to_owned(),
            "must define at least one state".to_owned()
        )]
    );
    let got = problems("states = { start = 3, next = [ 'x' ] }");
    let keys: Vec<&str> = got.iter().map(|(k, _)| k.as_str()).collect();
    // (TOML tables reach the plug-in in name order.)
    assert_eq!(keys, ["states.next[0]", "states.start"]);
}

#[test]
fn a_pathological_pattern_does_not_backtrack() {
    let c = compiled(
        r#"
[[states.start]]
pattern = '^(a*)*b$'
reply = "matched\r\n"
[[states.start]]
pattern = '^(a|aa)+$'
reply = "as\r\n"
"#,
    )
    .unwrap();
    let line = "a".repeat(64 * 1024);
    let started = Instant::now();
    let chosen = c.rules.choose(0, &line);
    let elapsed = started.elapsed();
    assert_eq!(
        chosen.map(|(r, _)| r.reply.clone()),
        Some(c.rules.states[0].rules[1].reply.clone())
    );
    // A backtracking engine takes exponential time here; a linear one, milliseconds (a
    // generous bound for a slow debug build on a busy machine).
    assert!(elapsed < Duration::from_secs(10), "{elapsed:?}");
    let ending = format!("{line}c");
    let started = Instant::now();
    assert!(c.rules.choose(0, &ending).is_none());
    assert!(started.elapsed() < Duration::from_secs(10));
}

mod over_a_connection {
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
    use tokio_util::sync::CancellationToken;

    use super::*;

    /// A rules instance with `options`, one in-memory connection to it from 127.0.0.1 (the
    /// test's end of it) and a session recording into a temporary store.
    struct Harness {
        plugin: RulesPlugin,
        conn: Connection,
        session: Session,
        peer: DuplexStream,
        token: CancellationToken,
        _recorder: store::Recorder,
        _dir: tempfile::TempDir,
    }

    impl Harness {
        fn new(options: &str) -> Harness {
            let dir = tempfile::tempdir().unwrap();
            let (db, _) = store::open(&dir.path().join("s.sqlite"), &[]).unwrap();
            let recorder = store::Recorder::start(db, &[], 16, 16).unwrap();
            let table: toml::Table = toml::from_str(options).unwrap();
            let limits = Limits::default();
            let plugin = RulesPlugin::new(&PluginSettings {
                name: "t",
                options: &table,
                limits: &limits,
                config_dir: std::path::Path::new("."),
                data_dir: std::path::Path::new("."),
            })
            .unwrap();
            let (io, peer) = tokio::io::duplex(4096);
            let addr: SocketAddr = "127.0.0.1:2121".parse().unwrap();
            let token = CancellationToken::new();
            let conn = Connection::new(io, addr, addr, Arc::new(limits), token.clone());
            let info = Arc::new(crate::session::InstanceInfo {
                sensor: "s".into(),
                plugin: "t".into(),
                protocol: "tcp".into(),
                table: "t".into(),
                lost: Default::default(),
                persona: Default::default(),
            });
            let session = Session::new(info, addr, addr, recorder.handle(), 16);
            Harness {
                plugin,
                conn,
                session,
                peer,
                token,
                _recorder: recorder,
                _dir: dir,
            }
        }

        /// Sends `input` and its end, runs the conversation to its end; how it ended and what was said.
        async fn run(mut self, input: &[u8]) -> (Result<(), CloseReason>, String) {
            self.peer.write_all(input).await.unwrap();
            // The input ends there (the other direction stays open for the replies).
            self.peer.shutdown().await.unwrap();
            let ended = self.plugin.handle(&mut self.conn, &mut self.session).await;
            drop(self.conn);
            let mut said = String::new();
            self.peer.read_to_string(&mut said).await.unwrap();
            (ended, said)
        }
    }

    /// A reply delay (up to 10 s) does not hold the sensor's shutdown past its grace period.
    #[tokio::test]
    async fn a_delay_ends_when_the_grace_period_does() {
        let harness =
            Harness::new("[[states.start]]\npattern = ''\nreply = 'late'\ndelay_ms = 10000\n");
        let token = harness.token.clone();
        let started = Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(200)).await;
            token.cancel();
        });
        let (ended, said) = harness.run(b"hi\r\n").await;
        assert_eq!(ended, Err(CloseReason::Shutdown));
        assert_eq!(said, "");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    /// A data rule whose connection never comes answers `data_failed` after
    /// `data_timeout_secs`; the next one, with no listener, `data_missing`.
    #[tokio::test]
    async fn a_data_connection_that_never_comes_is_answered() {
        let harness = Harness::new(
            "data_timeout_secs = 1\n\
             [[states.start]]\npattern = '^PASV$'\npassive = true\nreply = \"227 {passive_p1},{passive_p2}\\r\\n\"\n\
             [[states.start]]\npattern = '^LIST$'\nreply = \"150 go\\r\\n\"\ndata = 'x'\nafter_data = \"226 ok\\r\\n\"\n\
             [[states.start]]\npattern = '^QUIT$'\nclose = true\n",
        );
        let started = Instant::now();
        let (ended, said) = harness.run(b"PASV\r\nLIST\r\nLIST\r\nQUIT\r\n").await;
        assert_eq!(ended, Ok(()));
        assert!(started.elapsed() >= Duration::from_secs(1));
        let lines: Vec<&str> = said.split("\r\n").collect();
        assert!(lines[0].starts_with("227 "), "{said:?}");
        assert_eq!(
            lines[1..],
            [
                "150 go",
                "425 Failed to establish connection.",
                "425 Use PORT or PASV first.",
                ""
            ]
        );
    }

    /// Patterns and templates see `max_line` bytes of a line; input that is not text at all
    /// is screened out before any rule runs.
    #[tokio::test]
    async fn lines_are_cut_at_max_line_and_foreign_input_is_screened() {
        let options =
            "max_line = 4\n[[states.start]]\npattern = '^(.*)$'\nreply = \"<{1}>\\r\\n\"\n";
        let (ended, said) = Harness::new(options).run(b"abcdefgh\r\nxy").await;
        assert_eq!(
            (ended, said.as_str()),
            (Err(CloseReason::PeerClosed), "<abcd>\r\n")
        );
        let (ended, said) = Harness::new(options)
            .run(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await;
        assert_eq!((ended, said.as_str()), (Ok(()), ""));
    }

    /// What an idle session costs is mostly its futures: the rules conversation stays small
    /// because a step (delays, data transfers) is boxed.
    #[tokio::test]
    async fn the_handler_future_is_small() {
        let mut harness = Harness::new(FTP);
        let size = std::mem::size_of_val(
            &*harness
                .plugin
                .handle(&mut harness.conn, &mut harness.session),
        );
        eprintln!("rules conversation future: {size} bytes");
        // 760 bytes when measured (the telnet conversation is bounded at 1,280).
        assert!(size <= 896, "rules conversation future: {size} bytes");
    }
}
