//! `recce7 geoip update`: downloads the current DB-IP City Lite database (CC BY 4.0) with the
//! system's curl, gunzips it with a cap, checks that it opens as a city database and answers a
//! lookup, and renames it over the old file (written beside it, synced first), so that readers
//! ([`crate::LiveGeoDb`]) see either the old file or the new one, never a half-written one. On
//! any failure the old file stays and the partial one is removed.

mod fetch;
mod part;
mod unpack;

use std::path::{Path, PathBuf};

pub use fetch::{FetchLimits, candidate_urls, check_url, curl_args};
pub use unpack::gunzip_capped;

use crate::error::GeolocError;
use crate::lookup::GeoDb;
use fetch::Fetched;
use part::PartFile;

/// Where the packages keep the database (the state directory's `geoip` folder).
pub const DEFAULT_DIR: &str = "/var/lib/recce7/geoip";

/// The database's file name in that folder.
pub const FILE_NAME: &str = "dbip-city-lite.mmdb";

/// DB-IP's monthly City Lite download; `{YYYY}` and `{MM}` are the month.
pub const DEFAULT_URL: &str = "https://download.db-ip.com/free/dbip-city-lite-{YYYY}-{MM}.mmdb.gz";

/// The credit DB-IP's licence (CC BY 4.0) asks for wherever the data is shown.
pub const ATTRIBUTION: &str = "IP Geolocation by DB-IP (https://db-ip.com), CC BY 4.0";

/// The most curl downloads: 512 MiB compressed (the real file is about 60 MB).
pub const MAX_DOWNLOAD_BYTES: u64 = 512 << 20;

/// The most a download may unpack to: 1 GiB (the real file is about 130 MB).
pub const MAX_UNPACKED_BYTES: u64 = 1 << 30;

/// What to download, where to, and the limits.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// The folder the database goes into (created if missing).
    pub dir: PathBuf,
    /// A URL, or a template with `{YYYY}` and `{MM}` (this month, then the month before).
    pub url: String,
    /// The curl program.
    pub curl: PathBuf,
    /// Size and time limits.
    pub limits: FetchLimits,
}

impl Default for UpdateOptions {
    fn default() -> UpdateOptions {
        UpdateOptions {
            dir: PathBuf::from(DEFAULT_DIR),
            url: DEFAULT_URL.into(),
            curl: PathBuf::from("curl"),
            limits: FetchLimits {
                max_download_bytes: MAX_DOWNLOAD_BYTES,
                max_unpacked_bytes: MAX_UNPACKED_BYTES,
                max_time_secs: 1800,
            },
        }
    }
}

/// What an update installed.
#[derive(Debug, Clone)]
pub struct Installed {
    /// The database's path.
    pub path: PathBuf,
    /// The URL it came from, as shown (a password in it as `***`).
    pub url: String,
    /// Its `database_type` metadata.
    pub database_type: String,
    /// Its size, bytes.
    pub bytes: u64,
}

/// Downloads, checks and installs the database; the old file stays on any failure.
pub fn update(options: &UpdateOptions) -> Result<Installed, GeolocError> {
    check_url(&options.url).map_err(|reason| GeolocError::Download {
        url: shown_url(&options.url),
        reason: format!("the URL {reason}"),
    })?;
    let install_error = |path: &Path, e: std::io::Error| GeolocError::Install {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let dir = &options.dir;
    std::fs::create_dir_all(dir).map_err(|e| install_error(dir, e))?;
    let target = dir.join(FILE_NAME);
    let today = time::OffsetDateTime::now_utc().date();
    let candidates = candidate_urls(&options.url, today);
    let mut tried = Vec::new();
    for (i, url) in candidates.iter().enumerate() {
        let mut part = PartFile::create_in(dir).map_err(|e| install_error(dir, e))?;
        match fetch::download(&options.curl, url, &options.limits, part.file_mut()) {
            Fetched::Unpacked(bytes) => {
                let database_type = verify(part.path())?;
                part.install(&target)
                    .map_err(|e| install_error(&target, e))?;
                return Ok(Installed {
                    path: target,
                    url: shown_url(url),
                    database_type,
                    bytes,
                });
            }
            Fetched::HttpError(said) if i + 1 < candidates.len() => {
                let url = shown_url(url);
                tracing::info!(url, said, "not published yet: trying the month before");
                tried.push(said);
            }
            Fetched::HttpError(said) | Fetched::Failed(said) => {
                tried.push(said);
                return Err(GeolocError::Download {
                    url: shown_url(url),
                    reason: tried.join("; then: "),
                });
            }
            Fetched::NotUnpacked(reason) => {
                return Err(GeolocError::Unpack {
                    url: shown_url(url),
                    reason,
                });
            }
        }
    }
    Err(GeolocError::Download {
        url: shown_url(&options.url),
        reason: "no URL to try".into(),
    })
}

/// How old the installed database in `dir` is (since it was written), or `None` when there is
/// none (or its time cannot be read): the timer's boot-time run skips a recent file.
pub fn installed_age(dir: &Path) -> Option<std::time::Duration> {
    let modified = std::fs::metadata(dir.join(FILE_NAME))
        .ok()?
        .modified()
        .ok()?;
    Some(modified.elapsed().unwrap_or_default())
}

/// Checks that `path` opens as a city database and places a public address; its type.
pub fn verify(path: &Path) -> Result<String, GeolocError> {
    let db = GeoDb::open(path)?;
    if db.sample_answer().is_none() {
        return Err(GeolocError::NoAnswer {
            path: path.display().to_string(),
        });
    }
    Ok(db.database_type().to_owned())
}

/// `url` as it is shown in messages and logs: a user name and password in it (a private
/// mirror's) become `***`.
pub fn shown_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://***@{}", &rest[at + 1..]),
        None => url.to_owned(),
    }
}

/// `text` on one line, control characters dropped (curl's message, for ours).
pub(crate) fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .filter(|c| !c.is_control())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata")).join(name)
    }

    #[test]
    fn a_city_database_that_answers_is_accepted() {
        assert_eq!(
            verify(&fixture("GeoLite2-City-Test.mmdb")).unwrap(),
            "GeoLite2-City"
        );
        assert_eq!(
            verify(&fixture("dbip-city-ipv4-test.mmdb")).unwrap(),
            "city ipv4"
        );
    }

    #[test]
    fn other_databases_and_other_files_are_refused() {
        let err = verify(&fixture("GeoLite2-ASN-Test.mmdb")).unwrap_err();
        assert!(matches!(err, GeolocError::Layout { .. }), "{err}");
        let err = verify(&fixture("README.md")).unwrap_err();
        assert!(matches!(err, GeolocError::Open { .. }), "{err}");
    }

    #[test]
    fn a_bad_url_is_refused_before_anything_runs() {
        let dir = tempfile::tempdir().unwrap();
        let options = UpdateOptions {
            dir: dir.path().join("geoip"),
            url: "file:///etc/passwd".into(),
            ..UpdateOptions::default()
        };
        let err = update(&options).unwrap_err().to_string();
        assert!(err.contains("must start with https:// or http://"), "{err}");
        assert!(!options.dir.exists());
    }

    #[test]
    fn a_mirror_password_is_never_shown() {
        assert_eq!(
            shown_url("https://me:s3cret@mirror.test/geo/x.gz?a=b@c"),
            "https://***@mirror.test/geo/x.gz?a=b@c"
        );
        assert_eq!(
            shown_url("https://mirror.test/x@y.gz"),
            "https://mirror.test/x@y.gz"
        );
    }

    #[test]
    fn curl_messages_come_on_one_line() {
        assert_eq!(
            one_line("curl: (22) The requested URL returned error: 404\r\n\x1b[31m\n"),
            "curl: (22) The requested URL returned error: 404 [31m"
        );
    }
}
