//! The recce7 sensor: configuration, listeners under limits, the plug-in trait and registry,
//! the built-in plug-ins (telnet, HTTP, the banner example), recording through the store's
//! recorder, graceful shutdown and privilege drop.
//!
//! The entry is every role's: [`load`] the settings, then [`run`] them until a
//! [`shutdown::Shutdown`]. The binary splits `run` when it drops privileges: [`load`] (or
//! [`config::default_config`]), [`Sensor::bind`], [`privilege::drop_to`], then [`Sensor::run`].

pub mod capture;
pub mod config;
pub mod connection;
pub mod credentials;
pub mod encoding;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod metrics_endpoint;
pub mod persona;
pub mod plugin;
pub mod plugins;
pub mod privilege;
pub mod publisher;
pub mod reload;
mod role;
pub mod server;
pub mod session;
pub mod shell;

pub use config::{ConfigProblems, ValidConfig};
pub use connection::{CloseReason, Connection};
pub use error::SensorError;
pub use plugin::{Plugin, PluginKind, registry};
pub use reload::{ReloadReport, SensorControl};
pub use role::{load, run};
pub use server::{RunSummary, Sensor};
pub use session::Session;
