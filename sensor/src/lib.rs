//! The recce7 sensor: configuration, listeners under limits, the plug-in trait and registry,
//! the built-in plug-ins (telnet, HTTP, the banner example), recording through the store's
//! recorder, graceful shutdown and privilege drop.
//!
//! The binary calls [`config::load`] (or [`config::default_config`]), [`Sensor::bind`],
//! optionally [`privilege::drop_to`], then [`Sensor::run`] with one shutdown token.

pub mod config;
pub mod connection;
pub mod error;
pub mod limits;
pub mod metrics;
pub mod plugin;
pub mod plugins;
pub mod privilege;
pub mod publisher;
pub mod server;
pub mod session;

pub use config::{ConfigProblems, ValidConfig};
pub use connection::{CloseReason, Connection};
pub use error::SensorError;
pub use plugin::{Plugin, PluginKind, registry};
pub use server::{RunSummary, Sensor};
pub use session::Session;
