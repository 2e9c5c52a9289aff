//! The geoloc consumer: looks up event addresses in a MaxMind-format database, publishes
//! honeymap-compatible records on `geoloc.events` and fills the `ipInfo` table.
//!
//! Not built yet (issue 6).
