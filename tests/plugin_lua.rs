//! Lua plug-ins (`kind = "lua"`, issue 16) run by the real binary: the service pack's `redis`
//! and `mysql` scripts against redis-cli, the MariaDB client and nmap; scripts that loop,
//! allocate or fail end only their own session; `check-config` reports a script's problems
//! with file and line; session tokens cannot be forged.

mod sensor_common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The repository's `configs/`.
fn configs() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/configs"))
}

/// A directory holding the pack's scripts under `scripts/`, as beside the shipped config.
fn dir_with_scripts() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("scripts")).unwrap();
    for name in ["redis.lua", "mysql.lua"] {
        std::fs::copy(
            configs().join("scripts").join(name),
            dir.path().join("scripts").join(name),
        )
        .unwrap();
    }
    dir
}

/// The `[[plugin]]` tables of `configs/service-pack.toml`, each `port = N` replaced by the
/// next of `ports` (in the file's order: telnet, http, ftp, smtp, redis, mysql).
fn pack_plugins(ports: &[u16]) -> String {
    let text = std::fs::read_to_string(configs().join("service-pack.toml")).unwrap();
    let start = text.find("\n[[plugin]]\n").expect("the pack has plug-ins");
    let mut out = String::new();
    let mut next = ports.iter();
    for line in text[start..].lines() {
        if line.starts_with("port = ") {
            let port = next.next().expect("a port for every instance");
            out.push_str(&format!("port = {port}\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert!(
        next.next().is_none(),
        "the pack has fewer instances than expected"
    );
    out
}

/// The service pack on free ports: (sensor, [telnet, http, ftp, smtp, redis, mysql]).
fn pack_sensor(extra: &str) -> (RoleProcess, [u16; 6]) {
    let ports: [u16; 6] = ports();
    let dir = dir_with_scripts();
    let body = format!("{extra}{}", pack_plugins(&ports));
    (RoleProcess::sensor_in(&bin(), dir, &body), ports)
}

fn redis_cli(port: u16, args: &[&str]) -> String {
    let mut cmd = Command::new(require("redis-cli", "redis-tools"));
    cmd.args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn redis_cli_takeover_chain_is_recorded_command_by_command() {
    // An [hpfeeds] broker nobody listens on: every event waits in the outbox exactly as it
    // would be published.
    let [nobody] = ports();
    let hpfeeds = format!(
        "\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {nobody}\nident = \"s\"\nsecret = \"x\"\nchannel = \"recce7.events\"\nreconnect_max_secs = 1\n"
    );
    let (sensor, [_, _, _, _, port, _]) = pack_sensor(&hpfeeds);
    let auth = redis_cli(port, &["AUTH", "x"]);
    assert!(
        auth.contains("called without any password configured"),
        "{auth}"
    );
    assert_eq!(
        redis_cli(port, &["CONFIG", "SET", "dir", "/var/spool/cron"]).trim(),
        "OK"
    );
    assert_eq!(
        redis_cli(port, &["CONFIG", "SET", "dbfilename", "root"]).trim(),
        "OK"
    );
    assert_eq!(redis_cli(port, &["SET", "x", "y"]).trim(), "OK");
    assert_eq!(redis_cli(port, &["SAVE"]).trim(), "OK");
    assert_eq!(
        redis_cli(port, &["SLAVEOF", "10.0.0.1", "8886"]).trim(),
        "OK"
    );
    assert!(
        redis_cli(port, &["MODULE", "LOAD", "/tmp/exp.so"]).contains("Error loading the extension")
    );
    redis_cli(port, &["EVAL", "return 1", "0"]);
    let info = redis_cli(port, &["INFO"]);
    assert!(
        info.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{info}"
    );
    let unknown = redis_cli(port, &["FLY", "away"]);
    assert!(
        unknown.contains("unknown command 'FLY', with args beginning with: 'away'"),
        "{unknown}"
    );
    // Inline commands; nmap's probe for the version (sent first on port 6379 only); a bulk
    // length over the cap: a protocol error, then the close.
    let mut s = connect(port);
    send(&mut s, b"*1\r\n$4\r\ninfo\r\n");
    let reply = String::from_utf8(read_until(&mut s, b"# Keyspace\r\n\r\n")).unwrap();
    let (len, body) = reply.split_once("\r\n").unwrap();
    assert_eq!(
        len[1..].parse::<usize>().ok(),
        Some(body.len() - 2),
        "{reply}"
    );
    assert!(len.starts_with('$') && body.ends_with("\r\n"), "{reply}");
    assert!(
        body.starts_with("# Server\r\nredis_version:7.0.15\r\n"),
        "{reply}"
    );
    send(&mut s, b"PING\r\n");
    assert_eq!(read_until(&mut s, b"\r\n"), b"+PONG\r\n");
    send(&mut s, b"*1\r\n$99999999\r\n");
    let (rest, closed) = read_to_close(&mut s);
    assert_eq!(rest, b"-ERR Protocol error: invalid bulk length\r\n");
    assert!(closed);

    let db_path = sensor.db().to_path_buf();
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM sessions WHERE plugin = 'redis' AND closeReason IS NOT NULL"
    ) == 11));
    let conn = db(&db_path);
    let got = rows(
        &conn,
        "SELECT command, args, password, param, value, host, port, module, script FROM redis ORDER BY ID",
    );
    let want: Vec<Vec<&str>> = vec![
        vec![
            "AUTH", "x", "x", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
        ],
        vec![
            "CONFIG",
            "SET dir /var/spool/cron",
            "NULL",
            "dir",
            "/var/spool/cron",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
        ],
        vec![
            "CONFIG",
            "SET dbfilename root",
            "NULL",
            "dbfilename",
            "root",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
        ],
        vec![
            "SET", "x y", "NULL", "NULL", "y", "NULL", "NULL", "NULL", "NULL",
        ],
        vec![
            "SAVE", "", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
        ],
        vec![
            "SLAVEOF",
            "10.0.0.1 8886",
            "NULL",
            "NULL",
            "NULL",
            "10.0.0.1",
            "8886",
            "NULL",
            "NULL",
        ],
        vec![
            "MODULE",
            "LOAD /tmp/exp.so",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "/tmp/exp.so",
            "NULL",
        ],
        vec![
            "EVAL",
            "\"return 1\" 0",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "return 1",
        ],
        vec![
            "INFO", "", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
        ],
        vec![
            "FLY", "away", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
        ],
        vec![
            "INFO", "", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
        ],
        vec![
            "PING", "", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL",
        ],
        vec![
            "protocol error",
            "ERR Protocol error: invalid bulk length",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
            "NULL",
        ],
    ];
    assert_eq!(got, want);
    assert_eq!(
        rows(
            &conn,
            "SELECT closeReason FROM sessions WHERE plugin = 'redis' ORDER BY startTime DESC LIMIT 1"
        ),
        [["protocol error"]]
    );
    // The published event of the AUTH: its data is the row, with the protocol of the script.
    let payloads = rows(&conn, "SELECT payload FROM outbox");
    let auth_event = payloads
        .iter()
        .map(|p| serde_json::from_str::<serde_json::Value>(&p[0]).unwrap())
        .find(|e| e["type"] == "service.input" && e["data"]["command"] == "AUTH")
        .expect("the AUTH event in the outbox");
    assert_eq!(auth_event["plugin"], "redis");
    assert_eq!(auth_event["protocol"], "redis");
    assert_eq!(auth_event["data"]["password"], "x");
    assert_eq!(auth_event["data"]["args"], "x");
    let (status, _) = sensor.terminate(TIMEOUT);
    assert!(status.success());
}

#[test]
fn mariadb_client_is_denied_and_its_login_recorded() {
    let mariadb = require("mariadb", "mariadb-client");
    let (sensor, [_, _, _, _, _, port]) = pack_sensor("");
    let mut cmd = Command::new(mariadb);
    cmd.args([
        "-h",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "-u",
        "root",
        "-psecret",
    ])
    .args(["--skip-ssl", "-D", "shop", "-e", "select 1"]);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains(
            "ERROR 1045 (28000): Access denied for user 'root'@'127.0.0.1' (using password: YES)"
        ),
        "{stderr}"
    );

    // A client that asks for TLS (an SSLRequest packet after the greeting) is refused cleanly.
    let mut s = connect(port);
    let mut head = [0u8; 4];
    s.read_exact(&mut head).unwrap();
    let len = usize::from(head[0]) | usize::from(head[1]) << 8 | usize::from(head[2]) << 16;
    let mut greeting = vec![0u8; len];
    s.read_exact(&mut greeting).unwrap();
    assert_eq!(greeting[0], 10, "protocol version 10");
    assert!(greeting[1..].starts_with(b"5.5.5-10.11.6-MariaDB-0+deb12u1\0"));
    let mut ssl_request = vec![32, 0, 0, 1];
    ssl_request.extend_from_slice(&(0x0000_0800u32 | 0x0000_8000 | 0x0000_0200).to_le_bytes());
    ssl_request.extend_from_slice(&(16u32 << 20).to_le_bytes());
    ssl_request.push(45);
    ssl_request.extend_from_slice(&[0u8; 23]);
    s.write_all(&ssl_request).unwrap();
    let (answer, closed) = read_to_close(&mut s);
    assert!(closed);
    assert_eq!(&answer[4..7], &[0xff, 0x13, 0x04], "ERR 1043: {answer:?}");
    assert!(answer.ends_with(b"#08S01Bad handshake"), "{answer:?}");

    let db_path = sensor.db().to_path_buf();
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM sessions WHERE plugin = 'mysql' AND closeReason IS NOT NULL"
    ) == 2));
    let conn = db(&db_path);
    let login = rows(
        &conn,
        "SELECT event, username, dbname, auth_plugin, length(auth_response), length(scramble) FROM mysql WHERE event = 'login'",
    );
    assert_eq!(
        login,
        [["login", "root", "shop", "mysql_native_password", "40", "40"]]
    );
    let attrs = rows(
        &conn,
        "SELECT client_attrs FROM mysql WHERE event = 'login'",
    );
    let attrs = &attrs[0][0];
    for expected in ["_client_name=libmariadb", "_os=Linux", "program_name=mysql"] {
        assert!(attrs.contains(expected), "{expected} in {attrs}");
    }
    assert_eq!(
        rows(&conn, "SELECT event FROM mysql WHERE event <> 'login'"),
        [["tls requested"]]
    );
    assert_eq!(
        rows(
            &conn,
            "SELECT closeReason FROM sessions WHERE plugin = 'mysql' ORDER BY startTime"
        ),
        [["access denied"], ["tls requested"]]
    );
    let (status, _) = sensor.terminate(TIMEOUT);
    assert!(status.success());
}

#[test]
fn nmap_names_redis_and_mysql_with_its_version() {
    let (sensor, [_, _, _, _, redis, mysql]) = pack_sensor("");
    let scan = NmapVersions::scan(&[redis, mysql]);
    let version = &scan.output;
    let line = |port: u16| scan.line(port);
    let (r, m) = (line(redis), line(mysql));
    assert!(
        // The version comes from nmap's INFO probe, which it sends first on port 6379 only (the
        // takeover test checks the reply matches nmap's pattern); elsewhere a GET names Redis.
        r.contains(" open ") && r.contains("Redis key-value store"),
        "redis port: {r:?}\n{version}"
    );
    assert!(
        m.contains(" open ")
            && m.contains("MySQL")
            && m.contains("5.5.5-10.11.6-MariaDB-0+deb12u1"),
        "mysql port: {m:?}\n{version}"
    );
    let (status, _) = sensor.terminate(TIMEOUT);
    assert!(status.success());
}

/// A script with one behaviour per first line: `loop`, `pcall-loop`, `rep`, `grow`, `fail`,
/// anything else is echoed.
const BOUNDS_SCRIPT: &str = r#"
plugin = { protocol = "bounds", columns = { line = "TEXT" } }

function session(s)
  local line = s:read_line()
  if line == nil then return end
  s:record({ line = line })
  if line == "loop" then
    while true do end
  elseif line == "pcall-loop" then
    while true do pcall(function() while true do end end) end
  elseif line == "rep" then
    local big = string.rep("x", 1e9)
    s:write(#big)
  elseif line == "grow" then
    local t = {}
    while true do t[#t + 1] = {} end
  elseif line == "fail" then
    local missing = nil
    return missing.field
  elseif line == "global" then
    stolen = "mine"
  elseif line == "slow" then
    local deadline = os.clock() + 5
    while os.clock() < deadline do end
  end
  s:write("echo " .. line .. "\n")
end
"#;

/// Two instances of [`BOUNDS_SCRIPT`]: `budget` with a small instruction budget and a long
/// slice, `slice` with a short slice and a large budget. Returns the sensor and their ports.
fn bounds_sensor() -> (RoleProcess, [u16; 2]) {
    let ports: [u16; 2] = ports();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bounds.lua"), BOUNDS_SCRIPT).unwrap();
    let body = format!(
        "{}[plugin.options]\nscript = \"bounds.lua\"\ninstructions = 2000000\nslice_ms = 10000\nmemory_mb = 8\n\
         {}[plugin.options]\nscript = \"bounds.lua\"\ninstructions = 10000000000\nslice_ms = 300\n",
        plugin("budget", "lua", ports[0], "budget"),
        plugin("slice", "lua", ports[1], "slice"),
    );
    (RoleProcess::sensor_in(&bin(), dir, &body), ports)
}

/// Sends `line`, returns what came back before the close, and how long that took.
fn one_line_session(port: u16, line: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut s = connect(port);
    send(&mut s, format!("{line}\n").as_bytes());
    let (got, closed) = read_to_close(&mut s);
    assert!(closed, "{line}: the session was not closed");
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn runaway_greedy_and_failing_scripts_end_only_their_own_session() {
    let (sensor, ports) = bounds_sensor();
    // (instance, first line, close reason)
    let cases = [
        (0, "loop", "script instruction budget"),
        (0, "pcall-loop", "script instruction budget"),
        (0, "rep", "script memory limit"),
        (0, "grow", "script memory limit"),
        (0, "fail", "script error"),
        (0, "global", "script error"),
        (1, "loop", "script ran too long without I/O"),
        (1, "slow", "script ran too long without I/O"),
    ];
    for (instance, line, _) in cases {
        let (got, took) = one_line_session(ports[instance], line);
        assert_eq!(got, "", "{line}: nothing is answered");
        assert!(took < Duration::from_secs(5), "{line} took {took:?}");
        // The instance goes on serving.
        let (echo, _) = one_line_session(ports[instance], "hello");
        assert_eq!(echo, "echo hello\n", "after {line}");
    }
    let db_path = sensor.db().to_path_buf();
    let want_sessions = 2 * cases.len() as i64;
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM sessions WHERE closeReason IS NOT NULL"
    ) == want_sessions));
    let conn = db(&db_path);
    let tables = ["budget", "slice"];
    let stopped = |instance: usize, line: &str| {
        let table = tables[instance];
        rows(
            &conn,
            &format!(
                "SELECT s.closeReason, e.error FROM sessions s JOIN {table} l ON l.session = s.session \
                 JOIN {table} e ON e.session = s.session AND e.error IS NOT NULL WHERE l.line = '{line}'"
            ),
        )
    };
    for (instance, line, reason) in cases {
        let got = stopped(instance, line);
        assert_eq!(got.len(), 1, "{line}: {got:?}");
        assert_eq!(got[0][0], reason, "{line}");
        assert!(got[0][1].starts_with(reason), "{line}: {:?}", got[0][1]);
    }
    // Runtime errors name the script's file and line.
    assert_eq!(
        stopped(0, "fail")[0][1],
        "script error: bounds.lua:20: attempt to index a nil value (local 'missing')"
    );
    let global = &stopped(0, "global")[0][1];
    assert!(
        global.starts_with("script error: bounds.lua:22: cannot assign stolen"),
        "{global}"
    );
    for (instance, table) in tables.iter().enumerate() {
        let served = cases.iter().filter(|c| c.0 == instance).count() as i64;
        assert_eq!(
            count(
                &conn,
                &format!("SELECT count(*) FROM {table} WHERE line = 'hello'")
            ),
            served
        );
    }
    let (status, log) = sensor.terminate(TIMEOUT);
    assert!(status.success());
    assert!(
        log.contains("bounds.lua:20: attempt to index a nil value"),
        "the error is logged with file and line: {log}"
    );
}

fn check_config(dir: &Path, script: &str) -> (bool, String) {
    std::fs::write(dir.join("s.lua"), script).unwrap();
    let config = format!(
        "[sensor]\nname = \"t\"\n{}[plugin.options]\nscript = \"s.lua\"\n",
        plugin("scripted", "lua", 40000, "scripted")
    );
    let file = dir.join("sensor.toml");
    std::fs::write(&file, config).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check-config").arg(&file);
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn check_config_reports_script_problems_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = "plugin = { columns = { a = 'TEXT' } }\nfunction session(s) end\n";
    let (ok, out) = check_config(dir.path(), good);
    assert!(ok, "{out}");
    let cases = [
        (
            "plugin = {}\n\nfunction session(s)\n  if then\nend\n",
            "plugin[0].options.script: s.lua:4: unexpected symbol near 'then'",
        ),
        (
            "plugin = {}\n",
            "plugin[0].options.script: s.lua: defines no `session` function",
        ),
        (
            "function session(s) end\n",
            "plugin[0].options.script: s.lua: defines no `plugin` table",
        ),
        (
            "plugin = { columns = { a = 'TEXTY' } }\nfunction session(s) end\n",
            "plugin[0].options.script: s.lua: plugin.columns.a: unknown column type \"TEXTY\"",
        ),
        (
            "plugin = { columns = { [\"a;drop\"] = 'TEXT' } }\nfunction session(s) end\n",
            "plugin[0].options.script: s.lua: plugin.columns.a;drop: not a safe SQL identifier",
        ),
        (
            "plugin = { protocol = 'red is' }\nfunction session(s) end\n",
            "plugin[0].options.script: s.lua: plugin.protocol must be 1 to 32 printable characters",
        ),
        (
            "plugin = {}\nfunction session(s) end\nerror('at load')\n",
            "plugin[0].options.script: s.lua:3: at load",
        ),
        (
            "plugin = {}\nfunction session(s) end\nwhile true do end\n",
            "plugin[0].options.script: its top level stopped: script instruction budget",
        ),
        (
            "plugin = {}\nfunction session(s) end\nlocal f = io.open('/etc/passwd')\n",
            "plugin[0].options.script: s.lua:3: attempt to index a nil value (global 'io')",
        ),
    ];
    for (script, expected) in cases {
        let (ok, out) = check_config(dir.path(), script);
        assert!(!ok, "{script}: {out}");
        assert!(
            out.contains(expected),
            "{script}:\nwanted {expected}\ngot {out}"
        );
    }
    std::fs::remove_file(dir.path().join("s.lua")).unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check-config").arg(dir.path().join("sensor.toml"));
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("plugin[0].options.script: cannot read ") && stderr.contains("s.lua"),
        "{stderr}"
    );
}

/// `issue` answers a token for this session; `adopt TOKEN` answers whether it was taken.
const TOKEN_SCRIPT: &str = r#"
plugin = { columns = { op = "TEXT", result = "TEXT" } }

function session(s)
  while true do
    local line = s:read_line()
    if line == nil then return end
    if line == "issue" then
      local token = s:issue_token()
      s:record({ op = "issue", result = token })
      s:write(token .. "\n")
    else
      local token = line:match("^adopt (.*)$") or ""
      local taken = s:adopt(token)
      s:record({ op = "adopt", result = tostring(taken) })
      s:write(tostring(taken) .. "\n")
    end
  end
end
"#;

#[test]
fn only_tokens_the_instance_issued_group_connections_into_one_session() {
    let [a, b] = ports();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("tokens.lua"), TOKEN_SCRIPT).unwrap();
    let body = format!(
        "{}[plugin.options]\nscript = \"tokens.lua\"\n{}[plugin.options]\nscript = \"tokens.lua\"\n",
        plugin("one", "lua", a, "one"),
        plugin("two", "lua", b, "two")
    );
    let sensor = RoleProcess::sensor_in(&bin(), dir, &body);
    let ask = |s: &mut TcpStream, line: &str| {
        send(s, format!("{line}\n").as_bytes());
        String::from_utf8(read_until(s, b"\n"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let mut first = connect(a);
    let token = ask(&mut first, "issue");
    assert_eq!(token.len(), 36 + 1 + 32, "{token}");
    let mut second = connect(a);
    assert_eq!(ask(&mut second, &format!("adopt {token}")), "true");
    // Forged: another id with the same tag, the tag changed, a bare id, another instance's.
    let (id, tag) = token.rsplit_once('.').unwrap();
    let mut third = connect(a);
    let other_id = store::new_id();
    assert_eq!(ask(&mut third, &format!("adopt {other_id}.{tag}")), "false");
    let flipped = format!(
        "{id}.{}{}",
        &tag[..31],
        if tag.ends_with('0') { '1' } else { '0' }
    );
    assert_eq!(ask(&mut third, &format!("adopt {flipped}")), "false");
    assert_eq!(ask(&mut third, &format!("adopt {id}")), "false");
    let mut elsewhere = connect(b);
    assert_eq!(ask(&mut elsewhere, &format!("adopt {token}")), "false");
    drop((first, second, third, elsewhere));

    let db_path = sensor.db().to_path_buf();
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM sessions WHERE closeReason IS NOT NULL"
    ) == 4));
    let conn = db(&db_path);
    // The adopting connection's row is filed under the issuing session.
    assert_eq!(
        count(
            &conn,
            &format!("SELECT count(*) FROM one WHERE session = '{id}'")
        ),
        2
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM one WHERE result = 'false'"),
        3
    );
    let (status, _) = sensor.terminate(TIMEOUT);
    assert!(status.success());
}

#[test]
fn a_thousand_idle_lua_sessions_cost_little_memory() {
    let mut sensor =
        pack_sensor("\n[limits]\nmax_connections = 2048\nmax_connections_per_source = 2048\n").0;
    let port = {
        let text = std::fs::read_to_string(&sensor.config).unwrap();
        let ports: Vec<u16> = text
            .lines()
            .filter_map(|l| l.strip_prefix("port = "))
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        ports[4]
    };
    let pid = sensor.pid();
    let rss = || -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    };
    // Warm up: one session through, so that the allocator has its arenas.
    assert!(redis_cli(port, &["PING"]).contains("PONG"));
    let before = rss();
    let mut idle = Vec::new();
    for _ in 0..1000 {
        let mut s = connect(port);
        send(&mut s, b"PING\r\n");
        idle.push(s);
    }
    for s in &mut idle {
        assert_eq!(read_until(s, b"\r\n"), b"+PONG\r\n");
    }
    let after = rss();
    let per_session = (after.saturating_sub(before)) * 1024 / 1000;
    eprintln!(
        "VmRSS {before} kB -> {after} kB with 1000 idle Lua sessions: {per_session} bytes each"
    );
    assert!(
        per_session < 16 * 1024,
        "an idle Lua session costs {per_session} bytes"
    );
    drop(idle);
    let (status, _) = sensor.terminate(TIMEOUT);
    assert!(status.success());
}

/// Pauses forever: `s:sleep` in a loop, after the first line.
const SLEEPER_SCRIPT: &str = r#"
plugin = { columns = { line = "TEXT" } }

function session(s)
  s:record({ line = s:read_line() })
  while true do s:sleep(30) end
end
"#;

#[test]
fn a_sleeping_script_ends_at_the_session_timeout_and_at_shutdown() {
    let [port] = ports();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("sleeper.lua"), SLEEPER_SCRIPT).unwrap();
    let body = format!(
        "\n[limits]\nsession_timeout_secs = 2\n{}[plugin.options]\nscript = \"sleeper.lua\"\n",
        plugin("sleeper", "lua", port, "sleeper")
    );
    let sensor = RoleProcess::sensor_in(&bin(), dir, &body);
    let (_, took) = one_line_session(port, "timed");
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(10),
        "{took:?}"
    );
    let mut open = connect(port);
    send(&mut open, b"shut\n");
    let db_path = sensor.db().to_path_buf();
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM sleeper WHERE line = 'shut'"
    ) == 1));
    let stopping = Instant::now();
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success());
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "{:?}",
        stopping.elapsed()
    );
    let conn = db(&dir.path().join("sensor.sqlite"));
    assert_eq!(
        rows(
            &conn,
            "SELECT l.line, s.closeReason FROM sessions s JOIN sleeper l ON l.session = s.session ORDER BY s.startTime"
        ),
        [["timed", "session timeout"], ["shut", "sensor shutdown"]]
    );
}

#[test]
fn input_a_script_cannot_read_is_kept_raw() {
    let (sensor, [_, _, _, _, redis, mysql]) = pack_sensor("");
    // A line longer than max_line_bytes (1024) on the Redis port.
    let mut s = connect(redis);
    send(&mut s, &[b'A'; 3000]);
    let (got, closed) = read_to_close(&mut s);
    assert!(closed && got.is_empty(), "{got:?}");
    // A MySQL login packet cut off by the client's close: its bytes are kept.
    let mut s = connect(mysql);
    read_until(&mut s, b"mysql_native_password\0");
    send(&mut s, &[0x50, 0, 0, 1, 0x85, 0xa6, 0xff, 0x01]);
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let (got, closed) = read_to_close(&mut s);
    assert!(closed && got.is_empty(), "{got:?}");

    let db_path = sensor.db().to_path_buf();
    assert!(wait_until(TIMEOUT, || count(
        &db(&db_path),
        "SELECT count(*) FROM sessions WHERE closeReason IS NOT NULL"
    ) == 2));
    let conn = db(&db_path);
    assert_eq!(
        rows(
            &conn,
            "SELECT r.plugin, r.reason, iif(r.plugin = 'redis', r.length > 1024, r.length), s.closeReason FROM rawInput r \
             JOIN sessions s ON s.session = r.session ORDER BY r.ID"
        ),
        [
            ["redis", "line too long", "1", "line too long"],
            ["mysql", "peer closed", "4", "peer closed"],
        ]
    );
    let (status, _) = sensor.terminate(TIMEOUT);
    assert!(status.success());
}
