//! What attackers left in the shell: files written (`files`: path, size, SHA-256, the bytes up
//! to the sensor's cap) and URLs named to download commands (`downloads`). A store written
//! before these tables existed answers empty lists and zero counts, never an error.
//!
//! The bytes of a file are never part of a JSON answer: lists say how many were kept
//! (`storedBytes`), and [`file_bytes`] gives them to the one endpoint that serves them as an
//! attachment.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{Filter, KeyCount, Page, ScanCursor, columns};
use crate::QueryError;
use crate::budget::cap_string;

/// The sessions of a sensor, for tables without a `sensor` column.
const SENSOR_SESSIONS: &str =
    "(?2 IS NULL OR session IN (SELECT session FROM sessions WHERE sensor = ?2))";

/// One file an attacker wrote (a `files` row).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FileOut {
    /// The SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
    /// The whole file's size in bytes.
    pub size: i64,
    /// Bytes kept in the store (at most the sensor's cap); `GET /v1/files/{sha256}` gives them.
    pub stored_bytes: i64,
    /// True when the file was larger than what was kept.
    pub truncated: bool,
    /// Where the attacker wrote it (escaped as the sensor records text).
    pub path: String,
    /// How: `redirect`, `tee`, `cp`, `scp`, `sftp`, ...
    pub via: Option<String>,
    /// The session that wrote it.
    pub session: String,
    /// The attacker's address.
    pub peer_address: String,
    /// The sensor's port (the front door: telnet, SSH).
    pub local_port: Option<i64>,
    /// When it was written, UTC RFC 3339.
    pub time: String,
    /// The row's `ID`, for the list's cursor.
    #[serde(skip)]
    pub row_id: i64,
}

/// One URL named to a download command (a `downloads` row): never fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadOut {
    /// The URL as typed (escaped as the sensor records text).
    pub url: String,
    /// The command: `wget`, `curl`, `tftp`, `ftpget`, ...
    pub command: Option<String>,
    /// The session that named it.
    pub session: String,
    /// The attacker's address.
    pub peer_address: String,
    /// The sensor's port.
    pub local_port: Option<i64>,
    /// When, UTC RFC 3339.
    pub time: String,
    /// The row's `ID`, for the list's cursor.
    #[serde(skip)]
    pub row_id: i64,
}

/// The files list's own filters, on top of the window and the sensor.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    /// Only files with this SHA-256 (lowercase hex; checked by the API).
    pub sha256: Option<String>,
    /// Only from this address (canonical form; checked by the API).
    pub address: Option<String>,
}

/// The downloads list's own filters, on top of the window and the sensor.
#[derive(Debug, Clone, Default)]
pub struct DownloadFilter {
    /// Only URLs containing this text (case-sensitive, no wildcards).
    pub url: Option<String>,
    /// Only from this address (canonical form; checked by the API).
    pub address: Option<String>,
}

/// True when the store has `table` (a store older than issue 18 has neither).
fn has_table(conn: &Connection, table: &str) -> Result<bool, QueryError> {
    Ok(!columns(conn, table)?.is_empty())
}

impl FileOut {
    fn cap(&mut self, cap: usize) {
        for s in [
            &mut self.sha256,
            &mut self.path,
            &mut self.session,
            &mut self.peer_address,
            &mut self.time,
        ] {
            cap_string(s, cap);
        }
        if let Some(s) = &mut self.via {
            cap_string(s, cap);
        }
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileOut> {
        Ok(FileOut {
            row_id: r.get(0)?,
            sha256: r.get(1)?,
            size: r.get(2)?,
            stored_bytes: r.get::<_, Option<i64>>(3)?.unwrap_or(0),
            truncated: r.get::<_, Option<bool>>(4)?.unwrap_or(false),
            path: r.get(5)?,
            via: r.get(6)?,
            session: r.get(7)?,
            peer_address: r.get(8)?,
            local_port: r.get(9)?,
            time: r.get(10)?,
        })
    }
}

impl DownloadOut {
    fn cap(&mut self, cap: usize) {
        for s in [
            &mut self.url,
            &mut self.session,
            &mut self.peer_address,
            &mut self.time,
        ] {
            cap_string(s, cap);
        }
        if let Some(s) = &mut self.command {
            cap_string(s, cap);
        }
    }

    fn from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<DownloadOut> {
        Ok(DownloadOut {
            row_id: r.get(0)?,
            url: r.get(1)?,
            command: r.get(2)?,
            session: r.get(3)?,
            peer_address: r.get(4)?,
            local_port: r.get(5)?,
            time: r.get(6)?,
        })
    }
}

const FILE_COLUMNS: &str = "ID, sha256, size, length(data), truncated, path, via, session,
    peerAddress, localPort, eventDateTime";

const DOWNLOAD_COLUMNS: &str = "ID, url, command, session, peerAddress, localPort, eventDateTime";

/// The cursor that continues a files list after `f`, as handed out (`time~ID`).
pub fn file_cursor(f: &FileOut) -> String {
    ScanCursor {
        time: f.time.clone(),
        id: f.row_id,
    }
    .to_string()
}

/// The cursor that continues a downloads list after `d`, as handed out (`time~ID`).
pub fn download_cursor(d: &DownloadOut) -> String {
    ScanCursor {
        time: d.time.clone(),
        id: d.row_id,
    }
    .to_string()
}

/// Files written in the window, newest first, `limit` of them after `cursor`, text cut to
/// `cap` bytes; an empty list when the store has no `files` table.
pub fn files(
    conn: &Connection,
    f: &Filter,
    filter: &FileFilter,
    limit: usize,
    cursor: Option<&ScanCursor>,
    cap: usize,
) -> Page<FileOut> {
    if !has_table(conn, "files")? {
        return Ok((Vec::new(), None));
    }
    let (after_time, after_id) = cursor.map(|c| (c.time.as_str(), c.id)).unzip();
    let sql = format!(
        "SELECT {FILE_COLUMNS} FROM files
         WHERE eventDateTime >= ?1 AND {SENSOR_SESSIONS}
           AND (?3 IS NULL OR sha256 = ?3) AND (?4 IS NULL OR peerAddress = ?4)
           AND (?5 IS NULL OR eventDateTime < ?5 OR (eventDateTime = ?5 AND ID < ?6))
         ORDER BY eventDateTime DESC, ID DESC LIMIT ?7"
    );
    let mut found: Vec<FileOut> = conn
        .prepare_cached(&sql)?
        .query_map(
            params![
                f.since,
                f.sensor,
                filter.sha256,
                filter.address,
                after_time,
                after_id,
                (limit + 1) as i64
            ],
            FileOut::from_row,
        )?
        .collect::<Result<_, _>>()?;
    let next = if found.len() > limit {
        found.truncate(limit);
        found.last().map(file_cursor)
    } else {
        None
    };
    for file in &mut found {
        file.cap(cap);
    }
    Ok((found, next))
}

/// URLs named in the window, newest first, `limit` of them after `cursor`, text cut to `cap`
/// bytes; an empty list when the store has no `downloads` table.
pub fn downloads(
    conn: &Connection,
    f: &Filter,
    filter: &DownloadFilter,
    limit: usize,
    cursor: Option<&ScanCursor>,
    cap: usize,
) -> Page<DownloadOut> {
    if !has_table(conn, "downloads")? {
        return Ok((Vec::new(), None));
    }
    let (after_time, after_id) = cursor.map(|c| (c.time.as_str(), c.id)).unzip();
    let sql = format!(
        "SELECT {DOWNLOAD_COLUMNS} FROM downloads
         WHERE eventDateTime >= ?1 AND {SENSOR_SESSIONS}
           AND (?3 IS NULL OR instr(url, ?3) > 0) AND (?4 IS NULL OR peerAddress = ?4)
           AND (?5 IS NULL OR eventDateTime < ?5 OR (eventDateTime = ?5 AND ID < ?6))
         ORDER BY eventDateTime DESC, ID DESC LIMIT ?7"
    );
    let mut found: Vec<DownloadOut> = conn
        .prepare_cached(&sql)?
        .query_map(
            params![
                f.since,
                f.sensor,
                filter.url,
                filter.address,
                after_time,
                after_id,
                (limit + 1) as i64
            ],
            DownloadOut::from_row,
        )?
        .collect::<Result<_, _>>()?;
    let next = if found.len() > limit {
        found.truncate(limit);
        found.last().map(download_cursor)
    } else {
        None
    };
    for d in &mut found {
        d.cap(cap);
    }
    Ok((found, next))
}

/// The files a session wrote, in order, at most `limit`, text cut to `cap` bytes.
pub fn session_files(
    conn: &Connection,
    session: &str,
    limit: usize,
    cap: usize,
) -> Result<Vec<FileOut>, QueryError> {
    if !has_table(conn, "files")? {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {FILE_COLUMNS} FROM files WHERE session = ?1 ORDER BY ID LIMIT ?2");
    let mut out: Vec<FileOut> = conn
        .prepare_cached(&sql)?
        .query_map(params![session, limit as i64], FileOut::from_row)?
        .collect::<Result<_, _>>()?;
    for file in &mut out {
        file.cap(cap);
    }
    Ok(out)
}

/// The URLs a session named, in order, at most `limit`, text cut to `cap` bytes.
pub fn session_downloads(
    conn: &Connection,
    session: &str,
    limit: usize,
    cap: usize,
) -> Result<Vec<DownloadOut>, QueryError> {
    if !has_table(conn, "downloads")? {
        return Ok(Vec::new());
    }
    let sql =
        format!("SELECT {DOWNLOAD_COLUMNS} FROM downloads WHERE session = ?1 ORDER BY ID LIMIT ?2");
    let mut out: Vec<DownloadOut> = conn
        .prepare_cached(&sql)?
        .query_map(params![session, limit as i64], DownloadOut::from_row)?
        .collect::<Result<_, _>>()?;
    for d in &mut out {
        d.cap(cap);
    }
    Ok(out)
}

/// The files `address` wrote in the window, newest first, at most `limit`.
pub fn address_files(
    conn: &Connection,
    address: &str,
    f: &Filter,
    limit: usize,
    cap: usize,
) -> Result<Vec<FileOut>, QueryError> {
    let filter = FileFilter {
        sha256: None,
        address: Some(address.to_owned()),
    };
    Ok(files(conn, f, &filter, limit, None, cap)?.0)
}

/// The URLs `address` named in the window, newest first, at most `limit`.
pub fn address_downloads(
    conn: &Connection,
    address: &str,
    f: &Filter,
    limit: usize,
    cap: usize,
) -> Result<Vec<DownloadOut>, QueryError> {
    let filter = DownloadFilter {
        url: None,
        address: Some(address.to_owned()),
    };
    Ok(downloads(conn, f, &filter, limit, None, cap)?.0)
}

/// The kept bytes of the file with this SHA-256 (the most complete copy when several sessions
/// wrote it), or `None` when no row has any.
pub fn file_bytes(conn: &Connection, sha256: &str) -> Result<Option<Vec<u8>>, QueryError> {
    if !has_table(conn, "files")? {
        return Ok(None);
    }
    let found = conn
        .prepare_cached(
            "SELECT data FROM files WHERE sha256 = ?1 AND data IS NOT NULL
             ORDER BY truncated, length(data) DESC, ID LIMIT 1",
        )?
        .query_row([sha256], |r| r.get::<_, Vec<u8>>(0))
        .optional()?;
    Ok(found)
}

/// Files written and URLs named in the window (zero for an older store).
pub fn file_and_download_counts(conn: &Connection, f: &Filter) -> Result<(i64, i64), QueryError> {
    let mut counts = [0i64; 2];
    for (slot, table) in counts.iter_mut().zip(["files", "downloads"]) {
        if has_table(conn, table)? {
            *slot = conn
                .prepare_cached(&format!(
                    "SELECT count(*) FROM {table} WHERE eventDateTime >= ?1 AND {SENSOR_SESSIONS}"
                ))?
                .query_row(params![f.since, f.sensor], |r| r.get(0))?;
        }
    }
    Ok((counts[0], counts[1]))
}

/// SSH logins in the window by the credential policy's outcome (`accepted`, `refused`), most
/// first: `ssh.login` rows of every instance table with an `outcome` column.
pub fn ssh_logins(conn: &Connection, f: &Filter) -> Result<Vec<KeyCount>, QueryError> {
    let mut parts = Vec::new();
    for table in super::instance_tables(conn)? {
        if columns(conn, &table)?.iter().any(|c| c == "outcome") {
            parts.push(format!(
                "SELECT outcome AS k FROM \"{table}\"
                 WHERE eventType = 'ssh.login' AND eventDateTime >= ?1 AND {SENSOR_SESSIONS}"
            ));
        }
    }
    if parts.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT coalesce(k, 'unknown'), count(*) FROM ({}) GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 16",
        parts.join(" UNION ALL ")
    );
    let out = conn
        .prepare_cached(&sql)?
        .query_map(params![f.since, f.sensor], |r| {
            let mut key: String = r.get(0)?;
            cap_string(&mut key, 64);
            Ok(KeyCount {
                key,
                count: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}
