//! Tests of the whole file: every problem reported, with its file, key and reason.

use super::*;

#[test]
fn the_shipped_default_is_valid() {
    let valid = default_config().unwrap();
    let kinds: Vec<&str> = valid.instances.iter().map(|i| i.kind).collect();
    assert!(kinds.contains(&"telnet"));
    assert_eq!(
        kinds.iter().filter(|k| **k == "http").count(),
        2,
        "two HTTP instances"
    );
    assert!(
        valid.instances.iter().all(|i| i.port >= 1024),
        "unprivileged ports"
    );
}

#[test]
fn every_problem_is_reported_with_file_key_and_reason() {
    let text = r#"
[sensor]
name = "s"
listen = ["127.0.0.1", "not-an-ip"]
colour = "blue"

[limits]
idle_timeout_secs = 0

[[plugin]]
name = "web"
kind = "http"
port = 8080
table = "http"

[[plugin]]
name = "web"
kind = "http"
port = 8080
table = "HTTP"

[[plugin]]
name = "t"
kind = "telnet"
port = 70000
table = "bad-name"
columns = [["input_type", "TEXT"], ["x; drop", "TEXT"], ["y", "VARCHAR"]]
extra = 1

[[plugin]]
name = "q"
kind = "gopher"
port = 70
table = "gopher"
"#;
    let problems = parse(text, "test.toml").unwrap_err().0;
    let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
    let expect = [
        "test.toml: sensor.colour: unknown key",
        "test.toml: plugin[2].extra: unknown key",
        "test.toml: sensor.listen[1]: \"not-an-ip\" is not an IPv4 or IPv6 address",
        "test.toml: limits.idle_timeout_secs: must be greater than 0",
        "test.toml: plugin[1].name: \"web\" is also the name of plugin[0]",
        "test.toml: plugin[1].table: \"HTTP\" is also the table of plugin[0]",
        "test.toml: plugin[1].port: 8080 is also the port of plugin[0]",
        "test.toml: plugin[2].table: \"bad-name\" is not a safe SQL identifier",
        "test.toml: plugin[2].port: 70000 is outside 1..65535",
        "test.toml: plugin[2].columns[1]: \"x; drop\" is not a safe SQL identifier",
        "test.toml: plugin[2].columns[2]: unknown column type \"VARCHAR\"",
        "test.toml: plugin[2].columns: the telnet plug-in records column",
        "test.toml: plugin[3].kind: unknown kind \"gopher\"",
    ];
    for e in expect {
        assert!(
            lines.iter().any(|l| l.starts_with(e)),
            "missing {e:?} in\n{}",
            lines.join("\n")
        );
    }
}

#[test]
fn retention_defaults_fit_a_pi_and_every_bad_limit_is_reported() {
    let valid = default_config().unwrap();
    let policy = valid
        .retention
        .expect("the shipped config bounds the database");
    assert_eq!(policy.max_age, Some(Duration::from_secs(90 * 86_400)));
    assert_eq!(policy.max_bytes, Some(256 << 20));
    let text = "[retention]\nmax_age_days = 0\nmax_database_mb = 0.5\n[[plugin]]\nname = \"t\"\nkind = \"telnet\"\nport = 2323\ntable = \"t\"\n";
    let policy = parse(text, "r.toml").unwrap().retention.unwrap();
    assert_eq!((policy.max_age, policy.max_bytes), (None, Some(512 << 10)));
    let off = text.replace("0.5", "0");
    assert!(parse(&off, "r.toml").unwrap().retention.is_none());
    let bad = "[retention]\nmax_age_days = 99999\nmax_database_mb = 0.01\ncheck_interval_secs = 0\n[[plugin]]\nname = \"t\"\nkind = \"telnet\"\nport = 2323\ntable = \"t\"\n";
    let lines: Vec<String> = parse(bad, "r.toml")
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    for e in [
        "r.toml: retention.max_age_days: 99999 is above the maximum 36500",
        "r.toml: retention.max_database_mb: 0.01 is not 0 (off) or 0.25 to 1048576",
        "r.toml: retention.check_interval_secs: must be 1 to 86400",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(e)),
            "missing {e:?} in {lines:?}"
        );
    }
}

#[test]
fn capture_is_on_by_default_and_every_bad_value_is_reported() {
    let valid = default_config().unwrap();
    let capture = valid.capture.expect("the shipped config captures");
    assert_eq!(capture.scan.sweep_ports, 20);
    assert_eq!(capture.signatures, None, "built-in signatures");
    let plugin = "[[plugin]]\nname = \"t\"\nkind = \"telnet\"\nport = 2323\ntable = \"t\"\n";
    let off = format!("[capture]\nenabled = false\n{plugin}");
    assert!(parse(&off, "c.toml").unwrap().capture.is_none());
    let bad = format!(
        "[capture]\nsweep_ports = 1\nscan_quiet_secs = 0\nmax_sources = 0\nbuffer_kib = 1\ninterface = \"eth0/../x\"\nsurprise = 1\n{plugin}[[plugin]]\nname = \"capture\"\nkind = \"telnet\"\nport = 2324\ntable = \"t2\"\n"
    );
    let lines: Vec<String> = parse(&bad, "c.toml")
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    for e in [
        "c.toml: capture.sweep_ports: 1 is outside 2..=65535",
        "c.toml: capture.scan_quiet_secs: 0 is outside 1..=3600",
        "c.toml: capture.max_sources: 0 is outside 1..=1000000",
        "c.toml: capture.buffer_kib: 1 is outside 64..=262144",
        "c.toml: capture.interface: \"eth0/../x\" is not an interface name",
        "c.toml: capture.surprise",
        "c.toml: plugin[1].name: \"capture\" is the packet capture's name",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(e)),
            "missing {e:?} in {lines:?}"
        );
    }
}

#[test]
fn type_errors_name_the_file_and_line() {
    let err = parse(
        "[[plugin]]\nname = \"x\"\nkind = \"http\"\nport = \"eighty\"\ntable = \"t\"\n",
        "f.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("f.toml: "), "{err}");
    assert!(err.contains("line 4"), "{err}");
}

#[test]
fn columns_may_extend_what_the_plugin_records() {
    let text = r#"
[[plugin]]
name = "web"
kind = "http"
port = 8080
table = "web"
columns = [["command", "TEXT"], ["path", "TEXT"], ["version", "TEXT"], ["headers", "TEXT"], ["body", "TEXT"], ["username", "TEXT"], ["password", "TEXT"], ["status", "INTEGER"], ["cookie_rejected", "TEXT"], ["note", "TEXT"]]
"#;
    let valid = parse(text, "x").unwrap();
    assert_eq!(valid.instances[0].table.columns.len(), 10);
}

#[test]
fn the_geoip_files_are_looked_at_every_minute_by_default_and_the_interval_is_bounded() {
    let valid = default_config().unwrap();
    assert!(
        valid.geoip.is_empty(),
        "`recce7 up` looks nothing up unless asked"
    );
    assert_eq!(valid.geoip_check_secs, 60);
    let plugin = "\n[[plugin]]\nname = \"t\"\nkind = \"telnet\"\nport = 2323\ntable = \"t\"\n";
    let text = format!("[sensor]\ngeoip = \"g/city.mmdb\"\ngeoip_check_secs = 1\n{plugin}");
    let valid = parse(&text, "s.toml").unwrap();
    assert_eq!(
        (valid.geoip, valid.geoip_check_secs),
        (vec![PathBuf::from("g/city.mmdb")], 1)
    );
    for bad in [0, 86_401] {
        let text = format!("[sensor]\ngeoip_check_secs = {bad}\n{plugin}");
        assert_eq!(
            parse(&text, "s.toml").unwrap_err().to_string(),
            format!("s.toml: sensor.geoip_check_secs: {bad} is outside 1..=86400 (line 2)")
        );
    }
}

#[test]
fn persona_overrides_are_checked_key_by_key() {
    let text = "[persona]\nhostname = \"gw 1\"\nmac = \"zz\"\nssh_banner = \"SSH-1.5-x\"\nhttp_server = \"a\\r\\nSet-Cookie: x\"\ncolour = 1\n[[plugin]]\nname = \"t\"\nkind = \"telnet\"\nport = 2323\ntable = \"t\"\n";
    let lines: Vec<String> = parse(text, "p.toml")
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    for key in [
        "persona.colour: unknown key",
        "persona.hostname:",
        "persona.mac:",
        "persona.ssh_banner:",
        "persona.http_server:",
    ] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("p.toml: {key}"))),
            "missing {key:?} in\n{}",
            lines.join("\n")
        );
    }
    let ok = text
        .lines()
        .filter(|l| {
            !l.contains('=')
                || l.contains("name")
                || l.contains("kind")
                || l.contains("port")
                || l.contains("table")
                || l.starts_with("hostname")
        })
        .collect::<Vec<_>>()
        .join("\n")
        .replace("gw 1", "gw-1");
    let valid = parse(&ok, "p.toml").unwrap();
    assert_eq!(valid.persona.hostname.as_deref(), Some("gw-1"));
}
