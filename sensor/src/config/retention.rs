//! `[retention]`: how old and how big the database may get.

use std::time::Duration;

use serde::Deserialize;

use super::Problems;

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

impl RetentionSection {
    /// Checks the limits; the policy, or none when both limits are off.
    pub(super) fn validate(&self, problems: &mut Problems) -> Option<store::RetentionPolicy> {
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
