//! `[limits]`: every limit a session lives under.

use std::time::Duration;

use serde::Deserialize;

use super::Problems;
use crate::limits::Limits;

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

impl LimitsConfig {
    /// Checks every limit is positive and under its maximum; the limits as the sensor uses
    /// them (built even when a value is bad, so that plug-ins can still be checked).
    pub(super) fn validate(&self, problems: &mut Problems) -> Limits {
        let positive = [
            ("max_connections", self.max_connections),
            (
                "max_connections_per_source",
                self.max_connections_per_source,
            ),
            ("idle_timeout_secs", self.idle_timeout_secs),
            ("session_timeout_secs", self.session_timeout_secs),
            ("max_line_bytes", self.max_line_bytes),
            ("max_request_bytes", self.max_request_bytes),
            ("max_session_bytes", self.max_session_bytes),
            ("max_raw_bytes", self.max_raw_bytes),
        ];
        for (key, value) in positive {
            if value == 0 {
                problems.push((format!("limits.{key}"), "must be greater than 0".into()));
            }
        }
        for (key, value, max) in [
            ("max_connections", self.max_connections, 1_000_000),
            ("max_line_bytes", self.max_line_bytes, 1 << 20),
            ("max_request_bytes", self.max_request_bytes, 16 << 20),
            ("max_raw_bytes", self.max_raw_bytes, 1 << 20),
        ] {
            if value > max {
                problems.push((
                    format!("limits.{key}"),
                    format!("{value} is above the maximum {max}"),
                ));
            }
        }
        if self.max_connections_per_source > self.max_connections {
            problems.push((
                "limits.max_connections_per_source".into(),
                "is larger than limits.max_connections".into(),
            ));
        }
        Limits {
            max_connections: self.max_connections as usize,
            max_connections_per_source: self.max_connections_per_source as usize,
            idle_timeout: Duration::from_secs(self.idle_timeout_secs),
            session_timeout: Duration::from_secs(self.session_timeout_secs),
            max_line_bytes: self.max_line_bytes as usize,
            max_request_bytes: self.max_request_bytes as usize,
            max_session_bytes: self.max_session_bytes,
            max_raw_bytes: self.max_raw_bytes as usize,
        }
    }
}
