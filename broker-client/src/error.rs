//! The crate's error type and the broker's error texts, typed.

use std::time::Duration;

use crate::wire::{Opcode, WireError};

/// Everything that can go wrong between this client and an hpfeeds broker.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// Bytes that are not a valid frame, or a frame we refuse to encode.
    #[error("hpfeeds wire format: {0}")]
    Wire(#[from] WireError),
    /// The broker sent an ERROR frame; its text is kept.
    #[error("broker refused: {0}")]
    Broker(#[from] BrokerError),
    /// The TCP connection could not be made.
    #[error("cannot connect to broker {addr}: {source}")]
    Connect {
        /// `host:port` as configured.
        addr: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Reading or writing the connection failed.
    #[error("connection to broker failed: {0}")]
    Io(#[from] std::io::Error),
    /// Something took longer than its deadline.
    #[error("timed out after {after:?} while {during}")]
    Timeout {
        /// What was being waited for.
        during: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The broker closed the connection.
    #[error("broker closed the connection while {during}")]
    Closed {
        /// What the client was doing.
        during: &'static str,
    },
    /// The connection ended in the middle of a frame.
    #[error("connection ended inside a frame ({bytes} bytes of it received)")]
    TruncatedFrame {
        /// Bytes of the partial frame.
        bytes: usize,
    },
    /// The broker sent a frame that has no place at this point of the protocol.
    #[error("unexpected {opcode} frame from the broker while {during}")]
    Unexpected {
        /// The frame's opcode.
        opcode: Opcode,
        /// What the client was doing.
        during: &'static str,
    },
    /// The client was closed, or its connection task ended.
    #[error("the hpfeeds client has ended (close() or status() tell why)")]
    Shutdown,
    /// `close` gave up while frames were still queued (the broker was unreachable).
    #[error("{count} queued frames were not sent: the broker was unreachable at close")]
    Unsent {
        /// Frames left in the queue.
        count: usize,
    },
}

impl FeedError {
    /// A copy for a second reader (the message stream and `close` both report the error that
    /// ended a client). I/O errors keep their kind and text.
    pub(crate) fn duplicate(&self) -> Self {
        let io = |e: &std::io::Error| std::io::Error::new(e.kind(), e.to_string());
        match self {
            Self::Wire(e) => Self::Wire(e.clone()),
            Self::Broker(e) => Self::Broker(e.clone()),
            Self::Connect { addr, source } => Self::Connect {
                addr: addr.clone(),
                source: io(source),
            },
            Self::Io(e) => Self::Io(io(e)),
            Self::Timeout { during, after } => Self::Timeout {
                during,
                after: *after,
            },
            Self::Closed { during } => Self::Closed { during },
            Self::TruncatedFrame { bytes } => Self::TruncatedFrame { bytes: *bytes },
            Self::Unexpected { opcode, during } => Self::Unexpected {
                opcode: *opcode,
                during,
            },
            Self::Shutdown => Self::Shutdown,
            Self::Unsent { count } => Self::Unsent { count: *count },
        }
    }
}

/// What the broker's ERROR text means. hpfeeds3 and the legacy MHN broker word them
/// differently; both are recognised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerErrorKind {
    /// Unknown ident or wrong secret (`Authentication failed for <ident>`, `authfail.`,
    /// `identfail.`).
    AuthFailed,
    /// The ident may not publish on the channel (`Authkey not allowed to pub here. ...`).
    PublishDenied {
        /// The channel, when the text names it.
        channel: Option<String>,
    },
    /// The ident may not subscribe to the channel (`Authkey not allowed to sub here. ...`).
    SubscribeDenied {
        /// The channel, when the text names it.
        channel: Option<String>,
    },
    /// Publish or subscribe refused, without saying which (legacy `accessfail.`).
    AccessDenied,
    /// A frame's ident differs from the authenticated one (`Invalid authkey in message ...`).
    IdentMismatch,
    /// Something was sent before AUTH (`First message was not AUTH`).
    AuthRequired,
    /// Any other text.
    Other,
}

/// An ERROR frame from the broker: its meaning and its exact text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct BrokerError {
    /// What the text means.
    pub kind: BrokerErrorKind,
    /// The broker's text, decoded as UTF-8 (invalid bytes replaced).
    pub message: String,
}

impl BrokerError {
    /// Classifies an ERROR frame's text.
    pub fn from_text(text: &[u8]) -> Self {
        let message = String::from_utf8_lossy(text).into_owned();
        let channel = || {
            message
                .rsplit_once("chan=")
                .map(|(_, chan)| chan.trim().to_owned())
        };
        let kind = if message.starts_with("Authentication failed")
            || message == "authfail."
            || message == "identfail."
        {
            BrokerErrorKind::AuthFailed
        } else if message.starts_with("Authkey not allowed to pub") {
            BrokerErrorKind::PublishDenied { channel: channel() }
        } else if message.starts_with("Authkey not allowed to sub") {
            BrokerErrorKind::SubscribeDenied { channel: channel() }
        } else if message == "accessfail." {
            BrokerErrorKind::AccessDenied
        } else if message.starts_with("Invalid authkey in message") {
            BrokerErrorKind::IdentMismatch
        } else if message.starts_with("First message was not AUTH") {
            BrokerErrorKind::AuthRequired
        } else {
            BrokerErrorKind::Other
        };
        Self { kind, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hpfeeds3_and_legacy_texts_are_classified() {
        let cases = [
            ("Authentication failed for bob", BrokerErrorKind::AuthFailed),
            ("authfail.", BrokerErrorKind::AuthFailed),
            ("identfail.", BrokerErrorKind::AuthFailed),
            (
                "Authkey not allowed to pub here. ident=bob, chan=secret.chan",
                BrokerErrorKind::PublishDenied {
                    channel: Some("secret.chan".into()),
                },
            ),
            (
                "Authkey not allowed to sub here. ident=bob, chan=x",
                BrokerErrorKind::SubscribeDenied {
                    channel: Some("x".into()),
                },
            ),
            ("accessfail.", BrokerErrorKind::AccessDenied),
            (
                "Invalid authkey in message, ident=eve",
                BrokerErrorKind::IdentMismatch,
            ),
            ("First message was not AUTH", BrokerErrorKind::AuthRequired),
            (
                "Backpressure deadline timer expired",
                BrokerErrorKind::Other,
            ),
        ];
        for (text, kind) in cases {
            let err = BrokerError::from_text(text.as_bytes());
            assert_eq!(err.kind, kind, "{text}");
            assert_eq!(err.to_string(), text);
        }
        assert_eq!(BrokerError::from_text(b"bad \xff").message, "bad \u{fffd}");
    }
}
