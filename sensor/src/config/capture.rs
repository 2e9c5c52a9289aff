//! `[capture]`: packet capture on an AF_PACKET socket (root or `CAP_NET_RAW`): p0f fingerprints
//! of every incoming SYN and scan detection (docs/capture.md).

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Problems;

/// `[capture]`: on by default; without the privilege the sensor runs on without it (and says so
/// once).
#[derive(Debug, Clone, Deserialize)]
pub struct CaptureSection {
    /// Capture at all.
    #[serde(default = "default_enabled")]
    pub enabled: bool,
    /// The interface to capture on (`eth0`); empty: every interface.
    #[serde(default)]
    pub interface: String,
    /// A p0f v3 signature file (Debian's p0f package installs `/etc/p0f/p0f.fp`); empty: the
    /// signatures built into recce7.
    #[serde(default)]
    pub signatures: PathBuf,
    /// Distinct ports one source must touch within `scan_window_secs` to be reported as a port
    /// sweep (`scan.ports`).
    #[serde(default = "default_sweep_ports")]
    pub sweep_ports: u64,
    /// The window of a sweep, and the longest a scan report waits.
    #[serde(default = "default_window")]
    pub scan_window_secs: u64,
    /// A source's scan is reported once it has sent nothing for this long.
    #[serde(default = "default_quiet")]
    pub scan_quiet_secs: u64,
    /// A handshake not completed within this long is a half-open probe.
    #[serde(default = "default_handshake")]
    pub handshake_timeout_secs: u64,
    /// Sources tracked at once; the oldest is evicted (and counted) past it.
    #[serde(default = "default_max_sources")]
    pub max_sources: u64,
    /// Handshakes tracked at once; the oldest is evicted (and counted) past it.
    #[serde(default = "default_max_flows")]
    pub max_flows: u64,
    /// The fingerprint of SYNs that opened no session is recorded once per source and
    /// signature within this long.
    #[serde(default = "default_repeat")]
    pub fingerprint_repeat_secs: u64,
    /// The kernel's receive buffer for captured packets, KiB: a burst larger than it is
    /// dropped by the kernel and counted.
    #[serde(default = "default_buffer_kib")]
    pub buffer_kib: u64,
}

fn default_enabled() -> bool {
    true
}
fn default_sweep_ports() -> u64 {
    20
}
fn default_window() -> u64 {
    60
}
fn default_quiet() -> u64 {
    5
}
fn default_handshake() -> u64 {
    5
}
fn default_max_sources() -> u64 {
    4096
}
fn default_max_flows() -> u64 {
    16_384
}
fn default_repeat() -> u64 {
    600
}
fn default_buffer_kib() -> u64 {
    1024
}

impl Default for CaptureSection {
    fn default() -> CaptureSection {
        CaptureSection {
            enabled: default_enabled(),
            interface: String::new(),
            signatures: PathBuf::new(),
            sweep_ports: default_sweep_ports(),
            scan_window_secs: default_window(),
            scan_quiet_secs: default_quiet(),
            handshake_timeout_secs: default_handshake(),
            max_sources: default_max_sources(),
            max_flows: default_max_flows(),
            fingerprint_repeat_secs: default_repeat(),
            buffer_kib: default_buffer_kib(),
        }
    }
}

/// `[capture]` once checked: what the capture task runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct CaptureSettings {
    /// The interface, or every one.
    pub interface: Option<String>,
    /// The p0f signature file, or the built-in signatures.
    pub signatures: Option<PathBuf>,
    /// The scan detector's settings.
    pub scan: fingerprint::scan::ScanSettings,
    /// How often a sessionless fingerprint of one source and signature is recorded at most.
    pub fingerprint_repeat: Duration,
    /// The socket's receive buffer, bytes.
    pub buffer_bytes: usize,
}

impl CaptureSection {
    /// Checks every value; the settings, or none when capture is off (or a value is wrong).
    pub(super) fn validate(&self, problems: &mut Problems) -> Option<CaptureSettings> {
        let before = problems.len();
        let mut check = |key: &str, value: u64, range: std::ops::RangeInclusive<u64>| {
            if !range.contains(&value) {
                problems.push((
                    format!("capture.{key}"),
                    format!("{value} is outside {}..={}", range.start(), range.end()),
                ));
            }
        };
        check("sweep_ports", self.sweep_ports, 2..=65_535);
        check("scan_window_secs", self.scan_window_secs, 1..=86_400);
        check("scan_quiet_secs", self.scan_quiet_secs, 1..=3_600);
        check(
            "handshake_timeout_secs",
            self.handshake_timeout_secs,
            1..=600,
        );
        check("max_sources", self.max_sources, 1..=1_000_000);
        check("max_flows", self.max_flows, 1..=1_000_000);
        check(
            "fingerprint_repeat_secs",
            self.fingerprint_repeat_secs,
            0..=86_400,
        );
        check("buffer_kib", self.buffer_kib, 64..=262_144);
        let interface = self.interface.trim();
        if interface.len() > 15 || interface.contains(['/', ' ', '\0']) {
            problems.push((
                "capture.interface".into(),
                format!(
                    "{:?} is not an interface name (at most 15 bytes, no / or space)",
                    self.interface
                ),
            ));
        }
        if problems.len() != before || !self.enabled {
            return None;
        }
        let scan = fingerprint::scan::ScanSettings {
            sweep_ports: self.sweep_ports as usize,
            window: Duration::from_secs(self.scan_window_secs),
            quiet: Duration::from_secs(self.scan_quiet_secs),
            handshake_timeout: Duration::from_secs(self.handshake_timeout_secs),
            max_sources: self.max_sources as usize,
            max_flows: self.max_flows as usize,
            ..fingerprint::scan::ScanSettings::default()
        };
        Some(CaptureSettings {
            interface: (!interface.is_empty()).then(|| interface.to_owned()),
            signatures: (!self.signatures.as_os_str().is_empty()).then(|| self.signatures.clone()),
            scan,
            fingerprint_repeat: Duration::from_secs(self.fingerprint_repeat_secs),
            buffer_bytes: (self.buffer_kib * 1024) as usize,
        })
    }
}
