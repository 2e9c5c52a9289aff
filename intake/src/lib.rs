//! intake: what recce7's hpfeeds consumers (the normalizer and geoloc) share, below both of
//! them, so that neither imports the other.
//!
//! - [`parse`]: pure functions from one hpfeeds message (channel, ident, payload bytes) to a
//!   [`parse::Parsed`] record or a [`parse::Rejection`]; no I/O, no clock.
//! - [`subscriber`]: the one subscriber loop. [`Subscriber::start`] builds the hpfeeds client
//!   from a role's [`roleconfig::SubscriberSettings`] (with the project's reconnect backoff) and
//!   subscribes to the configured channels; [`Subscriber::run`] hands every message to a
//!   [`Consumer`], waiting while the consumer is busy (backpressure on the broker connection,
//!   never a silent drop), and asks it to report its counters with the connection's state every
//!   30 seconds, until the shutdown token is cancelled or the client ends.

#![warn(missing_docs)]

mod error;
pub mod parse;
pub mod subscriber;

pub use error::IntakeError;
pub use subscriber::{Consumer, Ended, Subscriber, client_config};
