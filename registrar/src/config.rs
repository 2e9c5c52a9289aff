//! `registrar.toml`: the `[registrar]` table, its `[registrar.limits]` and
//! `[registrar.honeypot_channels]`. Every problem is reported at once as `file: key: reason`.
//!
//! Two secrets: the deploy key (required, what MHN's deploy scripts send) and the admin token
//! (optional, for listing and revoking sensors). Each comes from the file (`deploy_key` or
//! `deploy_key_file`, `admin_token` or `admin_token_file`) or from the environment
//! ([`DEPLOY_KEY_ENV`], [`ADMIN_TOKEN_ENV`], which win), never from a command-line argument
//! (which `ps` shows to every user). Neither is ever logged: [`Secret`]'s `Debug` hides it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reportd::config::{AllowedHosts, parse_listen};
use reportd::server::ServerLimits;
use roleconfig::{ConfigProblems, Validated};
use serde::Deserialize;

/// The shipped configuration, `configs/registrar.toml`.
pub const SHIPPED_CONFIG: &str = include_str!("../../configs/registrar.toml");

/// The environment variable that may hold the deploy key (wins over the file).
pub const DEPLOY_KEY_ENV: &str = "RECCE7_DEPLOY_KEY";

/// The environment variable that may hold the admin token (wins over the file).
pub const ADMIN_TOKEN_ENV: &str = "RECCE7_REGISTRAR_TOKEN";

/// The shortest deploy key or admin token accepted.
pub const MIN_SECRET_CHARS: usize = 16;

/// The longest deploy key or admin token accepted (a secret is a line, not a document).
pub const MAX_SECRET_CHARS: usize = 256;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
pub struct RegistrarFile {
    /// `[registrar]`.
    pub registrar: RegistrarSection,
}

/// `[registrar]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RegistrarSection {
    /// Listen address: `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT`.
    pub listen: String,
    /// Host names (besides the listen address) that requests may name in `Host`.
    pub hosts: Vec<String>,
    /// The deploy key sensors register with ("" for none: then `deploy_key_file` or the
    /// environment must give one).
    pub deploy_key: String,
    /// A file holding the deploy key; not with `deploy_key`.
    pub deploy_key_file: PathBuf,
    /// The admin token for listing and revoking ("" for none: those endpoints refuse).
    pub admin_token: String,
    /// A file holding the admin token; not with `admin_token`.
    pub admin_token_file: PathBuf,
    /// The hpfeeds3 broker's SQLite auth store (`sqlite.db` in the broker's working directory).
    pub broker_auth_db: PathBuf,
    /// The broker host sensors are told to publish to ("" for the host the request named).
    pub broker_host: String,
    /// The broker port sensors are told to publish to.
    pub broker_port: i64,
    /// The channels each honeypot type may publish on.
    pub honeypot_channels: BTreeMap<String, Vec<String>>,
    /// `[registrar.limits]`.
    pub limits: LimitsSection,
    /// Log level.
    pub log_level: String,
}

/// `[registrar.limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct LimitsSection {
    /// The largest request body; a larger one is refused with 413.
    pub max_body_bytes: u64,
    /// The most sensors registered and not revoked.
    pub max_sensors: u64,
    /// Wrong deploy keys or admin tokens one address (an IPv6 /64) may send per minute; past
    /// it, every request from there that needs a secret is refused with 429 until the minute
    /// is over.
    pub max_failed_attempts_per_minute: u64,
    /// Connections open at once.
    pub max_connections: u64,
    /// Connections open at once from one address.
    pub max_connections_per_source: u64,
    /// Seconds a client has to send a whole request head.
    pub header_timeout_secs: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_body_bytes: 4096,
            max_sensors: 10_000,
            max_failed_attempts_per_minute: 10,
            max_connections: 64,
            max_connections_per_source: 8,
            header_timeout_secs: 10,
        }
    }
}

/// MHN's usual honeypot types and their channels (its `HONEYPOT_CHANNELS`), and recce7's.
pub fn default_honeypot_channels() -> BTreeMap<String, Vec<String>> {
    let table: &[(&str, &[&str])] = &[
        ("recce7", &["recce7.events"]),
        ("cowrie", &["cowrie.sessions"]),
        ("kippo", &["kippo.sessions"]),
        (
            "dionaea",
            &[
                "mwbinary.dionaea.sensorunique",
                "dionaea.capture",
                "dionaea.capture.anon",
                "dionaea.dcerpcrequests",
                "dionaea.connections",
            ],
        ),
        ("conpot", &["conpot.events"]),
        ("glastopf", &["glastopf.files", "glastopf.events"]),
        ("wordpot", &["wordpot.events"]),
        ("shockpot", &["shockpot.events"]),
        ("p0f", &["p0f.events"]),
        ("snort", &["snort.alerts"]),
        ("suricata", &["suricata.events"]),
        ("elastichoney", &["elastichoney.events"]),
        ("amun", &["amun.events"]),
    ];
    table
        .iter()
        .map(|(k, v)| (k.to_string(), v.iter().map(|c| c.to_string()).collect()))
        .collect()
}

impl Default for RegistrarSection {
    fn default() -> Self {
        RegistrarSection {
            listen: "127.0.0.1:8090".into(),
            hosts: Vec::new(),
            deploy_key: String::new(),
            deploy_key_file: PathBuf::new(),
            admin_token: String::new(),
            admin_token_file: PathBuf::new(),
            broker_auth_db: "sqlite.db".into(),
            broker_host: String::new(),
            broker_port: 10000,
            honeypot_channels: default_honeypot_channels(),
            limits: LimitsSection::default(),
            log_level: "info".into(),
        }
    }
}

/// A secret: its `Debug` never shows it, so settings can be logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    /// The secret itself, for a comparison.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<hidden>)")
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct RegistrarSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// Which `Host` a request may name.
    pub hosts: AllowedHosts,
    /// The deploy key.
    pub deploy_key: Secret,
    /// The admin token, if any.
    pub admin_token: Option<Secret>,
    /// The broker's SQLite auth store.
    pub broker_auth_db: PathBuf,
    /// The broker host sensors are given (`None`: the host the request named).
    pub broker_host: Option<String>,
    /// The broker port sensors are given.
    pub broker_port: u16,
    /// The channels each honeypot type may publish on.
    pub honeypot_channels: BTreeMap<String, Vec<String>>,
    /// The largest request body.
    pub max_body_bytes: usize,
    /// The most active sensors.
    pub max_sensors: u64,
    /// Failed secrets per address per minute.
    pub max_failed_attempts_per_minute: u32,
    /// Connection caps and timeouts of the HTTP server.
    pub server: ServerLimits,
    /// Log level.
    pub log_level: String,
}

/// Where the secrets may come from besides the file: the environment's values (unset or
/// empty: none).
#[derive(Debug, Clone, Default)]
pub struct SecretSources {
    /// The value of [`DEPLOY_KEY_ENV`].
    pub deploy_key_env: Option<Secret>,
    /// The value of [`ADMIN_TOKEN_ENV`].
    pub admin_token_env: Option<Secret>,
}

impl SecretSources {
    /// This process's [`DEPLOY_KEY_ENV`] and [`ADMIN_TOKEN_ENV`].
    pub fn from_environment() -> SecretSources {
        let var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(|v| Secret::new(v.to_string_lossy().into_owned()))
        };
        SecretSources {
            deploy_key_env: var(DEPLOY_KEY_ENV),
            admin_token_env: var(ADMIN_TOKEN_ENV),
        }
    }
}

/// Checks a secret's length and characters: printable ASCII without spaces or quotes, so that
/// it travels in JSON, a header and a shell variable unchanged.
fn check_secret(secret: &str) -> Result<(), String> {
    let ok = (MIN_SECRET_CHARS..=MAX_SECRET_CHARS).contains(&secret.len())
        && secret
            .bytes()
            .all(|b| b.is_ascii_graphic() && !b"\"'\\`$".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be {MIN_SECRET_CHARS} to {MAX_SECRET_CHARS} characters, printable ASCII without spaces, quotes, \\, ` or $"
        ))
    }
}

/// One secret from its sources, in the order they win: the environment, the file named by
/// `file_key`, the inline `key`. Problems go to `problems` under the key at fault.
fn resolve_secret(
    key: &str,
    inline: &str,
    file_key: &str,
    file: &Path,
    env: (&str, Option<&Secret>),
    problems: &mut Vec<(String, String)>,
) -> Option<Secret> {
    if !inline.is_empty() && !file.as_os_str().is_empty() {
        problems.push((
            format!("registrar.{file_key}"),
            format!("give {key} or {file_key}, not both"),
        ));
        return None;
    }
    let (at, value) = if let Some(secret) = env.1 {
        (env.0.to_owned(), secret.expose().to_owned())
    } else if !file.as_os_str().is_empty() {
        match roleconfig::read_secret_file(file) {
            Ok(v) => (format!("registrar.{file_key}"), v),
            Err(reason) => {
                problems.push((format!("registrar.{file_key}"), reason));
                return None;
            }
        }
    } else if !inline.is_empty() {
        (format!("registrar.{key}"), inline.to_owned())
    } else {
        return None;
    };
    match check_secret(&value) {
        Ok(()) => Some(Secret(value)),
        Err(reason) => {
            problems.push((at, reason));
            None
        }
    }
}

/// A honeypot type or channel name: letters, digits and `. _ -`, starting with a letter or
/// digit.
pub fn is_plain_name(name: &str, max: usize) -> bool {
    (1..=max).contains(&name.len())
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

impl RegistrarFile {
    /// Checks everything with no secret source outside the file.
    pub fn validate(&self) -> Validated<RegistrarSettings> {
        self.validate_with(&SecretSources::default())
    }

    /// Checks everything, the secrets from `sources` included (a secret file is read here, the
    /// only I/O); every problem as `(key, reason)`.
    pub fn validate_with(&self, sources: &SecretSources) -> Validated<RegistrarSettings> {
        let r = &self.registrar;
        let mut problems = Vec::new();
        let listen = parse_listen(&r.listen)
            .map_err(|reason| problems.push(("registrar.listen".into(), reason)))
            .ok();
        let before = problems.len();
        let deploy_key = resolve_secret(
            "deploy_key",
            &r.deploy_key,
            "deploy_key_file",
            &r.deploy_key_file,
            (DEPLOY_KEY_ENV, sources.deploy_key_env.as_ref()),
            &mut problems,
        );
        if deploy_key.is_none() && problems.len() == before {
            problems.push((
                "registrar.deploy_key".into(),
                format!(
                    "required: the key MHN's deploy scripts send, at least {MIN_SECRET_CHARS} characters; \
                     give deploy_key_file (or deploy_key) or the {DEPLOY_KEY_ENV} environment variable"
                ),
            ));
        }
        let admin_token = resolve_secret(
            "admin_token",
            &r.admin_token,
            "admin_token_file",
            &r.admin_token_file,
            (ADMIN_TOKEN_ENV, sources.admin_token_env.as_ref()),
            &mut problems,
        );
        if let (Some(key), Some(token)) = (&deploy_key, &admin_token)
            && key == token
        {
            problems.push((
                "registrar.admin_token".into(),
                "must differ from the deploy key (every sensor's installer knows that one)".into(),
            ));
        }
        let mut hosts = Vec::new();
        for (i, host) in r.hosts.iter().enumerate() {
            let name = host.to_ascii_lowercase();
            let ok = (1..=253).contains(&name.len())
                && name.split('.').all(|label| {
                    (1..=63).contains(&label.len())
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                });
            if ok {
                hosts.push(name);
            } else {
                problems.push((
                    format!("registrar.hosts[{i}]"),
                    format!(
                        "{host:?} is not a host name like registrar.example.org (no port, no scheme)"
                    ),
                ));
            }
        }
        if r.broker_auth_db.as_os_str().is_empty() {
            problems.push((
                "registrar.broker_auth_db".into(),
                "must name the broker's SQLite auth store (its sqlite.db)".into(),
            ));
        }
        let broker_host_ok = r.broker_host.is_empty()
            || ((1..=253).contains(&r.broker_host.len())
                && r.broker_host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
        if !broker_host_ok {
            problems.push((
                "registrar.broker_host".into(),
                format!(
                    "{:?} is not a host name or address (\"\" for the host the request named)",
                    r.broker_host
                ),
            ));
        }
        let broker_port = u16::try_from(r.broker_port).ok().filter(|p| *p >= 1);
        if broker_port.is_none() {
            problems.push((
                "registrar.broker_port".into(),
                format!("{} is outside 1..=65535", r.broker_port),
            ));
        }
        if r.honeypot_channels.is_empty() {
            problems.push((
                "registrar.honeypot_channels".into(),
                "must name at least one honeypot type, e.g. recce7 = [\"recce7.events\"]".into(),
            ));
        }
        for (kind, channels) in &r.honeypot_channels {
            if !is_plain_name(kind, 64) {
                problems.push((
                    format!("registrar.honeypot_channels.{kind}"),
                    "a honeypot type is 1 to 64 letters, digits, . _ or -".into(),
                ));
            }
            if channels.is_empty() {
                problems.push((
                    format!("registrar.honeypot_channels.{kind}"),
                    "must list at least one channel".into(),
                ));
            }
            for (i, channel) in channels.iter().enumerate() {
                if !is_plain_name(channel, 255) {
                    problems.push((
                        format!("registrar.honeypot_channels.{kind}[{i}]"),
                        format!(
                            "{channel:?} is not a channel name (1 to 255 letters, digits, . _ or -)"
                        ),
                    ));
                }
            }
        }
        let l = &r.limits;
        for (key, value, range) in [
            ("max_body_bytes", l.max_body_bytes, 256..=1_048_576),
            ("max_sensors", l.max_sensors, 1..=10_000_000),
            (
                "max_failed_attempts_per_minute",
                l.max_failed_attempts_per_minute,
                1..=10_000,
            ),
            ("max_connections", l.max_connections, 1..=100_000),
            (
                "max_connections_per_source",
                l.max_connections_per_source,
                1..=100_000,
            ),
            ("header_timeout_secs", l.header_timeout_secs, 1..=3600),
        ] {
            if !range.contains(&value) {
                problems.push((
                    format!("registrar.limits.{key}"),
                    format!("{value} is outside {}..={}", range.start(), range.end()),
                ));
            }
        }
        if l.max_connections_per_source > l.max_connections {
            problems.push((
                "registrar.limits.max_connections_per_source".into(),
                "is larger than registrar.limits.max_connections".into(),
            ));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&r.log_level.as_str()) {
            problems.push((
                "registrar.log_level".into(),
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    r.log_level
                ),
            ));
        }
        match (listen, deploy_key, broker_port) {
            (Some(listen), Some(deploy_key), Some(broker_port)) if problems.is_empty() => {
                Ok(RegistrarSettings {
                    listen,
                    hosts: AllowedHosts::new(listen, &hosts, None),
                    deploy_key,
                    admin_token,
                    broker_auth_db: r.broker_auth_db.clone(),
                    broker_host: (!r.broker_host.is_empty()).then(|| r.broker_host.clone()),
                    broker_port,
                    honeypot_channels: r.honeypot_channels.clone(),
                    max_body_bytes: l.max_body_bytes as usize,
                    max_sensors: l.max_sensors,
                    max_failed_attempts_per_minute: l.max_failed_attempts_per_minute as u32,
                    server: ServerLimits {
                        max_connections: l.max_connections as usize,
                        max_connections_per_source: l.max_connections_per_source as usize,
                        header_read_timeout: Duration::from_secs(l.header_timeout_secs),
                        ..ServerLimits::default()
                    },
                    log_level: r.log_level.clone(),
                })
            }
            _ => Err(problems),
        }
    }
}

/// Reads and validates a file, with the secrets from `sources`.
pub fn load(path: &Path, sources: &SecretSources) -> Result<RegistrarSettings, ConfigProblems> {
    roleconfig::load(path, |file: &RegistrarFile| file.validate_with(sources))
}

/// Parses and validates `text` with `sources`; `file` names it in problems.
pub fn parse_config(
    text: &str,
    file: &str,
    sources: &SecretSources,
) -> Result<RegistrarSettings, ConfigProblems> {
    roleconfig::parse(text, file, |f: &RegistrarFile| f.validate_with(sources))
}

#[cfg(test)]
mod tests;
