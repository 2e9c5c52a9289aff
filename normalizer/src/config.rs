//! `normalizer.toml`: the `[normalizer]` table (the central store and its bounds) and the
//! `[hpfeeds]` table every consumer shares. Every problem is reported at once as
//! `file: key: reason`.

use std::path::{Path, PathBuf};

use roleconfig::{ConfigProblems, SubscriberSection, SubscriberSettings, Validated};
use serde::Deserialize;

use crate::parse::PayloadLimits;

/// The shipped configuration, `configs/normalizer.toml`.
pub const SHIPPED_CONFIG: &str = include_str!("../../configs/normalizer.toml");

/// Channels read when `[hpfeeds]` names none.
pub const DEFAULT_CHANNELS: [&str; 1] = ["recce7.events"];

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
pub struct NormalizerFile {
    /// `[normalizer]`.
    #[serde(default)]
    pub normalizer: NormalizerSection,
    /// `[hpfeeds]`: the broker and the channels to read.
    pub hpfeeds: SubscriberSection,
}

/// `[normalizer]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct NormalizerSection {
    /// The central store.
    pub database: PathBuf,
    /// Log level.
    pub log_level: String,
    /// Messages queued for the writer before the subscriber waits.
    pub queue_capacity: u64,
    /// Most messages in one transaction.
    pub batch_max: u64,
    /// Largest payload accepted.
    pub max_payload_bytes: u64,
    /// Longest string field accepted.
    pub max_field_bytes: u64,
    /// Longest array (and most data keys) accepted.
    pub max_items: u64,
}

impl Default for NormalizerSection {
    fn default() -> Self {
        let limits = PayloadLimits::default();
        NormalizerSection {
            database: "central.sqlite".into(),
            log_level: "info".into(),
            queue_capacity: 8192,
            batch_max: 1024,
            max_payload_bytes: limits.max_payload as u64,
            max_field_bytes: limits.max_field as u64,
            max_items: limits.max_items as u64,
        }
    }
}

/// A validated configuration: what the normalizer runs.
#[derive(Debug, Clone)]
pub struct NormalizerSettings {
    /// The central store.
    pub database: PathBuf,
    /// Log level.
    pub log_level: String,
    /// Queue length.
    pub queue_capacity: usize,
    /// Batch size.
    pub batch_max: usize,
    /// Payload bounds.
    pub limits: PayloadLimits,
    /// The broker and channels.
    pub hpfeeds: SubscriberSettings,
}

/// Checks `value` is within `range`, pushing a problem otherwise.
pub(crate) fn check_range(
    key: &str,
    value: u64,
    range: std::ops::RangeInclusive<u64>,
    problems: &mut Vec<(String, String)>,
) {
    if !range.contains(&value) {
        problems.push((
            key.to_owned(),
            format!("{value} is outside {}..={}", range.start(), range.end()),
        ));
    }
}

/// Checks a log level name.
pub(crate) fn check_log_level(key: &str, level: &str, problems: &mut Vec<(String, String)>) {
    if !["error", "warn", "info", "debug", "trace"].contains(&level) {
        problems.push((
            key.to_owned(),
            format!("{level:?} is not one of error, warn, info, debug, trace"),
        ));
    }
}

impl NormalizerFile {
    /// Checks everything; every problem as `(key, reason)`.
    pub fn validate(&self) -> Validated<NormalizerSettings> {
        let n = &self.normalizer;
        let mut problems = Vec::new();
        if n.database.as_os_str().is_empty() {
            problems.push(("normalizer.database".into(), "must name a file".into()));
        }
        check_log_level("normalizer.log_level", &n.log_level, &mut problems);
        check_range(
            "normalizer.queue_capacity",
            n.queue_capacity,
            1..=1_000_000,
            &mut problems,
        );
        check_range(
            "normalizer.batch_max",
            n.batch_max,
            1..=100_000,
            &mut problems,
        );
        check_range(
            "normalizer.max_payload_bytes",
            n.max_payload_bytes,
            64..=16 << 20,
            &mut problems,
        );
        check_range(
            "normalizer.max_field_bytes",
            n.max_field_bytes,
            16..=16 << 20,
            &mut problems,
        );
        check_range(
            "normalizer.max_items",
            n.max_items,
            1..=1_000_000,
            &mut problems,
        );
        let hpfeeds = self.hpfeeds.validate(&DEFAULT_CHANNELS);
        let hpfeeds = match hpfeeds {
            Ok(h) => Some(h),
            Err(more) => {
                problems.extend(more);
                None
            }
        };
        match hpfeeds {
            Some(hpfeeds) if problems.is_empty() => Ok(NormalizerSettings {
                database: n.database.clone(),
                log_level: n.log_level.clone(),
                queue_capacity: n.queue_capacity as usize,
                batch_max: n.batch_max as usize,
                limits: PayloadLimits {
                    max_payload: n.max_payload_bytes as usize,
                    max_field: n.max_field_bytes as usize,
                    max_items: n.max_items as usize,
                },
                hpfeeds,
            }),
            _ => Err(problems),
        }
    }
}

/// Reads and validates a file.
pub fn load(path: &Path) -> Result<NormalizerSettings, ConfigProblems> {
    roleconfig::load(path, NormalizerFile::validate)
}

/// Parses and validates `text`; `file` names it in problems.
pub fn parse_config(text: &str, file: &str) -> Result<NormalizerSettings, ConfigProblems> {
    roleconfig::parse(text, file, NormalizerFile::validate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_is_valid() {
        let s = parse_config(SHIPPED_CONFIG, "configs/normalizer.toml").unwrap();
        assert_eq!(
            s.hpfeeds.channels,
            ["recce7.events", "cowrie.sessions", "dionaea.connections"]
        );
        assert_eq!(s.database, PathBuf::from("central.sqlite"));
    }

    #[test]
    fn every_problem_names_file_and_key() {
        let text = "[normalizer]\nbatch_max = 0\nlog_level = \"loud\"\ncolour = 1\n\n[hpfeeds]\nhost = \"h\"\nident = \"i\"\nsecret = \"\"\n";
        let problems = parse_config(text, "n.toml").unwrap_err().to_string();
        assert_eq!(
            problems.lines().collect::<Vec<_>>(),
            [
                "n.toml: normalizer.colour: unknown key",
                "n.toml: normalizer.log_level: \"loud\" is not one of error, warn, info, debug, trace (line 3)",
                "n.toml: normalizer.batch_max: 0 is outside 1..=100000 (line 2)",
                "n.toml: hpfeeds.secret: must be 1 to 255 bytes (line 9)",
            ]
        );
    }

    #[test]
    fn the_hpfeeds_table_is_required() {
        let problems = parse_config("[normalizer]\n", "n.toml")
            .unwrap_err()
            .to_string();
        // The key by name (issue 12, item 10), not `-` and serde's text.
        assert_eq!(problems, "n.toml: hpfeeds: is required but missing");
    }
}
