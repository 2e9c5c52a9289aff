//! The recce7 event model and its SQLite store.
//!
//! Shared by the writers (the sensor's recorder, the normalizer's central store) and the reader
//! (reportd): the [`Event`] every part exchanges, the schema with RECCE7's table names and the
//! migration of per-instance tables ([`schema`]), `storeMeta` ([`meta`]), what one event becomes
//! in the tables ([`events`], behind a trait a second backend can implement), the outbox
//! ([`outbox`]), retention, and the batched [`Recorder`].

pub mod error;
pub mod event;
pub mod events;
pub mod ipinfo;
pub mod meta;
pub mod outbox;
pub mod retention;
pub mod schema;
pub mod writer;

pub use error::StoreError;
pub use event::{
    Event, EventType, Row, SCHEMA_VERSION, escape_bytes, escape_text, is_id, new_id, now_rfc3339,
};
pub use ipinfo::{IpInfo, IpInfoChange, IpLocator, upsert_ip_info};
pub use retention::{Recovered, RetentionPolicy, StoreSize};
pub use schema::{Column, ColumnType, Migration, TableSpec, is_safe_identifier};
pub use writer::{
    InstanceTable, PluginCounts, Recorder, RecorderHandle, RecorderOptions, RecorderSnapshot,
    RecorderStats, open,
};
