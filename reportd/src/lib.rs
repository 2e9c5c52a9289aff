//! The report service: RECCE7's REST API (`/v1/analytics/...`), the world map, the web
//! dashboard with live updates, and `/metrics`, over a sensor's database or the normalizer's
//! central store (the same shape), read-only.
//!
//! The parts: [`config`], [`window`] (the time window of a request), [`db`] (read-only
//! connections, every query bounded in rows and time), [`query`] (the SQL behind each
//! endpoint), [`budget`] (every JSON answer within `max_response_bytes`), [`api`] (routes,
//! parameters and paging, the `Host` check, the bearer token and CORS), [`worldmap`] (the map,
//! drawn server-side), [`metrics`], [`dashboard`], [`server`] (connection caps and timeouts) and
//! [`error`] (the crate's errors). The entry is every role's:
//! [`load`], then [`run`] until a [`shutdown::Shutdown`].

pub mod api;
pub mod budget;
pub mod config;
pub mod dashboard;
pub mod db;
pub mod error;
pub mod metrics;
pub mod query;
mod role;
pub mod server;
pub mod window;
pub mod worldmap;

pub use api::{AppState, router, serve};
pub use config::{ReportdSettings, TokenSources, load, parse_config};
pub use error::{ApiError, QueryError, ReportError};
pub use role::{ReportdSummary, run, run_on};
