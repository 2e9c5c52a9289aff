//! The shipped systemd units (`deploy-scripts/systemd/`), checked with the real
//! `systemd-analyze` (Debian's `systemd`): each verifies cleanly against a root holding the
//! binary and the system's own units, each is hardened to an exposure of at most 2.0 (`security
//! --offline=true`), and each starts the subcommand with the config its role reads. The GeoIP
//! update (a oneshot service and its monthly timer) is checked the same way.

mod sensor_common;

use std::path::{Path, PathBuf};
use std::process::Command;

use sensor_common::*;

const ROLES: [&str; 5] = ["sensor", "reportd", "normalizer", "geoloc", "registrar"];

/// The units that are not a role's service: the GeoIP update and its timer.
const GEOIP_UNITS: [&str; 2] = ["recce7-geoip-update.service", "recce7-geoip-update.timer"];

fn unit_dir() -> PathBuf {
    testkit::workspace_root().join("deploy-scripts/systemd")
}

fn unit(role: &str) -> PathBuf {
    unit_dir().join(format!("recce7-{role}.service"))
}

fn systemd_analyze() -> PathBuf {
    require("systemd-analyze", "systemd")
}

/// A root directory as a package would leave it: the binary in /usr/bin, the units in
/// /etc/systemd/system, and the system's own units (for the targets they name).
fn install_root() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    let bin_dir = root.path().join("usr/bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::fs::copy(bin(), bin_dir.join("recce7")).unwrap();
    // The sensor's ExecReload signals with the system's kill (procps, a package dependency).
    let kill = require("kill", "procps");
    std::fs::create_dir_all(root.path().join("bin")).unwrap();
    std::fs::copy(kill, root.path().join("bin/kill")).unwrap();
    let system = root.path().join("usr/lib/systemd/system");
    std::fs::create_dir_all(&system).unwrap();
    let host_units = ["/usr/lib/systemd/system", "/lib/systemd/system"]
        .into_iter()
        .map(Path::new)
        .find(|d| d.join("multi-user.target").exists())
        .expect("the system's units (multi-user.target): apt-get install -y systemd");
    for entry in std::fs::read_dir(host_units).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), system.join(entry.file_name())).unwrap();
        }
    }
    let etc = root.path().join("etc/systemd/system");
    std::fs::create_dir_all(&etc).unwrap();
    for role in ROLES {
        std::fs::copy(unit(role), etc.join(format!("recce7-{role}.service"))).unwrap();
    }
    for name in GEOIP_UNITS {
        std::fs::copy(unit_dir().join(name), etc.join(name)).unwrap();
    }
    root
}

#[test]
fn every_unit_verifies_without_a_warning() {
    let root = install_root();
    let names = ROLES
        .iter()
        .map(|role| format!("recce7-{role}.service"))
        .chain(GEOIP_UNITS.iter().map(|name| name.to_string()));
    for name in names {
        let out = Command::new(systemd_analyze())
            .arg("verify")
            .arg(format!("--root={}", root.path().display()))
            .arg(&name)
            .output()
            .expect("run systemd-analyze verify");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && text.trim().is_empty(),
            "{name}: {}: {text}",
            out.status
        );
    }
}

/// The overall exposure `systemd-analyze security` reports (0.0 best, 10.0 worst).
fn exposure(unit: &Path) -> f64 {
    let out = Command::new(systemd_analyze())
        .args(["security", "--offline=true", "--no-pager"])
        .arg(unit)
        .output()
        .expect("run systemd-analyze security");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("{}: no exposure in {text}", unit.display()));
    line.split(": ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}: unreadable exposure {line:?}", unit.display()))
}

#[test]
fn every_unit_is_hardened_to_an_exposure_of_at_most_2() {
    for role in ROLES {
        let e = exposure(&unit(role));
        assert!(e <= 2.0, "recce7-{role}.service: exposure {e}");
    }
    let e = exposure(&unit_dir().join(GEOIP_UNITS[0]));
    assert!(e <= 2.0, "{}: exposure {e}", GEOIP_UNITS[0]);
}

#[test]
fn the_geoip_update_runs_monthly_as_recce7_into_the_state_directory() {
    let service = std::fs::read_to_string(unit_dir().join(GEOIP_UNITS[0])).unwrap();
    for line in [
        "\nType=oneshot\n",
        "\nExecStart=/usr/bin/recce7 geoip update --dir /var/lib/recce7/geoip --if-older-than-days 20\n",
        "\nUser=recce7\n",
        "\nNoNewPrivileges=yes\n",
        "\nCapabilityBoundingSet=\n",
        "\nStateDirectory=recce7 recce7/geoip\n",
        "\nAfter=network-online.target\n",
    ] {
        assert!(service.contains(line), "{line:?} in {service}");
    }
    assert!(!service.contains("[Install]"), "started by its timer only");
    let timer = std::fs::read_to_string(unit_dir().join(GEOIP_UNITS[1])).unwrap();
    for line in [
        "\nOnCalendar=*-*-02 03:00:00\n",
        "\nRandomizedDelaySec=12h\n",
        "\nPersistent=true\n",
        "\nOnBootSec=10min\n",
        "\nWantedBy=timers.target\n",
    ] {
        assert!(timer.contains(line), "{line:?} in {timer}");
    }
    // The calendar expression is one systemd reads: monthly.
    let out = Command::new(systemd_analyze())
        .args(["calendar", "--iterations=2", "*-*-02 03:00:00"])
        .env("TZ", "UTC")
        .output()
        .expect("run systemd-analyze calendar");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let nexts: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("Next elapse:") || l.starts_with("Iter. #"))
        .filter_map(|l| l.split_once(": "))
        .map(|(_, when)| when.trim())
        .collect();
    assert_eq!(nexts.len(), 2, "{text}");
    assert!(
        nexts.iter().all(|n| n.contains("-02 03:00:00")),
        "the 2nd of each month: {text}"
    );
}

#[test]
fn each_unit_runs_its_role_as_recce7_with_only_the_capability_it_needs() {
    for role in ROLES {
        let text = std::fs::read_to_string(unit(role)).unwrap();
        let config = format!("/etc/recce7/{role}.toml");
        assert!(
            text.contains(&format!(
                "ExecStart=/usr/bin/recce7 {role} --config {config}\n"
            )),
            "{role}: {text}"
        );
        assert!(
            text.contains(&format!(
                "ExecStartPre=/usr/bin/recce7 check-config {config}\n"
            )),
            "{role}"
        );
        assert!(
            testkit::workspace_root()
                .join(format!("configs/{role}.toml"))
                .exists(),
            "{role}: the unit reads a config the project ships"
        );
        assert!(text.contains("\nUser=recce7\n"), "{role}");
        assert!(text.contains("\nNoNewPrivileges=yes\n"), "{role}");
        assert!(text.contains("\nStateDirectory=recce7\n"), "{role}");
        // The sensor binds ports below 1024 and captures packets (docs/capture.md); no other
        // role has a capability.
        let caps = if role == "sensor" {
            "CAP_NET_BIND_SERVICE CAP_NET_RAW"
        } else {
            ""
        };
        assert!(
            text.contains(&format!("\nCapabilityBoundingSet={caps}\n")),
            "{role}: capabilities"
        );
        assert_eq!(
            text.contains("\nAmbientCapabilities=CAP_NET_BIND_SERVICE CAP_NET_RAW\n"),
            role == "sensor",
            "{role}: ambient capabilities"
        );
        assert_eq!(
            text.contains("AF_PACKET"),
            role == "sensor",
            "{role}: only the sensor opens a packet socket"
        );
    }
}
