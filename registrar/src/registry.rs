//! The registry: the hpfeeds3 broker's SQLite auth store, and beside its `authkeys` table our
//! own `registrar_sensors`, in the same file so that a sensor's registration and its key are
//! written in one transaction (a crash leaves both or neither).
//!
//! The broker reads `authkeys` on every AUTH (`select * from authkeys where ident=?`, six
//! columns unpacked by position, lists as JSON text), so a key added here works at once and a
//! key deleted here fails the sensor's next AUTH; no restart. We never add columns to its
//! tables. When the file is new we create the broker's three tables exactly as hpfeeds3 does
//! (it creates them only when `logs` or `authkeys` is missing, and would fail on a half set).
//!
//! The file holds every sensor's secret: when the registrar creates it, it is mode 0600 (run
//! the broker as the same user).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use serde::Serialize;

use crate::error::RegistryError;

/// The owner written into each `authkeys` row (CHN writes `chn`).
pub const AUTHKEY_OWNER: &str = "recce7-registrar";

/// The characters of a generated secret.
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The length of a generated secret (CHN: 16; 32 gives 190 bits).
pub const SECRET_CHARS: usize = 32;

/// The hpfeeds3 broker's tables, as its sqlite backend creates them, then ours.
const SCHEMA: &str = "
create table if not exists logs (id integer primary key autoincrement, data TEXT);
create table if not exists stats (id integer primary key autoincrement, ak TEXT, uid TEXT, data TEXT);
create table if not exists authkeys (id integer primary key autoincrement, owner TEXT, ident TEXT,
    secret TEXT, pubchans TEXT, subchans TEXT);
create table if not exists registrar_sensors (
    uuid TEXT primary key not null,
    name TEXT not null,
    hostname TEXT not null,
    honeypot TEXT not null,
    ip TEXT not null,
    created_date TEXT not null,
    revoked_date TEXT
);
create unique index if not exists registrar_sensors_active_name
    on registrar_sensors(name) where revoked_date is null;
create unique index if not exists registrar_sensors_active_host
    on registrar_sensors(hostname, honeypot) where revoked_date is null;
";

/// A registration asked for, already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSensor {
    /// The sensor's name (unique among active sensors).
    pub name: String,
    /// Its host name (unique per honeypot type among active sensors).
    pub hostname: String,
    /// Its honeypot type.
    pub honeypot: String,
    /// Its address (given, or the request's source).
    pub ip: String,
    /// The channels its key may publish on.
    pub publish: Vec<String>,
}

/// A registered sensor, as MHN answers it (without the broker fields, which the API adds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Registered {
    /// The sensor's id.
    pub uuid: String,
    /// Its name.
    pub name: String,
    /// Its honeypot type.
    pub honeypot: String,
    /// When it registered (UTC, `YYYY-MM-DD HH:MM:SS.ffffff`, as MHN prints it).
    pub created_date: String,
    /// Its address.
    pub ip: String,
    /// Its host name.
    pub hostname: String,
    /// Its hpfeeds ident (= `uuid`).
    pub identifier: String,
    /// Its hpfeeds secret.
    pub secret: String,
    /// The channels it may publish on.
    pub publish: Vec<String>,
}

/// A sensor as listed to the admin (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SensorRecord {
    /// The sensor's id.
    pub uuid: String,
    /// Its name.
    pub name: String,
    /// Its host name.
    pub hostname: String,
    /// Its honeypot type.
    pub honeypot: String,
    /// Its address.
    pub ip: String,
    /// When it registered.
    pub created_date: String,
    /// Its hpfeeds ident (= `uuid`).
    pub identifier: String,
    /// The channels its key may publish on now (empty once revoked).
    pub publish: Vec<String>,
    /// Whether it is revoked.
    pub revoked: bool,
    /// When it was revoked.
    pub revoked_date: Option<String>,
}

/// The registry over one SQLite file.
#[derive(Debug)]
pub struct Registry {
    db: Connection,
}

/// Now, as MHN prints `created_date` (Python's `str(datetime.utcnow())`).
pub fn now_text() -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    time::OffsetDateTime::now_utc()
        .format(format)
        .unwrap_or_default()
}

/// `n` bytes from the OS random number generator.
fn random_bytes<const N: usize>() -> Result<[u8; N], RegistryError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| RegistryError::Random(e.to_string()))?;
    Ok(bytes)
}

/// A new secret: [`SECRET_CHARS`] letters and digits from the OS RNG, without modulo bias
/// (bytes of 248 and more are drawn again).
pub fn new_secret() -> Result<String, RegistryError> {
    let mut out = String::with_capacity(SECRET_CHARS);
    while out.len() < SECRET_CHARS {
        for b in random_bytes::<64>()? {
            if b < 248 && out.len() < SECRET_CHARS {
                out.push(SECRET_ALPHABET[usize::from(b) % SECRET_ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

/// A new random (version 4) UUID, lower-case and hyphenated as Python's `str(uuid4())`.
pub fn new_uuid() -> Result<String, RegistryError> {
    Ok(uuid::Builder::from_random_bytes(random_bytes::<16>()?)
        .into_uuid()
        .to_string())
}

/// A JSON list of channels, as the broker reads it.
fn channel_list(channels: &[String]) -> String {
    serde_json::to_string(channels).unwrap_or_else(|_| "[]".into())
}

/// Creates `path` with mode 0600 unless it exists.
fn create_private(path: &Path) -> Result<(), RegistryError> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(RegistryError::Create {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

impl Registry {
    /// Opens (creating it with mode 0600 when missing) the broker's auth store and prepares
    /// the tables.
    pub fn open(path: &Path) -> Result<Registry, RegistryError> {
        create_private(path)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if let Ok(meta) = std::fs::metadata(path)
                && meta.permissions().mode() & 0o007 != 0
            {
                tracing::warn!(
                    path = %path.display(),
                    "the broker's auth store is readable by every user, and it holds every sensor's secret: chmod o-rwx it"
                );
            }
        }
        let db = Connection::open(path)?;
        // The broker reads the same file; a writer waits for its reads rather than failing.
        db.busy_timeout(Duration::from_secs(5))?;
        db.execute_batch(SCHEMA)?;
        Ok(Registry { db })
    }

    /// Registers a sensor: its row and its broker key, in one transaction. Refused when its
    /// name (or its host name for its honeypot type) is taken by an active sensor, or when
    /// `max_sensors` are active.
    pub fn register(
        &mut self,
        sensor: &NewSensor,
        max_sensors: u64,
    ) -> Result<Registered, RegistryError> {
        let uuid = new_uuid()?;
        let secret = new_secret()?;
        let created_date = now_text();
        // IMMEDIATE: the checks and the inserts hold the write lock together, so a second
        // registrar on the same file cannot slip a duplicate in between.
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let taken: Option<i64> = tx
            .query_row(
                "select 1 from registrar_sensors where revoked_date is null
                 and (name = ?1 or (hostname = ?2 and honeypot = ?3)) limit 1",
                params![sensor.name, sensor.hostname, sensor.honeypot],
                |r| r.get(0),
            )
            .optional()?;
        if taken.is_some() {
            return Err(RegistryError::Taken);
        }
        let active: i64 = tx.query_row(
            "select count(*) from registrar_sensors where revoked_date is null",
            [],
            |r| r.get(0),
        )?;
        if active as u64 >= max_sensors {
            return Err(RegistryError::Full);
        }
        tx.execute(
            "insert into registrar_sensors (uuid, name, hostname, honeypot, ip, created_date)
             values (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                uuid,
                sensor.name,
                sensor.hostname,
                sensor.honeypot,
                sensor.ip,
                created_date
            ],
        )?;
        tx.execute(
            "insert into authkeys (owner, ident, secret, pubchans, subchans)
             values (?1, ?2, ?3, ?4, '[]')",
            params![AUTHKEY_OWNER, uuid, secret, channel_list(&sensor.publish)],
        )?;
        tx.commit()?;
        Ok(Registered {
            identifier: uuid.clone(),
            uuid,
            name: sensor.name.clone(),
            honeypot: sensor.honeypot.clone(),
            created_date,
            ip: sensor.ip.clone(),
            hostname: sensor.hostname.clone(),
            secret,
            publish: sensor.publish.clone(),
        })
    }

    /// Every sensor the registrar has registered, oldest first, revoked ones included.
    pub fn list(&self) -> Result<Vec<SensorRecord>, RegistryError> {
        let mut stmt = self.db.prepare(
            "select s.uuid, s.name, s.hostname, s.honeypot, s.ip, s.created_date, s.revoked_date,
                    (select a.pubchans from authkeys a where a.ident = s.uuid limit 1)
             from registrar_sensors s order by s.created_date, s.uuid",
        )?;
        let rows = stmt.query_map([], record_of)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// One sensor.
    pub fn get(&self, uuid: &str) -> Result<Option<SensorRecord>, RegistryError> {
        Ok(self
            .db
            .query_row(
                "select s.uuid, s.name, s.hostname, s.honeypot, s.ip, s.created_date, s.revoked_date,
                        (select a.pubchans from authkeys a where a.ident = s.uuid limit 1)
                 from registrar_sensors s where s.uuid = ?1",
                [uuid],
                record_of,
            )
            .optional()?)
    }

    /// Revokes a sensor: deletes its broker key (its next AUTH fails) and marks its row
    /// revoked, in one transaction. `None` when no such sensor exists; revoking twice keeps
    /// the first date.
    pub fn revoke(&mut self, uuid: &str) -> Result<Option<SensorRecord>, RegistryError> {
        let tx = self
            .db
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known: Option<i64> = tx
            .query_row(
                "select 1 from registrar_sensors where uuid = ?1",
                [uuid],
                |r| r.get(0),
            )
            .optional()?;
        if known.is_none() {
            return Ok(None);
        }
        tx.execute("delete from authkeys where ident = ?1", [uuid])?;
        tx.execute(
            "update registrar_sensors set revoked_date = ?2 where uuid = ?1 and revoked_date is null",
            params![uuid, now_text()],
        )?;
        tx.commit()?;
        self.get(uuid)
    }

    /// Records a sensor's new address (CHN's `connect`): `None` when no active sensor has
    /// this uuid.
    pub fn update_ip(
        &mut self,
        uuid: &str,
        ip: &str,
    ) -> Result<Option<SensorRecord>, RegistryError> {
        let n = self.db.execute(
            "update registrar_sensors set ip = ?2 where uuid = ?1 and revoked_date is null",
            params![uuid, ip],
        )?;
        if n == 0 {
            return Ok(None);
        }
        self.get(uuid)
    }

    /// The secret of an active sensor's key, for CHN's `connect` (HTTP basic auth).
    pub fn secret_of(&self, uuid: &str) -> Result<Option<String>, RegistryError> {
        Ok(self
            .db
            .query_row(
                "select a.secret from authkeys a join registrar_sensors s on s.uuid = a.ident
                 where a.ident = ?1 and s.revoked_date is null limit 1",
                [uuid],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// How many sensors are active (registered and not revoked).
    pub fn active_count(&self) -> Result<u64, RegistryError> {
        let n: i64 = self.db.query_row(
            "select count(*) from registrar_sensors where revoked_date is null",
            [],
            |r| r.get(0),
        )?;
        Ok(n as u64)
    }
}

/// A row of [`Registry::list`]'s query.
fn record_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<SensorRecord> {
    let uuid: String = row.get(0)?;
    let revoked_date: Option<String> = row.get(6)?;
    let pubchans: Option<String> = row.get(7)?;
    Ok(SensorRecord {
        identifier: uuid.clone(),
        uuid,
        name: row.get(1)?,
        hostname: row.get(2)?,
        honeypot: row.get(3)?,
        ip: row.get(4)?,
        created_date: row.get(5)?,
        publish: pubchans
            .and_then(|p| serde_json::from_str(&p).ok())
            .unwrap_or_default(),
        revoked: revoked_date.is_some(),
        revoked_date,
    })
}

#[cfg(test)]
mod tests;
