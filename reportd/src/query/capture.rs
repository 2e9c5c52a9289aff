//! What packet capture recorded: scans (`scans`), passive OS fingerprints (`p0f`) and TLS and
//! HTTP fingerprints (`fingerprints`). A store written before capture existed has no `scans`
//! or `fingerprints` table and an older `p0f` (no `quality`, no `osClass`): every query here
//! then answers empty lists or nulls, never an error. Columns are looked up in the file's own
//! catalogue, and a missing one is read as `NULL`.

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Filter, KeyCount, Page, columns};
use crate::QueryError;
use crate::budget::cap_string;

/// The scan kinds the sensor records (`scan.<kind>` events, `scans.kind`).
pub const SCAN_KINDS: [&str; 7] = ["syn", "connect", "null", "fin", "xmas", "os", "ports"];

/// The most ports of one scan given back (the sensor stores at most 256).
const MAX_SCAN_PORTS: usize = 256;

/// The sessions of a sensor, for tables without a `sensor` column.
const SENSOR_SESSIONS: &str =
    "(?2 IS NULL OR session IN (SELECT session FROM sessions WHERE sensor = ?2))";

/// One scan: a source probing ports, as the sensor's scan detector reported it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanOut {
    /// The scan's own id (its events' `session`; there is no session row).
    pub id: String,
    /// The sensor that saw it (null in a sensor's store written without one).
    pub sensor: Option<String>,
    /// `syn`, `connect`, `null`, `fin`, `xmas`, `os` or `ports` ([`SCAN_KINDS`]).
    pub kind: String,
    /// The scanner.
    pub peer_address: String,
    /// The sensor's address it probed.
    pub local_address: Option<String>,
    /// The ports probed, sorted (at most 256; `port_count` counts them all).
    pub ports: Vec<u16>,
    /// Distinct ports probed.
    pub port_count: i64,
    /// Packets seen.
    pub packets: i64,
    /// The first packet, UTC RFC 3339.
    pub first_seen: String,
    /// The last packet.
    pub last_seen: String,
    /// When it was reported.
    pub time: String,
    /// The row's `ID`, for the list's cursor.
    #[serde(skip)]
    pub row_id: i64,
}

impl ScanOut {
    /// Cuts every text field to `cap` bytes (a fleet's store holds what remote sensors sent).
    fn cap(&mut self, cap: usize) {
        for s in [
            &mut self.id,
            &mut self.kind,
            &mut self.peer_address,
            &mut self.first_seen,
            &mut self.last_seen,
            &mut self.time,
        ] {
            cap_string(s, cap);
        }
        for s in [&mut self.sensor, &mut self.local_address]
            .into_iter()
            .flatten()
        {
            cap_string(s, cap);
        }
    }
}

/// One distinct p0f result of an address: the OS its SYNs matched, and how often.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OsResult {
    /// The OS (`Linux 2.2.x-3.x`), null when no signature matched.
    pub os: Option<String>,
    /// The OS class (`unix`, `win`, `!` for a tool).
    pub os_class: Option<String>,
    /// How it matched: `exact`, `fuzzy`, `generic` or `none`.
    pub quality: Option<String>,
    /// Hops away (from the TTL).
    pub distance: Option<i64>,
    /// p0f's raw signature of the SYN.
    pub raw_signature: Option<String>,
    /// SYNs with this result.
    pub count: i64,
    /// The latest of them.
    pub last_seen: String,
}

/// One p0f row of a session: the fingerprint of the SYN that opened it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct P0fRow {
    /// The OS, null when no signature matched.
    pub os: Option<String>,
    /// The OS class.
    pub os_class: Option<String>,
    /// `exact`, `fuzzy`, `generic` or `none`.
    pub quality: Option<String>,
    /// Hops away.
    pub distance: Option<i64>,
    /// p0f's raw signature.
    pub raw_signature: Option<String>,
    /// The attacker's port.
    pub peer_port: Option<i64>,
    /// The sensor's port.
    pub local_port: Option<i64>,
    /// When the SYN was seen.
    pub time: String,
}

/// A TLS or HTTP fingerprint: one row of a session, or an address's distinct ones counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FingerprintOut {
    /// `tls` or `http`.
    pub kind: String,
    /// The JA4, or p0f's HTTP raw signature.
    pub fingerprint: String,
    /// JA4_r, or the matched application.
    pub detail: Option<String>,
    /// The server name the client asked for (TLS).
    pub sni: Option<String>,
    /// The OS the User-Agent claims.
    pub claimed_os: Option<String>,
    /// p0f's OS of the same connection.
    pub tcp_os: Option<String>,
    /// True when the User-Agent's OS contradicts the TCP stack (for an address: in any of
    /// its connections).
    pub contradiction: bool,
    /// Times seen (1 for a session's row).
    pub count: i64,
    /// The latest time seen.
    pub last_seen: String,
}

/// The lowercase columns of `table`, or `None` when the file has no such table (a store older
/// than packet capture).
fn table_columns(conn: &Connection, table: &str) -> Result<Option<Vec<String>>, QueryError> {
    let cols = columns(conn, table)?;
    Ok((!cols.is_empty()).then_some(cols))
}

/// `name` when the table has that column, else `NULL`: an old store's rows read as unknown.
/// `name` is always one of this module's literals.
fn column_or_null<'a>(cols: &[String], name: &'a str) -> &'a str {
    if cols.iter().any(|c| c.eq_ignore_ascii_case(name)) {
        name
    } else {
        "NULL"
    }
}

/// Cuts an optional text to `cap` bytes.
fn cap_opt(s: &mut Option<String>, cap: usize) {
    if let Some(s) = s {
        cap_string(s, cap);
    }
}

/// Where a page of the scans list starts: after the scan reported at `time` with row `ID`
/// `id` (newest first). Handed out as `time~ID` (its `Display`); the API parses it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanCursor {
    /// The last listed scan's `time`.
    pub time: String,
    /// Its row `ID`.
    pub id: i64,
}

impl std::fmt::Display for ScanCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}", self.time, self.id)
    }
}

/// The cursor that continues a scans list after `s`, as handed out.
pub fn scan_cursor(s: &ScanOut) -> String {
    ScanCursor {
        time: s.time.clone(),
        id: s.row_id,
    }
    .to_string()
}

/// The scans list's own filters, on top of the window and the sensor.
#[derive(Debug, Clone, Default)]
pub struct ScanFilter {
    /// Only this kind (one of [`SCAN_KINDS`]; checked by the API).
    pub kind: Option<String>,
    /// Only from this address (canonical form; checked by the API).
    pub address: Option<String>,
}

/// Scans reported in the window, newest first, `limit` of them after `cursor`, text cut to
/// `cap` bytes; an empty list when the store has no `scans` table.
pub fn scans(
    conn: &Connection,
    f: &Filter,
    scan: &ScanFilter,
    limit: usize,
    cursor: Option<&ScanCursor>,
    cap: usize,
) -> Page<ScanOut> {
    let Some(cols) = table_columns(conn, "scans")? else {
        return Ok((Vec::new(), None));
    };
    let sensor = column_or_null(&cols, "sensor");
    let local = column_or_null(&cols, "localAddress");
    let (after_time, after_id) = cursor.map(|c| (c.time.as_str(), c.id)).unzip();
    let sql = format!(
        "SELECT ID, session, {sensor}, kind, peerAddress, {local}, ports, portCount, packets,
                firstSeen, lastSeen, eventDateTime FROM scans
         WHERE eventDateTime >= ?1 AND (?2 IS NULL OR {sensor} = ?2)
           AND (?3 IS NULL OR kind = ?3) AND (?4 IS NULL OR peerAddress = ?4)
           AND (?5 IS NULL OR eventDateTime < ?5 OR (eventDateTime = ?5 AND ID < ?6))
         ORDER BY eventDateTime DESC, ID DESC LIMIT ?7"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut found: Vec<ScanOut> = stmt
        .query_map(
            params![
                f.since,
                f.sensor,
                scan.kind,
                scan.address,
                after_time,
                after_id,
                (limit + 1) as i64
            ],
            |r| {
                let ports: Option<String> = r.get(6)?;
                Ok(ScanOut {
                    row_id: r.get(0)?,
                    id: r.get(1)?,
                    sensor: r.get(2)?,
                    kind: r.get(3)?,
                    peer_address: r.get(4)?,
                    local_address: r.get(5)?,
                    ports: parse_ports(ports.as_deref().unwrap_or_default()),
                    port_count: r.get(7)?,
                    packets: r.get(8)?,
                    first_seen: r.get(9)?,
                    last_seen: r.get(10)?,
                    time: r.get(11)?,
                })
            },
        )?
        .collect::<Result<_, _>>()?;
    let next = if found.len() > limit {
        found.truncate(limit);
        found.last().map(scan_cursor)
    } else {
        None
    };
    for s in &mut found {
        s.cap(cap);
    }
    Ok((found, next))
}

/// `"22,23,80"` as ports, at most [`MAX_SCAN_PORTS`]; what is not a port is left out.
fn parse_ports(text: &str) -> Vec<u16> {
    text.split(',')
        .filter_map(|p| p.trim().parse().ok())
        .take(MAX_SCAN_PORTS)
        .collect()
}

/// The distinct p0f results of `address` in the window, the most recently seen first, at most
/// `limit`, text cut to `cap` bytes. With a sensor filter, only rows of that sensor's sessions
/// (a SYN that opened no session has no sensor to match).
pub fn address_os(
    conn: &Connection,
    address: &str,
    f: &Filter,
    limit: usize,
    cap: usize,
) -> Result<Vec<OsResult>, QueryError> {
    let Some(cols) = table_columns(conn, "p0f")? else {
        return Ok(Vec::new());
    };
    let os_class = column_or_null(&cols, "osClass");
    let quality = column_or_null(&cols, "quality");
    let sql = format!(
        "SELECT os, {os_class}, {quality}, distance, rawSignature, count(*), max(eventDateTime)
         FROM p0f WHERE peerAddress = ?3 AND eventDateTime >= ?1 AND {SENSOR_SESSIONS}
         GROUP BY 1, 2, 3, 4, 5 ORDER BY 7 DESC, 6 DESC LIMIT ?4"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let out = stmt
        .query_map(params![f.since, f.sensor, address, limit as i64], |r| {
            let mut o = OsResult {
                os: r.get(0)?,
                os_class: r.get(1)?,
                quality: r.get(2)?,
                distance: r.get(3)?,
                raw_signature: r.get(4)?,
                count: r.get(5)?,
                last_seen: r.get(6)?,
            };
            for s in [
                &mut o.os,
                &mut o.os_class,
                &mut o.quality,
                &mut o.raw_signature,
            ] {
                cap_opt(s, cap);
            }
            cap_string(&mut o.last_seen, cap);
            Ok(o)
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// The distinct TLS and HTTP fingerprints of `address` in the window, the most recently seen
/// first, at most `limit`, text cut to `cap` bytes.
pub fn address_fingerprints(
    conn: &Connection,
    address: &str,
    f: &Filter,
    limit: usize,
    cap: usize,
) -> Result<Vec<FingerprintOut>, QueryError> {
    if table_columns(conn, "fingerprints")?.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT kind, fingerprint, max(detail), max(sni), max(claimedOs), max(tcpOs),
                max(coalesce(contradiction, 0)), count(*), max(eventDateTime)
         FROM fingerprints WHERE peerAddress = ?3 AND eventDateTime >= ?1 AND {SENSOR_SESSIONS}
         GROUP BY kind, fingerprint ORDER BY 9 DESC, 8 DESC LIMIT ?4"
    ))?;
    let out = stmt
        .query_map(params![f.since, f.sensor, address, limit as i64], |r| {
            fingerprint_row(r, cap)
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// A fingerprint from a row of `kind, fingerprint, detail, sni, claimedOs, tcpOs,
/// contradiction, count, time`.
fn fingerprint_row(r: &rusqlite::Row<'_>, cap: usize) -> rusqlite::Result<FingerprintOut> {
    let mut o = FingerprintOut {
        kind: r.get(0)?,
        fingerprint: r.get(1)?,
        detail: r.get(2)?,
        sni: r.get(3)?,
        claimed_os: r.get(4)?,
        tcp_os: r.get(5)?,
        contradiction: r.get::<_, Option<i64>>(6)?.unwrap_or(0) != 0,
        count: r.get(7)?,
        last_seen: r.get(8)?,
    };
    for s in [&mut o.kind, &mut o.fingerprint, &mut o.last_seen] {
        cap_string(s, cap);
    }
    for s in [&mut o.detail, &mut o.sni, &mut o.claimed_os, &mut o.tcp_os] {
        cap_opt(s, cap);
    }
    Ok(o)
}

/// The latest scans from `address` in the window, at most `limit`.
pub fn address_scans(
    conn: &Connection,
    address: &str,
    f: &Filter,
    limit: usize,
    cap: usize,
) -> Result<Vec<ScanOut>, QueryError> {
    let filter = ScanFilter {
        kind: None,
        address: Some(address.to_owned()),
    };
    Ok(scans(conn, f, &filter, limit, None, cap)?.0)
}

/// The p0f rows of `session` (the SYN that opened it, and any other), oldest first, at most
/// `limit`.
pub fn session_p0f(
    conn: &Connection,
    session: &str,
    limit: usize,
    cap: usize,
) -> Result<Vec<P0fRow>, QueryError> {
    let Some(cols) = table_columns(conn, "p0f")? else {
        return Ok(Vec::new());
    };
    let os_class = column_or_null(&cols, "osClass");
    let quality = column_or_null(&cols, "quality");
    let sql = format!(
        "SELECT os, {os_class}, {quality}, distance, rawSignature, peerPort, localPort,
                eventDateTime
         FROM p0f WHERE session = ?1 ORDER BY eventDateTime, ID LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let out = stmt
        .query_map(params![session, limit as i64], |r| {
            let mut o = P0fRow {
                os: r.get(0)?,
                os_class: r.get(1)?,
                quality: r.get(2)?,
                distance: r.get(3)?,
                raw_signature: r.get(4)?,
                peer_port: r.get(5)?,
                local_port: r.get(6)?,
                time: r.get(7)?,
            };
            for s in [
                &mut o.os,
                &mut o.os_class,
                &mut o.quality,
                &mut o.raw_signature,
            ] {
                cap_opt(s, cap);
            }
            cap_string(&mut o.time, cap);
            Ok(o)
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// The TLS and HTTP fingerprints of `session`, oldest first, at most `limit` (each with
/// `count` 1).
pub fn session_fingerprints(
    conn: &Connection,
    session: &str,
    limit: usize,
    cap: usize,
) -> Result<Vec<FingerprintOut>, QueryError> {
    if table_columns(conn, "fingerprints")?.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(
        "SELECT kind, fingerprint, detail, sni, claimedOs, tcpOs, contradiction, 1,
                eventDateTime
         FROM fingerprints WHERE session = ?1 ORDER BY eventDateTime, ID LIMIT ?2",
    )?;
    let out = stmt
        .query_map(params![session, limit as i64], |r| fingerprint_row(r, cap))?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// Scans in the window by kind, most first (the dashboard's summary).
pub fn scans_by_kind(conn: &Connection, f: &Filter) -> Result<Vec<KeyCount>, QueryError> {
    let Some(cols) = table_columns(conn, "scans")? else {
        return Ok(Vec::new());
    };
    let sensor = column_or_null(&cols, "sensor");
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT kind, count(*) FROM scans
         WHERE eventDateTime >= ?1 AND (?2 IS NULL OR {sensor} = ?2)
         GROUP BY kind ORDER BY 2 DESC, 1 LIMIT {}",
        SCAN_KINDS.len() * 4
    ))?;
    let out = stmt
        .query_map(params![f.since, f.sensor], |r| {
            let mut key: String = r.get(0)?;
            cap_string(&mut key, crate::budget::MIN_VALUE_BYTES);
            Ok(KeyCount {
                key,
                count: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

/// The OSes p0f matched in the window, by distinct source address, most first, at most `top`
/// (SYNs that matched no signature are left out).
pub fn top_os(conn: &Connection, f: &Filter, top: usize) -> Result<Vec<KeyCount>, QueryError> {
    if table_columns(conn, "p0f")?.is_none() {
        return Ok(Vec::new());
    }
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT os, count(DISTINCT peerAddress) FROM p0f
         WHERE eventDateTime >= ?1 AND os IS NOT NULL AND {SENSOR_SESSIONS}
         GROUP BY os ORDER BY 2 DESC, 1 LIMIT ?3"
    ))?;
    let out = stmt
        .query_map(params![f.since, f.sensor, top as i64], |r| {
            let mut key: String = r.get(0)?;
            cap_string(&mut key, crate::budget::MIN_VALUE_BYTES);
            Ok(KeyCount {
                key,
                count: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A store with capture rows: scans from two sources, p0f rows with and without a
    /// session, fingerprints (one contradicting its TCP stack).
    fn capture_store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = store::open(&dir.path().join("s.sqlite"), &[]).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions (session, sensor, plugin, tableName, protocol, peerAddress,
               peerPort, localAddress, localPort, startTime)
             VALUES ('web1', 'pi', 'web', 'web', 'http', '198.51.100.7', 40000, '10.0.0.2', 80,
               '2026-01-01T00:00:05.000000Z');
             INSERT INTO scans (session, eventDateTime, peerAddress, localAddress, sensor, kind,
               ports, portCount, packets, firstSeen, lastSeen) VALUES
               ('scan-a', '2026-01-01T00:00:10.000000Z', '198.51.100.7', '10.0.0.2', 'pi', 'syn',
                '22,23,80', 3, 3, '2026-01-01T00:00:01.000000Z', '2026-01-01T00:00:09.000000Z'),
               ('scan-b', '2026-01-01T00:00:20.000000Z', '203.0.113.9', '10.0.0.2', 'pi', 'xmas',
                '7', 1, 2, '2026-01-01T00:00:15.000000Z', '2026-01-01T00:00:19.000000Z'),
               ('scan-c', '2026-01-01T00:00:20.000000Z', '198.51.100.7', '10.0.0.2', 'other',
                'ports', '1,2,x,3', 900, 1200, '2026-01-01T00:00:11.000000Z',
                '2026-01-01T00:00:19.000000Z'),
               ('scan-old', '2025-06-01T00:00:00.000000Z', '198.51.100.7', '10.0.0.2', 'pi',
                'fin', '9', 1, 1, '2025-06-01T00:00:00.000000Z', '2025-06-01T00:00:00.000000Z');
             INSERT INTO p0f (session, eventDateTime, peerAddress, localAddress, peerPort,
               localPort, os, distance, rawSignature, quality, osClass) VALUES
               (NULL, '2026-01-01T00:00:01.000000Z', '198.51.100.7', '10.0.0.2', 40001, 22,
                'Linux 2.2.x-3.x', 0, '4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0',
                'exact', 'unix'),
               (NULL, '2026-01-01T00:00:02.000000Z', '198.51.100.7', '10.0.0.2', 40002, 23,
                'Linux 2.2.x-3.x', 0, '4:64+0:0:1460:mss*20,7:mss,sok,ts,nop,ws:df,id+:0',
                'exact', 'unix'),
               ('web1', '2026-01-01T00:00:05.000000Z', '198.51.100.7', '10.0.0.2', 40000, 80,
                NULL, 0, '4:64+0:0:1460:8192,0:mss::0', 'none', NULL),
               (NULL, '2026-01-01T00:00:06.000000Z', '203.0.113.9', '10.0.0.2', 1, 7,
                'Windows 7 or 8', 1, '4:127+1:0:1460:8192,8:mss,nop,ws,nop,nop,sok:df,id+:0',
                'fuzzy', 'win');
             INSERT INTO fingerprints (session, eventDateTime, peerAddress, localAddress,
               kind, fingerprint, detail, sni, claimedOs, tcpOs, contradiction) VALUES
               ('web1', '2026-01-01T00:00:06.000000Z', '198.51.100.7', '10.0.0.2', 'http',
                '1:Host,User-Agent:Accept:Mozilla', 'Firefox', NULL, 'Windows', 'Linux', 1),
               ('web1', '2026-01-01T00:00:07.000000Z', '198.51.100.7', '10.0.0.2', 'tls',
                't13d1516h2_8daaf6152771_b186095e22b6', 't13d1516h2_raw', '<script>x</script>',
                NULL, 'Linux', 0),
               ('web1', '2026-01-01T00:00:08.000000Z', '198.51.100.7', '10.0.0.2', 'http',
                '1:Host,User-Agent:Accept:Mozilla', 'Firefox', NULL, 'Windows', 'Linux', 0);",
        )
        .unwrap();
        (dir, conn)
    }

    fn since(t: &str) -> Filter {
        Filter {
            since: t.into(),
            sensor: None,
        }
    }

    #[test]
    fn the_scan_kinds_are_the_stores_scan_types() {
        let types: Vec<String> = store::EventType::SCANS
            .iter()
            .map(|t| t.as_str().trim_start_matches("scan.").to_owned())
            .collect();
        assert_eq!(types, SCAN_KINDS);
    }

    #[test]
    fn scans_list_newest_first_pages_and_filters() {
        let (_dir, conn) = capture_store();
        let f = since("2026-01-01T00:00:00.000000Z");
        let all = ScanFilter::default();
        let (page, next) = scans(&conn, &f, &all, 10, None, 1024).unwrap();
        let ids: Vec<&str> = page.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            ["scan-c", "scan-b", "scan-a"],
            "newest first, ID at a tie"
        );
        assert_eq!(next, None);
        let a = &page[2];
        assert_eq!(a.ports, [22, 23, 80]);
        assert_eq!((a.port_count, a.packets), (3, 3));
        assert_eq!(a.sensor.as_deref(), Some("pi"));
        assert_eq!(a.first_seen, "2026-01-01T00:00:01.000000Z");
        assert_eq!(page[0].ports, [1, 2, 3], "what is not a port is left out");
        // One a page: the same scans, once each, following the cursor.
        let mut seen = Vec::new();
        let mut cursor: Option<ScanCursor> = None;
        for _ in 0..10 {
            let (page, next) = scans(&conn, &f, &all, 1, cursor.as_ref(), 1024).unwrap();
            seen.extend(page.iter().map(|s| s.id.clone()));
            match next {
                Some(c) => {
                    let (time, id) = c.rsplit_once('~').unwrap();
                    cursor = Some(ScanCursor {
                        time: time.into(),
                        id: id.parse().unwrap(),
                    });
                }
                None => break,
            }
        }
        assert_eq!(seen, ids);
        let by_kind = ScanFilter {
            kind: Some("xmas".into()),
            address: None,
        };
        let (page, _) = scans(&conn, &f, &by_kind, 10, None, 1024).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].peer_address, "203.0.113.9");
        let by_address = ScanFilter {
            kind: None,
            address: Some("198.51.100.7".into()),
        };
        let (page, _) = scans(&conn, &f, &by_address, 10, None, 1024).unwrap();
        assert_eq!(page.len(), 2);
        let wide = since("2025-01-01T00:00:00.000000Z");
        let (page, _) = scans(&conn, &wide, &by_address, 10, None, 1024).unwrap();
        assert_eq!(page.len(), 3, "the window decides");
        let sensor = Filter {
            sensor: Some("other".into()),
            ..f.clone()
        };
        let (page, _) = scans(&conn, &sensor, &all, 10, None, 1024).unwrap();
        assert_eq!(page.len(), 1);
        assert_eq!(page[0].id, "scan-c");
    }

    #[test]
    fn an_address_has_its_os_results_fingerprints_and_scans() {
        let (_dir, conn) = capture_store();
        let f = since("2026-01-01T00:00:00.000000Z");
        let os = address_os(&conn, "198.51.100.7", &f, 20, 1024).unwrap();
        assert_eq!(os.len(), 2, "{os:?}");
        // Most recently seen first: the unmatched SYN of the session, then Linux twice.
        assert_eq!(os[0].os, None);
        assert_eq!(os[0].quality.as_deref(), Some("none"));
        assert_eq!(os[1].os.as_deref(), Some("Linux 2.2.x-3.x"));
        assert_eq!(os[1].os_class.as_deref(), Some("unix"));
        assert_eq!(os[1].count, 2);
        assert_eq!(os[1].last_seen, "2026-01-01T00:00:02.000000Z");
        assert_eq!(
            address_os(&conn, "198.51.100.7", &f, 1, 1024)
                .unwrap()
                .len(),
            1
        );
        let fps = address_fingerprints(&conn, "198.51.100.7", &f, 20, 1024).unwrap();
        assert_eq!(fps.len(), 2);
        let http = fps.iter().find(|p| p.kind == "http").unwrap();
        assert_eq!(http.count, 2);
        assert!(
            http.contradiction,
            "a contradiction in any of its connections"
        );
        assert_eq!(http.claimed_os.as_deref(), Some("Windows"));
        let tls = fps.iter().find(|p| p.kind == "tls").unwrap();
        assert!(!tls.contradiction);
        assert_eq!(tls.sni.as_deref(), Some("<script>x</script>"));
        assert_eq!(fps[0].kind, "http", "most recently seen first");
        let scans = address_scans(&conn, "198.51.100.7", &f, 20, 1024).unwrap();
        assert_eq!(scans.len(), 2);
        assert!(
            address_os(&conn, "192.0.2.1", &f, 20, 1024)
                .unwrap()
                .is_empty()
        );
        // A sensor filter keeps the rows of its sessions (a SYN without a session has none).
        let pi = Filter {
            sensor: Some("pi".into()),
            ..f.clone()
        };
        let os = address_os(&conn, "198.51.100.7", &pi, 20, 1024).unwrap();
        assert_eq!(os.len(), 1);
        assert_eq!(os[0].quality.as_deref(), Some("none"));
    }

    #[test]
    fn a_session_has_its_p0f_rows_and_fingerprints() {
        let (_dir, conn) = capture_store();
        let p0f = session_p0f(&conn, "web1", 20, 1024).unwrap();
        assert_eq!(p0f.len(), 1);
        assert_eq!(p0f[0].os, None);
        assert_eq!(
            (p0f[0].peer_port, p0f[0].local_port),
            (Some(40000), Some(80))
        );
        assert_eq!(
            p0f[0].raw_signature.as_deref(),
            Some("4:64+0:0:1460:8192,0:mss::0")
        );
        let fps = session_fingerprints(&conn, "web1", 20, 1024).unwrap();
        let kinds: Vec<(&str, bool)> = fps
            .iter()
            .map(|p| (p.kind.as_str(), p.contradiction))
            .collect();
        assert_eq!(kinds, [("http", true), ("tls", false), ("http", false)]);
        assert!(fps.iter().all(|p| p.count == 1));
        assert_eq!(
            session_fingerprints(&conn, "web1", 2, 1024).unwrap().len(),
            2
        );
        assert!(session_p0f(&conn, "nope", 20, 1024).unwrap().is_empty());
    }

    #[test]
    fn long_values_are_cut() {
        let (_dir, conn) = capture_store();
        conn.execute(
            "UPDATE fingerprints SET sni = ?1 WHERE kind = 'tls'",
            [format!("a{}", "b".repeat(5000))],
        )
        .unwrap();
        let fps = session_fingerprints(&conn, "web1", 20, 1024).unwrap();
        let sni = fps[1].sni.as_deref().unwrap();
        assert!(
            sni.starts_with("ab") && sni.ends_with("…[cut 3977 bytes]"),
            "{sni}"
        );
    }

    #[test]
    fn the_summary_counts_scans_by_kind_and_oses_by_address() {
        let (_dir, conn) = capture_store();
        let f = since("2026-01-01T00:00:00.000000Z");
        let kinds = scans_by_kind(&conn, &f).unwrap();
        let kinds: Vec<(&str, i64)> = kinds.iter().map(|k| (k.key.as_str(), k.count)).collect();
        assert_eq!(kinds, [("ports", 1), ("syn", 1), ("xmas", 1)]);
        conn.execute_batch(
            "INSERT INTO p0f (eventDateTime, peerAddress, os) VALUES
               ('2026-01-01T00:00:09.000000Z', '192.0.2.5', 'Windows 7 or 8'),
               ('2026-01-01T00:00:09.000000Z', '192.0.2.6', 'Windows 7 or 8')",
        )
        .unwrap();
        let os = top_os(&conn, &f, 10).unwrap();
        let os: Vec<(&str, i64)> = os.iter().map(|k| (k.key.as_str(), k.count)).collect();
        assert_eq!(os, [("Windows 7 or 8", 3), ("Linux 2.2.x-3.x", 1)]);
        assert_eq!(top_os(&conn, &f, 1).unwrap().len(), 1);
        let summary = super::super::summary(&conn, &f, 10).unwrap();
        assert_eq!(summary.scans.len(), 3);
        assert_eq!(summary.os[0].key, "Windows 7 or 8");
    }

    /// A store written before packet capture: no `scans`, no `fingerprints`, RECCE7's `p0f`.
    fn old_store() -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        let (conn, _) = store::open(&dir.path().join("old.sqlite"), &[]).unwrap();
        conn.execute_batch(
            "DROP TABLE IF EXISTS scans; DROP TABLE IF EXISTS fingerprints; DROP TABLE p0f;
             CREATE TABLE p0f (ID INTEGER PRIMARY KEY, session TEXT, eventDateTime TEXT NOT NULL,
               peerAddress TEXT NOT NULL, localAddress TEXT, peerPort INTEGER, localPort INTEGER,
               os TEXT, distance INTEGER, rawSignature TEXT);
             INSERT INTO p0f (session, eventDateTime, peerAddress, os, distance) VALUES
               ('s', '2026-01-01T00:00:01.000000Z', '198.51.100.7', 'Linux 3.11 and newer', 2);",
        )
        .unwrap();
        (dir, conn)
    }

    #[test]
    fn a_store_older_than_capture_answers_empty_lists() {
        let (_dir, conn) = old_store();
        let f = since("2026-01-01T00:00:00.000000Z");
        let all = ScanFilter::default();
        assert_eq!(
            scans(&conn, &f, &all, 10, None, 1024).unwrap(),
            (vec![], None)
        );
        assert!(scans_by_kind(&conn, &f).unwrap().is_empty());
        assert!(
            address_scans(&conn, "198.51.100.7", &f, 5, 1024)
                .unwrap()
                .is_empty()
        );
        assert!(
            address_fingerprints(&conn, "198.51.100.7", &f, 5, 1024)
                .unwrap()
                .is_empty()
        );
        assert!(
            session_fingerprints(&conn, "s", 5, 1024)
                .unwrap()
                .is_empty()
        );
        // RECCE7's p0f rows are read, the columns it lacks as null.
        let os = address_os(&conn, "198.51.100.7", &f, 5, 1024).unwrap();
        assert_eq!(os.len(), 1);
        assert_eq!(os[0].os.as_deref(), Some("Linux 3.11 and newer"));
        assert_eq!(
            (os[0].quality.as_deref(), os[0].os_class.as_deref()),
            (None, None)
        );
        assert_eq!(
            session_p0f(&conn, "s", 5, 1024).unwrap()[0].distance,
            Some(2)
        );
        assert_eq!(top_os(&conn, &f, 5).unwrap().len(), 1);
    }
}
