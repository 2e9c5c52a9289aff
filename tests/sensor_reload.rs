//! Reloading the sensor's configuration without a restart (SIGHUP, `systemctl reload`): new
//! and changed instances take effect for new connections, live sessions finish on what they
//! started with, removed instances stop listening, and a bad file or a port that cannot be
//! bound is refused while the running configuration goes on.

mod sensor_common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use sensor_common::{bin, count, db, rows, wait_until};
use testkit::role::RoleProcess;
use testkit::sensor::ports;

/// A banner instance that greets with `220 <greeting>` and answers every line with `reply`.
fn banner(name: &str, port: u16, greeting: &str, reply: &str) -> String {
    format!(
        "\n[[plugin]]\nname = \"{name}\"\nkind = \"banner\"\nport = {port}\ntable = \"{name}\"\n[plugin.options]\nbanner = \"220 {greeting}\\r\\n\"\nreply = \"{reply}\\r\\n\"\n"
    )
}

/// A connection that has read its greeting.
struct Client {
    lines: BufReader<TcpStream>,
}

impl Client {
    fn open(port: u16) -> (Client, String) {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut client = Client {
            lines: BufReader::new(stream),
        };
        let greeting = client.line();
        (client, greeting)
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.lines.read_line(&mut line).expect("a line");
        line.trim_end().to_owned()
    }

    fn ask(&mut self, text: &str) -> String {
        self.lines
            .get_mut()
            .write_all(format!("{text}\r\n").as_bytes())
            .expect("write");
        self.line()
    }
}

fn hang_up(sensor: &mut RoleProcess) {
    let status = Command::new(sensor_common::require("kill", "procps"))
        .args(["-HUP", &sensor.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Sends SIGHUP and waits for the `n`-th reload outcome (`configuration reloaded` or
/// `reload refused`) in the log.
fn reload(sensor: &mut RoleProcess, config: &str, n: usize) -> String {
    std::fs::write(sensor.dir().join("sensor.toml"), config).unwrap();
    hang_up(sensor);
    let outcomes = |log: &str| {
        log.lines()
            .filter(|l| {
                l.contains("configuration reloaded")
                    || l.contains("reload refused: the file has problems")
                    || l.contains("reload refused; the running configuration is kept")
            })
            .count()
    };
    assert!(
        wait_until(Duration::from_secs(10), || outcomes(&sensor.log()) >= n),
        "no reload outcome {n} in:\n{}",
        sensor.log()
    );
    sensor.log()
}

#[test]
fn a_sighup_adds_changes_and_removes_instances_while_live_sessions_go_on() {
    let [pa, pb, pc, pm] = ports();
    let mut sensor = RoleProcess::sensor(
        &bin(),
        &format!(
            "metrics_listen = \"127.0.0.1:{pm}\"\n{}{}",
            banner("a", pa, "alpha", "old a"),
            banner("b", pb, "beta", "b here")
        ),
    );
    let header = std::fs::read_to_string(sensor.dir().join("sensor.toml")).unwrap();
    let header = header[..header.find("\n[[plugin]]").unwrap()].to_owned();
    let (mut live_a, greeting) = Client::open(pa);
    assert_eq!(greeting, "220 alpha");
    let (mut live_b, _) = Client::open(pb);

    // a changes, b goes, c comes.
    let log = reload(
        &mut sensor,
        &format!(
            "{header}{}{}",
            banner("a", pa, "alpha2", "new a"),
            banner("c", pc, "gamma", "c here")
        ),
        1,
    );
    assert!(
        log.contains("configuration reloaded: added c (port ") && log.contains("removed b"),
        "{log}"
    );
    let (mut new_a, greeting) = Client::open(pa);
    assert_eq!(greeting, "220 alpha2", "a new connection gets the new a");
    assert_eq!(new_a.ask("hello"), "new a");
    assert_eq!(
        live_a.ask("hello"),
        "old a",
        "a live session keeps the plug-in it started with"
    );
    assert_eq!(
        live_b.ask("still here"),
        "b here",
        "b's live session goes on"
    );
    assert!(
        TcpStream::connect(("127.0.0.1", pb)).is_err(),
        "the removed instance no longer listens"
    );
    let (mut c, greeting) = Client::open(pc);
    assert_eq!(greeting, "220 gamma");
    assert_eq!(c.ask("USER root"), "c here");

    // A file with a problem is refused, with its file, key and line; nothing changes.
    let bad = format!(
        "{header}{}\n[[plugin]]\nname = \"d\"\nkind = \"nosuchkind\"\nport = {pb}\ntable = \"d\"\n",
        banner("a", pa, "alpha3", "newer a"),
    );
    let line = 1 + bad.lines().position(|l| l.contains("nosuchkind")).unwrap();
    let log = reload(&mut sensor, &bad, 2);
    assert!(
        log.lines().any(
            |l| l.contains("sensor.toml: plugin[1].kind: unknown kind \"nosuchkind\"")
                && l.ends_with(&format!("(line {line})"))
        ),
        "{log}"
    );
    let (_, greeting) = Client::open(pa);
    assert_eq!(greeting, "220 alpha2", "the refused file changed nothing");
    assert!(
        TcpStream::connect(("127.0.0.1", pc)).is_ok(),
        "c still listens"
    );

    // A port that cannot be bound refuses the whole reload: a's change is not applied either.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let log = reload(
        &mut sensor,
        &format!(
            "{header}{}{}{}",
            banner("a", pa, "alpha4", "newest a"),
            banner("c", pc, "gamma", "c here"),
            banner("e", taken_port, "epsilon", "e")
        ),
        3,
    );
    assert!(
        log.contains(&format!("cannot listen on 127.0.0.1:{taken_port}")),
        "{log}"
    );
    let (_, greeting) = Client::open(pa);
    assert_eq!(greeting, "220 alpha2", "the refused reload changed nothing");
    drop(taken);

    // The metrics count the reloads and follow the instances.
    let metrics = String::from_utf8(sensor_common::curl(pm, "/metrics", &[]).body).unwrap();
    for expected in [
        "recce7_config_reloads_total{result=\"applied\"} 1",
        "recce7_config_reloads_total{result=\"refused\"} 2",
        "recce7_sessions_total{plugin=\"c\"} 2",
        "recce7_events_total{plugin=\"c\",type=\"service.input\"} 1",
    ] {
        assert!(
            metrics.contains(expected),
            "{expected} missing in:\n{metrics}"
        );
    }

    drop((live_a, live_b, new_a, c));
    let dir = sensor.dir().to_path_buf();
    let (status, _keep) = sensor.terminate_keeping_dir(Duration::from_secs(20));
    assert!(
        status.success(),
        "{}",
        testkit::role::log_in(&dir, "sensor")
    );
    let conn = db(&dir.join("sensor.sqlite"));
    assert_eq!(
        count(&conn, "SELECT count(*) FROM c WHERE line = 'USER root'"),
        1,
        "the new instance records into its new table"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM b WHERE line = 'still here'"),
        1,
        "the removed instance's live session recorded to the end"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sessions WHERE closeReason IS NULL"
        ),
        0,
        "every session ended"
    );
    // The report service's ports list follows the reload.
    let listed = rows(&conn, "SELECT value FROM storeMeta WHERE key = 'instances'");
    let listed = &listed[0][0];
    assert!(
        listed.contains("\"c\"") && !listed.contains("\"b\""),
        "{listed}"
    );
}
