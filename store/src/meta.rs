//! `storeMeta`: what a store says about itself, as typed keys. The only code that reads or
//! writes the table (it is created with the fixed tables in [`crate::schema`]).
//!
//! - `version`: the schema version ([`crate::schema::STORE_VERSION`]) the fixed tables have;
//! - `instances`: a sensor's enabled plug-in instances (name, kind, port, table), so the report
//!   service lists every enabled port, attacked or not, as RECCE7 did.

use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::StoreError;

const VERSION_KEY: &str = "version";
const INSTANCES_KEY: &str = "instances";

const READ: &str = "SELECT value FROM storeMeta WHERE key = ?1";

const WRITE: &str = "INSERT INTO storeMeta (key, value) VALUES (?1, ?2)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value";

/// One enabled plug-in instance of a sensor, as `storeMeta` records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceMeta {
    /// The plug-in kind (`telnet`, `http`, `rules`, ...).
    pub kind: String,
    /// The instance name.
    pub name: String,
    /// The port it listens on.
    pub port: u16,
    /// Its table.
    pub table: String,
}

fn read(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .prepare_cached(READ)?
        .query_row([key], |r| r.get(0))
        .optional()?)
}

fn write(conn: &Connection, key: &str, value: &str) -> Result<(), StoreError> {
    conn.prepare_cached(WRITE)?.execute([key, value])?;
    Ok(())
}

/// Records the schema version of the fixed tables.
pub fn write_version(conn: &Connection, version: i64) -> Result<(), StoreError> {
    write(conn, VERSION_KEY, &version.to_string())
}

/// The schema version recorded, if any (and if it is a number).
pub fn read_version(conn: &Connection) -> Result<Option<i64>, StoreError> {
    Ok(read(conn, VERSION_KEY)?.and_then(|v| v.parse().ok()))
}

/// Records a sensor's enabled plug-in instances (replacing the previous list).
pub fn write_instances(conn: &Connection, instances: &[InstanceMeta]) -> Result<(), StoreError> {
    let json = serde_json::to_string(instances).map_err(|e| StoreError::Json(e.to_string()))?;
    write(conn, INSTANCES_KEY, &json)
}

/// The enabled plug-in instances recorded, if any; `None` also when the value does not parse.
pub fn read_instances(conn: &Connection) -> Result<Option<Vec<InstanceMeta>>, StoreError> {
    Ok(read(conn, INSTANCES_KEY)?.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The ports of the enabled plug-in instances recorded (empty for a central store, which has
/// none). Lenient: an entry without a valid port is skipped, the rest still count.
pub fn instance_ports(conn: &Connection) -> Result<Vec<u16>, StoreError> {
    let Some(text) = read(conn, INSTANCES_KEY)? else {
        return Ok(Vec::new());
    };
    let Ok(list) = serde_json::from_str::<Vec<Value>>(&text) else {
        return Ok(Vec::new());
    };
    Ok(list
        .iter()
        .filter_map(|i| i["port"].as_u64())
        .filter_map(|p| u16::try_from(p).ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_and_instances_round_trip_and_ports_are_read_leniently() {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = crate::writer::open(&dir.path().join("m.sqlite"), &[]).unwrap();
        assert_eq!(
            read_version(&conn).unwrap(),
            Some(crate::schema::STORE_VERSION)
        );
        assert_eq!(read_instances(&conn).unwrap(), None);
        assert!(instance_ports(&conn).unwrap().is_empty());
        let list = vec![
            InstanceMeta {
                kind: "telnet".into(),
                name: "telnet".into(),
                port: 2323,
                table: "telnet".into(),
            },
            InstanceMeta {
                kind: "http".into(),
                name: "web".into(),
                port: 8080,
                table: "http".into(),
            },
        ];
        write_instances(&conn, &list).unwrap();
        write_instances(&conn, &list).unwrap();
        assert_eq!(read_instances(&conn).unwrap(), Some(list));
        assert_eq!(instance_ports(&conn).unwrap(), vec![2323, 8080]);
        // The same JSON the sensor wrote before this module existed.
        let raw: String = conn
            .query_row(
                "SELECT value FROM storeMeta WHERE key = 'instances'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(
            raw.starts_with(r#"[{"kind":"telnet","name":"telnet","port":2323,"table":"telnet"}"#)
        );
        write(
            &conn,
            INSTANCES_KEY,
            r#"[{"port": 70000}, {"name": "x"}, {"port": 21}]"#,
        )
        .unwrap();
        assert_eq!(instance_ports(&conn).unwrap(), vec![21]);
        write(&conn, INSTANCES_KEY, "not json").unwrap();
        assert!(instance_ports(&conn).unwrap().is_empty());
    }
}
