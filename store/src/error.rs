//! The store's one error type.

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite refused something.
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database file cannot be opened or prepared.
    #[error("cannot open the database {path}: {reason}")]
    Open {
        /// The path given.
        path: String,
        /// Why.
        reason: String,
    },
    /// A table or column name that is not a safe SQL identifier (or is reserved).
    #[error("{0:?} is not a safe SQL identifier or is reserved")]
    BadIdentifier(String),
    /// A table name an event brought (to the central store) that is not a safe SQL identifier
    /// or is one of the store's own tables.
    #[error("table name {0:?} is not a safe SQL identifier or is reserved")]
    BadTable(String),
    /// A data key an event brought that is not a safe column name or is a fixed column.
    #[error("column name {0:?} is not a safe SQL identifier or is reserved")]
    BadColumn(String),
    /// An event for a plug-in instance the recorder was not told about.
    #[error("no table for plug-in instance {0:?}")]
    UnknownPlugin(String),
    /// A `session.end` for a session that has no start row.
    #[error("session {0} has no start record")]
    NoSession(String),
    /// The writer has stopped; the event was not queued.
    #[error("the recorder has stopped")]
    Closed,
    /// An event could not be turned into JSON for the outbox.
    #[error("event JSON: {0}")]
    Json(String),
    /// A table the store now owns already exists with other columns (a plug-in instance's
    /// table of that name from an older store version).
    #[error(
        "table {0:?} exists with other columns: the store (version 5 and later) keeps its own data there; rename the plug-in instance's table and move the file's table away"
    )]
    TableTaken(String),
    /// The writer thread could not be started.
    #[error("cannot start the writer thread: {0}")]
    Thread(String),
}
