//! Counts over the window: ports, addresses, credentials, commands, the dashboard's summary,
//! the sensors, the map's places, and where an address is.

use rusqlite::{Connection, OptionalExtension, params};
use serde_json::{Map, Value};

use super::{
    AddressCount, CommandCount, Credential, Filter, KeyCount, Place, PortCount, SensorInfo,
    Summary, columns, instance_tables, json_value,
};
use crate::QueryError;
use crate::budget::{cap_bytes, cap_string};

/// Ports with sessions in the window, and every other port ever attacked with zeros (RECCE7
/// listed every enabled port).
pub fn ports(conn: &Connection, f: &Filter) -> Result<Vec<PortCount>, QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT localPort, count(*), count(DISTINCT peerAddress) FROM sessions
         WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2) GROUP BY +localPort",
    )?;
    let mut out: Vec<PortCount> = stmt
        .query_map(params![f.since, f.sensor], |r| {
            Ok(PortCount {
                port: r.get::<_, i64>(0)?.clamp(0, 65535) as u16,
                total_attacks: r.get(1)?,
                unique_ipaddresses: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    for port in all_ports(conn, f.sensor.as_deref())? {
        if !out.iter().any(|p| p.port == port) {
            out.push(PortCount {
                port,
                total_attacks: 0,
                unique_ipaddresses: 0,
            });
        }
    }
    out.sort_by_key(|p| p.port);
    Ok(out)
}

/// Ports every session of an address reached in the window (RECCE7 listed each with zeros).
pub fn all_ports(conn: &Connection, sensor: Option<&str>) -> Result<Vec<u16>, QueryError> {
    const SKIP_SCAN: &str = "WITH RECURSIVE p(port) AS (
           SELECT min(localPort) FROM sessions
           UNION ALL
           SELECT (SELECT min(localPort) FROM sessions WHERE localPort > p.port) FROM p
           WHERE p.port IS NOT NULL)
         SELECT port FROM p WHERE port IS NOT NULL AND ?1 IS NULL";
    let mut stmt = conn.prepare_cached(if sensor.is_none() {
        SKIP_SCAN
    } else {
        "SELECT DISTINCT localPort FROM sessions WHERE ?1 IS NULL OR sensor = ?1 ORDER BY 1"
    })?;
    let mut ports: Vec<u16> = stmt
        .query_map(params![sensor], |r| r.get::<_, i64>(0))?
        .map(|p| p.map(|p| p.clamp(0, 65535) as u16))
        .collect::<Result<_, _>>()?;
    // A sensor's own database also knows its enabled ports, attacked or not.
    ports.extend(store::meta::instance_ports(conn)?);
    ports.sort_unstable();
    ports.dedup();
    Ok(ports)
}

/// The next offset cursor, when a page came back full.
fn next_offset(offset: usize, limit: usize, got: usize) -> Option<String> {
    (got > limit).then(|| offset.saturating_add(limit).to_string())
}

/// Attacking addresses in the window, most sessions first.
pub fn addresses(
    conn: &Connection,
    f: &Filter,
    limit: usize,
    offset: usize,
) -> Result<(Vec<AddressCount>, Option<String>), QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT c.peerAddress, c.n, c.ports, c.first, c.last, i.country, i.countryCode, i.city
         FROM (SELECT peerAddress, count(*) AS n, group_concat(DISTINCT localPort) AS ports,
                      min(startTime) AS first, max(startTime) AS last
               FROM sessions WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2)
               GROUP BY +peerAddress ORDER BY n DESC, peerAddress LIMIT ?3 OFFSET ?4) c
         LEFT JOIN ipInfo i ON i.ipAddress = c.peerAddress ORDER BY c.n DESC, c.peerAddress",
    )?;
    let mut out: Vec<AddressCount> = stmt
        .query_map(
            params![f.since, f.sensor, (limit + 1) as i64, offset as i64],
            |r| {
                let ports: Option<String> = r.get(2)?;
                let mut ports: Vec<u16> = ports
                    .unwrap_or_default()
                    .split(',')
                    .filter_map(|p| p.parse().ok())
                    .collect();
                ports.sort_unstable();
                Ok(AddressCount {
                    ipaddress: r.get(0)?,
                    total_attacks: r.get(1)?,
                    ports,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                    country: r.get(5)?,
                    country_code: r.get(6)?,
                    city: r.get(7)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = next_offset(offset, limit, out.len());
    out.truncate(limit);
    Ok((out, next))
}

/// Rows of instance tables having all of `needed` columns, in the window.
fn tables_with(conn: &Connection, needed: &[&str]) -> Result<Vec<String>, QueryError> {
    let mut out = Vec::new();
    for t in instance_tables(conn)? {
        let cols = columns(conn, &t)?;
        if needed.iter().all(|n| cols.iter().any(|c| c == n)) {
            out.push(t);
        }
    }
    Ok(out)
}

const SENSOR_SESSIONS: &str =
    "(?2 IS NULL OR session IN (SELECT session FROM sessions WHERE sensor = ?2))";

/// Username and password pairs tried in the window, most tried first, summed over every
/// instance table that records them (one query: a UNION of the tables, grouped and limited by
/// SQLite, so the answer is bounded however many pairs there are).
pub fn credentials(
    conn: &Connection,
    f: &Filter,
    limit: usize,
    offset: usize,
    cap: usize,
) -> Result<(Vec<Credential>, Option<String>), QueryError> {
    let parts: Vec<String> = tables_with(conn, &["username", "password"])?
        .iter()
        .map(|t| {
            format!(
                "SELECT username AS k1, password AS k2, count(*) AS n, min(eventDateTime) AS f,
                        max(eventDateTime) AS l FROM \"{t}\"
                 WHERE eventDateTime >= ?1 AND username IS NOT NULL AND {SENSOR_SESSIONS}
                 GROUP BY username, password"
            )
        })
        .collect();
    if parts.is_empty() {
        return Ok((Vec::new(), None));
    }
    let sql = format!(
        "SELECT k1, k2, sum(n), min(f), max(l) FROM ({}) GROUP BY k1, k2
         ORDER BY sum(n) DESC, k1, k2 LIMIT ?3 OFFSET ?4",
        parts.join(" UNION ALL ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out: Vec<Credential> = stmt
        .query_map(
            params![f.since, f.sensor, (limit + 1) as i64, offset as i64],
            |r| {
                let mut password: Option<String> = r.get(1)?;
                if let Some(p) = &mut password {
                    cap_string(p, cap);
                }
                Ok(Credential {
                    username: cap_bytes(r.get_ref(0)?.as_bytes().unwrap_or_default(), cap),
                    password,
                    count: r.get(2)?,
                    first_seen: r.get(3)?,
                    last_seen: r.get(4)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = next_offset(offset, limit, out.len());
    out.truncate(limit);
    Ok((out, next))
}

/// Commands typed in the window, most typed first, summed over every instance table that
/// records commands (`user_input` rows of a `...command` type), bounded like [`credentials`].
pub fn commands(
    conn: &Connection,
    f: &Filter,
    limit: usize,
    offset: usize,
    cap: usize,
) -> Result<(Vec<CommandCount>, Option<String>), QueryError> {
    let parts: Vec<String> = tables_with(conn, &["user_input"])?
        .iter()
        .map(|t| {
            format!(
                "SELECT user_input AS k, count(*) AS n, min(eventDateTime) AS f,
                        max(eventDateTime) AS l FROM \"{t}\"
                 WHERE eventDateTime >= ?1 AND user_input IS NOT NULL
                   AND eventType LIKE '%command' AND {SENSOR_SESSIONS}
                 GROUP BY user_input"
            )
        })
        .collect();
    if parts.is_empty() {
        return Ok((Vec::new(), None));
    }
    let sql = format!(
        "SELECT k, sum(n), min(f), max(l) FROM ({}) GROUP BY k
         ORDER BY sum(n) DESC, k LIMIT ?3 OFFSET ?4",
        parts.join(" UNION ALL ")
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut out: Vec<CommandCount> = stmt
        .query_map(
            params![f.since, f.sensor, (limit + 1) as i64, offset as i64],
            |r| {
                Ok(CommandCount {
                    command: cap_bytes(r.get_ref(0)?.as_bytes().unwrap_or_default(), cap),
                    count: r.get(1)?,
                    first_seen: r.get(2)?,
                    last_seen: r.get(3)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = next_offset(offset, limit, out.len());
    out.truncate(limit);
    Ok((out, next))
}

/// The dashboard's counters.
pub fn summary(conn: &Connection, f: &Filter, top: usize) -> Result<Summary, QueryError> {
    let (sessions, unique_addresses): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(*), count(DISTINCT peerAddress) FROM sessions
             WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2)",
        )?
        .query_row(params![f.since, f.sensor], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let by_port = ports(conn, f)?
        .into_iter()
        .filter(|p| p.total_attacks > 0)
        .map(|p| KeyCount {
            key: p.port.to_string(),
            count: p.total_attacks,
        });
    let mut by_port: Vec<KeyCount> = by_port.collect();
    by_port.sort_by_key(|p| std::cmp::Reverse(p.count));
    by_port.truncate(top);
    // Sessions by country, and those with a place on the map, in one pass over the window's
    // addresses (a country is one group of at most a few hundred; the top are kept).
    let mut stmt = conn.prepare_cached(
        "SELECT coalesce(i.countryCode, 'unknown'), sum(c.n),
                sum(CASE WHEN i.latitude IS NOT NULL AND i.longitude IS NOT NULL THEN c.n ELSE 0 END)
         FROM (SELECT peerAddress, count(*) AS n FROM sessions
               WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2) GROUP BY +peerAddress) c
         LEFT JOIN ipInfo i ON i.ipAddress = c.peerAddress
         GROUP BY 1 ORDER BY 2 DESC, 1",
    )?;
    let mut located_sessions = 0i64;
    let mut by_country: Vec<KeyCount> = Vec::new();
    let mut rows = stmt.query(params![f.since, f.sensor])?;
    while let Some(r) = rows.next()? {
        located_sessions += r.get::<_, i64>(2)?;
        if by_country.len() < top {
            by_country.push(KeyCount {
                key: r.get(0)?,
                count: r.get(1)?,
            });
        }
    }
    let (files, downloads) = super::file_and_download_counts(conn, f)?;
    Ok(Summary {
        sessions,
        unique_addresses,
        by_port,
        by_country,
        located_sessions,
        scans: super::scans_by_kind(conn, f)?,
        os: super::top_os(conn, f, top)?,
        files,
        downloads,
        ssh_logins: super::ssh_logins(conn, f)?,
    })
}

/// The sensors in the store, most recently active first.
pub fn sensors(conn: &Connection) -> Result<Vec<SensorInfo>, QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT sensor, count(*), max(startTime) FROM sessions GROUP BY sensor ORDER BY 3 DESC LIMIT 1000",
    )?;
    let out = stmt
        .query_map([], |r| {
            Ok(SensorInfo {
                // A fleet's sensors name themselves: 1,000 names of at most 1 KiB.
                sensor: cap_bytes(
                    r.get_ref(0)?.as_bytes().unwrap_or_default(),
                    crate::budget::MIN_VALUE_BYTES,
                ),
                sessions: r.get(1)?,
                last_seen: r.get(2)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// Map places in the window, with the number of distinct addresses and of sessions.
pub fn places(conn: &Connection, f: &Filter) -> Result<(Vec<Place>, i64, i64), QueryError> {
    let mut stmt = conn.prepare_cached(
        "SELECT round(i.latitude, 1), round(i.longitude, 1), sum(c.n) FROM
           (SELECT peerAddress, count(*) AS n FROM sessions
            WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2) GROUP BY peerAddress) c
         JOIN ipInfo i ON i.ipAddress = c.peerAddress
         WHERE i.latitude IS NOT NULL AND i.longitude IS NOT NULL
         GROUP BY 1, 2 LIMIT 100000",
    )?;
    let places = stmt
        .query_map(params![f.since, f.sensor], |r| {
            Ok(Place {
                latitude: r.get(0)?,
                longitude: r.get(1)?,
                count: r.get::<_, i64>(2)?.max(0) as u64,
            })
        })?
        .collect::<Result<_, _>>()?;
    let (unique, total): (i64, i64) = conn
        .prepare_cached(
            "SELECT count(DISTINCT peerAddress), count(*) FROM sessions
             WHERE startTime >= ?1 AND (?2 IS NULL OR sensor = ?2)",
        )?
        .query_row(params![f.since, f.sensor], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok((places, unique, total))
}

/// Where an address is, from `ipInfo` (null when unknown).
pub fn ip_info(conn: &Connection, address: &str) -> Result<Option<Value>, QueryError> {
    let found = conn
        .prepare_cached(
            "SELECT city, region, country, countryCode, latitude, longitude, org, asn, firstSeen, lastSeen
             FROM ipInfo WHERE ipAddress = ?1",
        )?
        .query_row([address], |r| {
            let mut m = Map::new();
            for (i, key) in [
                "city",
                "region",
                "country",
                "country_code",
                "latitude",
                "longitude",
                "org",
                "asn",
                "first_seen",
                "last_seen",
            ]
            .iter()
            .enumerate()
            {
                m.insert(
                    (*key).to_owned(),
                    json_value(r.get_ref(i)?, crate::budget::MIN_VALUE_BYTES),
                );
            }
            Ok(Value::Object(m))
        })
        .optional()?;
    Ok(found)
}
