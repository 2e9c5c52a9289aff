//! Everything that can go wrong in geoloc.

/// Why a GeoIP database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum GeolocError {
    /// The file could not be read or is not a MaxMind DB file at all.
    #[error("cannot open the GeoIP database {path}: {reason}")]
    Open {
        /// The path as given.
        path: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// The file is a MaxMind DB file, but its records are not city (or country) records.
    #[error("{path} is not a city database: {reason}")]
    Layout {
        /// The path as given.
        path: String,
        /// What the records look like instead, in words.
        reason: String,
    },
    /// The file given as the ASN database does not hold autonomous system numbers.
    #[error("{path} is not an ASN database: {reason}")]
    AsnLayout {
        /// The path as given.
        path: String,
        /// What the records look like instead, in words.
        reason: String,
    },
    /// `recce7 geoip update` could not download the database (curl's own message).
    #[error("cannot download {url}: {reason}")]
    Download {
        /// The URL asked for.
        url: String,
        /// What curl (or starting it) said.
        reason: String,
    },
    /// The download is not a gzip of a database that fits the size cap.
    #[error("the download from {url} does not unpack: {reason}")]
    Unpack {
        /// The URL it came from.
        url: String,
        /// Not gzip, truncated, corrupt, or over the cap.
        reason: String,
    },
    /// The downloaded database opens but places no public address.
    #[error("{path} answers no lookup: none of its first networks places a public address")]
    NoAnswer {
        /// The file checked.
        path: String,
    },
    /// The new file could not be written or renamed into place.
    #[error("cannot install the GeoIP database in {path}: {reason}")]
    Install {
        /// The file or directory.
        path: String,
        /// The file system's error.
        reason: String,
    },
    /// The configuration has problems.
    #[error(transparent)]
    Config(#[from] roleconfig::ConfigProblems),
    /// The central store could not be opened or written.
    #[error("central store: {0}")]
    Store(String),
    /// The hpfeeds client failed.
    #[error("hpfeeds: {0}")]
    Feed(#[from] broker_client::FeedError),
    /// The hpfeeds client ended.
    #[error("the hpfeeds client has stopped")]
    Closed,
}

impl From<intake::IntakeError> for GeolocError {
    /// The intake's two failures are geoloc's own `Feed` and `Closed`.
    fn from(e: intake::IntakeError) -> Self {
        match e {
            intake::IntakeError::Feed(e) => GeolocError::Feed(e),
            intake::IntakeError::Closed => GeolocError::Closed,
        }
    }
}
