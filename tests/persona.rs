//! The persona: every install a different device, the same device after a restart, and what a
//! deployer sets in `[persona]` shown to real clients (docs/deception.md).

mod sensor_common;

use std::time::Duration;

use sensor_common::*;
use testkit::role::RoleProcess;
use testkit::sensor::{plugin, ports};

const TIMEOUT: Duration = Duration::from_secs(30);

/// The persona file a sensor of the test kit keeps (its database is `sensor.sqlite`).
fn persona_file(dir: &std::path::Path) -> String {
    std::fs::read_to_string(dir.join("sensor.persona.toml")).expect("the persona file is kept")
}

/// The `Server` header curl sees on the sensor's HTTP port.
fn server_header(port: u16) -> String {
    let curl = require("curl", "curl");
    let out = sh(
        &format!("{} -sI http://127.0.0.1:{port}/", curl.display()),
        TIMEOUT,
    );
    out.lines()
        .find_map(|l| l.strip_prefix("Server: "))
        .unwrap_or_else(|| panic!("no Server header in {out:?}"))
        .trim()
        .to_string()
}

#[test]
fn two_installs_differ_and_a_restart_keeps_the_device() {
    let [a_port, b_port] = ports();
    let a = RoleProcess::sensor(&bin(), &plugin("http", "http", a_port, "http"));
    let b = RoleProcess::sensor(&bin(), &plugin("http", "http", b_port, "http"));
    let a_persona = persona_file(a.dir());
    let b_persona = persona_file(b.dir());
    assert_ne!(a_persona, b_persona, "two installs, two devices");
    for key in ["hostname", "mac", "wan_ip", "serial", "boot_time"] {
        assert!(
            a_persona.contains(&format!("\n{key} = ")),
            "{key} in {a_persona}"
        );
    }
    assert_ne!(
        a_persona.lines().find(|l| l.starts_with("mac")),
        b_persona.lines().find(|l| l.starts_with("mac"))
    );
    // The model's web server, whose version no newer than the firmware.
    assert_eq!(server_header(a_port), "lighttpd/1.4.59");
    let (status, dir) = a.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{status}");
    drop(b);

    // The same directory again, now with a site's own web server version.
    let body = format!(
        "{}\n[persona]\nhttp_server = \"lighttpd/1.4.55\"\n",
        plugin("http", "http", a_port, "http")
    );
    let again = RoleProcess::sensor_in(&bin(), dir, &body);
    assert_eq!(persona_file(again.dir()), a_persona, "the identity is kept");
    assert_eq!(server_header(a_port), "lighttpd/1.4.55");
}

#[test]
fn a_broken_persona_file_stops_the_sensor_with_its_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sensor.persona.toml"),
        "hostname = \"has space\"\n",
    )
    .unwrap();
    let [port] = ports();
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[sensor]\nname = \"t\"\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\n[capture]\nenabled = false\n{}",
            dir.path().join("sensor.sqlite").display(),
            plugin("http", "http", port, "http")
        ),
    )
    .unwrap();
    let out = testkit::run_with_timeout(
        {
            let mut c = std::process::Command::new(bin());
            c.args(["sensor", "--config"]).arg(&config);
            c
        },
        TIMEOUT,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("sensor.persona.toml") && err.contains("persona"),
        "{err}"
    );
}

/// The value of `key` in a persona file (`key = "value"` or `key = 123`).
fn persona_value(file: &str, key: &str) -> String {
    file.lines()
        .find_map(|l| l.strip_prefix(&format!("{key} = ")))
        .unwrap_or_else(|| panic!("{key} in {file}"))
        .trim_matches('"')
        .to_string()
}

#[test]
fn telnet_and_the_shell_show_the_persona() {
    let [port] = ports();
    let sensor = RoleProcess::sensor(
        &bin(),
        &testkit::sensor::telnet_any_login("telnet", port, "telnet"),
    );
    let file = persona_file(sensor.dir());
    let hostname = persona_value(&file, "hostname");
    let mac = persona_value(&file, "mac");
    let wan_ip = persona_value(&file, "wan_ip");
    let mut s = connect(port);
    let greeting = read_until(&mut s, b"login: ");
    let greeting = String::from_utf8_lossy(&greeting);
    assert!(
        greeting.ends_with(&format!("\r\r\n{hostname} login: ")),
        "{greeting:?}"
    );
    send(&mut s, b"root\r\n");
    read_until(&mut s, b"Password: ");
    send(&mut s, b"xc3511\r\n");
    let motd = String::from_utf8_lossy(&read_until(&mut s, b"# ")).into_owned();
    assert!(motd.contains("BusyBox v1.24.1 (2021-06-18"), "{motd:?}");
    send(&mut s, b"hostname; ifconfig eth0.2; cat /proc/uptime\r\n");
    let out = String::from_utf8_lossy(&read_until(&mut s, b"\r\n~ # ")).into_owned();
    assert!(out.contains(&format!("{hostname}\r\n")), "{out}");
    assert!(out.contains(&format!("inet addr:{wan_ip} ")), "{out}");
    // The WAN side has the MAC after the LAN side's.
    let lan_last = u8::from_str_radix(&mac[15..], 16).unwrap();
    let wan_mac = format!("{}{:02X}", &mac[..15], lan_last.wrapping_add(1));
    assert!(out.contains(&format!("HWaddr {wan_mac}")), "{out}");
    let boot: u64 = persona_value(&file, "boot_time").parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let uptime: f64 = out
        .lines()
        .find(|l| l.split(' ').count() == 2 && l.contains('.'))
        .and_then(|l| l.split(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no /proc/uptime line in {out}"));
    assert!(
        (uptime - (now - boot) as f64).abs() < 5.0,
        "uptime {uptime} against the boot time {boot} (now {now})"
    );
}
