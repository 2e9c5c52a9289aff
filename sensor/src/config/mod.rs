//! `sensor.toml`: the `[sensor]` table, `[limits]`, and one `[[plugin]]` table per instance as in
//! RECCE7's plugins.cfg. [`load`] and [`parse`] report every problem at once, each with the file,
//! the key and the reason; [`SensorConfig::validate`] is pure and builds the plug-ins (which checks
//! their options) without binding anything.

mod capture;
mod hpfeeds;
mod limits;
mod plugins;
mod retention;
mod sensor_section;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use capture::{CaptureSection, CaptureSettings};
pub use hpfeeds::{HpfeedsSection, HpfeedsSettings};
pub use limits::LimitsConfig;
pub use plugins::{Instance, PluginConfig};
pub use retention::{MIN_DATABASE_MB, RetentionSection};
pub use roleconfig::{ConfigProblem, ConfigProblems};
pub use sensor_section::SensorSection;

use crate::limits::Limits;

/// The problems found so far, each as `(key, reason)`; every section's check adds to it.
type Problems = Vec<(String, String)>;

/// The default configuration, as shipped in `configs/sensor.toml`; `recce7 up` runs it.
pub const DEFAULT_CONFIG: &str = include_str!("../../../configs/sensor.toml");

/// The whole file.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SensorConfig {
    /// The `[sensor]` table.
    #[serde(default)]
    pub sensor: SensorSection,
    /// The `[limits]` table.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// The `[[plugin]]` tables, one per instance.
    #[serde(default, rename = "plugin")]
    pub plugins: Vec<PluginConfig>,
    /// The `[hpfeeds]` table: where to publish events. Absent: standalone, nothing published.
    pub hpfeeds: Option<HpfeedsSection>,
    /// The `[retention]` table: how old and how big the database may get. Absent: the defaults
    /// (90 days, 256 MB), so that a Pi's SD card never fills.
    #[serde(default)]
    pub retention: RetentionSection,
    /// The `[capture]` table: packet capture (p0f fingerprints, scan detection). Absent: on,
    /// with the defaults, where the privilege allows.
    #[serde(default)]
    pub capture: CaptureSection,
    /// The `[persona]` table: values that replace the device's generated identity or its
    /// model's defaults (docs/deception.md). Absent: the generated identity, kept beside the
    /// database.
    #[serde(default)]
    pub persona: crate::persona::PersonaOverrides,
}

/// A configuration that passed validation: what the sensor runs.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// The sensor's name.
    pub name: String,
    /// Addresses to bind; empty = all.
    pub listen: Vec<IpAddr>,
    /// The database path.
    pub database: PathBuf,
    /// The log level.
    pub log_level: String,
    /// Writer queue length.
    pub queue_capacity: usize,
    /// Shutdown grace period.
    pub shutdown_grace: Duration,
    /// Limits.
    pub limits: Limits,
    /// Enabled instances, in file order.
    pub instances: Vec<Instance>,
    /// Where to publish, if anywhere.
    pub hpfeeds: Option<HpfeedsSettings>,
    /// The GeoIP city databases for `ipInfo` (none: no lookups).
    pub geoip: Vec<PathBuf>,
    /// How often the GeoIP files are looked at for a replacement.
    pub geoip_check_secs: u64,
    /// Where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Retention: none when both limits are off.
    pub retention: Option<store::RetentionPolicy>,
    /// Packet capture: none when off.
    pub capture: Option<CaptureSettings>,
    /// The `[persona]` overrides and where the generated identity is kept.
    pub persona: crate::persona::PersonaOverrides,
}

/// Reads and validates a file.
pub fn load(path: &Path) -> Result<ValidConfig, ConfigProblems> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    roleconfig::load(path, |c: &SensorConfig| c.validate_in(dir))
}

/// The built-in default configuration, validated.
pub fn default_config() -> Result<ValidConfig, ConfigProblems> {
    parse(DEFAULT_CONFIG, "<built-in default: configs/sensor.toml>")
}

/// Parses and validates `text`; `file` names it in problems.
pub fn parse(text: &str, file: &str) -> Result<ValidConfig, ConfigProblems> {
    roleconfig::parse(text, file, SensorConfig::validate)
}

impl SensorConfig {
    /// Checks everything and builds the enabled plug-ins. Returns every problem as
    /// `(key, reason)`, each section checking itself; pure apart from constructing plug-ins.
    pub fn validate(&self) -> Result<ValidConfig, Vec<(String, String)>> {
        self.validate_in(Path::new("."))
    }

    /// [`SensorConfig::validate`] for a file in `config_dir`, against which relative paths in
    /// plug-in options (a script) are resolved.
    pub fn validate_in(&self, config_dir: &Path) -> Result<ValidConfig, Vec<(String, String)>> {
        let mut problems = Problems::new();
        let s = &self.sensor;
        let listen = s.validate(&mut problems);
        let limits = self.limits.validate(&mut problems);
        let data_dir = match s.database.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        let instances =
            plugins::validate_plugins(&self.plugins, &limits, config_dir, data_dir, &mut problems);
        let hpfeeds = self
            .hpfeeds
            .as_ref()
            .and_then(|h| h.validate(&mut problems));
        let metrics_listen = s.validate_metrics(&listen, &self.plugins, &mut problems);
        let retention = self.retention.validate(&mut problems);
        let capture = self.capture.validate(&mut problems);
        problems.extend(self.persona.validate());
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ValidConfig {
            persona: self.persona.clone(),
            retention,
            capture,
            hpfeeds,
            geoip: s
                .geoip
                .as_ref()
                .map(roleconfig::Paths::to_vec)
                .unwrap_or_default(),
            geoip_check_secs: s.geoip_check_secs,
            metrics_listen,
            name: s.name.clone(),
            listen,
            database: s.database.clone(),
            log_level: s.log_level.clone(),
            queue_capacity: s.queue_capacity as usize,
            shutdown_grace: Duration::from_secs(s.shutdown_grace_secs),
            limits,
            instances,
        })
    }
}

#[cfg(test)]
mod tests;
