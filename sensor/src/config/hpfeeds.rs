//! `[hpfeeds]`: the broker every event is published to, and its validated settings.

use std::time::Duration;

use serde::Deserialize;

use super::Problems;

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

impl HpfeedsSection {
    /// Checks the broker, the channel and the outbox's bounds; the settings when all are good.
    pub(super) fn validate(&self, problems: &mut Problems) -> Option<HpfeedsSettings> {
        let before = problems.len();
        let port = roleconfig::check_broker(
            "hpfeeds",
            &self.host,
            self.port,
            &self.ident,
            &self.secret,
            problems,
        );
        roleconfig::check_name("hpfeeds.channel", &self.channel, problems);
        let mut push =
            |key: &str, reason: String| problems.push((format!("hpfeeds.{key}"), reason));
        if self.resend_window_secs == 0 {
            push("resend_window_secs", "must be greater than 0".into());
        }
        if self.keep_sent_secs < self.resend_window_secs {
            push(
                "keep_sent_secs",
                "must be at least resend_window_secs".into(),
            );
        }
        if self.max_outbox_events == 0 {
            push("max_outbox_events", "must be greater than 0".into());
        }
        if self.reconnect_max_secs == 0 || self.reconnect_max_secs > 3600 {
            push("reconnect_max_secs", "must be 1 to 3600".into());
        }
        (problems.len() == before).then(|| HpfeedsSettings {
            host: self.host.clone(),
            port: port.unwrap_or(10000),
            ident: self.ident.clone(),
            secret: self.secret.clone(),
            channel: self.channel.clone(),
            resend_window: Duration::from_secs(self.resend_window_secs),
            keep_sent: Duration::from_secs(self.keep_sent_secs),
            max_outbox_events: self.max_outbox_events,
            reconnect_max: Duration::from_secs(self.reconnect_max_secs),
        })
    }
}
