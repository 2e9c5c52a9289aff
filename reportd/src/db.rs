//! Read-only access to the store: a few connections opened read-only (`query_only` as well),
//! used from blocking threads, each query stopped when it runs past the time limit.

use std::path::{Path, PathBuf};
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
    /// The most rows one list returns.
    pub max_rows: usize,
}

impl Db {
    /// Opens `path` read-only (it must exist: a sensor or the normalizer creates it).
    pub fn open(path: &Path, timeout: Duration, max_rows: usize) -> Result<Arc<Db>, ReportError> {
        let db = Db {
            path: path.to_path_buf(),
            idle: Mutex::new(Vec::new()),
            timeout,
            max_rows,
        };
        let conn = db.connect().map_err(|e| ReportError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0))
            .map_err(|e| ReportError::Open {
                path: path.display().to_string(),
                reason: format!("not a recce7 store: {e}"),
            })?;
        db.give_back(conn);
        Ok(Arc::new(db))
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
