//! A GeoIP database that follows its files: [`LiveGeoDb`] reopens the databases when
//! `recce7 geoip update` (or any updater that renames a new file over the old one) has replaced
//! them, so the sensor and geoloc pick a new month's database up without a restart. A file
//! that does not exist yet, in a directory that does, is waited for: no lookups until it
//! appears.
//!
//! The files are looked at (one `stat` each) at most once per check interval, from whichever
//! lookup comes first after the interval has passed; every other lookup costs a clock read, an
//! atomic load and an uncontended read lock next to the lookup itself.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use crate::error::GeolocError;
use crate::lookup::{GeoDb, Location};

/// How often, by default, the files are looked at for a replacement.
pub const DEFAULT_CHECK_SECS: u64 = 60;

/// What identifies one version of a file: a rename over it changes the inode, a rewrite the
/// modification time or the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    dev: u64,
    ino: u64,
    modified: Option<SystemTime>,
    len: u64,
}

impl FileStamp {
    /// The stamp of `path` now, or `None` when it cannot be read (missing, say).
    fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            dev: meta.dev(),
            ino: meta.ino(),
            modified: meta.modified().ok(),
            len: meta.len(),
        })
    }
}

/// A city database (and optional ASN database) reopened when its files are replaced.
#[derive(Debug)]
pub struct LiveGeoDb {
    /// The city databases, asked in order.
    cities: Vec<PathBuf>,
    /// The ASN database, if any.
    asn: Option<PathBuf>,
    /// The interval between looks at the files, in milliseconds.
    check_every_ms: u64,
    /// The origin of `next_check_ms`.
    started: Instant,
    /// When (milliseconds after `started`) the files are next looked at.
    next_check_ms: AtomicU64,
    /// The open databases; `None` while waiting for the files.
    current: RwLock<Option<Arc<GeoDb>>>,
    /// The files' stamps when they were last opened (or found unusable), in the order of
    /// `cities` then `asn`; only the checking lookup takes it.
    seen: Mutex<Vec<Option<FileStamp>>>,
}

impl LiveGeoDb {
    /// Opens the databases, checking for replacements every `check_every`.
    ///
    /// Files that all exist must open (a broken file is an error, as with [`GeoDb::open_all`]).
    /// When a file is missing but its directory exists, this waits for it (a warning, then no
    /// lookups until it appears); a missing directory is the error [`GeoDb::open_all`] gives.
    pub fn open(
        cities: &[PathBuf],
        asn: Option<&Path>,
        check_every: Duration,
    ) -> Result<LiveGeoDb, GeolocError> {
        let live = LiveGeoDb {
            cities: cities.to_vec(),
            asn: asn.map(Path::to_path_buf),
            check_every_ms: u64::try_from(check_every.as_millis()).unwrap_or(u64::MAX),
            started: Instant::now(),
            next_check_ms: AtomicU64::new(0),
            current: RwLock::new(None),
            seen: Mutex::new(Vec::new()),
        };
        let stamps = live.stamps();
        if stamps.iter().all(Option::is_some) {
            let db = GeoDb::open_all(cities, asn)?;
            *live.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(db));
        } else {
            let missing = live.missing();
            if let Some(path) = missing.iter().find(|path| !parent_exists(path)) {
                // The file cannot appear where no directory is: the open error says which.
                return Err(GeoDb::open(path)
                    .err()
                    .unwrap_or_else(|| GeolocError::Open {
                        path: path.display().to_string(),
                        reason: "its directory does not exist".into(),
                    }));
            }
            tracing::warn!(
                waiting_for = ?missing,
                "no GeoIP database yet (recce7 geoip update downloads one): sources are not \
                 located until it appears"
            );
        }
        *live.seen.lock().unwrap_or_else(|e| e.into_inner()) = stamps;
        live.next_check_ms
            .store(live.check_every_ms, Ordering::Relaxed);
        Ok(live)
    }

    /// The files named, in the order they are asked (cities, then the ASN database).
    fn paths(&self) -> impl Iterator<Item = &PathBuf> {
        self.cities.iter().chain(self.asn.iter())
    }

    /// Every file's stamp now.
    fn stamps(&self) -> Vec<Option<FileStamp>> {
        self.paths().map(|path| FileStamp::of(path)).collect()
    }

    /// The files that cannot be read now.
    pub fn missing(&self) -> Vec<PathBuf> {
        self.paths()
            .filter(|path| FileStamp::of(path).is_none())
            .cloned()
            .collect()
    }

    /// The open databases, or `None` while waiting for the files.
    pub fn current(&self) -> Option<Arc<GeoDb>> {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Where `ip` is, or `None` (see [`GeoDb::lookup`]); `None` too while waiting for the files.
    /// Looks at the files first when the check interval has passed.
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        self.check_if_due();
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.as_ref()?.lookup(ip)
    }

    /// Looks at the files when the interval has passed; one lookup does it, the others go on.
    fn check_if_due(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let due = self.next_check_ms.load(Ordering::Relaxed);
        if now < due {
            return;
        }
        let next = now.saturating_add(self.check_every_ms);
        if self
            .next_check_ms
            .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
        {
            self.reload_if_replaced();
        }
    }

    /// Reopens the databases when a file has changed since it was last opened; keeps the open
    /// ones when the new files are missing or do not open. Returns whether it swapped.
    pub fn reload_if_replaced(&self) -> bool {
        let stamps = self.stamps();
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        if *seen == stamps {
            return false;
        }
        *seen = stamps.clone();
        if stamps.iter().any(Option::is_none) {
            if self.current().is_some() {
                tracing::warn!(missing = ?self.missing(), "a GeoIP database file is gone: the open one stays in use");
            }
            return false;
        }
        match GeoDb::open_all(&self.cities, self.asn.as_deref()) {
            Ok(db) => {
                tracing::info!(geoip = ?self.cities, database_type = db.database_type(), "GeoIP database (re)opened");
                *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(db));
                true
            }
            Err(error) => {
                tracing::warn!(%error, "a replaced GeoIP database does not open: the old one stays in use");
                false
            }
        }
    }
}

/// Whether the directory `path` would be in exists (a bare file name: the working directory).
pub fn parent_exists(path: &Path) -> bool {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.is_dir(),
        _ => true,
    }
}

impl store::IpLocator for LiveGeoDb {
    fn locate(&self, ip: IpAddr) -> Option<store::IpInfo> {
        self.lookup(ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata")).join(name)
    }

    fn london() -> IpAddr {
        "81.2.69.142".parse().unwrap()
    }

    /// Puts `fixture` at `to` the way updaters do: a new file renamed over the old.
    fn install(fixture_name: &str, to: &Path) {
        let part = to.with_extension("part");
        std::fs::copy(fixture(fixture_name), &part).unwrap();
        std::fs::rename(&part, to).unwrap();
    }

    #[test]
    fn a_missing_file_in_an_existing_directory_is_waited_for_and_picked_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("dbip-city-lite.mmdb");
        let live = LiveGeoDb::open(std::slice::from_ref(&path), None, Duration::ZERO).unwrap();
        assert!(live.current().is_none());
        assert_eq!(live.lookup(london()), None);
        install("GeoLite2-City-Test.mmdb", &path);
        let city = live.lookup(london()).and_then(|l| l.city);
        assert_eq!(city.as_deref(), Some("London"));
    }

    #[test]
    fn a_missing_directory_is_an_open_error() {
        let err = LiveGeoDb::open(
            &[PathBuf::from("/nonexistent/city.mmdb")],
            None,
            Duration::ZERO,
        )
        .unwrap_err();
        assert!(
            err.to_string()
                .contains("cannot open the GeoIP database /nonexistent/city.mmdb"),
            "{err}"
        );
    }

    #[test]
    fn a_replacement_is_swapped_in_and_a_broken_one_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.mmdb");
        install("GeoIP2-City-Test.mmdb", &path);
        let live = LiveGeoDb::open(std::slice::from_ref(&path), None, Duration::ZERO).unwrap();
        assert_eq!(live.current().unwrap().database_type(), "GeoIP2-City");
        // Not a city database: refused, the open one stays.
        install("GeoLite2-ASN-Test.mmdb", &path);
        assert!(!live.reload_if_replaced());
        assert_eq!(live.current().unwrap().database_type(), "GeoIP2-City");
        assert!(live.lookup(london()).is_some());
        install("GeoLite2-City-Test.mmdb", &path);
        assert!(live.reload_if_replaced());
        assert_eq!(live.current().unwrap().database_type(), "GeoLite2-City");
        // Unchanged files are not reopened.
        assert!(!live.reload_if_replaced());
    }

    #[test]
    fn the_files_are_looked_at_once_per_interval() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("city.mmdb");
        let live =
            LiveGeoDb::open(std::slice::from_ref(&path), None, Duration::from_secs(3600)).unwrap();
        install("GeoLite2-City-Test.mmdb", &path);
        // The next look is an hour away: lookups do not touch the file system before.
        assert_eq!(live.lookup(london()), None);
        assert!(live.current().is_none());
    }
}
