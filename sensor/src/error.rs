//! The sensor's one error type: everything that can stop it from starting or running.

use std::net::SocketAddr;

use crate::config::ConfigProblems;

/// Everything that can stop the sensor from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    /// The configuration is invalid (every problem listed).
    #[error("{0}")]
    Config(#[from] ConfigProblems),
    /// A listener could not be bound.
    #[error("instance {instance}: cannot listen on {addr}: {reason}")]
    Bind {
        /// The instance.
        instance: String,
        /// The address.
        addr: SocketAddr,
        /// The OS's reason.
        reason: String,
    },
    /// The store could not be opened or migrated.
    #[error("store: {0}")]
    Store(#[from] store::StoreError),
    /// Dropping privileges failed; the sensor does not run as root by accident.
    #[error("cannot switch to user {user}: {reason}")]
    Privileges {
        /// The user asked for.
        user: String,
        /// Why.
        reason: String,
    },
    /// The p0f signature file `[capture] signatures` names could not be used.
    #[error("capture.signatures: {0}")]
    Signatures(#[from] fingerprint::FingerprintError),
    /// The persona file could not be read, generated or kept.
    #[error("persona: {0}")]
    Persona(#[from] crate::persona::PersonaError),
    /// Another I/O error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
