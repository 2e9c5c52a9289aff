//! The store's schema: RECCE7's fixed tables (`sessions`, `p0f`, `ipInfo`), the raw-input table,
//! the packet capture's `fingerprints` and `scans`, the shell's `files` (written files) and
//! `downloads` (URLs named to download commands), and one table per plug-in instance, created or migrated at start-up.
//!
//! Identifiers that come from configuration are checked with [`is_safe_identifier`] before they
//! reach SQL, and quoted as well; values are always bound parameters.

use std::fmt;

use rusqlite::Connection;

use crate::StoreError;

/// Columns every per-instance table starts with, in RECCE7's order, then ours.
/// `ID, session, eventDateTime, peerAddress, localAddress` are RECCE7's; `peerPort`, `localPort`,
/// `eventId` and `eventType` are what a row needs to stand alone.
pub const FIXED_COLUMNS: [(&str, &str); 9] = [
    ("ID", "INTEGER PRIMARY KEY"),
    ("session", "TEXT NOT NULL"),
    ("eventDateTime", "TEXT NOT NULL"),
    ("peerAddress", "TEXT NOT NULL"),
    ("localAddress", "TEXT NOT NULL"),
    ("peerPort", "INTEGER"),
    ("localPort", "INTEGER"),
    ("eventId", "TEXT"),
    ("eventType", "TEXT"),
];

/// Tables the store owns; a plug-in instance may not use these names.
pub const RESERVED_TABLES: [&str; 10] = [
    "sessions",
    "p0f",
    "ipInfo",
    "rawInput",
    "storeMeta",
    "outbox",
    "fingerprints",
    "scans",
    "files",
    "downloads",
];

/// Tables only the central store has (the normalizer's: deduplication, quarantine, mnemosyne's
/// records), on top of [`RESERVED_TABLES`].
pub const CENTRAL_TABLES: [&str; 3] = ["received", "quarantine", "mnemosyneSessions"];

/// Bumped when the fixed tables change; recorded in `storeMeta`.
pub const STORE_VERSION: i64 = 5;

/// The SQLite storage class of a configured column. RECCE7's configs used these names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Text (UTF-8).
    Text,
    /// A 64-bit integer.
    Integer,
    /// A float.
    Real,
    /// Raw bytes.
    Blob,
}

impl ColumnType {
    /// Parses a type name case-insensitively (`TEXT`, `INTEGER`, `REAL`, `BLOB`, and `INT`).
    pub fn parse(name: &str) -> Option<ColumnType> {
        match name.to_ascii_uppercase().as_str() {
            "TEXT" => Some(ColumnType::Text),
            "INTEGER" | "INT" => Some(ColumnType::Integer),
            "REAL" => Some(ColumnType::Real),
            "BLOB" => Some(ColumnType::Blob),
            _ => None,
        }
    }

    /// The SQL spelling.
    pub fn sql(self) -> &'static str {
        match self {
            ColumnType::Text => "TEXT",
            ColumnType::Integer => "INTEGER",
            ColumnType::Real => "REAL",
            ColumnType::Blob => "BLOB",
        }
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.sql())
    }
}

/// One configured column of a plug-in instance's table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The column name (a safe identifier).
    pub name: String,
    /// Its type.
    pub kind: ColumnType,
}

impl Column {
    /// A column from a name and a type.
    pub fn new(name: impl Into<String>, kind: ColumnType) -> Column {
        Column {
            name: name.into(),
            kind,
        }
    }
}

/// A plug-in instance's table: its name and its configured columns (after the fixed ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// The table name (a safe identifier, not reserved).
    pub name: String,
    /// The configured columns, in order.
    pub columns: Vec<Column>,
}

/// True for names that are safe as SQL identifiers everywhere: an ASCII letter or `_`, then
/// letters, digits or `_`, at most 64 bytes, and not a keyword SQLite reserves.
pub fn is_safe_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_');
    first_ok
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.to_ascii_lowercase().starts_with("sqlite_")
        && !SQL_KEYWORDS.contains(&name.to_ascii_uppercase().as_str())
}

/// Keywords that would need quoting; refusing them keeps hand-written queries simple.
const SQL_KEYWORDS: &[&str] = &[
    "ABORT",
    "ACTION",
    "ADD",
    "AFTER",
    "ALL",
    "ALTER",
    "ANALYZE",
    "AND",
    "AS",
    "ASC",
    "ATTACH",
    "AUTOINCREMENT",
    "BEFORE",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASCADE",
    "CASE",
    "CAST",
    "CHECK",
    "COLLATE",
    "COLUMN",
    "COMMIT",
    "CONFLICT",
    "CONSTRAINT",
    "CREATE",
    "CROSS",
    "CURRENT",
    "DATABASE",
    "DEFAULT",
    "DEFERRABLE",
    "DEFERRED",
    "DELETE",
    "DESC",
    "DETACH",
    "DISTINCT",
    "DO",
    "DROP",
    "EACH",
    "ELSE",
    "END",
    "ESCAPE",
    "EXCEPT",
    "EXCLUSIVE",
    "EXISTS",
    "EXPLAIN",
    "FAIL",
    "FILTER",
    "FOR",
    "FOREIGN",
    "FROM",
    "FULL",
    "GLOB",
    "GROUP",
    "HAVING",
    "IF",
    "IGNORE",
    "IMMEDIATE",
    "IN",
    "INDEX",
    "INDEXED",
    "INITIALLY",
    "INNER",
    "INSERT",
    "INSTEAD",
    "INTERSECT",
    "INTO",
    "IS",
    "ISNULL",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "LIMIT",
    "MATCH",
    "NATURAL",
    "NO",
    "NOT",
    "NOTHING",
    "NOTNULL",
    "NULL",
    "OF",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "OUTER",
    "OVER",
    "PLAN",
    "PRAGMA",
    "PRIMARY",
    "QUERY",
    "RAISE",
    "RECURSIVE",
    "REFERENCES",
    "REGEXP",
    "REINDEX",
    "RELEASE",
    "RENAME",
    "REPLACE",
    "RESTRICT",
    "RETURNING",
    "RIGHT",
    "ROLLBACK",
    "ROW",
    "ROWS",
    "SAVEPOINT",
    "SELECT",
    "SET",
    "TABLE",
    "TEMP",
    "TEMPORARY",
    "THEN",
    "TO",
    "TRANSACTION",
    "TRIGGER",
    "UNION",
    "UNIQUE",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "VIEW",
    "VIRTUAL",
    "WHEN",
    "WHERE",
    "WINDOW",
    "WITH",
    "WITHOUT",
];

/// True when `name` clashes with a fixed column of every instance table (case-insensitively,
/// as SQLite compares names).
pub fn is_fixed_column(name: &str) -> bool {
    FIXED_COLUMNS
        .iter()
        .any(|(fixed, _)| fixed.eq_ignore_ascii_case(name))
}

/// True when `name` is one of the store's own tables (case-insensitively).
pub fn is_reserved_table(name: &str) -> bool {
    RESERVED_TABLES.iter().any(|t| t.eq_ignore_ascii_case(name))
}

/// Whether `name` is one of the store's own tables, a sensor's or the central store's
/// (case-insensitive): never a plug-in instance's table. The one list the normalizer (which
/// refuses such an instance table) and the report service (which lists instance tables) share.
pub fn is_store_table(name: &str) -> bool {
    is_reserved_table(name) || CENTRAL_TABLES.iter().any(|t| t.eq_ignore_ascii_case(name))
}

const FIXED_TABLES: &str = "
CREATE TABLE IF NOT EXISTS storeMeta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (
    session TEXT PRIMARY KEY,
    sensor TEXT NOT NULL,
    plugin TEXT NOT NULL,
    tableName TEXT,
    protocol TEXT NOT NULL,
    peerAddress TEXT NOT NULL,
    peerPort INTEGER NOT NULL,
    localAddress TEXT NOT NULL,
    localPort INTEGER NOT NULL,
    startTime TEXT NOT NULL,
    endTime TEXT,
    bytesIn INTEGER,
    bytesOut INTEGER,
    closeReason TEXT,
    linkedSession TEXT,
    ident TEXT
);
CREATE INDEX IF NOT EXISTS sessions_startTime ON sessions (startTime);
CREATE INDEX IF NOT EXISTS sessions_peer ON sessions (peerAddress, startTime);
CREATE INDEX IF NOT EXISTS sessions_port ON sessions (localPort, startTime);
CREATE TABLE IF NOT EXISTS rawInput (
    ID INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    eventDateTime TEXT NOT NULL,
    peerAddress TEXT NOT NULL,
    localAddress TEXT NOT NULL,
    peerPort INTEGER,
    localPort INTEGER,
    eventId TEXT,
    plugin TEXT NOT NULL,
    reason TEXT,
    length INTEGER NOT NULL,
    bytes TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS rawInput_session ON rawInput (session);
CREATE TABLE IF NOT EXISTS p0f (
    ID INTEGER PRIMARY KEY,
    session TEXT,
    eventDateTime TEXT NOT NULL,
    peerAddress TEXT NOT NULL,
    localAddress TEXT,
    peerPort INTEGER,
    localPort INTEGER,
    os TEXT,
    distance INTEGER,
    rawSignature TEXT,
    eventId TEXT,
    quality TEXT,
    osClass TEXT
);
CREATE INDEX IF NOT EXISTS p0f_peer ON p0f (peerAddress);
CREATE INDEX IF NOT EXISTS p0f_session ON p0f (session);
CREATE INDEX IF NOT EXISTS p0f_time ON p0f (eventDateTime);
CREATE TABLE IF NOT EXISTS fingerprints (
    ID INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    eventDateTime TEXT NOT NULL,
    peerAddress TEXT NOT NULL,
    localAddress TEXT NOT NULL,
    peerPort INTEGER,
    localPort INTEGER,
    eventId TEXT,
    kind TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    detail TEXT,
    sni TEXT,
    claimedOs TEXT,
    tcpOs TEXT,
    contradiction INTEGER
);
CREATE INDEX IF NOT EXISTS fingerprints_session ON fingerprints (session);
CREATE INDEX IF NOT EXISTS fingerprints_peer ON fingerprints (peerAddress);
CREATE TABLE IF NOT EXISTS scans (
    ID INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    eventDateTime TEXT NOT NULL,
    peerAddress TEXT NOT NULL,
    localAddress TEXT NOT NULL,
    eventId TEXT,
    sensor TEXT,
    kind TEXT NOT NULL,
    ports TEXT NOT NULL,
    portCount INTEGER NOT NULL,
    packets INTEGER NOT NULL,
    firstSeen TEXT NOT NULL,
    lastSeen TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS scans_time ON scans (eventDateTime);
CREATE INDEX IF NOT EXISTS scans_peer ON scans (peerAddress, eventDateTime);
CREATE INDEX IF NOT EXISTS scans_session ON scans (session);
CREATE TABLE IF NOT EXISTS files (
    ID INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    eventDateTime TEXT NOT NULL,
    peerAddress TEXT NOT NULL,
    localAddress TEXT NOT NULL,
    peerPort INTEGER,
    localPort INTEGER,
    eventId TEXT,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data BLOB,
    truncated INTEGER NOT NULL,
    via TEXT
);
CREATE INDEX IF NOT EXISTS files_session ON files (session);
CREATE INDEX IF NOT EXISTS files_sha256 ON files (sha256);
CREATE INDEX IF NOT EXISTS files_time ON files (eventDateTime);
CREATE INDEX IF NOT EXISTS files_peer ON files (peerAddress, eventDateTime);
CREATE TABLE IF NOT EXISTS downloads (
    ID INTEGER PRIMARY KEY,
    session TEXT NOT NULL,
    eventDateTime TEXT NOT NULL,
    peerAddress TEXT NOT NULL,
    localAddress TEXT NOT NULL,
    peerPort INTEGER,
    localPort INTEGER,
    eventId TEXT,
    url TEXT NOT NULL,
    command TEXT
);
CREATE INDEX IF NOT EXISTS downloads_session ON downloads (session);
CREATE INDEX IF NOT EXISTS downloads_url ON downloads (url);
CREATE INDEX IF NOT EXISTS downloads_time_url ON downloads (eventDateTime, url);
CREATE INDEX IF NOT EXISTS downloads_peer ON downloads (peerAddress, eventDateTime);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    eventId TEXT NOT NULL,
    eventDateTime TEXT NOT NULL,
    payload TEXT NOT NULL,
    sentMicros INTEGER,
    session TEXT
);
CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (seq) WHERE sentMicros IS NULL;
CREATE INDEX IF NOT EXISTS outbox_sent ON outbox (sentMicros) WHERE sentMicros IS NOT NULL;
CREATE TABLE IF NOT EXISTS ipInfo (
    ipAddress TEXT PRIMARY KEY,
    firstSeen TEXT NOT NULL,
    lastSeen TEXT NOT NULL,
    city TEXT,
    region TEXT,
    country TEXT,
    countryCode TEXT,
    latitude REAL,
    longitude REAL,
    org TEXT,
    asn INTEGER,
    updated TEXT
);
";

/// Creates the fixed tables if missing and records the store version.
pub fn create_fixed_tables(conn: &Connection) -> Result<(), StoreError> {
    // Version 5 (issue 18) added `files` and `downloads` (the URL rides in `downloads`' time
    // index, so that a URL substring search over a window reads the index alone: over 200,000
    // rows in 30 days, 1.7 s through a time-only index, a table read per row; 0.14 s with it).
    // Before it, a plug-in instance could have a table of either name; `CREATE TABLE IF NOT
    // EXISTS` would keep that one and every insert would fail, so say so at start-up instead.
    for (table, column) in [("files", "sha256"), ("downloads", "url")] {
        let existing = table_columns(conn, table)?;
        if !existing.is_empty()
            && !existing
                .iter()
                .any(|(name, _)| name.eq_ignore_ascii_case(column))
        {
            return Err(StoreError::TableTaken(table.to_owned()));
        }
    }
    conn.execute_batch(FIXED_TABLES)?;
    // Version 2 added the publisher's hpfeeds ident to `sessions` (set in a central store).
    let sessions = table_columns(conn, "sessions")?;
    if !sessions
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("ident"))
    {
        conn.execute_batch("ALTER TABLE sessions ADD COLUMN ident TEXT")?;
    }
    // Version 3 added each outbox row's session, so retention can tell (through an index) which
    // sessions still have events waiting to be published; older rows get it from their JSON.
    let outbox = table_columns(conn, "outbox")?;
    if !outbox
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("session"))
    {
        conn.execute_batch(
            "ALTER TABLE outbox ADD COLUMN session TEXT;
             UPDATE outbox SET session = json_extract(payload, '$.session');",
        )?;
    }
    conn.execute_batch(
        "CREATE INDEX IF NOT EXISTS outbox_unsent_session ON outbox (session) WHERE sentMicros IS NULL",
    )?;
    // Version 4 (packet capture) added the event id, match quality and OS class to `p0f`.
    let p0f = table_columns(conn, "p0f")?;
    for column in ["eventId", "quality", "osClass"] {
        if !p0f
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case(column))
        {
            conn.execute_batch(&format!("ALTER TABLE p0f ADD COLUMN {column} TEXT"))?;
        }
    }
    crate::meta::write_version(conn, STORE_VERSION)
}

/// What [`migrate_table`] did, for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migration {
    /// The table did not exist and was created.
    Created,
    /// The table already had exactly these columns.
    Unchanged,
    /// Columns were added in place (`ALTER TABLE ADD COLUMN`); existing rows kept.
    Added(Vec<String>),
    /// Columns were removed, reordered or retyped: the table was rebuilt and every row copied
    /// (values of columns that still exist kept; removed columns' values dropped).
    Rebuilt {
        /// Rows copied into the new table.
        rows: u64,
        /// Columns that no longer exist.
        removed: Vec<String>,
    },
}

fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn create_sql(spec: &TableSpec, name: &str) -> String {
    let mut cols: Vec<String> = FIXED_COLUMNS
        .iter()
        .map(|(n, t)| format!("{} {t}", quote(n)))
        .collect();
    cols.extend(
        spec.columns
            .iter()
            .map(|c| format!("{} {}", quote(&c.name), c.kind.sql())),
    );
    format!("CREATE TABLE {} ({})", quote(name), cols.join(", "))
}

/// Existing columns of `table` as (name, declared type), in order; empty when it does not exist.
pub fn table_columns(conn: &Connection, table: &str) -> Result<Vec<(String, String)>, StoreError> {
    let mut stmt = conn.prepare("SELECT name, type FROM pragma_table_info(?1) ORDER BY cid")?;
    let rows = stmt.query_map([table], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

/// Creates `spec`'s table or migrates it to `spec`'s columns, keeping its rows. RECCE7 truncated
/// a table whose columns changed; we add columns in place when that is all that changed, and
/// otherwise rebuild the table in one transaction, copying every row.
/// Call it inside a transaction (or savepoint): a rebuild is several statements.
pub fn migrate_table(tx: &Connection, spec: &TableSpec) -> Result<Migration, StoreError> {
    if !is_safe_identifier(&spec.name) || is_reserved_table(&spec.name) {
        return Err(StoreError::BadIdentifier(spec.name.clone()));
    }
    if let Some(bad) = spec
        .columns
        .iter()
        .find(|c| !is_safe_identifier(&c.name) || is_fixed_column(&c.name))
    {
        return Err(StoreError::BadIdentifier(bad.name.clone()));
    }
    let existing = table_columns(tx, &spec.name)?;
    // By session (a session's rows) and by time (the report service's windows).
    let index = format!(
        "CREATE INDEX IF NOT EXISTS {} ON {} (session); CREATE INDEX IF NOT EXISTS {} ON {} (eventDateTime)",
        quote(&format!("{}_session", spec.name)),
        quote(&spec.name),
        quote(&format!("{}_time", spec.name)),
        quote(&spec.name)
    );
    if existing.is_empty() {
        tx.execute_batch(&create_sql(spec, &spec.name))?;
        tx.execute_batch(&index)?;
        return Ok(Migration::Created);
    }
    let wanted: Vec<(String, String)> = FIXED_COLUMNS
        .iter()
        .map(|(n, t)| {
            let ty = t.split_whitespace().next().unwrap_or(t);
            ((*n).to_owned(), ty.to_owned())
        })
        .chain(
            spec.columns
                .iter()
                .map(|c| (c.name.clone(), c.kind.sql().to_owned())),
        )
        .collect();
    let same = |a: &(String, String), b: &(String, String)| {
        a.0.eq_ignore_ascii_case(&b.0) && a.1.eq_ignore_ascii_case(&b.1)
    };
    if existing.len() == wanted.len() && existing.iter().zip(&wanted).all(|(a, b)| same(a, b)) {
        tx.execute_batch(&index)?;
        return Ok(Migration::Unchanged);
    }
    // Only new columns at the end: add them in place.
    if existing.len() < wanted.len() && existing.iter().zip(&wanted).all(|(a, b)| same(a, b)) {
        let added: Vec<String> = wanted[existing.len()..]
            .iter()
            .map(|c| c.0.clone())
            .collect();
        for (name, ty) in &wanted[existing.len()..] {
            tx.execute_batch(&format!(
                "ALTER TABLE {} ADD COLUMN {} {ty}",
                quote(&spec.name),
                quote(name)
            ))?;
        }
        tx.execute_batch(&index)?;
        return Ok(Migration::Added(added));
    }
    // Anything else: rebuild, copying the columns both versions have.
    let temp = format!("{}__migrating", spec.name);
    tx.execute_batch(&format!("DROP TABLE IF EXISTS {}", quote(&temp)))?;
    tx.execute_batch(&create_sql(spec, &temp))?;
    let common: Vec<String> = wanted
        .iter()
        .filter(|w| existing.iter().any(|e| e.0.eq_ignore_ascii_case(&w.0)))
        .map(|w| quote(&w.0))
        .collect();
    let removed: Vec<String> = existing
        .iter()
        .filter(|e| !wanted.iter().any(|w| w.0.eq_ignore_ascii_case(&e.0)))
        .map(|e| e.0.clone())
        .collect();
    let list = common.join(", ");
    let rows = tx.execute(
        &format!(
            "INSERT INTO {} ({list}) SELECT {list} FROM {}",
            quote(&temp),
            quote(&spec.name)
        ),
        [],
    )? as u64;
    tx.execute_batch(&format!(
        "DROP TABLE {}; ALTER TABLE {} RENAME TO {};",
        quote(&spec.name),
        quote(&temp),
        quote(&spec.name)
    ))?;
    tx.execute_batch(&index)?;
    Ok(Migration::Rebuilt { rows, removed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cols: &[(&str, ColumnType)]) -> TableSpec {
        TableSpec {
            name: "telnet".into(),
            columns: cols.iter().map(|(n, t)| Column::new(*n, *t)).collect(),
        }
    }

    fn insert(conn: &Connection, user_input: &str) {
        conn.execute(
            "INSERT INTO telnet (session, eventDateTime, peerAddress, localAddress, user_input)
             VALUES ('s', 't', '1.2.3.4', '127.0.0.1', ?1)",
            [user_input],
        )
        .unwrap();
    }

    #[test]
    fn identifiers() {
        for ok in ["http", "HTTP", "telnet_2", "_x", "user_input"] {
            assert!(is_safe_identifier(ok), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "a-b",
            "a b",
            "x;DROP",
            "select",
            "Table",
            "sqlite_master",
            "é",
        ] {
            assert!(!is_safe_identifier(bad), "{bad}");
        }
        assert!(is_safe_identifier(&"a".repeat(64)));
        assert!(!is_safe_identifier(&"a".repeat(65)));
        assert!(is_fixed_column("id") && is_fixed_column("eventDateTime"));
        assert!(is_reserved_table("Sessions"));
        // The central store's own tables are store tables, but a sensor may still name an
        // instance table after one (as before).
        assert!(is_store_table("Sessions") && is_store_table("QUARANTINE"));
        assert!(!is_reserved_table("quarantine"));
        assert!(!is_store_table("telnet"));
    }

    #[test]
    fn create_add_and_rebuild_keep_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        create_fixed_tables(&conn).unwrap();
        let v1 = spec(&[
            ("input_type", ColumnType::Text),
            ("user_input", ColumnType::Text),
        ]);
        let tx = conn.transaction().unwrap();
        assert_eq!(migrate_table(&tx, &v1).unwrap(), Migration::Created);
        tx.commit().unwrap();
        insert(&conn, "root");

        let tx = conn.transaction().unwrap();
        assert_eq!(migrate_table(&tx, &v1).unwrap(), Migration::Unchanged);
        tx.commit().unwrap();

        let mut v2 = v1.clone();
        v2.columns.push(Column::new("password", ColumnType::Text));
        let tx = conn.transaction().unwrap();
        assert_eq!(
            migrate_table(&tx, &v2).unwrap(),
            Migration::Added(vec!["password".into()])
        );
        tx.commit().unwrap();
        insert(&conn, "admin");

        // Drop input_type and retype nothing else: a rebuild that keeps both rows.
        let v3 = spec(&[
            ("user_input", ColumnType::Text),
            ("password", ColumnType::Text),
        ]);
        let tx = conn.transaction().unwrap();
        assert_eq!(
            migrate_table(&tx, &v3).unwrap(),
            Migration::Rebuilt {
                rows: 2,
                removed: vec!["input_type".into()]
            }
        );
        tx.commit().unwrap();
        let inputs: Vec<String> = conn
            .prepare("SELECT user_input FROM telnet ORDER BY ID")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(inputs, ["root", "admin"]);
        let cols: Vec<String> = table_columns(&conn, "telnet")
            .unwrap()
            .into_iter()
            .map(|c| c.0)
            .collect();
        assert_eq!(cols.len(), FIXED_COLUMNS.len() + 2);
        assert_eq!(cols.last().map(String::as_str), Some("password"));
    }

    #[test]
    fn an_older_outbox_learns_each_rows_session() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE outbox (seq INTEGER PRIMARY KEY AUTOINCREMENT, eventId TEXT NOT NULL,
             eventDateTime TEXT NOT NULL, payload TEXT NOT NULL, sentMicros INTEGER);
             INSERT INTO outbox (eventId, eventDateTime, payload)
             VALUES ('e1', 't', '{\"session\": \"s-1\", \"type\": \"session.start\"}');",
        )
        .unwrap();
        create_fixed_tables(&conn).unwrap();
        create_fixed_tables(&conn).unwrap();
        let session: String = conn
            .query_row("SELECT session FROM outbox", [], |r| r.get(0))
            .unwrap();
        assert_eq!(session, "s-1");
        let version: String = conn
            .query_row(
                "SELECT value FROM storeMeta WHERE key = 'version'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(version, STORE_VERSION.to_string());
    }

    #[test]
    fn a_version_4_store_gains_files_and_downloads_and_a_taken_name_is_refused() {
        let conn = Connection::open_in_memory().unwrap();
        create_fixed_tables(&conn).unwrap();
        conn.execute_batch(
            "DROP TABLE files; DROP TABLE downloads;
             UPDATE storeMeta SET value = '4' WHERE key = 'version';",
        )
        .unwrap();
        create_fixed_tables(&conn).unwrap();
        for table in ["files", "downloads"] {
            assert!(!table_columns(&conn, table).unwrap().is_empty(), "{table}");
        }
        let indexes: Vec<String> = conn
            .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name IN ('files', 'downloads') ORDER BY name")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        for index in [
            "files_sha256",
            "files_session",
            "downloads_url",
            "downloads_session",
        ] {
            assert!(indexes.iter().any(|i| i == index), "{index} in {indexes:?}");
        }
        assert_eq!(
            crate::meta::read_version(&conn).unwrap(),
            Some(STORE_VERSION)
        );
        assert!(is_reserved_table("Files") && is_reserved_table("downloads"));

        // An older sensor's plug-in instance table named `files`.
        let old = Connection::open_in_memory().unwrap();
        let mut spec = spec(&[("user_input", ColumnType::Text)]);
        spec.name = "files".into();
        old.execute_batch(&create_sql(&spec, "files")).unwrap();
        assert!(matches!(
            create_fixed_tables(&old),
            Err(StoreError::TableTaken(t)) if t == "files"
        ));
    }

    #[test]
    fn refuses_unsafe_names() {
        let mut conn = Connection::open_in_memory().unwrap();
        let tx = conn.transaction().unwrap();
        let bad = TableSpec {
            name: "x\"; DROP TABLE sessions; --".into(),
            columns: vec![],
        };
        assert!(matches!(
            migrate_table(&tx, &bad),
            Err(StoreError::BadIdentifier(_))
        ));
        let reserved = TableSpec {
            name: "sessions".into(),
            columns: vec![],
        };
        assert!(migrate_table(&tx, &reserved).is_err());
    }
}
