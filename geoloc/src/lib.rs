//! geoloc: GeoIP lookups for recce7, and MHN's `geoloc.events`.
//!
//! [`GeoDb`] reads a MaxMind-format (MMDB) city database, in MaxMind's GeoIP2 City layout or the
//! flat layout of repackaged DB-IP City Lite files, with an optional GeoLite2-ASN database for
//! the autonomous system. [`mhn_record`] builds the record MHN's geoloc publishes on
//! `geoloc.events`. [`consumer`] subscribes to the honeypot channels, publishes one record per
//! attack and keeps the central store's `ipInfo` current; [`GeoDb`] also implements
//! [`store::IpLocator`], so a standalone sensor's recorder fills `ipInfo` in-process.
//! [`LiveGeoDb`] reopens the databases when they are replaced (and waits for a file not there
//! yet); [`update`] downloads DB-IP City Lite and swaps it in (`recce7 geoip update`).
//! The entry is every role's: [`load`], then [`run`] until a [`shutdown::Shutdown`].

#![warn(missing_docs)]

mod addr;
pub mod config;
pub mod consumer;
mod error;
pub mod ipinfo_writer;
mod live;
mod lookup;
mod mhn;
mod role;
pub mod update;

pub use addr::is_public;
pub use error::GeolocError;
pub use live::{DEFAULT_CHECK_SECS, LiveGeoDb, parent_exists};
pub use lookup::{GeoDb, Layout, Location};
pub use mhn::{MHN_FIELDS, mhn_record, mhn_time};
pub use role::{load, run};
