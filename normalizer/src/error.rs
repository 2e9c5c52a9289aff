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
    /// The configuration has problems.
    #[error(transparent)]
    Config(#[from] roleconfig::ConfigProblems),
    /// The hpfeeds client failed.
    #[error("hpfeeds: {0}")]
    Feed(#[from] broker_client::FeedError),
    /// The shared subscriber loop ended: the hpfeeds client refused a command or stopped.
    #[error(transparent)]
    Intake(#[from] intake::IntakeError),
    /// The writer thread stopped or could not start.
    #[error("the store writer has stopped")]
    Closed,
}
