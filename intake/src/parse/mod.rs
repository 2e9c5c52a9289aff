//! One hpfeeds message in, one normalized record (or one rejection) out.
//!
//! Pure functions only: no I/O, no clock, no global state. The callers (the normalizer's
//! pipeline, geoloc's geolocator) hand over the channel, the publisher's ident and the payload
//! bytes; [`parse`] answers
//! with a [`Parsed`] record or a [`Rejection`] whose text is short enough to keep beside the
//! payload in the quarantine table.
//!
//! Three payload families are understood, selected by channel ([`channel_kind`]):
//!
//! - `cowrie.sessions`: one summary per Cowrie session, as Cowrie's `output/hpfeeds3.py`
//!   publishes it when the session closes (and the CommunityHoneyNetwork fork, which adds
//!   `tags`, `hassh` and other key-exchange fields).
//! - `dionaea.connections`: one message per Dionaea connection incident (`accept`, `connect`,
//!   `reject`, `pending`, `listen`), as `dionaea/hpfeeds.py` publishes it.
//! - anything else: the recce7 event JSON (`store::Event`), as recce7 sensors publish it on
//!   `recce7.events`.
//!
//! Attacker-controlled text never makes a rejection message long: names and serde messages
//! quoted in a [`Rejection`] are clipped and their control characters escaped.
//!
//! The parts, one job each: `limits` (the payload bounds and the walk that checks them),
//! `rejection` (why a payload is refused, with clipped quotes), `recce7`, `cowrie` and
//! `dionaea` (one payload family each), `fields` (typed field readers shared by the families)
//! and `timestamp` (the timestamp formats they accept).

mod cowrie;
mod dionaea;
mod fields;
mod limits;
mod recce7;
mod rejection;
mod timestamp;

use serde_json::Value;
use store::Event;

pub use cowrie::CowrieSession;
pub use dionaea::DionaeaConnection;
pub use limits::PayloadLimits;
pub use recce7::MAX_NAME_CHARS;
pub use rejection::Rejection;

use rejection::quote;

/// The channel recce7 sensors publish their events on.
pub const RECCE7_CHANNEL: &str = "recce7.events";
/// The channel Cowrie's hpfeeds3 output publishes session summaries on (its default).
pub const COWRIE_CHANNEL: &str = "cowrie.sessions";
/// The channel Dionaea's hpfeeds handler publishes connection incidents on.
pub const DIONAEA_CHANNEL: &str = "dionaea.connections";

/// Which parser a channel's payloads go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// The recce7 event JSON (`recce7.events`, and any channel not listed below).
    Recce7,
    /// Cowrie session summaries (`cowrie.sessions`).
    Cowrie,
    /// Dionaea connection incidents (`dionaea.connections`).
    Dionaea,
}

/// The parser for `channel`: `cowrie.sessions` and `dionaea.connections` have their own,
/// every other channel carries the recce7 event JSON.
pub fn channel_kind(channel: &str) -> ChannelKind {
    match channel {
        COWRIE_CHANNEL => ChannelKind::Cowrie,
        DIONAEA_CHANNEL => ChannelKind::Dionaea,
        _ => ChannelKind::Recce7,
    }
}

/// What a message became.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    /// A recce7 event (channel `recce7.events` or any channel carrying the recce7 event JSON).
    Event(Box<Event>),
    /// One Cowrie session (`cowrie.sessions`).
    Cowrie(Box<CowrieSession>),
    /// One Dionaea connection (`dionaea.connections`).
    Dionaea(Box<DionaeaConnection>),
}

/// Parses one hpfeeds message published on `channel` by `ident`.
///
/// The size is checked first (before any JSON is attempted), then the JSON, then the channel's
/// payload shape and the limits. Never panics, whatever the bytes.
pub fn parse(
    channel: &str,
    ident: &str,
    payload: &[u8],
    limits: &PayloadLimits,
) -> Result<Parsed, Rejection> {
    if payload.len() > limits.max_payload {
        return Err(Rejection::TooLarge {
            size: payload.len(),
            max: limits.max_payload,
        });
    }
    if channel.is_empty() {
        return Err(Rejection::UnknownChannel(String::new()));
    }
    let value: Value =
        serde_json::from_slice(payload).map_err(|e| Rejection::NotJson(quote(&e.to_string())))?;
    match channel_kind(channel) {
        ChannelKind::Recce7 => {
            recce7::parse_event(value, limits).map(|e| Parsed::Event(Box::new(e)))
        }
        ChannelKind::Cowrie => {
            cowrie::parse_cowrie(value, ident, limits).map(|s| Parsed::Cowrie(Box::new(s)))
        }
        ChannelKind::Dionaea => dionaea::parse_dionaea(value, ident, payload, limits)
            .map(|c| Parsed::Dionaea(Box::new(c))),
    }
}

#[cfg(test)]
mod tests;
