//! The recce7 sensor: configuration, listeners, the plug-in trait and the built-in plug-ins
//! (telnet, HTTP), the SQLite recorder, the outbox publisher, packet capture and privilege drop.
//!
//! Not built yet (issue 4). The crate already depends on `rusqlite` with SQLite bundled so that
//! the pinned version is proven to build, including into the static ARMv6 binary.
