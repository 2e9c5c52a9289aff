//! The credential policy (docs/credentials.md) over real sockets: telnet logins refused then
//! accepted as BusyBox's `login` refuses them (a delay, `Login incorrect`, the prompt again,
//! the connection closed after three failures), the policy's memory across connections, the
//! user database, and Debian's `hydra` brute-forcing the telnet port: it finds a password, and
//! the database holds the refused attempts that came before it.

mod sensor_common;

use std::process::Command;
use std::time::{Duration, Instant};

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports};

const TIMEOUT: Duration = Duration::from_secs(30);

/// A telnet instance on `port` with `credentials` as its `[plugin.options.credentials]`.
fn telnet(port: u16, credentials: &str) -> String {
    format!(
        "{}[plugin.options.credentials]\n{credentials}\n",
        plugin("telnet", "telnet", port, "telnet")
    )
}

/// Sends `user` and `password` at a `login:` prompt (already read); returns what the sensor
/// answered, up to the shell prompt (`# `, `$ ` for a user other than root), the next
/// `login:` prompt or the end of the connection.
fn try_login(s: &mut std::net::TcpStream, user: &str, password: &str) -> String {
    send(s, format!("{user}\r\n").as_bytes());
    read_until(s, b"Password: ");
    send(s, format!("{password}\r\n").as_bytes());
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while ![&b"# "[..], b"$ ", b"login: "]
        .iter()
        .any(|end| got.ends_with(end))
    {
        match std::io::Read::read(s, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// The `telnet.login` rows as `[username, password, outcome]`, in order.
fn logins(path: &std::path::Path) -> Vec<Vec<String>> {
    rows(
        &db(path),
        "SELECT username, password, outcome FROM telnet WHERE eventType = 'telnet.login' ORDER BY ID",
    )
}

fn login(user: &str, password: &str, outcome: &str) -> Vec<String> {
    vec![user.into(), password.into(), outcome.into()]
}

#[test]
fn refused_then_accepted_and_remembered_across_connections() {
    let [port, metrics] = ports();
    let sensor = RoleProcess::sensor(
        &bin(),
        &format!(
            "metrics_listen = \"127.0.0.1:{metrics}\"\n{}",
            telnet(port, "accept_after = [2, 2]\nfailure_delay_ms = 300")
        ),
    );
    // First connection: two refused, as BusyBox's login refuses (after its delay), then in.
    let mut s = connect(port);
    // The device's name is the persona's, generated per install.
    let greeting = String::from_utf8_lossy(&read_until(&mut s, b"login: ")).into_owned();
    let prompt = greeting.rsplit("\r\r\n").next().unwrap().to_string();
    let refused = format!("\r\nLogin incorrect\r\n{prompt}");
    let started = Instant::now();
    let answer = try_login(&mut s, "root", "123456");
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "the refusal waits failure_delay_ms: {:?}",
        started.elapsed()
    );
    assert_eq!(answer, refused);
    assert_eq!(try_login(&mut s, "root", "admin"), refused);
    let answer = try_login(&mut s, "root", "xc3511");
    assert!(
        answer.contains("BusyBox") && answer.ends_with("# "),
        "{answer:?}"
    );
    send(&mut s, b"exit\r\n");
    read_to_close(&mut s);

    // The password that worked works again; one refused stays refused, and so does a new one
    // (one password is right); the third failure closes the connection, as BusyBox's does.
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    let answer = try_login(&mut s, "root", "xc3511");
    assert!(answer.ends_with("# "), "{answer:?}");
    send(&mut s, b"exit\r\n");
    read_to_close(&mut s);
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    assert!(try_login(&mut s, "root", "123456").contains("Login incorrect"));
    assert!(try_login(&mut s, "root", "vizxv").contains("Login incorrect"));
    let answer = try_login(&mut s, "admin", "xc3511");
    assert_eq!(
        answer, "\r\nLogin incorrect\r\n",
        "no prompt after the third failure"
    );
    let (rest, closed) = read_to_close(&mut s);
    assert!(closed && rest.is_empty(), "closed: {closed} {rest:?}");
    let page = String::from_utf8(curl(metrics, "/metrics", &[]).body).unwrap();
    for expected in [
        "recce7_logins_total{plugin=\"telnet\",outcome=\"accepted\"} 2",
        "recce7_logins_total{plugin=\"telnet\",outcome=\"refused\"} 5",
    ] {
        assert!(page.contains(expected), "{expected} in {page}");
    }

    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{status}");
    let path = dir.path().join("sensor.sqlite");
    assert_eq!(
        logins(&path),
        [
            login("root", "123456", "refused"),
            login("root", "admin", "refused"),
            login("root", "xc3511", "accepted"),
            login("root", "xc3511", "accepted"),
            login("root", "123456", "refused"),
            login("root", "vizxv", "refused"),
            login("admin", "xc3511", "refused"),
        ]
    );
    assert_eq!(
        count(
            &db(&path),
            "SELECT count(*) FROM sessions WHERE closeReason = 'login incorrect'"
        ),
        1,
        "{:?}",
        rows(&db(&path), "SELECT closeReason FROM sessions")
    );
}

#[test]
fn a_refusal_delay_ends_with_the_sensor() {
    let [port] = ports();
    let sensor = RoleProcess::sensor(
        &bin(),
        &telnet(port, "accept_after = [1, 1]\nfailure_delay_ms = 60000"),
    );
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    send(&mut s, b"root\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"123456\r\n");
    read_until(&mut s, b"\r\n");
    let path = sensor.db().to_path_buf();
    let refused = "SELECT count(*) FROM telnet WHERE outcome = 'refused'";
    assert!(wait_until(TIMEOUT, || count(&db(&path), refused) == 1));
    // SIGTERM in the middle of the 60 s delay: the session ends within the 1 s grace.
    let started = Instant::now();
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        rows(
            &db(&dir.path().join("sensor.sqlite")),
            "SELECT closeReason FROM sessions"
        ),
        [["sensor shutdown"]]
    );
}

#[test]
fn empty_password_is_refused_and_the_userdb_wins() {
    let dir = tempfile::tempdir().unwrap();
    let userdb = dir.path().join("userdb.txt");
    std::fs::write(
        &userdb,
        "root:x:!root\nroot:x:vizxv\n/^supp/:x:/^[0-9]+$/\n",
    )
    .unwrap();
    let [port] = ports();
    let sensor = RoleProcess::sensor(
        &bin(),
        &telnet(
            port,
            &format!(
                "accept_after = [0, 0]\nfailure_delay_ms = 10\nuserdb = \"{}\"",
                userdb.display()
            ),
        ),
    );
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    assert!(try_login(&mut s, "root", "").contains("Login incorrect"));
    assert!(try_login(&mut s, "root", "root").contains("Login incorrect"));
    assert!(try_login(&mut s, "support", "1234").ends_with("$ "));
    drop(s);
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    assert!(try_login(&mut s, "root", "vizxv").ends_with("# "));
    drop(s);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{status}");
    assert_eq!(
        logins(&dir.path().join("sensor.sqlite")),
        [
            login("root", "", "refused"),
            login("root", "root", "refused"),
            login("support", "1234", "accepted"),
            login("root", "vizxv", "accepted"),
        ]
    );
}

#[test]
fn a_bad_userdb_is_reported_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let userdb = dir.path().join("userdb.txt");
    std::fs::write(&userdb, "root:x:vizxv\nno colon here\n").unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[sensor]\ndatabase = \"{}/s.sqlite\"\n{}",
            dir.path().display(),
            telnet(2323, "userdb = \"userdb.txt\"\naccept_after = [4, 1]")
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check-config").arg(&config);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(
            "plugin[0].options.credentials.accept_after: min (4) is greater than max (1)"
        ),
        "{text}"
    );
    // The file is read once the values are right.
    std::fs::write(
        &config,
        format!(
            "[sensor]\ndatabase = \"{}/s.sqlite\"\n{}",
            dir.path().display(),
            telnet(2323, "userdb = \"userdb.txt\"")
        ),
    )
    .unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check-config").arg(&config);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains(&format!(
            "plugin[0].options.credentials.userdb: {}:2: expected user:x:password",
            userdb.display()
        )),
        "{text}"
    );
}

/// Passwords from the Mirai family's list, as a brute-forcer would try them.
const PASSWORDS: [&str; 30] = [
    "123456",
    "password",
    "admin",
    "12345",
    "root",
    "1234",
    "xc3511",
    "vizxv",
    "default",
    "888888",
    "54321",
    "support",
    "user",
    "guest",
    "666666",
    "klv123",
    "Zte521",
    "hi3518",
    "jvbzd",
    "anko",
    "zlxx.",
    "7ujMko0vizxv",
    "7ujMko0admin",
    "system",
    "ikwb",
    "dreambox",
    "realtek",
    "00000000",
    "1111111",
    "smcadmin",
];

#[test]
fn hydra_reveals_the_policys_share_of_its_list_then_gets_in() {
    let [port] = ports();
    let sensor = RoleProcess::sensor(
        &bin(),
        &telnet(port, "accept_after = [3, 5]\nfailure_delay_ms = 50"),
    );
    // The server answers none of hydra's negotiation (as BusyBox telnetd), so hydra types
    // whole lines and every attempt on a connection arrives intact.
    let found = hydra_root(&format!("telnet://127.0.0.1:{port}"), &PASSWORDS);
    assert!(PASSWORDS.contains(&found.as_str()), "{found:?}");

    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{status}");
    let attempts = logins(&dir.path().join("sensor.sqlite"));
    // Every attempt arrives as hydra typed it, none garbled (`oot`, an empty name): user
    // `root` and a password of the list, in the list's order. Hydra 9.4 skips entries itself
    // (its child reads two pairs from its master in one read and tries the first), so the
    // passwords are in order but not contiguous.
    let mut next = 0;
    for (i, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt[0], "root", "attempt {i}: {attempts:?}");
        let index = PASSWORDS
            .iter()
            .skip(next)
            .position(|p| *p == attempt[1])
            .unwrap_or_else(|| panic!("attempt {i} not next in the list: {attempts:?}"));
        next += index + 1;
    }
    // Only refusals, 3 to 5 of them (the policy's draw), then the one accepted login, the last.
    let last = attempts.len() - 1;
    assert!((3..=5).contains(&last), "{attempts:?}");
    assert!(
        attempts[..last].iter().all(|a| a[2] == "refused"),
        "{attempts:?}"
    );
    assert_eq!(
        attempts[last][2], "accepted",
        "hydra stops there: {attempts:?}"
    );
    // Hydra names the pair its master handed out last, which is the accepted one or one
    // after it in the list (the same skipping).
    let position = |p: &str| PASSWORDS.iter().position(|q| *q == p);
    assert!(
        position(&found) >= position(&attempts[last][1]),
        "{found:?} {attempts:?}"
    );
}
