//! Everything that can go wrong in the normalizer.

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

impl From<intake::IntakeError> for NormalizerError {
    /// The intake's two failures are the normalizer's own `Feed` and `Closed`.
    fn from(e: intake::IntakeError) -> Self {
        match e {
            intake::IntakeError::Feed(e) => NormalizerError::Feed(e),
            intake::IntakeError::Closed => NormalizerError::Closed,
        }
    }
}
