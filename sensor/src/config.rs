//! `sensor.toml`: the `[sensor]` table, `[limits]`, and one `[[plugin]]` table per instance as in
//! RECCE7's plugins.cfg. [`load`] and [`parse`] report every problem at once, each with the file,
//! the key and the reason; [`SensorConfig::validate`] is pure and builds the plug-ins (which checks
//! their options) without binding anything.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

pub use roleconfig::{ConfigProblem, ConfigProblems};
use store::{Column, ColumnType, TableSpec, is_safe_identifier};

use crate::limits::Limits;
use crate::plugin::{Plugin, PluginSettings, find_kind, registry};

/// The default configuration, as shipped in `configs/sensor.toml`; `recce7 up` runs it.
pub const DEFAULT_CONFIG: &str = include_str!("../../configs/sensor.toml");

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
}

/// `[retention]`: the database is pruned, oldest sessions first, to stay under an age and a
/// size; 0 turns a limit off. Sessions with events not yet published are never pruned.
#[derive(Debug, Clone, Deserialize)]
pub struct RetentionSection {
    /// Sessions that started more than this many days ago are deleted with all their rows.
    #[serde(default = "default_max_age_days")]
    pub max_age_days: u64,
    /// The database (pages in use plus its WAL) is kept under this many MiB (1 MiB = 1,048,576
    /// bytes); fractions are allowed (`0.5`).
    #[serde(default = "default_max_database_mb")]
    pub max_database_mb: f64,
    /// How often the size is measured and the age limit applied (also after busy batches).
    #[serde(default = "default_retention_check")]
    pub check_interval_secs: u64,
}

fn default_max_age_days() -> u64 {
    90
}
fn default_max_database_mb() -> f64 {
    256.0
}
fn default_retention_check() -> u64 {
    60
}

impl Default for RetentionSection {
    fn default() -> RetentionSection {
        RetentionSection {
            max_age_days: default_max_age_days(),
            max_database_mb: default_max_database_mb(),
            check_interval_secs: default_retention_check(),
        }
    }
}

/// The smallest size cap accepted: below it SQLite's own pages and the WAL do not fit.
pub const MIN_DATABASE_MB: f64 = 0.25;

/// `[hpfeeds]`: the broker the outbox publisher sends every event to (ARCHITECTURE.md's shape,
/// the same in every role's config).
#[derive(Debug, Clone, Deserialize)]
pub struct HpfeedsSection {
    /// Broker host (MHN: the server's name).
    pub host: String,
    /// Broker port (MHN: 10000).
    #[serde(default = "default_hpfeeds_port")]
    pub port: i64,
    /// Authkey ident.
    pub ident: String,
    /// Authkey secret.
    pub secret: String,
    /// The channel events are published on.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// After a dropped connection, events sent this many seconds before it are sent again
    /// (hpfeeds has no acknowledgement; consumers deduplicate by event id).
    #[serde(default = "default_resend_window")]
    pub resend_window_secs: u64,
    /// Sent events are kept this long in the outbox (at least the resend window), then pruned.
    #[serde(default = "default_keep_sent")]
    pub keep_sent_secs: u64,
    /// The most events the outbox holds; past it events are recorded locally only, and counted.
    #[serde(default = "default_max_outbox")]
    pub max_outbox_events: u64,
    /// The longest wait between reconnection attempts (the wait doubles from 0.25 s up to it).
    #[serde(default = "default_reconnect_max")]
    pub reconnect_max_secs: u64,
}

fn default_reconnect_max() -> u64 {
    30
}

fn default_hpfeeds_port() -> i64 {
    10000
}
fn default_channel() -> String {
    "recce7.events".into()
}
fn default_resend_window() -> u64 {
    10
}
fn default_keep_sent() -> u64 {
    60
}
fn default_max_outbox() -> u64 {
    1_000_000
}

/// A validated `[hpfeeds]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HpfeedsSettings {
    /// Broker host.
    pub host: String,
    /// Broker port.
    pub port: u16,
    /// Ident.
    pub ident: String,
    /// Secret.
    pub secret: String,
    /// Channel.
    pub channel: String,
    /// Resend window.
    pub resend_window: Duration,
    /// How long sent events stay in the outbox.
    pub keep_sent: Duration,
    /// Outbox bound.
    pub max_outbox_events: u64,
    /// Longest wait between reconnection attempts.
    pub reconnect_max: Duration,
}

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
            metrics_listen: String::new(),
        }
    }
}

/// `[limits]`: every limit a session lives under. Units are in the names.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitsConfig {
    /// Connections open at once, all instances together.
    #[serde(default = "d_max_connections")]
    pub max_connections: u64,
    /// Connections open at once from one address (IPv6: one /64).
    #[serde(default = "d_per_source")]
    pub max_connections_per_source: u64,
    /// Seconds without input before a session is closed.
    #[serde(default = "d_idle")]
    pub idle_timeout_secs: u64,
    /// Seconds a session may last in all.
    #[serde(default = "d_session")]
    pub session_timeout_secs: u64,
    /// The longest input line accepted (telnet, line services).
    #[serde(default = "d_line")]
    pub max_line_bytes: u64,
    /// The largest request (HTTP head plus body) accepted.
    #[serde(default = "d_request")]
    pub max_request_bytes: u64,
    /// Bytes read from one session at most.
    #[serde(default = "d_session_bytes")]
    pub max_session_bytes: u64,
    /// Bytes of unparseable input kept per raw record.
    #[serde(default = "d_raw")]
    pub max_raw_bytes: u64,
}

fn d_max_connections() -> u64 {
    Limits::default().max_connections as u64
}
fn d_per_source() -> u64 {
    Limits::default().max_connections_per_source as u64
}
fn d_idle() -> u64 {
    Limits::default().idle_timeout.as_secs()
}
fn d_session() -> u64 {
    Limits::default().session_timeout.as_secs()
}
fn d_line() -> u64 {
    Limits::default().max_line_bytes as u64
}
fn d_request() -> u64 {
    Limits::default().max_request_bytes as u64
}
fn d_session_bytes() -> u64 {
    Limits::default().max_session_bytes
}
fn d_raw() -> u64 {
    Limits::default().max_raw_bytes as u64
}

impl Default for LimitsConfig {
    fn default() -> LimitsConfig {
        LimitsConfig {
            max_connections: d_max_connections(),
            max_connections_per_source: d_per_source(),
            idle_timeout_secs: d_idle(),
            session_timeout_secs: d_session(),
            max_line_bytes: d_line(),
            max_request_bytes: d_request(),
            max_session_bytes: d_session_bytes(),
            max_raw_bytes: d_raw(),
        }
    }
}

/// One `[[plugin]]` table: a plug-in instance.
#[derive(Debug, Clone, Deserialize)]
pub struct PluginConfig {
    /// Unique instance name (in every event's `plugin`).
    pub name: String,
    /// Which plug-in (`telnet`, `http`, `banner`, ...).
    pub kind: String,
    /// The TCP port, 1..65535.
    pub port: i64,
    /// The table its rows go to (a safe SQL identifier, unique).
    pub table: String,
    /// A disabled instance gets no listener and no table.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The table's columns after the fixed ones, as `[name, type]` pairs (RECCE7's
    /// `tableColumns`). Absent: exactly the columns the plug-in records.
    pub columns: Option<Vec<(String, String)>>,
    /// Options of the plug-in kind (`[plugin.options]`).
    #[serde(default)]
    pub options: toml::Table,
}

fn yes() -> bool {
    true
}

/// A plug-in instance ready to run.
#[derive(Clone)]
pub struct Instance {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its port.
    pub port: u16,
    /// Its table and columns.
    pub table: TableSpec,
    /// The built plug-in.
    pub plugin: Arc<dyn Plugin>,
}

impl fmt::Debug for Instance {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instance")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("port", &self.port)
            .field("table", &self.table)
            .finish()
    }
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
    /// Where `/metrics` is served, if anywhere.
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Retention: none when both limits are off.
    pub retention: Option<store::RetentionPolicy>,
}

/// Reads and validates a file.
pub fn load(path: &Path) -> Result<ValidConfig, ConfigProblems> {
    roleconfig::load(path, SensorConfig::validate)
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
    /// `(key, reason)`; pure apart from constructing plug-ins.
    pub fn validate(&self) -> Result<ValidConfig, Vec<(String, String)>> {
        let mut problems: Vec<(String, String)> = Vec::new();
        let mut push = |key: String, reason: String| problems.push((key, reason));

        let s = &self.sensor;
        if s.name.trim().is_empty() || s.name.len() > 255 {
            push("sensor.name".into(), "must be 1 to 255 bytes".into());
        }
        let mut listen = Vec::new();
        for (i, addr) in s.listen.iter().enumerate() {
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
        if s.database.as_os_str().is_empty() {
            push("sensor.database".into(), "must name a file".into());
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&s.log_level.as_str()) {
            push(
                "sensor.log_level".into(),
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    s.log_level
                ),
            );
        }
        if s.queue_capacity == 0 || s.queue_capacity > 1_000_000 {
            push(
                "sensor.queue_capacity".into(),
                "must be 1 to 1000000".into(),
            );
        }

        let l = &self.limits;
        let positive = [
            ("max_connections", l.max_connections),
            ("max_connections_per_source", l.max_connections_per_source),
            ("idle_timeout_secs", l.idle_timeout_secs),
            ("session_timeout_secs", l.session_timeout_secs),
            ("max_line_bytes", l.max_line_bytes),
            ("max_request_bytes", l.max_request_bytes),
            ("max_session_bytes", l.max_session_bytes),
            ("max_raw_bytes", l.max_raw_bytes),
        ];
        for (key, value) in positive {
            if value == 0 {
                push(format!("limits.{key}"), "must be greater than 0".into());
            }
        }
        for (key, value, max) in [
            ("max_connections", l.max_connections, 1_000_000),
            ("max_line_bytes", l.max_line_bytes, 1 << 20),
            ("max_request_bytes", l.max_request_bytes, 16 << 20),
            ("max_raw_bytes", l.max_raw_bytes, 1 << 20),
        ] {
            if value > max {
                push(
                    format!("limits.{key}"),
                    format!("{value} is above the maximum {max}"),
                );
            }
        }
        if l.max_connections_per_source > l.max_connections {
            push(
                "limits.max_connections_per_source".into(),
                "is larger than limits.max_connections".into(),
            );
        }
        let limits = Limits {
            max_connections: l.max_connections as usize,
            max_connections_per_source: l.max_connections_per_source as usize,
            idle_timeout: Duration::from_secs(l.idle_timeout_secs),
            session_timeout: Duration::from_secs(l.session_timeout_secs),
            max_line_bytes: l.max_line_bytes as usize,
            max_request_bytes: l.max_request_bytes as usize,
            max_session_bytes: l.max_session_bytes,
            max_raw_bytes: l.max_raw_bytes as usize,
        };

        if self.plugins.iter().all(|p| !p.enabled) {
            push("plugin".into(), "no enabled [[plugin]] instance".into());
        }
        let mut names: HashMap<&str, usize> = HashMap::new();
        let mut tables: HashMap<String, usize> = HashMap::new();
        let mut ports: HashMap<i64, usize> = HashMap::new();
        let mut instances = Vec::new();
        for (i, p) in self.plugins.iter().enumerate() {
            let at = |key: &str| format!("plugin[{i}].{key}");
            if p.name.trim().is_empty() || p.name.len() > 64 {
                push(at("name"), "must be 1 to 64 bytes".into());
            } else if let Some(first) = names.insert(&p.name, i) {
                push(
                    at("name"),
                    format!("{:?} is also the name of plugin[{first}]", p.name),
                );
            }
            if !is_safe_identifier(&p.table) {
                push(
                    at("table"),
                    format!(
                        "{:?} is not a safe SQL identifier (letters, digits, _; not a keyword; at most 64)",
                        p.table
                    ),
                );
            } else if store::schema::is_reserved_table(&p.table) {
                push(
                    at("table"),
                    format!("{:?} is one of the store's own tables", p.table),
                );
            } else if let Some(first) = tables.insert(p.table.to_ascii_lowercase(), i) {
                push(
                    at("table"),
                    format!("{:?} is also the table of plugin[{first}]", p.table),
                );
            }
            let port = match u16::try_from(p.port) {
                Ok(port) if port >= 1 => Some(port),
                _ => {
                    push(at("port"), format!("{} is outside 1..65535", p.port));
                    None
                }
            };
            // Only enabled instances bind, so only they can clash.
            let enabled_port = port.filter(|_| p.enabled);
            if let Some(first) = enabled_port.and_then(|port| ports.insert(i64::from(port), i)) {
                push(
                    at("port"),
                    format!("{} is also the port of plugin[{first}]", p.port),
                );
            }
            let Some(kind) = find_kind(&p.kind) else {
                let known: Vec<&str> = registry().iter().map(|k| k.name).collect();
                push(
                    at("kind"),
                    format!("unknown kind {:?} (known: {})", p.kind, known.join(", ")),
                );
                continue;
            };
            let built = (kind.build)(&PluginSettings {
                name: &p.name,
                options: &p.options,
                limits: &limits,
            });
            let plugin = match built {
                Ok(plugin) => plugin,
                Err(option_problems) => {
                    for op in option_problems {
                        push(at(&format!("options.{}", op.key)), op.reason);
                    }
                    continue;
                }
            };
            let records = plugin.columns();
            let columns = match &p.columns {
                None => records.clone(),
                Some(pairs) => {
                    let mut cols: Vec<Column> = Vec::new();
                    for (j, (name, ty)) in pairs.iter().enumerate() {
                        let key = at(&format!("columns[{j}]"));
                        if !is_safe_identifier(name) {
                            push(
                                key.clone(),
                                format!("{name:?} is not a safe SQL identifier"),
                            );
                        } else if store::schema::is_fixed_column(name) {
                            push(
                                key.clone(),
                                format!(
                                    "{name:?} is one of the fixed columns every table starts with"
                                ),
                            );
                        } else if cols.iter().any(|c| c.name.eq_ignore_ascii_case(name)) {
                            push(key.clone(), format!("{name:?} is listed twice"));
                        }
                        match ColumnType::parse(ty) {
                            Some(kind) => cols.push(Column::new(name.clone(), kind)),
                            None => push(
                                key,
                                format!("unknown column type {ty:?} (TEXT, INTEGER, REAL, BLOB)"),
                            ),
                        }
                    }
                    for needed in &records {
                        if !cols.iter().any(|c| c.name == needed.name) {
                            push(
                                at("columns"),
                                format!(
                                    "the {} plug-in records column {:?} ({}), which is not listed",
                                    p.kind, needed.name, needed.kind
                                ),
                            );
                        }
                    }
                    cols
                }
            };
            if let Some(port) = enabled_port {
                instances.push(Instance {
                    name: p.name.clone(),
                    kind: kind.name,
                    port,
                    table: TableSpec {
                        name: p.table.clone(),
                        columns,
                    },
                    plugin,
                });
            }
        }
        let hpfeeds = self.hpfeeds.as_ref().and_then(|h| {
            let before = problems.len();
            let port = roleconfig::check_broker(
                "hpfeeds",
                &h.host,
                h.port,
                &h.ident,
                &h.secret,
                &mut problems,
            );
            roleconfig::check_name("hpfeeds.channel", &h.channel, &mut problems);
            let mut push =
                |key: &str, reason: String| problems.push((format!("hpfeeds.{key}"), reason));
            if h.resend_window_secs == 0 {
                push("resend_window_secs", "must be greater than 0".into());
            }
            if h.keep_sent_secs < h.resend_window_secs {
                push(
                    "keep_sent_secs",
                    "must be at least resend_window_secs".into(),
                );
            }
            if h.max_outbox_events == 0 {
                push("max_outbox_events", "must be greater than 0".into());
            }
            if h.reconnect_max_secs == 0 || h.reconnect_max_secs > 3600 {
                push("reconnect_max_secs", "must be 1 to 3600".into());
            }
            (problems.len() == before).then(|| HpfeedsSettings {
                host: h.host.clone(),
                port: port.unwrap_or(10000),
                ident: h.ident.clone(),
                secret: h.secret.clone(),
                channel: h.channel.clone(),
                resend_window: Duration::from_secs(h.resend_window_secs),
                keep_sent: Duration::from_secs(h.keep_sent_secs),
                max_outbox_events: h.max_outbox_events,
                reconnect_max: Duration::from_secs(h.reconnect_max_secs),
            })
        });
        let metrics_listen = if s.metrics_listen.is_empty() {
            None
        } else {
            match s.metrics_listen.parse::<std::net::SocketAddr>() {
                Ok(addr) => Some(addr),
                Err(e) => {
                    problems.push((
                        "sensor.metrics_listen".into(),
                        format!("{:?} is not an address:port ({e})", s.metrics_listen),
                    ));
                    None
                }
            }
        };
        // The metrics listener and a plug-in on one port: the second bind would fail at start.
        if let Some(addr) = metrics_listen {
            let overlaps = addr.ip().is_unspecified()
                || listen.is_empty()
                || listen
                    .iter()
                    .any(|ip| *ip == addr.ip() || ip.is_unspecified());
            for (i, p) in self.plugins.iter().enumerate() {
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
        }
        let retention = self.retention.validate(&mut problems);
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(ValidConfig {
            retention,
            hpfeeds,
            geoip: s
                .geoip
                .as_ref()
                .map(roleconfig::Paths::to_vec)
                .unwrap_or_default(),
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

impl RetentionSection {
    /// Checks the limits; the policy, or none when both limits are off.
    fn validate(&self, problems: &mut Vec<(String, String)>) -> Option<store::RetentionPolicy> {
        let before = problems.len();
        let mut push =
            |key: &str, reason: String| problems.push((format!("retention.{key}"), reason));
        if self.max_age_days > 36_500 {
            push(
                "max_age_days",
                format!(
                    "{} is above the maximum 36500 (0 turns it off)",
                    self.max_age_days
                ),
            );
        }
        let mb = self.max_database_mb;
        if !mb.is_finite() || mb < 0.0 || (mb > 0.0 && mb < MIN_DATABASE_MB) || mb > 1_048_576.0 {
            push(
                "max_database_mb",
                format!("{mb} is not 0 (off) or {MIN_DATABASE_MB} to 1048576"),
            );
        }
        if self.check_interval_secs == 0 || self.check_interval_secs > 86_400 {
            push("check_interval_secs", "must be 1 to 86400".into());
        }
        if problems.len() != before {
            return None;
        }
        let policy = store::RetentionPolicy {
            max_age: (self.max_age_days > 0)
                .then(|| Duration::from_secs(self.max_age_days * 86_400)),
            max_bytes: (mb > 0.0).then_some((mb * 1_048_576.0) as u64),
            check_interval: Duration::from_secs(self.check_interval_secs),
            ..store::RetentionPolicy::default()
        };
        policy.is_enabled().then_some(policy)
    }
}

#[cfg(test)]
mod tests {
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
}
