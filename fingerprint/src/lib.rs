//! Passive fingerprints and scan detection: pure functions over bytes, no sockets, threads or
//! clocks (the sensor's packet capture feeds them and passes the time in).
//!
//! - [`packet`]: a captured IPv4/IPv6 TCP packet, read without panics.
//! - [`p0f`]: p0f v3 OS fingerprints of SYNs and application fingerprints of HTTP requests.
//! - [`tls`]: JA4 of a TLS ClientHello.
//! - [`scan`]: the scan detector (SYN, connect, NULL, FIN, Xmas, OS probes, port sweeps).
//!
//! The capture loop, in short:
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use fingerprint::p0f::P0f;
//! use fingerprint::packet;
//! use fingerprint::scan::{ScanDetector, ScanKind, ScanSettings};
//!
//! let p0f = P0f::embedded()?; // or P0f::from_file(Path::new("/etc/p0f/p0f.fp"))
//! let mut detector = ScanDetector::new(ScanSettings::default());
//! // One buffer as an AF_PACKET SOCK_DGRAM socket returns it: nmap -sS's SYN to port 23.
//! let buffer = [
//!     0x45, 0x00, 0x00, 0x2c, 0x56, 0x78, 0x00, 0x00, 0x32, 0x06, 0x00, 0x00, 192, 0, 2, 6,
//!     192, 0, 2, 2, 0x9c, 0x45, 0x00, 0x17, 0x12, 0x34, 0x56, 0x78, 0x00, 0x00, 0x00, 0x00,
//!     0x60, 0x02, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4,
//! ];
//! let start = Instant::now();
//! if let Ok(syn) = packet::parse(&buffer) {
//!     let fingerprint = p0f.syn(&syn).expect("a SYN");
//!     assert_eq!(fingerprint.raw_signature, "4:50+14:0:1460:1024,0:mss::0");
//!     assert_eq!(fingerprint.os.as_deref(), Some("NMap SYN scan"));
//!     detector.observe(&syn, start, SystemTime::now());
//! }
//! // Now and then (times are passed in, never read here):
//! let reports = detector.poll(start + Duration::from_secs(6));
//! assert_eq!(reports[0].kind, ScanKind::Syn);
//! assert_eq!(reports[0].ports, [23]);
//! # Ok::<(), fingerprint::FingerprintError>(())
//! ```

pub mod error;
pub mod p0f;
pub mod packet;
pub mod scan;
pub mod tls;

pub use error::FingerprintError;
