//! `recce7 registrar`: MHN's sensor registration API for a fleet without MHN or MongoDB.
//! MHN's and CHN's deploy scripts (and `deploy_recce7.sh`) register with `POST /api/sensor/`
//! and the deploy key; the registrar answers as MHN does (a uuid as the hpfeeds ident, a fresh
//! secret, the channels of the honeypot type), plus where the broker is, and writes the key
//! into the hpfeeds3 broker's SQLite auth store, which the broker reads on every AUTH: the
//! sensor can publish at once, with no broker restart. Sensors can be listed and revoked with
//! an admin token.
//!
//! The parts: [`config`], [`request`] (the body, read without I/O), [`registry`] (the SQLite
//! file shared with the broker), [`limiter`] (failed secrets per source), [`api`] (routes),
//! [`metrics`] and [`error`]; it is served by the report service's hardened HTTP loop
//! (`reportd::server::serve_router`: connection caps, timeouts, each request's peer). The entry is every
//! role's: [`load`], then [`run`] until a [`shutdown::Shutdown`].

pub mod api;
pub mod config;
pub mod error;
pub mod limiter;
pub mod metrics;
pub mod registry;
pub mod request;
mod role;

pub use api::{AppState, router};
pub use config::{RegistrarSettings, SecretSources, load, parse_config};
pub use error::{ApiError, RegistrarError, RegistryError};
pub use registry::Registry;
pub use role::{RegistrarSummary, run, run_on, start_line};
