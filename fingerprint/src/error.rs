//! The crate's errors: loading signatures ([`FingerprintError`]) and reading a captured packet
//! ([`PacketError`], which the capture task counts and never treats as fatal).

use std::path::PathBuf;

/// Why signatures could not be loaded. The message names the file (or "the embedded
/// signatures") and the cause, so that `recce7 check-config` and the sensor's log can show it as
/// it is.
#[derive(Debug, thiserror::Error)]
pub enum FingerprintError {
    /// The signature file could not be read (missing, unreadable, not UTF-8).
    #[error("cannot read p0f signatures from {path}: {source}")]
    ReadSignatures {
        /// The file that was asked for.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The signature file is larger than [`crate::p0f::MAX_SIGNATURE_FILE_BYTES`].
    #[error("p0f signatures in {path} are over {limit} bytes; is this a p0f.fp file?")]
    SignaturesTooLarge {
        /// The file that was asked for.
        path: PathBuf,
        /// The limit in bytes.
        limit: u64,
    },
    /// The signatures do not parse as p0f v3's `p0f.fp` format.
    #[error("p0f signatures in {origin} are invalid at line {line}: {reason}")]
    InvalidSignatures {
        /// The file's path, or "the embedded signatures".
        origin: String,
        /// The first line (counting from 1) at which the file stops parsing.
        line: usize,
        /// The parser's words, which quote the text at fault.
        reason: String,
    },
    /// The signatures parse but hold no `[tcp:request]` signature, so no SYN would ever match.
    #[error("p0f signatures in {origin} hold no [tcp:request] signature")]
    NoTcpSignatures {
        /// The file's path, or "the embedded signatures".
        origin: String,
    },
}

/// Why a captured buffer is not a TCP packet we can read. Capture counts these by kind; none of
/// them is fatal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    /// The buffer ends before a header (IP or TCP) it announces.
    #[error("packet truncated")]
    Truncated,
    /// Not TCP (another protocol, or an IPv4 fragment past the first, which holds no TCP header).
    #[error("not a TCP packet")]
    NotTcp,
    /// A header field is impossible (says which).
    #[error("bad header: {0}")]
    BadHeader(&'static str),
}
