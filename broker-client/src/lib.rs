//! The hpfeeds publish/subscribe protocol, as the hpfeeds3 broker speaks it.
//!
//! Three layers, each usable alone:
//!
//! - [`wire`]: pure functions over bytes. [`wire::check`] looks at a frame header and
//!   [`wire::parse`] turns one whole frame into a borrowed [`wire::FrameRef`]; [`wire::encode`]
//!   writes a frame. No I/O, no allocation while parsing, a typed [`WireError`] for every
//!   malformed case, and a length limit applied before any body is awaited.
//! - [`HpfeedsCodec`]: a tokio-util `Decoder`/`Encoder` over the wire functions, producing owned
//!   [`Frame`]s that share the read buffer (no payload copy).
//! - [`Client`]: an async client that reads the broker's nonce, authenticates, publishes,
//!   subscribes, yields received messages as a stream, reconnects with capped, jittered
//!   exponential backoff and resubscribes every channel after a reconnect.
//!
//! ```no_run
//! # async fn demo() -> Result<(), broker_client::FeedError> {
//! use broker_client::{Client, ClientConfig};
//! let cfg = ClientConfig::new("127.0.0.1", 10000, "sensor-1", "secret");
//! let client = Client::connect(cfg).await?;
//! client.publish("recce7.events", &b"{\"type\":\"session.start\"}"[..]).await?;
//! client.close().await?; // flushes, then waits for the broker to confirm or refuse
//! # Ok(()) }
//! ```

mod backoff;
mod client;
mod codec;
mod error;
pub mod wire;

pub use backoff::Backoff;
pub use client::{Client, ClientConfig, Message, Publisher, Status};
pub use codec::HpfeedsCodec;
pub use error::{BrokerError, BrokerErrorKind, FeedError};
pub use wire::{DEFAULT_MAX_FRAME_BYTES, Frame, FrameRef, Opcode, WireError};
