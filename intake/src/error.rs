//! Everything that can go wrong in the intake.

/// Why the subscriber could not start or could not go on.
#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    /// The hpfeeds client refused a command (subscribing to a channel).
    #[error("hpfeeds: {0}")]
    Feed(#[from] broker_client::FeedError),
    /// The hpfeeds client ended.
    #[error("the hpfeeds client has stopped")]
    Closed,
}
