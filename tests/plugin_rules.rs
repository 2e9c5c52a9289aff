//! The rules plug-in (`kind = "rules"`) and the shipped service pack (`configs/service-pack.toml`)
//! against real clients: curl's FTP, Python's smtplib and nmap's service detection, with every
//! recorded row checked in SQLite and in the outbox the publisher sends from; and
//! `recce7 check-config` on rules that do not compile.

mod sensor_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use testkit::role::{Readiness, RoleProcess};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The shipped service pack running on free ports, recording to `service-pack.sqlite` in a
/// temporary directory, with an `[hpfeeds]` table (towards a port nobody listens on) so that
/// every event is also kept in the outbox, as published.
struct Pack {
    sensor: RoleProcess,
    ftp: u16,
    smtp: u16,
}

impl Pack {
    fn start() -> Pack {
        let root = testkit::workspace_root();
        let shipped = std::fs::read_to_string(root.join("configs/service-pack.toml")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("service-pack.sqlite");
        let [telnet, http, ftp, smtp, redis, mysql, broker] =
            std::array::from_fn(|_| testkit::free_port());
        let mut text = shipped;
        let mut replace = |from: &str, to: &str| {
            assert_eq!(
                text.matches(from).count(),
                1,
                "{from:?} once in the service pack"
            );
            text = text.replace(from, to);
        };
        replace("listen = []", "listen = [\"127.0.0.1\"]");
        replace(
            "database = \"service-pack.sqlite\"",
            &format!("database = \"{}\"", db.display()),
        );
        replace(
            "metrics_listen = \"127.0.0.1:9108\"",
            "metrics_listen = \"\"",
        );
        replace("shutdown_grace_secs = 3", "shutdown_grace_secs = 1");
        replace("port = 2323\n", &format!("port = {telnet}\n"));
        replace("port = 8080\n", &format!("port = {http}\n"));
        replace("port = 2121\n", &format!("port = {ftp}\n"));
        replace("port = 2525\n", &format!("port = {smtp}\n"));
        replace("port = 6379\n", &format!("port = {redis}\n"));
        replace("port = 3306\n", &format!("port = {mysql}\n"));
        // The pack's scripts, where they are shipped (the config is in a temporary directory).
        let scripts = root.join("configs/scripts");
        replace(
            "script = \"scripts/redis.lua\"",
            &format!("script = \"{}\"", scripts.join("redis.lua").display()),
        );
        replace(
            "script = \"scripts/mysql.lua\"",
            &format!("script = \"{}\"", scripts.join("mysql.lua").display()),
        );
        text.push_str(&format!(
            "\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {broker}\nident = \"pack\"\nsecret = \"s\"\nchannel = \"recce7.events\"\n"
        ));
        let sensor = RoleProcess::start_owned(
            &bin(),
            "sensor",
            dir,
            db,
            &text,
            Readiness::lines_containing(6, "listening on"),
        );
        Pack { sensor, ftp, smtp }
    }

    /// Stops the sensor; its database and directory.
    fn stop(self) -> (rusqlite::Connection, tempfile::TempDir) {
        let db = self.sensor.db().to_path_buf();
        let (status, dir) = self.sensor.terminate_keeping_dir(TIMEOUT);
        assert!(
            status.success(),
            "{}",
            testkit::role::log_in(dir.path(), "sensor")
        );
        (self::db(&db), dir)
    }
}

/// Every `service.input` event in the outbox of `instance`, as the JSON the publisher sends.
fn published(conn: &rusqlite::Connection, instance: &str) -> Vec<serde_json::Value> {
    rows(conn, "SELECT payload FROM outbox ORDER BY seq")
        .into_iter()
        .map(|r| serde_json::from_str::<serde_json::Value>(&r[0]).unwrap())
        .filter(|e| e["type"] == "service.input" && e["plugin"] == instance)
        .collect()
}

fn curl_ftp(args: &[&str], url: &str) -> std::process::Output {
    let mut cmd = Command::new(require("curl", "curl"));
    cmd.args(["-sS", "--max-time", "20"]).args(args).arg(url);
    testkit::run_with_timeout(cmd, Duration::from_secs(30))
}

#[test]
fn curl_lists_the_fake_ftp_directory_and_uploads_are_refused() {
    let pack = Pack::start();
    let url = format!("ftp://user:pass@127.0.0.1:{}/", pack.ftp);
    let listed = curl_ftp(&[], &url);
    let listing = String::from_utf8_lossy(&listed.stdout).into_owned();
    assert!(listed.status.success(), "{listed:?}");
    // (curl's ASCII mode turns the listing's CRLF into LF.)
    assert!(
        listing
            .contains("\n-rw-r--r--    1 0        0        48231424 Oct 30 02:15 backup.tar.gz\n"),
        "{listing:?}"
    );
    assert_eq!(listing.lines().count(), 4, "{listing:?}");

    // PASV instead of EPSV, names only.
    let names = curl_ftp(&["--disable-epsv", "--list-only"], &url);
    assert!(names.status.success(), "{names:?}");
    assert_eq!(
        String::from_utf8_lossy(&names.stdout),
        "pub\nbackup.tar.gz\nconfig.php.bak\nusers.csv\n"
    );

    let dir = tempfile::tempdir().unwrap();
    let upload = dir.path().join("shell.php");
    std::fs::write(&upload, "<?php system($_GET['c']); ?>\n").unwrap();
    let put = curl_ftp(
        &["-T", upload.to_str().unwrap()],
        &format!("ftp://root:toor@127.0.0.1:{}/shell.php", pack.ftp),
    );
    assert!(!put.status.success(), "the upload must be refused");
    assert_eq!(
        put.status.code(),
        Some(25),
        "curl: upload failed (STOR refused)"
    );
    assert!(
        String::from_utf8_lossy(&put.stderr).contains("553"),
        "{put:?}"
    );

    let (conn, _dir) = pack.stop();
    let logins = rows(
        &conn,
        "SELECT username, password, state FROM ftp WHERE password IS NOT NULL ORDER BY ID",
    );
    assert_eq!(
        logins,
        [
            ["user", "pass", "password"],
            ["user", "pass", "password"],
            ["root", "toor", "password"]
        ]
    );
    // Every command line is a row, in the state it arrived in.
    let lines: Vec<String> = rows(&conn, "SELECT line FROM ftp ORDER BY ID")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    for expected in [
        "USER user",
        "PASS pass",
        "PWD",
        "EPSV",
        "PASV",
        "TYPE A",
        "LIST",
        "NLST",
        "TYPE I",
        "STOR shell.php",
        "QUIT",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "{expected:?} in {lines:?}"
        );
    }
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM ftp WHERE line = 'LIST' AND state = 'ready'"
        ),
        1
    );
    // Three sessions, each closed with QUIT or by the client.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sessions WHERE plugin = 'ftp' AND endTime IS NOT NULL"
        ),
        3
    );
    // The published events carry the recorded columns.
    let events = published(&conn, "ftp");
    assert_eq!(
        events.len() as i64,
        count(&conn, "SELECT count(*) FROM ftp")
    );
    let login = events
        .iter()
        .find(|e| e["data"]["password"] == "toor")
        .expect("the PASS event in the outbox");
    assert_eq!(login["data"]["username"], "root");
    assert_eq!(login["data"]["line"], "PASS toor");
    assert_eq!(login["protocol"], "ftp");
}

/// Runs a Python script with smtplib against the pack's SMTP port.
fn smtplib(port: u16, body: &str) -> String {
    let python = require("python3", "python3");
    let script =
        format!("import smtplib\ns = smtplib.SMTP('127.0.0.1', {port}, timeout=20)\n{body}\n");
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(script);
    let out = testkit::run_with_timeout(cmd, Duration::from_secs(40));
    assert!(
        out.status.success(),
        "smtplib: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn smtplib_logs_in_with_plain_and_login_and_sends_a_message() {
    let pack = Pack::start();
    let said = smtplib(
        pack.smtp,
        "print(s.ehlo())\n\
         s.esmtp_features['auth'] = 'PLAIN'\n\
         print(s.login('alice@example.org', 'plain-secret'))\n\
         s.quit()",
    );
    assert!(said.contains("b'mail.example.net\\nPIPELINING"), "{said}");
    assert!(said.contains("AUTH PLAIN LOGIN"), "{said}");
    assert!(
        said.contains("(235, b'2.7.0 Authentication successful')"),
        "{said}"
    );
    smtplib(
        pack.smtp,
        "s.ehlo()\n\
         s.esmtp_features['auth'] = 'LOGIN'\n\
         s.login('bob', 'login-secret')\n\
         s.quit()",
    );
    // AUTH PLAIN with the credentials on the next line (after `334 `).
    smtplib(
        pack.smtp,
        "s.ehlo()\n\
         s.user, s.password = 'carol', 'next-line'\n\
         print(s.auth('PLAIN', s.auth_plain, initial_response_ok=False))\n\
         s.quit()",
    );
    let said = smtplib(
        pack.smtp,
        "s.ehlo()\n\
         print(s.sendmail('spam@sender.example', ['victim@example.net', 'other@example.net'], \
         'Subject: offer\\r\\n\\r\\nline one\\r\\n.starts with a dot\\r\\n'))\n\
         print(s.vrfy('root'))\n\
         s.quit()",
    );
    assert!(said.contains("(252, b'2.0.0 root')"), "{said}");

    let (conn, _dir) = pack.stop();
    assert_eq!(
        rows(
            &conn,
            "SELECT username, password FROM smtp WHERE password IS NOT NULL ORDER BY ID"
        ),
        [
            ["alice@example.org", "plain-secret"],
            ["bob", "login-secret"],
            ["carol", "next-line"]
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT mail_from FROM smtp WHERE mail_from IS NOT NULL"
        ),
        [["spam@sender.example"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT rcpt_to FROM smtp WHERE rcpt_to IS NOT NULL ORDER BY ID"
        ),
        [["victim@example.net"], ["other@example.net"]]
    );
    // The message is one row, recorded at its final "." (dot-stuffing undone); its lines are
    // not rows of their own.
    assert_eq!(
        rows(
            &conn,
            "SELECT data, line, state FROM smtp WHERE data IS NOT NULL"
        ),
        [[
            "Subject: offer\\x0d\\x0a\\x0d\\x0aline one\\x0d\\x0a.starts with a dot\\x0d\\x0a",
            ".",
            "data"
        ]]
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM smtp WHERE state = 'data'"),
        1
    );
    // AUTH LOGIN's lines are rows too (the user name as sent, base64).
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM smtp WHERE line = 'AUTH LOGIN Ym9i'"
        ),
        1
    );
    let events = published(&conn, "smtp");
    let message = events
        .iter()
        .find(|e| !e["data"]["data"].is_null())
        .expect("the message's event in the outbox");
    assert_eq!(
        message["data"]["data"],
        "Subject: offer\\x0d\\x0a\\x0d\\x0aline one\\x0d\\x0a.starts with a dot\\x0d\\x0a"
    );
    assert!(
        events
            .iter()
            .any(|e| e["data"]["username"] == "bob" && e["data"]["password"] == "login-secret")
    );
}

#[test]
fn every_message_gets_a_queue_id_of_its_own() {
    let pack = Pack::start();
    // Two messages, two queue ids, like Postfix (one fixed id would give every install away).
    let said = smtplib(
        pack.smtp,
        "s.ehlo()\n\
         for _ in range(2):\n    s.mail('a@b.example'); s.rcpt('c@d.example'); print(s.data('x'))\n\
         s.quit()",
    );
    let ids: Vec<&str> = said
        .lines()
        .filter_map(|l| l.split("queued as ").nth(1))
        .map(|id| id.trim_end_matches("')"))
        .collect();
    assert_eq!(ids.len(), 2, "{said}");
    assert_ne!(ids[0], ids[1], "{said}");
    assert!(
        ids.iter()
            .all(|id| id.len() == 10 && id.bytes().all(|b| b.is_ascii_hexdigit())),
        "{said}"
    );
    pack.stop();
}

#[test]
fn nmap_names_vsftpd_and_postfix() {
    let pack = Pack::start();
    let (ftp, smtp) = (pack.ftp, pack.smtp);
    let scan = NmapVersions::scan(&[ftp, smtp]);
    let version = &scan.output;
    let line = |port: u16| scan.line(port);
    assert!(line(ftp).contains("vsftpd 3.0.3"), "{version}");
    assert!(line(smtp).contains("Postfix smtpd"), "{version}");
    let (conn, _dir) = pack.stop();
    assert!(count(&conn, "SELECT count(*) FROM sessions WHERE plugin = 'smtp'") >= 1);
}

#[test]
fn an_attackers_crlf_is_not_echoed_as_a_protocol_line() {
    let pack = Pack::start();
    let mut s = connect(pack.ftp);
    assert_eq!(read_until(&mut s, b"\r\n"), b"220 (vsFTPd 3.0.3)\r\n");
    send(&mut s, b"USER anon\r230 Login successful.\r\n");
    assert_eq!(
        read_until(&mut s, b"\r\n"),
        b"331 Please specify the password.\r\n"
    );
    send(&mut s, b"PASS x\r\nSTAT\r\nQUIT\r\n");
    let (rest, closed) = read_to_close(&mut s);
    assert!(closed);
    let rest = String::from_utf8(rest).unwrap();
    // STAT names the user: on one line, without the CR.
    assert!(
        rest.starts_with("230 Login successful.\r\n211-FTP server status:\r\n     Connected to 127.0.0.1\r\n     Logged in as anon230 Login successful.\r\n"),
        "{rest:?}"
    );
    assert!(
        rest.ends_with("\r\n211 End of status\r\n221 Goodbye.\r\n"),
        "{rest:?}"
    );
    // No line but the first starts with 230.
    assert!(!rest.contains("\n230"), "{rest:?}");

    // SMTP's VRFY echoes its argument: without the CR, the NUL and the bell.
    let mut s = connect(pack.smtp);
    read_until(&mut s, b"\r\n");
    send(&mut s, b"VRFY bob\r250 injected\x00\x07\r\nQUIT\r\n");
    let (said, _) = read_to_close(&mut s);
    assert_eq!(said, b"252 2.0.0 bob250 injected\r\n221 2.0.0 Bye\r\n");

    let (conn, _dir) = pack.stop();
    // Recorded with its bytes.
    assert_eq!(
        rows(&conn, "SELECT username FROM ftp WHERE username IS NOT NULL"),
        [["anon\\x0d230 Login successful."]]
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM smtp WHERE line = 'VRFY bob\\x0d250 injected\\x00\\x07'"
        ),
        1
    );
}

/// `recce7 check-config FILE` on `config`: its exit status and standard error.
fn check_config(dir: &Path, config: &str) -> (bool, String) {
    let file: PathBuf = dir.join("rules.toml");
    std::fs::write(&file, config).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check-config").arg(&file);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_names_the_key_and_line_of_bad_rules() {
    let dir = tempfile::tempdir().unwrap();
    let good = "[sensor]\nname = \"t\"\ndatabase = \"t.sqlite\"\n\n\
                [[plugin]]\nname = \"pop3\"\nkind = \"rules\"\nport = 1110\ntable = \"pop3\"\n\
                [plugin.options]\ngreeting = \"+OK ready\\r\\n\"\n\
                [[plugin.options.states.start]]\npattern = '(?i)^USER (.*)$'\nreply = \"+OK\\r\\n\"\nnext = \"start\"\n";
    let (ok, err) = check_config(dir.path(), good);
    assert!(ok, "{err}");
    // Line 13: the pattern; line 14: the reply; line 15: next.
    let bad = good
        .replace("'(?i)^USER (.*)$'", "'(?i)^USER (.*$'")
        .replace("next = \"start\"", "next = \"nowhere\"");
    let (ok, err) = check_config(dir.path(), &bad);
    assert!(!ok);
    assert!(
        err.contains(
            "plugin[0].options.states.start[0].pattern: not a valid pattern: found open group without closing ')' (line 13)"
        ),
        "{err}"
    );
    assert!(
        err.contains(
            "plugin[0].options.states.start[0].next: \"nowhere\" is not a state (states: start) (line 15)"
        ),
        "{err}"
    );
    let bad = good.replace("reply = \"+OK\\r\\n\"", "reply = \"+OK {user}\\r\\n\"");
    let (ok, err) = check_config(dir.path(), &bad);
    assert!(!ok);
    assert!(
        err.contains("plugin[0].options.states.start[0].reply: unknown value `{user}`: not a group of the pattern")
            && err.contains("(line 14)"),
        "{err}"
    );
}

/// The port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2).` reply.
fn pasv_port(reply: &str) -> u16 {
    let inside = reply
        .split_once('(')
        .and_then(|(_, rest)| rest.split_once(')'))
        .map(|(inside, _)| inside)
        .unwrap_or_else(|| panic!("not a PASV reply: {reply:?}"));
    let numbers: Vec<u16> = inside.split(',').map(|n| n.parse().unwrap()).collect();
    assert_eq!(numbers[..4], [127, 0, 0, 1], "{reply:?}");
    numbers[4] * 256 + numbers[5]
}

/// Reads one reply line from the control connection.
fn reply(s: &mut std::net::TcpStream) -> String {
    String::from_utf8(read_until(s, b"\r\n")).unwrap()
}

#[test]
fn passive_data_goes_only_to_the_sessions_peer_and_active_mode_never_connects_out() {
    let pack = Pack::start();
    let mut s = connect(pack.ftp);
    assert_eq!(reply(&mut s), "220 (vsFTPd 3.0.3)\r\n");
    send(&mut s, b"LIST\r\n");
    assert_eq!(reply(&mut s), "530 Please login with USER and PASS.\r\n");
    send(&mut s, b"USER ftp\r\n");
    reply(&mut s);
    send(&mut s, b"PASS guest@\r\n");
    assert_eq!(reply(&mut s), "230 Login successful.\r\n");
    send(&mut s, b"PASV\r\n");
    let pasv = reply(&mut s);
    assert!(
        pasv.starts_with("227 Entering Passive Mode (127,0,0,1,"),
        "{pasv}"
    );
    let data_port = pasv_port(&pasv);

    // Another address (127.0.0.2 is loopback too) connects first: closed, not served.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stranger = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        socket
            .connect(std::net::SocketAddr::from(([127, 0, 0, 1], data_port)))
            .await
            .unwrap()
    });
    send(&mut s, b"LIST\r\n");
    assert_eq!(reply(&mut s), "150 Here comes the directory listing.\r\n");
    let mut data = connect(data_port);
    let (listing, closed) = read_to_close(&mut data);
    assert!(closed);
    let listing = String::from_utf8(listing).unwrap();
    assert!(
        listing.contains(
            "\r\n-rw-r--r--    1 0        0        48231424 Oct 30 02:15 backup.tar.gz\r\n"
        ),
        "{listing:?}"
    );
    assert_eq!(listing.matches("\r\n").count(), 4, "{listing:?}");
    assert_eq!(reply(&mut s), "226 Directory send OK.\r\n");
    let got = runtime.block_on(async {
        use tokio::io::AsyncReadExt;
        let mut stranger = stranger;
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stranger.read_to_end(&mut got)).await;
        got
    });
    assert!(got.is_empty(), "the stranger got {got:?}");

    // One transfer per PASV.
    send(&mut s, b"NLST\r\n");
    assert_eq!(reply(&mut s), "425 Use PORT or PASV first.\r\n");

    // Active mode: answered, and nothing connects to the address given.
    let target = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    target.set_nonblocking(true).unwrap();
    let port = target.local_addr().unwrap().port();
    send(
        &mut s,
        format!("PORT 127,0,0,1,{},{}\r\n", port / 256, port % 256).as_bytes(),
    );
    assert_eq!(
        reply(&mut s),
        "200 PORT command successful. Consider using PASV.\r\n"
    );
    send(&mut s, b"LIST\r\n");
    assert_eq!(reply(&mut s), "425 Failed to establish connection.\r\n");
    send(&mut s, format!("EPRT |1|127.0.0.1|{port}|\r\n").as_bytes());
    assert_eq!(
        reply(&mut s),
        "200 EPRT command successful. Consider using EPSV.\r\n"
    );
    send(&mut s, b"RETR /etc/passwd\r\n");
    assert_eq!(reply(&mut s), "550 Failed to open file.\r\n");
    send(&mut s, b"NLST\r\n");
    assert_eq!(reply(&mut s), "425 Failed to establish connection.\r\n");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        target.accept().err().map(|e| e.kind()),
        Some(std::io::ErrorKind::WouldBlock),
        "the sensor connected out"
    );
    send(&mut s, b"QUIT\r\n");
    assert_eq!(read_to_close(&mut s), (b"221 Goodbye.\r\n".to_vec(), true));
    let (conn, _dir) = pack.stop();
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM ftp WHERE line LIKE 'PORT 127,0,0,1,%'"
        ),
        1
    );
}

#[test]
fn an_idle_session_gets_its_reply_and_a_chatty_one_its_step_limit() {
    let port = testkit::free_port();
    let body = format!(
        "[limits]\nidle_timeout_secs = 2\n\n\
         [[plugin]]\nname = \"echo\"\nkind = \"rules\"\nport = {port}\ntable = \"echo\"\n\
         [plugin.options]\ngreeting = \"hello {{peer_ip}}\\r\\n\"\n\
         idle_close_reply = \"421 Timeout.\\r\\n\"\nmax_steps = 3\nunknown = \"? {{line}}\\r\\n\"\n\
         [[plugin.options.states.start]]\npattern = '^say (?P<what>.*)$'\nreply = \"{{what|upper}}\\r\\n\"\n"
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let mut s = connect(port);
    assert_eq!(reply(&mut s), "hello 127.0.0.1\r\n");
    let started = std::time::Instant::now();
    assert_eq!(read_to_close(&mut s), (b"421 Timeout.\r\n".to_vec(), true));
    assert!(started.elapsed() < Duration::from_secs(5));

    let mut s = connect(port);
    reply(&mut s);
    send(&mut s, b"say hi\r\nwhat\r\nsay bye\r\nsay more\r\n");
    let (said, closed) = read_to_close(&mut s);
    assert!(closed);
    assert_eq!(said, b"HI\r\n? what\r\nBYE\r\n");

    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(&conn, "SELECT closeReason FROM sessions ORDER BY startTime"),
        [["idle timeout"], ["rules: step limit"]]
    );
    assert_eq!(
        rows(&conn, "SELECT line, state FROM echo ORDER BY ID"),
        [["say hi", "start"], ["what", "start"], ["say bye", "start"]]
    );
    // The line past the limit is kept raw.
    assert_eq!(
        rows(&conn, "SELECT reason, bytes FROM rawInput"),
        [["rules: step limit", "say more\\r\\n"]]
    );
}
