//! The normalizer: subscribes to hpfeeds channels (recce7 events, and Cowrie's and Dionaea's
//! channels for mixed fleets) and writes every record into the central store, deduplicated by
//! event id, with refused payloads kept in a quarantine table and mnemosyne-style session
//! records beside RECCE7's tables.
//!
//! The parts: [`central`] (the store behind the [`central::CentralStore`] trait), [`pipeline`]
//! (a writer thread fed by a bounded queue, batching, parsing with [`intake::parse`]), and
//! [`consumer`] (the [`intake::Consumer`] that feeds it from the shared subscriber loop,
//! [`intake::Subscriber`]). [`parse`] is the intake's payload parser, re-exported. The entry is every
//! role's: [`load`], then [`run`] until a [`shutdown::Shutdown`].

pub mod central;
pub mod config;
pub mod consumer;
mod error;
pub mod pipeline;
mod role;

pub use intake::parse;

pub use central::{BatchOutcome, CentralStore, Item, Received, SqliteCentralStore};
pub use config::{NormalizerSettings, load, parse_config};
pub use error::NormalizerError;
pub use pipeline::{NormalizerSnapshot, NormalizerStats, Pipeline};
pub use role::run;
