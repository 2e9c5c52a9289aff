//! `[sensor]`: who this sensor is, where it listens, records and serves its metrics.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use super::{PluginConfig, Problems};

/// `[sensor]`: who this sensor is, where it listens and records.
#[derive(Debug, Clone, Deserialize)]
pub struct SensorSection {
    /// The sensor's name, in every event.
    #[serde(default = "default_name")]
    pub name: String,
    /// Addresses to listen on (IPv4 or IPv6); empty means all of them.
    #[serde(default)]
    pub listen: Vec<String>,
    /// The SQLite file (created if missing; relative paths from the working directory).
    #[serde(default = "default_database")]
    pub database: PathBuf,
    /// `error`, `warn`, `info`, `debug` or `trace` (the `RECCE7_LOG` variable, e.g. `debug` or `sensor=debug,info`, overrides it).
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Events queued for the writer before sessions wait.
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: u64,
    /// On SIGTERM/SIGINT, how long open sessions may go on before they are closed.
    #[serde(default = "default_grace")]
    pub shutdown_grace_secs: u64,
    /// A GeoIP city database (`.mmdb`): every new session's source is looked up and `ipInfo`
    /// kept current, so a standalone sensor's map has points. Absent or empty: no lookups.
    /// Several files are asked in order (DB-IP Lite's IPv4 and IPv6 files).
    #[serde(default)]
    pub geoip: Option<roleconfig::Paths>,
    /// How often the GeoIP files are looked at for a replacement (`recce7 geoip update` renames
    /// a new month's file over the old one), seconds; a file not there yet is waited for.
    #[serde(default = "default_geoip_check_secs")]
    pub geoip_check_secs: u64,
    /// Where to serve `/metrics` (Prometheus), e.g. `127.0.0.1:9108`; empty for nowhere.
    #[serde(default)]
    pub metrics_listen: String,
}

fn default_name() -> String {
    "recce7".into()
}
fn default_database() -> PathBuf {
    "recce7.sqlite".into()
}
fn default_log_level() -> String {
    "info".into()
}
fn default_queue_capacity() -> u64 {
    store::writer::DEFAULT_QUEUE_CAPACITY as u64
}
fn default_grace() -> u64 {
    3
}
fn default_geoip_check_secs() -> u64 {
    60
}

impl Default for SensorSection {
    fn default() -> SensorSection {
        SensorSection {
            name: default_name(),
            listen: Vec::new(),
            database: default_database(),
            log_level: default_log_level(),
            queue_capacity: default_queue_capacity(),
            shutdown_grace_secs: default_grace(),
            geoip: None,
            geoip_check_secs: default_geoip_check_secs(),
            metrics_listen: String::new(),
        }
    }
}

impl SensorSection {
    /// Checks the name, the addresses, the database, the log level and the queue; the
    /// addresses to listen on (empty: all), each once.
    pub(super) fn validate(&self, problems: &mut Problems) -> Vec<IpAddr> {
        let mut push = |key: String, reason: String| problems.push((key, reason));
        if self.name.trim().is_empty() || self.name.len() > 255 {
            push("sensor.name".into(), "must be 1 to 255 bytes".into());
        }
        let mut listen = Vec::new();
        for (i, addr) in self.listen.iter().enumerate() {
            match addr
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<IpAddr>()
            {
                Ok(ip) if !listen.contains(&ip) => listen.push(ip),
                Ok(_) => push(
                    format!("sensor.listen[{i}]"),
                    format!("{addr} is listed twice"),
                ),
                Err(_) => push(
                    format!("sensor.listen[{i}]"),
                    format!("{addr:?} is not an IPv4 or IPv6 address"),
                ),
            }
        }
        if self.database.as_os_str().is_empty() {
            push("sensor.database".into(), "must name a file".into());
        }
        if !(1..=86_400).contains(&self.geoip_check_secs) {
            push(
                "sensor.geoip_check_secs".into(),
                format!("{} is outside 1..=86400", self.geoip_check_secs),
            );
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&self.log_level.as_str()) {
            push(
                "sensor.log_level".into(),
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    self.log_level
                ),
            );
        }
        if self.queue_capacity == 0 || self.queue_capacity > 1_000_000 {
            push(
                "sensor.queue_capacity".into(),
                "must be 1 to 1000000".into(),
            );
        }
        listen
    }

    /// Checks `metrics_listen`: an address, and not the port of an enabled plug-in on the same
    /// addresses (the second bind would fail at start). The address, if one is set.
    pub(super) fn validate_metrics(
        &self,
        listen: &[IpAddr],
        plugins: &[PluginConfig],
        problems: &mut Problems,
    ) -> Option<SocketAddr> {
        if self.metrics_listen.is_empty() {
            return None;
        }
        let addr = match self.metrics_listen.parse::<SocketAddr>() {
            Ok(addr) => addr,
            Err(e) => {
                problems.push((
                    "sensor.metrics_listen".into(),
                    format!("{:?} is not an address:port ({e})", self.metrics_listen),
                ));
                return None;
            }
        };
        let overlaps = addr.ip().is_unspecified()
            || listen.is_empty()
            || listen
                .iter()
                .any(|ip| *ip == addr.ip() || ip.is_unspecified());
        for (i, p) in plugins.iter().enumerate() {
            if overlaps && p.enabled && p.port == i64::from(addr.port()) {
                problems.push((
                    "sensor.metrics_listen".into(),
                    format!(
                        "{addr} is on port {}, the port of plugin[{i}] ({:?})",
                        p.port, p.name
                    ),
                ));
            }
        }
        Some(addr)
    }
}
