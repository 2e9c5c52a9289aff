//! The normalizer: subscribes to hpfeeds channels (recce7 events, and Cowrie's and Dionaea's
//! channels for mixed fleets) and writes every record into the central store, deduplicated by
//! event id, with refused payloads kept in a quarantine table and mnemosyne-style session
//! records beside RECCE7's tables.
//!
//! The parts: [`parse`] (pure: bytes to a record or a reason), [`central`] (the store behind the
//! [`central::CentralStore`] trait), [`pipeline`] (a writer thread fed by a bounded queue,
//! batching), and [`consumer`] (the hpfeeds subscriber that feeds it). The entry is every
//! role's: [`load`], then [`run`] until a [`shutdown::Shutdown`].

pub mod central;
pub mod config;
pub mod consumer;
pub mod parse;
pub mod pipeline;
mod role;

pub use central::{BatchOutcome, CentralStore, Item, Received, SqliteCentralStore};
pub use config::{NormalizerSettings, load, parse_config};
pub use pipeline::{NormalizerSnapshot, NormalizerStats, Pipeline};
pub use role::run;

/// Everything that can go wrong in the normalizer.
#[derive(Debug, thiserror::Error)]
pub enum NormalizerError {
    /// The store crate refused something (opening, migrating).
    #[error(transparent)]
    Store(#[from] store::StoreError),
    /// SQLite refused a statement.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A table name that is not a safe identifier or belongs to the store.
    #[error("table name {0:?} is not a safe SQL identifier or is reserved")]
    BadTable(String),
    /// A data key that is not a safe column name or is a fixed column.
    #[error("column name {0:?} is not a safe SQL identifier or is reserved")]
    BadColumn(String),
    /// The configuration has problems.
    #[error(transparent)]
    Config(#[from] roleconfig::ConfigProblems),
    /// The hpfeeds client failed.
    #[error("hpfeeds: {0}")]
    Feed(#[from] broker_client::FeedError),
    /// The writer thread stopped or could not start.
    #[error("the store writer has stopped")]
    Closed,
}
