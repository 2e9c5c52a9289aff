//! `reportd.toml`: the `[reportd]` table. Every problem is reported at once as
//! `file: key: reason`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use roleconfig::{ConfigProblems, Validated};
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
    /// Listen address.
    pub listen: String,
    /// The database served.
    pub database: PathBuf,
    /// Bearer token ("" for none).
    pub token: String,
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Row cap per list.
    pub max_rows: u64,
    /// The most bytes one JSON answer may have (items past it are left for the next page).
    pub max_response_bytes: u64,
    /// Query time limit in milliseconds.
    pub query_timeout_ms: u64,
    /// Log level.
    pub log_level: String,
}

impl Default for ReportdSection {
    fn default() -> Self {
        ReportdSection {
            listen: "127.0.0.1:8880".into(),
            database: "central.sqlite".into(),
            token: String::new(),
            cors_origins: Vec::new(),
            max_rows: 500,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            query_timeout_ms: 2000,
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
    /// CORS origins.
    pub cors_origins: Vec<String>,
    /// Row cap per list.
    pub max_rows: usize,
    /// Byte budget of one JSON answer.
    pub max_response_bytes: usize,
    /// Query time limit.
    pub query_timeout: Duration,
    /// Log level.
    pub log_level: String,
}

impl ReportdSettings {
    /// Settings for `recce7 up`: loopback, no token, over `database`.
    pub fn local(database: PathBuf, listen: SocketAddr) -> ReportdSettings {
        let d = ReportdSection::default();
        ReportdSettings {
            listen,
            database,
            token: None,
            cors_origins: Vec::new(),
            max_rows: d.max_rows as usize,
            max_response_bytes: d.max_response_bytes as usize,
            query_timeout: Duration::from_millis(d.query_timeout_ms),
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

impl ReportdFile {
    /// Checks everything; every problem as `(key, reason)`.
    pub fn validate(&self) -> Validated<ReportdSettings> {
        let r = &self.reportd;
        let mut problems = Vec::new();
        let listen = r.listen.parse::<SocketAddr>();
        if let Err(e) = &listen {
            problems.push((
                "reportd.listen".into(),
                format!("{:?} is not an address:port ({e})", r.listen),
            ));
        }
        if r.database.as_os_str().is_empty() {
            problems.push(("reportd.database".into(), "must name a file".into()));
        }
        let token = Some(r.token.clone()).filter(|t| !t.is_empty());
        // URL-safe characters only: the token also travels as `access_token=` in URLs.
        if let Some(t) = &token
            && (t.len() < MIN_TOKEN_CHARS
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b)))
        {
            problems.push((
                "reportd.token".into(),
                format!(
                    "must be at least {MIN_TOKEN_CHARS} characters, letters, digits and - . _ ~ only"
                ),
            ));
        }
        if let Ok(addr) = &listen
            && !addr.ip().is_loopback()
            && token.is_none()
        {
            problems.push((
                "reportd.token".into(),
                format!(
                    "required when listening on {addr} (not loopback): anyone who can reach it could read every attack"
                ),
            ));
        }
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
                cors_origins: r.cors_origins.clone(),
                max_rows: r.max_rows as usize,
                max_response_bytes: r.max_response_bytes as usize,
                query_timeout: Duration::from_millis(r.query_timeout_ms),
                log_level: r.log_level.clone(),
            }),
            _ => Err(problems),
        }
    }
}

/// Reads and validates a file.
pub fn load(path: &Path) -> Result<ReportdSettings, ConfigProblems> {
    roleconfig::load(path, ReportdFile::validate)
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
            "r.toml: reportd.cors_origins[0]: \"grafana\" is not an origin like https://grafana.example.org"
        );
        assert_eq!(
            lines[2],
            "r.toml: reportd.max_rows: 0 is outside 1..=100000"
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
            "r.toml: reportd.max_response_bytes: 1000 is outside 65536..=268435456 (64 KiB to 256 MiB)"
        );
        let ok = "[reportd]\nlisten = \"[::]:8880\"\ntoken = \"0123456789abcdef\"\n";
        assert_eq!(
            parse_config(ok, "r.toml").unwrap().token.as_deref(),
            Some("0123456789abcdef")
        );
    }
}
