//! Read-only access to the store: a few connections opened read-only (`query_only` as well),
//! used from blocking threads, each query stopped when it runs past the time limit.
//!
//! The store may not exist yet when reportd starts (a package starts the sensor and reportd
//! together; in compose the normalizer creates the central store): reportd then serves, answers
//! 503 until the file and its `sessions` table appear, and serves it from then on.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::{ApiError, QueryError, ReportError};

/// Connections kept open between requests.
const IDLE_MAX: usize = 4;

/// The database, shared by the handlers.
pub struct Db {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    timeout: Duration,
    /// The store exists with its schema (checked again on each request until it does).
    ready: AtomicBool,
    /// The most rows one list returns.
    pub max_rows: usize,
}

impl Db {
    /// Opens `path` read-only. A store that does not exist yet (no file, or a file without
    /// tables: its creator is still at it) is waited for: requests get a 503 until it appears.
    /// A file that exists with other tables is not a recce7 store, and an error.
    pub fn open(path: &Path, timeout: Duration, max_rows: usize) -> Result<Arc<Db>, ReportError> {
        let db = Db {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            timeout,
            max_rows,
            ready: AtomicBool::new(false),
        };
        let ready = db.probe().map_err(|reason| ReportError::Open {
            path: path.display().to_string(),
            reason,
        })?;
        if ready {
            db.ready.store(true, Ordering::Release);
        } else {
            tracing::warn!(
                database = %path.display(),
                "the store does not exist yet: answering 503 until the sensor or the normalizer creates it"
            );
        }
        Ok(Arc::new(db))
    }

    /// True when the store exists with its schema, false when it does not exist yet; an error
    /// when the file cannot be read or is something else.
    fn probe(&self) -> Result<bool, String> {
        match self.path.try_exists() {
            Ok(false) => return Ok(false),
            Ok(true) => {}
            Err(e) => return Err(e.to_string()),
        }
        let conn = self.connect().map_err(|e| e.to_string())?;
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0));
        let sessions =
            count("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'sessions'")
                .map_err(|e| format!("not a recce7 store: {e}"))?;
        if sessions == 1 {
            self.give_back(conn);
            return Ok(true);
        }
        match count("SELECT count(*) FROM sqlite_master") {
            Ok(0) => Ok(false),
            Ok(_) => Err("not a recce7 store: it has no sessions table".into()),
            Err(e) => Err(format!("not a recce7 store: {e}")),
        }
    }

    /// Whether the store exists yet, checking again when it did not.
    fn ensure_ready(&self) -> Result<(), ApiError> {
        if self.ready.load(Ordering::Acquire) {
            return Ok(());
        }
        match self.probe() {
            Ok(true) => {
                self.ready.store(true, Ordering::Release);
                tracing::info!(database = %self.path.display(), "the store exists now: serving it");
                Ok(())
            }
            Ok(false) => Err(ApiError::store_not_created()),
            Err(reason) => Err(ApiError::internal(reason)),
        }
    }

    fn connect(&self) -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(2))?;
        conn.execute_batch("PRAGMA query_only = ON; PRAGMA cache_size = -4096;")?;
        conn.set_prepared_statement_cache_capacity(64);
        Ok(conn)
    }

    fn take(&self) -> rusqlite::Result<Connection> {
        let idle = self.idle.lock().ok().and_then(|mut v| v.pop());
        match idle {
            Some(conn) => Ok(conn),
            None => self.connect(),
        }
    }

    fn give_back(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_MAX
        {
            idle.push(conn);
        }
    }

    /// Runs `f` on a connection in a blocking thread; SQLite stops it (a 503) once it runs
    /// longer than the time limit.
    pub async fn read<T, F>(self: &Arc<Self>, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, QueryError> + Send + 'static,
    {
        let db = self.clone();
        tokio::task::spawn_blocking(move || {
            db.ensure_ready()?;
            let mut conn = db.take()?;
            let deadline = Instant::now() + db.timeout;
            conn.progress_handler(1000, Some(move || Instant::now() > deadline))?;
            let result = f(&conn).map_err(ApiError::from);
            conn.progress_handler(0, None::<fn() -> bool>)?;
            db.give_back(conn);
            result
        })
        .await
        .map_err(ApiError::internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_store_created_after_the_start_is_served_once_it_exists() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.sqlite");
        let db = Db::open(&path, Duration::from_secs(1), 10).unwrap();
        let count = || {
            db.read(|c| {
                Ok(c.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0))?)
            })
        };
        let early = count().await.unwrap_err();
        assert_eq!(early.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            early.message.contains("does not exist yet"),
            "{}",
            early.message
        );
        // An empty file (its creator has not written the schema yet) is still waited for.
        std::fs::write(&path, b"").unwrap();
        assert_eq!(
            count().await.unwrap_err().status,
            axum::http::StatusCode::SERVICE_UNAVAILABLE
        );
        std::fs::remove_file(&path).unwrap();
        drop(store::open(&path, &[]).unwrap());
        assert_eq!(count().await.unwrap(), 0);
    }

    #[test]
    fn a_database_that_is_not_a_store_is_refused_at_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("other.sqlite");
        let other = Connection::open(&path).unwrap();
        other.execute_batch("CREATE TABLE t (x)").unwrap();
        drop(other);
        let err = Db::open(&path, Duration::from_secs(1), 10).err().unwrap();
        assert!(err.to_string().contains("not a recce7 store"), "{err}");
        std::fs::write(&path, b"not sqlite at all, but long enough to have a header ...........................................................................").unwrap();
        assert!(Db::open(&path, Duration::from_secs(1), 10).is_err());
    }

    #[tokio::test]
    async fn a_query_past_the_time_limit_is_stopped_with_a_503() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        drop(store::open(&path, &[]).unwrap());
        let db = Db::open(&path, Duration::from_millis(50), 10).unwrap();
        let started = Instant::now();
        let endless = db
            .read(|c| {
                Ok(c.query_row(
                    "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n",
                    [],
                    |r| r.get::<_, i64>(0),
                )?)
            })
            .await;
        let err = endless.unwrap_err();
        assert_eq!(err.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() < Duration::from_secs(5));
        // The connection is usable afterwards (the handler was removed).
        let one = db
            .read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await;
        assert_eq!(one.unwrap(), 1);
        // It never writes.
        let write = db
            .read(|c| Ok(c.execute("DELETE FROM sessions", [])?))
            .await;
        assert_eq!(
            write.unwrap_err().status,
            axum::http::StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
