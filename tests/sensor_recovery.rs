//! Crash recovery and a disk that never fills (issue 12, items 7 and 9), with the real binary:
//! a session cut by `kill -9` is closed at the next start and its `session.end` goes through a
//! real hpfeeds3 broker into the normalizer; retention keeps a small database under its cap
//! while the sensor records and unsent events wait; a full filesystem (a size-limited tmpfs)
//! costs counted events, never the service, and writing resumes when space returns.

mod sensor_common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports, telnet_any_login};
use testkit::{Authkey, HpfeedsBroker};

const EVENTS: &str = "recce7.events";
const TIMEOUT: Duration = Duration::from_secs(30);

fn sensor_key() -> Authkey {
    Authkey::new("sensor-1", "s3nsor", &[EVENTS])
}

fn normalizer_key() -> Authkey {
    Authkey::new("normalizer", "n0rm", &[EVENTS])
}

fn prober_key() -> Authkey {
    Authkey::new("prober", "pr0be", &[EVENTS])
}

fn hpfeeds_table(broker: &HpfeedsBroker, key: &Authkey, extra: &str) -> String {
    format!(
        "\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"{}\"\nsecret = \"{}\"\nchannel = \"{EVENTS}\"\nreconnect_max_secs = 1\n{extra}",
        broker.port(),
        key.ident,
        key.secret
    )
}

/// One integer from a query, 0 while the table does not exist yet (the central store creates
/// an instance's table with its first row).
fn count_or_zero(path: &Path, sql: &str) -> i64 {
    db(path).query_row(sql, [], |r| r.get(0)).unwrap_or(0)
}

#[test]
fn a_session_cut_by_kill_9_is_closed_at_restart_and_its_end_reaches_the_normalizer() {
    let broker = HpfeedsBroker::start(&[sensor_key(), normalizer_key(), prober_key()]);
    let central_dir = tempfile::tempdir().unwrap();
    let central_path = central_dir.path().join("central.sqlite");
    let normalizer = RoleProcess::start(
        &bin(),
        "normalizer",
        central_dir.path(),
        &format!(
            "[normalizer]\ndatabase = \"{}\"\n{}",
            central_path.display(),
            hpfeeds_table(&broker, &normalizer_key(), "").replace(
                &format!("channel = \"{EVENTS}\""),
                &format!("channels = [\"{EVENTS}\"]")
            )
        ),
    );
    wait_until_normalizer_subscribed(&broker, &prober_key(), "probe", &central_path);

    let [port] = ports();
    let body = format!(
        "{}{}",
        telnet_any_login("telnet", port, "telnet"),
        hpfeeds_table(&broker, &sensor_key(), "")
    );
    let mut sensor = RoleProcess::sensor(&bin(), &body);
    // A real telnet client would do; raw TCP speaks the same bytes and needs no terminal.
    let mut client = connect(port);
    read_until(&mut client, b"login: ");
    send(&mut client, b"root\r\n");
    read_until(&mut client, b"Password: ");
    send(&mut client, b"vizxv\r\n");
    read_until(&mut client, b"# ");
    send(&mut client, b"cat /proc/cpuinfo\r\n");
    read_until(&mut client, b"# ");
    // The command is committed and published; the session is live when the kill comes.
    let db_path = sensor.db().to_path_buf();
    let command_rows = "SELECT count(*) FROM telnet WHERE eventType = 'telnet.command' AND user_input = 'cat /proc/cpuinfo'";
    assert!(
        wait_until(TIMEOUT, || count(&db(&db_path), command_rows) == 1
            && central_path.exists()
            && count_or_zero(&central_path, command_rows) == 1),
        "the command never reached both stores; normalizer log: {}",
        normalizer.log()
    );
    let pid = sensor.pid();
    testkit::signal(pid, "KILL");
    let dir = sensor.into_dir();
    drop(client);
    let conn = db(&db_path);
    let cut = rows(
        &conn,
        "SELECT session, endTime, closeReason, bytesIn FROM sessions",
    );
    assert_eq!(cut.len(), 1);
    assert_eq!(cut[0][1..], ["NULL", "NULL", "NULL"], "cut by kill -9");
    let session = cut[0][0].clone();
    let last_event: String = conn
        .query_row(
            "SELECT max(eventDateTime) FROM telnet WHERE session = ?1",
            [&session],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);

    let sensor = RoleProcess::sensor_in(&bin(), dir, &body);
    let conn = db(&db_path);
    assert_eq!(
        rows(
            &conn,
            "SELECT session, endTime, closeReason, bytesIn, bytesOut FROM sessions"
        ),
        [[
            session.as_str(),
            last_event.as_str(),
            "sensor restart",
            "NULL",
            "NULL"
        ]],
        "closed at the time of its last event; the byte counts died with the process"
    );
    let log = testkit::sensor::log(sensor.dir());
    assert!(
        log.contains("closed 1 session left open by the last run"),
        "{log}"
    );
    let ended = format!(
        "SELECT endTime || ' ' || closeReason FROM sessions WHERE session = '{session}' AND endTime IS NOT NULL"
    );
    assert!(
        wait_until(TIMEOUT, || !rows(&db(&central_path), &ended).is_empty()),
        "the late session.end never reached the central store; normalizer log: {}",
        normalizer.log()
    );
    assert_eq!(
        rows(&db(&central_path), &ended),
        [[format!("{last_event} sensor restart")]]
    );
    let end_events = rows(
        &conn,
        "SELECT json_extract(payload, '$.type'), json_extract(payload, '$.time'),
         json_extract(payload, '$.data.reason'), json_extract(payload, '$.src_ip')
         FROM outbox WHERE json_extract(payload, '$.type') = 'session.end'",
    );
    assert_eq!(
        end_events,
        [[
            "session.end",
            last_event.as_str(),
            "sensor restart",
            "127.0.0.1"
        ]]
    );
    let (status, _dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let (status, log) = normalizer.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

/// Sends `n` keep-alive HTTP POSTs with a body of `body_bytes` over one connection, reading
/// each response; returns how many were answered.
fn http_posts(port: u16, prefix: &str, n: usize, body_bytes: usize) -> usize {
    let body = "x".repeat(body_bytes);
    keep_alive_requests(
        port,
        (0..n).map(|i| {
            format!(
                "POST /{prefix}{i} HTTP/1.1\r\nHost: sensor\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
        }),
    )
}

/// The database and its WAL on disk, in bytes.
fn bytes_on_disk(db_path: &Path) -> u64 {
    let size = |p: PathBuf| std::fs::metadata(p).map_or(0, |m| m.len());
    let mut wal = db_path.as_os_str().to_owned();
    wal.push("-wal");
    size(db_path.to_path_buf()) + size(PathBuf::from(wal))
}

#[test]
fn retention_keeps_a_small_database_under_its_cap_and_never_prunes_unsent_events() {
    let broker = HpfeedsBroker::start(&[sensor_key()]);
    let [port] = ports();
    let cap_bytes: u64 = 2 << 20;
    let body = format!(
        "{}{}\n[retention]\nmax_age_days = 0\nmax_database_mb = 2\ncheck_interval_secs = 1\n",
        plugin("web", "http", port, "http"),
        hpfeeds_table(
            &broker,
            &sensor_key(),
            "resend_window_secs = 1\nkeep_sent_secs = 1\n"
        )
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let db_path = sensor.db().to_path_buf();
    // About 5 MB on disk (each 2 KB request takes a page in its table and one in the outbox),
    // two and a half times the cap, each round published before the next and left to age past
    // keep_sent_secs (size pruning leaves newer sent events to the publisher).
    let unsent = "SELECT count(*) FROM outbox WHERE sentMicros IS NULL";
    for round in 0..12 {
        assert_eq!(http_posts(port, &format!("r{round}-"), 50, 2000), 50);
        assert!(
            wait_until(TIMEOUT, || count(&db(&db_path), unsent) == 0),
            "the publisher never caught up"
        );
        std::thread::sleep(Duration::from_millis(1100));
    }
    assert!(
        wait_until(TIMEOUT, || bytes_on_disk(&db_path) <= cap_bytes),
        "the database stays at {} bytes, over its cap of {cap_bytes}: {}",
        bytes_on_disk(&db_path),
        testkit::sensor::log(sensor.dir())
    );
    let conn = db(&db_path);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM http WHERE path = '/r0-0'"),
        0,
        "the oldest data went first"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM http WHERE path = '/r11-49'"),
        1,
        "the newest is kept: {}",
        testkit::sensor::log(sensor.dir())
    );
    drop(conn);

    // A restart towards a broker that is not there: what is recorded now cannot be sent, and
    // must survive pruning.
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
    let [nowhere] = ports();
    let unreachable = body.replace(
        &format!("port = {}\n", broker.port()),
        &format!("port = {nowhere}\n"),
    );
    assert_ne!(unreachable, body);
    drop(broker);
    let sensor = RoleProcess::sensor_in(&bin(), dir, &unreachable);
    assert_eq!(http_posts(port, "u0-", 300, 300), 300);
    // 302 events, all unsent: with no broker the publisher hands nothing to the client (events
    // handed to a client that cannot connect used to be marked sent and pruned, and lost to a
    // crash). They must fit under the cap with the sessions that hold them.
    assert!(
        wait_until(TIMEOUT, || count(&db(&db_path), unsent) >= 300),
        "{} unsent",
        count(&db(&db_path), unsent)
    );
    std::thread::sleep(Duration::from_secs(2));
    let waiting: Vec<String> = rows(
        &db(&db_path),
        "SELECT eventId FROM outbox WHERE sentMicros IS NULL",
    )
    .into_iter()
    .map(|r| format!("'{}'", r[0]))
    .collect();
    let their_rows = format!(
        "SELECT count(*) FROM http WHERE eventId IN ({})",
        waiting.join(",")
    );
    let waiting_rows = count(&db(&db_path), &their_rows);
    assert!(waiting_rows >= 290, "{waiting_rows} rows of unsent events");
    // Older published data goes to make room; the unsent rows and their sessions stay.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        wait_until(TIMEOUT, || bytes_on_disk(&db_path) <= cap_bytes),
        "the database stays at {} bytes, over its cap of {cap_bytes}: {}",
        bytes_on_disk(&db_path),
        testkit::sensor::log(sensor.dir())
    );
    let unsent_left = format!(
        "SELECT count(*) FROM outbox WHERE sentMicros IS NULL AND eventId IN ({})",
        waiting.join(",")
    );
    assert_eq!(
        count(&db(&db_path), &unsent_left),
        waiting.len() as i64,
        "an unsent event was pruned"
    );
    assert_eq!(
        count(&db(&db_path), &their_rows),
        waiting_rows,
        "a row of an unsent event was pruned"
    );
    // The publisher gives an unreachable broker its drain and close timeouts first.
    let (status, dir) = sensor.terminate_keeping_dir(Duration::from_secs(90));
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
    let log = testkit::sensor::log(dir.path());
    assert!(log.contains("retention: pruned"), "{log}");
}

/// A size-limited tmpfs, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Tmpfs {
        let root = nix_is_root();
        assert!(
            root,
            "this test mounts a size-limited tmpfs and must run as root (CI does; run it with sudo)"
        );
        std::fs::create_dir_all(dir).unwrap();
        let out = testkit::run_with_timeout(
            {
                let mut c = Command::new("mount");
                c.args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                    .arg(dir);
                c
            },
            TIMEOUT,
        );
        assert!(out.status.success(), "mount tmpfs: {out:?}");
        Tmpfs(dir.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let mut c = Command::new("umount");
        c.arg("-l").arg(&self.0);
        let _ = testkit::run_with_timeout(c, TIMEOUT);
    }
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        .unwrap_or(false)
}

/// One sample of the sensor's `/metrics` page.
fn metric(port: u16, name: &str) -> f64 {
    let page = curl(port, "/metrics", &[]);
    assert_eq!(page.status, 200);
    String::from_utf8_lossy(&page.body)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} not in /metrics"))
}

#[test]
fn a_full_disk_costs_counted_events_never_the_service_and_writing_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let mount = dir.path().join("small");
    let tmpfs = Tmpfs::mount(&mount, "2m");
    let [port, metrics_port] = ports();
    let body = format!(
        "metrics_listen = \"127.0.0.1:{metrics_port}\"\n{}",
        plugin("web", "http", port, "http")
    );
    let db_path = mount.join("sensor.sqlite");
    let sensor = RoleProcess::sensor_with_database(&bin(), dir, db_path.clone(), &body);
    assert_eq!(http_posts(port, "before", 10, 100), 10);
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM http"
    ) == 10));
    assert_eq!(metric(metrics_port, "recce7_store_writing"), 1.0);
    // Fill the filesystem: the database cannot grow any more.
    let filler = mount.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    drop(f);

    // The sensor answers every request while it cannot write them.
    for round in 0..10 {
        assert_eq!(
            http_posts(port, &format!("full{round}-"), 50, 4000),
            50,
            "the sensor stopped answering"
        );
    }
    assert!(
        wait_until(TIMEOUT, || metric(metrics_port, "recce7_store_writing")
            == 0.0),
        "the writing gauge never fell"
    );
    let dropped = metric(metrics_port, "recce7_store_events_dropped_disk_full_total");
    assert!(dropped > 0.0, "nothing counted as dropped");
    let log = testkit::sensor::log(sensor.dir());
    assert!(
        log.contains("the disk is full: events are dropped and counted until space returns"),
        "{log}"
    );
    assert!(
        log.matches("event not written").count() < 5,
        "one line per dropped event: {log}"
    );

    // Space returns: the sensor writes again by itself.
    std::fs::remove_file(&filler).unwrap();
    assert!(
        wait_until(TIMEOUT, || {
            http_posts(port, "after", 5, 100);
            metric(metrics_port, "recce7_store_writing") == 1.0
        }),
        "writing never resumed"
    );
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM http WHERE path LIKE '/after%'"
    ) >= 5));
    let log = testkit::sensor::log(sensor.dir());
    assert!(log.contains("writing to the database again"), "{log}");
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    let log = testkit::sensor::log(dir.path());
    assert_eq!(
        status.code(),
        Some(1),
        "events were dropped, and the exit status says so: {log}"
    );
    assert!(log.contains("some events were not written"), "{log}");
    drop(tmpfs);
}
