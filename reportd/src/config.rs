//! `reportd.toml`: the `[reportd]` table. Every problem is reported at once as
//! `file: key: reason`.
//!
//! The exposure rule lives here, once, for every way the report service starts (`recce7
//! reportd`, `recce7 up --report`): a listener that is not loopback needs a bearer token
//! ([`exposure_problem`]). A token comes from the file (`token` or `token_file`), from
//! `--token-file FILE`, or from the [`TOKEN_ENV`] environment variable, never from a
//! command-line argument (which `ps` shows to every user).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use roleconfig::{ConfigProblems, Validated};

use crate::server::ServerLimits;
use serde::Deserialize;

/// The shipped configuration, `configs/reportd.toml`.
pub const SHIPPED_CONFIG: &str = include_str!("../../configs/reportd.toml");

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
pub struct ReportdFile {
    /// `[reportd]`.
    pub reportd: ReportdSection,
}

/// `[reportd]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ReportdSection {
    /// Listen address: `IP:PORT`, `[IPv6]:PORT` or `localhost:PORT` (127.0.0.1).
    pub listen: String,
    /// The database served.
    pub database: PathBuf,
    /// Bearer token ("" for none).
    pub token: String,
    /// A file holding the bearer token ("" for none); not with `token`.
    pub token_file: PathBuf,
    /// Host names (besides the listen address) that requests may name in `Host`.
    pub hosts: Vec<String>,
    /// The address clients use, for absolute links ("" for `http://<listen>`).
    pub public_url: String,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Row cap per list.
    pub max_rows: u64,
    /// The most bytes one JSON answer may have (items past it are left for the next page).
    pub max_response_bytes: u64,
    /// Query time limit in milliseconds.
    pub query_timeout_ms: u64,
    /// Connections open at once (past it, new ones wait in the kernel's backlog).
    pub max_connections: u64,
    /// Connections open at once from one address (past it, new ones are closed).
    pub max_connections_per_source: u64,
    /// Seconds a client has to send a whole request head, and that an idle kept-alive
    /// connection stays open.
    pub header_timeout_secs: u64,
    /// Log level.
    pub log_level: String,
}

impl Default for ReportdSection {
    fn default() -> Self {
        ReportdSection {
            listen: "127.0.0.1:8880".into(),
            database: "central.sqlite".into(),
            token: String::new(),
            token_file: PathBuf::new(),
            hosts: Vec::new(),
            public_url: String::new(),
            cors_origins: Vec::new(),
            max_rows: 500,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            query_timeout_ms: 2000,
            max_connections: ServerLimits::default().max_connections as u64,
            max_connections_per_source: ServerLimits::default().max_connections_per_source as u64,
            header_timeout_secs: ServerLimits::default().header_read_timeout.as_secs(),
            log_level: "info".into(),
        }
    }
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct ReportdSettings {
    /// Listen address.
    pub listen: SocketAddr,
    /// The database served.
    pub database: PathBuf,
    /// Bearer token, if any.
    pub token: Option<String>,
    /// Which `Host` a request may name (DNS rebinding protection).
    pub hosts: AllowedHosts,
    /// The address clients use, without a trailing `/`: every absolute link starts with it.
    pub public_url: String,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Row cap per list.
    pub max_rows: usize,
    /// Byte budget of one JSON answer.
    pub max_response_bytes: usize,
    /// Query time limit.
    pub query_timeout: Duration,
    /// Connection caps and timeouts of the HTTP server.
    pub limits: ServerLimits,
    /// Log level.
    pub log_level: String,
}

impl ReportdSettings {
    /// Settings with the defaults and no token, over `database` on `listen` (in-process tests
    /// and benchmarks). Serving them on an address that is not loopback is refused, as
    /// everywhere (see [`exposure_problem`]).
    pub fn local(database: PathBuf, listen: SocketAddr) -> ReportdSettings {
        let d = ReportdSection::default();
        ReportdSettings {
            listen,
            database,
            token: None,
            hosts: AllowedHosts::new(listen, &[], None),
            public_url: default_public_url(listen),
            cors_origins: Vec::new(),
            max_rows: d.max_rows as usize,
            max_response_bytes: d.max_response_bytes as usize,
            query_timeout: Duration::from_millis(d.query_timeout_ms),
            limits: ServerLimits::default(),
            log_level: d.log_level,
        }
    }
}

/// The default byte budget of one JSON answer: 1 MiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

/// The accepted range of `max_response_bytes`: 64 KiB (room for a page of session summaries or
/// one row with every value cut) to 256 MiB.
pub const MAX_RESPONSE_BYTES_RANGE: std::ops::RangeInclusive<u64> = 64 * 1024..=256 * 1024 * 1024;

/// The smallest token accepted.
pub const MIN_TOKEN_CHARS: usize = 16;

/// The environment variable that may hold the bearer token.
pub const TOKEN_ENV: &str = "RECCE7_REPORT_TOKEN";

/// Where a token may come from besides the configuration file, in the order they win:
/// `--token-file FILE`, then [`TOKEN_ENV`], then the file's `token_file`, then its `token`.
#[derive(Debug, Clone, Default)]
pub struct TokenSources {
    /// `--token-file FILE`.
    pub token_file: Option<PathBuf>,
    /// The value of [`TOKEN_ENV`] (unset or empty: none).
    pub env_token: Option<String>,
}

impl TokenSources {
    /// `--token-file` (if given) and this process's [`TOKEN_ENV`].
    pub fn from_environment(token_file: Option<PathBuf>) -> TokenSources {
        let env_token = std::env::var_os(TOKEN_ENV)
            .filter(|v| !v.is_empty())
            // Not UTF-8: kept as lossy text, which fails the character check with its name.
            .map(|v| v.to_string_lossy().into_owned());
        TokenSources {
            token_file,
            env_token,
        }
    }
}

/// The one exposure rule of the report service: a listener that is not loopback needs a
/// token. `Some(reason)` when `listen` breaks it. Checked when a configuration is validated
/// (`recce7 reportd`, `recce7 check-config`, `recce7 up --report`) and again when serving
/// starts, on the address actually bound.
pub fn exposure_problem(listen: SocketAddr, token: Option<&str>) -> Option<String> {
    (!listen.ip().is_loopback() && token.is_none()).then(|| {
        format!(
            "required when listening on {listen} (not loopback): anyone who can reach it could read every attack; \
             give one with --token-file FILE or the {TOKEN_ENV} environment variable (or token_file or token in \
             reportd.toml), never on the command line, or listen on 127.0.0.1"
        )
    })
}

/// Checks a token's length and characters (URL-safe: it also travels as `access_token=`).
fn check_token(token: &str) -> Result<(), String> {
    let ok = token.len() >= MIN_TOKEN_CHARS
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be at least {MIN_TOKEN_CHARS} characters, letters, digits and - . _ ~ only"
        ))
    }
}

/// `IP:PORT`, `[IPv6]:PORT`, or `localhost:PORT` (127.0.0.1, without asking a resolver).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Some((name, port)) = text.rsplit_once(':')
        && name.eq_ignore_ascii_case("localhost")
    {
        return port
            .parse::<u16>()
            .map(|port| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
            .map_err(|e| format!("{text:?}: the port is not a number from 0 to 65535 ({e})"));
    }
    text.parse::<SocketAddr>()
        .map_err(|e| format!("{text:?} is not IP:PORT, [IPv6]:PORT or localhost:PORT ({e})"))
}

/// `http://<listen>`; for a wildcard listener (`0.0.0.0`, `[::]`) the loopback address of its
/// family, which works on this machine (set `public_url` for the address others use).
pub fn default_public_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, listen.port()))
}

/// Splits a `Host` value (or a URL's authority) into its host and port: `name`, `name:80`,
/// `1.2.3.4:80`, `[::1]:80`. `None` when it is not one of those shapes.
pub fn split_host_port(value: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if value.starts_with('[') {
        let end = value.find(']')?;
        let rest = &value[end + 1..];
        let port = match rest {
            "" => None,
            _ => Some(rest.strip_prefix(':')?),
        };
        (&value[..=end], port)
    } else {
        match value.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    if host.is_empty() || (!host.starts_with('[') && host.contains(':')) {
        return None;
    }
    let port = match port {
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => Some(p.parse::<u16>().ok()?),
        Some(_) => return None,
    };
    Some((host, port))
}

/// An IP literal as written in a `Host` or URL: `1.2.3.4` or `[v6]`.
fn ip_literal(host: &str) -> Option<IpAddr> {
    match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        Some(v6) => v6.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        None => host.parse::<Ipv4Addr>().ok().map(IpAddr::V4),
    }
}

/// A DNS name (letters, digits, `-` in dot-separated labels) or an IP literal, lower-cased,
/// without a trailing dot.
fn host_name(host: &str) -> Option<String> {
    if ip_literal(host).is_some() {
        return Some(host.to_ascii_lowercase());
    }
    let name = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
    let ok = (1..=253).contains(&name.len())
        && name.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    ok.then_some(name)
}

/// Which names a request's `Host` may give, against DNS rebinding: a web page under a name
/// its owner controls can point that name at 127.0.0.1, but the browser still sends that name.
/// Allowed: the listen address; for a loopback listener, `localhost`, `127.0.0.1` and `[::1]`;
/// for a wildcard listener (`0.0.0.0`, `[::]`), `localhost` and any IP literal (an address cannot
/// be rebound); the configured `hosts` and `public_url`'s host. Ports are not compared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHosts {
    names: Vec<String>,
    addresses: Vec<IpAddr>,
    any_address: bool,
}

impl AllowedHosts {
    /// The names for `listen`, plus `configured` (already valid, lower-case) and `public_host`.
    pub fn new(
        listen: SocketAddr,
        configured: &[String],
        public_host: Option<&str>,
    ) -> AllowedHosts {
        let ip = listen.ip().to_canonical();
        let mut names: Vec<String> = configured.to_vec();
        names.extend(public_host.and_then(host_name));
        let mut addresses = vec![ip];
        if ip.is_loopback() || ip.is_unspecified() {
            names.push("localhost".into());
            addresses.extend([
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ]);
        }
        AllowedHosts {
            names,
            addresses,
            any_address: ip.is_unspecified(),
        }
    }

    /// Whether a `Host` value names this service.
    pub fn allows(&self, value: &str) -> bool {
        let Some((host, _port)) = split_host_port(value) else {
            return false;
        };
        match ip_literal(host) {
            Some(ip) => self.any_address || self.addresses.contains(&ip.to_canonical()),
            None => host_name(host).is_some_and(|name| self.names.contains(&name)),
        }
    }
}

/// Checks `public_url`: `http://` or `https://`, a host (and port), an optional path without a
/// trailing `/`, no query or fragment. Returns its host.
fn check_public_url(url: &str) -> Result<String, String> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or("must start with http:// or https://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let host = split_host_port(authority)
        .and_then(|(host, _)| host_name(host))
        .ok_or_else(|| format!("{authority:?} is not a host[:port]"))?;
    if path.ends_with('/') {
        return Err("must not end with /".into());
    }
    if !path
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~/%".contains(&b))
    {
        return Err("the path may hold letters, digits and - . _ ~ / % only (no query)".into());
    }
    Ok(host)
}

impl ReportdFile {
    /// Checks everything, with no token source outside the file; every problem as
    /// `(key, reason)`.
    pub fn validate(&self) -> Validated<ReportdSettings> {
        self.validate_with(&TokenSources::default())
    }

    /// Checks everything, the token from `sources` included (a token file is read here, the
    /// only I/O); every problem as `(key, reason)`.
    pub fn validate_with(&self, sources: &TokenSources) -> Validated<ReportdSettings> {
        let r = &self.reportd;
        let mut problems = Vec::new();
        let listen = parse_listen(&r.listen);
        if let Err(e) = &listen {
            problems.push(("reportd.listen".into(), e.clone()));
        }
        if r.database.as_os_str().is_empty() {
            problems.push(("reportd.database".into(), "must name a file".into()));
        }
        let file_token = !r.token_file.as_os_str().is_empty();
        if file_token && !r.token.is_empty() {
            problems.push((
                "reportd.token_file".into(),
                "give token or token_file, not both".into(),
            ));
        }
        // The first source given wins; a bad one is a problem named after it.
        let chosen: Option<(String, Result<String, String>)> =
            if let Some(path) = &sources.token_file {
                Some(("--token-file".into(), roleconfig::read_secret_file(path)))
            } else if let Some(t) = &sources.env_token {
                Some((TOKEN_ENV.into(), Ok(t.clone())))
            } else if file_token {
                Some((
                    "reportd.token_file".into(),
                    roleconfig::read_secret_file(&r.token_file),
                ))
            } else if !r.token.is_empty() {
                Some(("reportd.token".into(), Ok(r.token.clone())))
            } else {
                None
            };
        let mut token = None;
        if let Some((key, given)) = chosen {
            match given.and_then(|t| check_token(&t).map(|()| t)) {
                Ok(t) => token = Some(t),
                Err(reason) => problems.push((key, reason)),
            }
        }
        // The rule, when no token was given at all (a bad one is reported above).
        if let Ok(addr) = &listen
            && problems
                .iter()
                .all(|(k, _)| !k.contains("token") && k != TOKEN_ENV)
            && let Some(reason) = exposure_problem(*addr, token.as_deref())
        {
            problems.push(("reportd.token".into(), reason));
        }
        let mut hosts = Vec::new();
        for (i, host) in r.hosts.iter().enumerate() {
            match host_name(host) {
                Some(name) => hosts.push(name),
                None => problems.push((
                    format!("reportd.hosts[{i}]"),
                    format!(
                        "{host:?} is not a host name like reports.example.org (no port, no scheme)"
                    ),
                )),
            }
        }
        let public = if r.public_url.is_empty() {
            None
        } else {
            match check_public_url(&r.public_url) {
                Ok(host) => Some(host),
                Err(reason) => {
                    problems.push((
                        "reportd.public_url".into(),
                        format!(
                            "{:?}: {reason}; e.g. https://reports.example.org",
                            r.public_url
                        ),
                    ));
                    None
                }
            }
        };
        for (i, origin) in r.cors_origins.iter().enumerate() {
            let ok = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.ends_with('/')
                && origin.parse::<axum::http::HeaderValue>().is_ok();
            if !ok {
                problems.push((
                    format!("reportd.cors_origins[{i}]"),
                    format!("{origin:?} is not an origin like https://grafana.example.org"),
                ));
            }
        }
        if !(1..=100_000).contains(&r.max_rows) {
            problems.push((
                "reportd.max_rows".into(),
                format!("{} is outside 1..=100000", r.max_rows),
            ));
        }
        if !MAX_RESPONSE_BYTES_RANGE.contains(&r.max_response_bytes) {
            problems.push((
                "reportd.max_response_bytes".into(),
                format!(
                    "{} is outside {}..={} (64 KiB to 256 MiB)",
                    r.max_response_bytes,
                    MAX_RESPONSE_BYTES_RANGE.start(),
                    MAX_RESPONSE_BYTES_RANGE.end()
                ),
            ));
        }
        for (key, value, range) in [
            ("max_connections", r.max_connections, 1..=100_000),
            (
                "max_connections_per_source",
                r.max_connections_per_source,
                1..=100_000,
            ),
            ("header_timeout_secs", r.header_timeout_secs, 1..=3600),
        ] {
            if !range.contains(&value) {
                problems.push((
                    format!("reportd.{key}"),
                    format!("{value} is outside {}..={}", range.start(), range.end()),
                ));
            }
        }
        if r.max_connections_per_source > r.max_connections {
            problems.push((
                "reportd.max_connections_per_source".into(),
                "is larger than reportd.max_connections".into(),
            ));
        }
        if !(10..=600_000).contains(&r.query_timeout_ms) {
            problems.push((
                "reportd.query_timeout_ms".into(),
                format!("{} is outside 10..=600000", r.query_timeout_ms),
            ));
        }
        if !["error", "warn", "info", "debug", "trace"].contains(&r.log_level.as_str()) {
            problems.push((
                "reportd.log_level".into(),
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    r.log_level
                ),
            ));
        }
        match listen {
            Ok(listen) if problems.is_empty() => Ok(ReportdSettings {
                listen,
                database: r.database.clone(),
                token,
                hosts: AllowedHosts::new(listen, &hosts, public.as_deref()),
                public_url: if r.public_url.is_empty() {
                    default_public_url(listen)
                } else {
                    r.public_url.clone()
                },
                cors_origins: r.cors_origins.clone(),
                max_rows: r.max_rows as usize,
                max_response_bytes: r.max_response_bytes as usize,
                query_timeout: Duration::from_millis(r.query_timeout_ms),
                limits: ServerLimits {
                    max_connections: r.max_connections as usize,
                    max_connections_per_source: r.max_connections_per_source as usize,
                    header_read_timeout: Duration::from_secs(r.header_timeout_secs),
                    ..ServerLimits::default()
                },
                log_level: r.log_level.clone(),
            }),
            _ => Err(problems),
        }
    }
}

/// Reads and validates a file, with the token sources outside it.
pub fn load(path: &Path, sources: &TokenSources) -> Result<ReportdSettings, ConfigProblems> {
    roleconfig::load(path, |file: &ReportdFile| file.validate_with(sources))
}

/// The settings of `recce7 up --report LISTEN` over `database`: the shipped defaults, checked
/// by the same validation as a file (the token rule included), problems named
/// `recce7 up --report: key: reason`.
pub fn for_up(
    database: PathBuf,
    listen: &str,
    sources: &TokenSources,
) -> Result<ReportdSettings, ConfigProblems> {
    let file = ReportdFile {
        reportd: ReportdSection {
            listen: listen.to_owned(),
            database,
            ..ReportdSection::default()
        },
    };
    file.validate_with(sources).map_err(|problems| {
        ConfigProblems(
            problems
                .into_iter()
                .map(|(key, reason)| roleconfig::ConfigProblem {
                    file: "recce7 up --report".into(),
                    key,
                    reason,
                })
                .collect(),
        )
    })
}

/// Parses and validates `text`; `file` names it in problems.
pub fn parse_config(text: &str, file: &str) -> Result<ReportdSettings, ConfigProblems> {
    roleconfig::parse(text, file, ReportdFile::validate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_is_valid_and_local() {
        let s = parse_config(SHIPPED_CONFIG, "configs/reportd.toml").unwrap();
        assert!(s.listen.ip().is_loopback());
        assert_eq!(s.token, None);
    }

    #[test]
    fn a_public_listener_needs_a_token_and_every_problem_is_named() {
        let text =
            "[reportd]\nlisten = \"0.0.0.0:8880\"\ncors_origins = [\"grafana\"]\nmax_rows = 0\n";
        let problems = parse_config(text, "r.toml").unwrap_err().to_string();
        let lines: Vec<&str> = problems.lines().collect();
        assert_eq!(lines.len(), 3, "{problems}");
        assert!(
            lines[0].starts_with("r.toml: reportd.token: required when listening on 0.0.0.0:8880")
        );
        assert_eq!(
            lines[1],
            "r.toml: reportd.cors_origins[0]: \"grafana\" is not an origin like https://grafana.example.org (line 3)"
        );
        assert_eq!(
            lines[2],
            "r.toml: reportd.max_rows: 0 is outside 1..=100000 (line 4)"
        );
        for bad in [
            "short",
            "has spaces 0123456789",
            "percent%20encoded-0123456789",
        ] {
            let text = format!("[reportd]\ntoken = \"{bad}\"\n");
            let problems = parse_config(&text, "r.toml").unwrap_err().to_string();
            assert!(
                problems.starts_with("r.toml: reportd.token: must be at least 16"),
                "{problems}"
            );
        }
        let text = "[reportd]\nmax_response_bytes = 1000\n";
        assert_eq!(
            parse_config(text, "r.toml")
                .unwrap_err()
                .to_string()
                .trim_end(),
            "r.toml: reportd.max_response_bytes: 1000 is outside 65536..=268435456 (64 KiB to 256 MiB) (line 2)"
        );
        let ok = "[reportd]\nlisten = \"[::]:8880\"\ntoken = \"0123456789abcdef\"\n";
        assert_eq!(
            parse_config(ok, "r.toml").unwrap().token.as_deref(),
            Some("0123456789abcdef")
        );
    }

    #[test]
    fn listen_takes_localhost_without_a_resolver() {
        assert_eq!(
            parse_listen("localhost:8880"),
            Ok("127.0.0.1:8880".parse().unwrap())
        );
        assert_eq!(
            parse_listen("LocalHost:1"),
            Ok("127.0.0.1:1".parse().unwrap())
        );
        assert_eq!(
            parse_listen("[::1]:8880"),
            Ok("[::1]:8880".parse().unwrap())
        );
        for bad in [
            "localhost",
            "localhost:x",
            "example.org:80",
            "8880",
            "localhost:70000",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
        let s = parse_config("[reportd]\nlisten = \"localhost:9\"\n", "r.toml").unwrap();
        assert_eq!(s.public_url, "http://127.0.0.1:9");
    }

    #[test]
    fn host_values_split_into_host_and_port() {
        assert_eq!(
            split_host_port("a.example:80"),
            Some(("a.example", Some(80)))
        );
        assert_eq!(split_host_port("a.example"), Some(("a.example", None)));
        assert_eq!(split_host_port("[::1]:8880"), Some(("[::1]", Some(8880))));
        assert_eq!(split_host_port("[::1]"), Some(("[::1]", None)));
        for bad in ["", ":80", "::1", "[::1", "[::1]x", "a:b", "a:99999"] {
            assert_eq!(split_host_port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn allowed_hosts_follow_the_listener_and_the_configuration() {
        let loopback = AllowedHosts::new("127.0.0.1:8880".parse().unwrap(), &[], None);
        for ok in [
            "127.0.0.1:8880",
            "localhost",
            "LOCALHOST.:8880",
            "[::1]:8880",
            "127.0.0.1",
        ] {
            assert!(loopback.allows(ok), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:8880",
            "localhost.evil.example",
            "10.0.0.1",
            "",
            "[::1",
        ] {
            assert!(!loopback.allows(bad), "{bad}");
        }
        let wildcard = AllowedHosts::new("0.0.0.0:8880".parse().unwrap(), &[], None);
        assert!(wildcard.allows("192.0.2.7:8880") && wildcard.allows("[2001:db8::1]"));
        assert!(!wildcard.allows("honeypot.lan:8880"));
        let one = AllowedHosts::new(
            "192.0.2.7:8880".parse().unwrap(),
            &["reports.example.org".into()],
            Some("proxy.example.org"),
        );
        assert!(one.allows("192.0.2.7") && one.allows("Reports.Example.Org:443"));
        assert!(one.allows("proxy.example.org"));
        assert!(!one.allows("192.0.2.8") && !one.allows("localhost"));
    }

    #[test]
    fn hosts_and_public_url_are_checked() {
        let text = "[reportd]\nhosts = [\"ok.example\", \"bad host\", \"x.example:80\"]\npublic_url = \"ftp://x\"\n";
        let problems = parse_config(text, "r.toml").unwrap_err().to_string();
        let keys: Vec<&str> = problems
            .lines()
            .map(|l| l.split(": ").nth(1).unwrap())
            .collect();
        assert_eq!(
            keys,
            ["reportd.hosts[1]", "reportd.hosts[2]", "reportd.public_url"],
            "{problems}"
        );
        for bad in [
            "https://x.example/",
            "https://x.example/a?b=1",
            "http://",
            "https://a b",
        ] {
            assert!(check_public_url(bad).is_err(), "{bad}");
        }
        let text = "[reportd]\npublic_url = \"https://Reports.example.org:8443/recce7\"\n";
        let s = parse_config(text, "r.toml").unwrap();
        assert_eq!(s.public_url, "https://Reports.example.org:8443/recce7");
        assert!(s.hosts.allows("reports.example.org:8443"));
        let wildcard = parse_config(
            "[reportd]\nlisten = \"[::]:1\"\ntoken = \"0123456789abcdef\"\n",
            "r.toml",
        );
        assert_eq!(wildcard.unwrap().public_url, "http://[::1]:1");
    }

    #[test]
    fn a_token_comes_from_the_flag_the_environment_or_the_file_in_that_order() {
        let dir = tempfile::tempdir().unwrap();
        let flag = dir.path().join("flag");
        std::fs::write(&flag, "  from-the-flag-0123456789\n").unwrap();
        let in_file = dir.path().join("in-file");
        std::fs::write(&in_file, "from-token-file-0123456789").unwrap();
        let check = |extra: &str, sources: &TokenSources| {
            let text = format!("[reportd]\nlisten = \"0.0.0.0:8880\"\n{extra}");
            roleconfig::parse(&text, "r.toml", |f: &ReportdFile| f.validate_with(sources))
        };
        let token =
            |extra: &str, sources: &TokenSources| check(extra, sources).unwrap().token.unwrap();
        let with_file = format!("token_file = \"{}\"\n", in_file.display());
        let env = TokenSources {
            token_file: None,
            env_token: Some("from-the-environment-0123".into()),
        };
        let both = TokenSources {
            token_file: Some(flag.clone()),
            ..env.clone()
        };
        let none = TokenSources::default();
        assert_eq!(token(&with_file, &both), "from-the-flag-0123456789");
        assert_eq!(token(&with_file, &env), "from-the-environment-0123");
        assert_eq!(token(&with_file, &none), "from-token-file-0123456789");
        assert_eq!(
            token("token = \"inline-token-0123456789\"\n", &none),
            "inline-token-0123456789"
        );
        // Problems name the source, and a bad token is not also reported as missing.
        let problem = |extra: &str, sources: &TokenSources| {
            let p = check(extra, sources).unwrap_err().0;
            assert_eq!(p.len(), 1, "{p:?}");
            (p[0].key.clone(), p[0].reason.clone())
        };
        let missing = TokenSources {
            token_file: Some(dir.path().join("nope")),
            env_token: None,
        };
        assert_eq!(problem("", &missing).0, "--token-file");
        let short = TokenSources {
            token_file: None,
            env_token: Some("short".into()),
        };
        assert_eq!(problem("", &short).0, TOKEN_ENV);
        let big = dir.path().join("big");
        std::fs::write(&big, "a".repeat(5000)).unwrap();
        let (key, reason) = problem(&format!("token_file = \"{}\"\n", big.display()), &none);
        assert_eq!(key, "reportd.token_file");
        assert!(reason.contains("larger than 4096"), "{reason}");
        let (key, reason) = problem(
            &format!("token = \"inline-token-0123456789\"\n{with_file}"),
            &none,
        );
        assert_eq!(
            (key.as_str(), reason.as_str()),
            (
                "reportd.token_file",
                "give token or token_file, not both (line 4)"
            )
        );
        assert!(exposure_problem("0.0.0.0:1".parse().unwrap(), None).is_some());
        assert!(exposure_problem("[::1]:1".parse().unwrap(), None).is_none());
        assert!(exposure_problem("0.0.0.0:1".parse().unwrap(), Some("t")).is_none());
    }
}
