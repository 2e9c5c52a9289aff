//! The recce7 sensor: configuration, listeners under limits, the plug-in trait and registry,
//! the built-in plug-ins (telnet, HTTP, the banner example), recording through the store's
//! recorder, graceful shutdown and privilege drop.
//!
//! The entry is every role's: [`load`] the settings, then [`run`] them until a
//! [`shutdown::Shutdown`]. The binary splits `run` when it drops privileges: [`load`] (or
//! [`config::default_config`]), [`Sensor::bind`], [`privilege::drop_to`], then [`Sensor::run`].

pub mod config;
pub mod connection;
pub mod limits;
pub mod metrics;
pub mod plugin;
pub mod plugins;
pub mod privilege;
pub mod publisher;
mod role;
pub mod server;
pub mod session;

use std::net::SocketAddr;

pub use config::{ConfigProblems, ValidConfig};
pub use connection::{CloseReason, Connection};
pub use plugin::{Plugin, PluginKind, registry};
pub use role::{load, run};
pub use server::{RunSummary, Sensor};
pub use session::Session;

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
    /// Another I/O error.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}
