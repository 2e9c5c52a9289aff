//! Passive fingerprints and scan detection: pure functions over bytes, no sockets, threads or
//! clocks (the sensor's packet capture feeds them and passes the time in).
//!
//! - [`packet`]: a captured IPv4/IPv6 TCP packet, read without panics.
//! - [`p0f`]: p0f v3 OS fingerprints of SYNs and application fingerprints of HTTP requests.
//! - [`tls`]: JA4 of a TLS ClientHello.
//! - [`scan`]: the scan detector (SYN, connect, NULL, FIN, Xmas, OS probes, port sweeps).

pub mod error;
pub mod p0f;
pub mod packet;
pub mod scan;
pub mod tls;

pub use error::FingerprintError;
