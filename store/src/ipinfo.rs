//! The `ipInfo` table: where each attacking address is, as the GeoIP database says, with the
//! first and last time it was seen. Filled by geoloc in a fleet and by the sensor's recorder in a
//! standalone `recce7 up`; the lookup itself is behind [`IpLocator`], so this crate needs no GeoIP
//! reader.

use std::net::IpAddr;

use rusqlite::{Connection, params};

use crate::StoreError;

/// What a GeoIP lookup says about one address. Every field is optional: databases differ.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct IpInfo {
    /// City name (English).
    pub city: Option<String>,
    /// First subdivision (state, region).
    pub region: Option<String>,
    /// Country name (English).
    pub country: Option<String>,
    /// ISO 3166-1 alpha-2 code.
    pub country_code: Option<String>,
    /// Latitude in degrees.
    pub latitude: Option<f64>,
    /// Longitude in degrees.
    pub longitude: Option<f64>,
    /// Organisation owning the address, when the database has it.
    pub org: Option<String>,
    /// Autonomous system number, when the database has it.
    pub asn: Option<u32>,
}

/// Something that can place an address (a GeoIP database). `None` for private or unknown
/// addresses.
pub trait IpLocator: Send + Sync {
    /// Looks `ip` up.
    fn locate(&self, ip: IpAddr) -> Option<IpInfo>;
}

/// What [`upsert_ip_info`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpInfoChange {
    /// A new row.
    Inserted,
    /// The row existed; first/last seen widened, location unchanged.
    Seen,
    /// The row existed and the lookup differed from what it held: refreshed.
    Refreshed,
}

/// Records that `ip` was seen at `seen` (RFC 3339 UTC, the store's format), with `info` from a
/// lookup (`None`: private or unknown; an existing row's location is then kept). `now` stamps
/// `updated` when the location is new or differs from the row's.
pub fn upsert_ip_info(
    conn: &Connection,
    ip: IpAddr,
    seen: &str,
    info: Option<&IpInfo>,
    now: &str,
) -> Result<IpInfoChange, StoreError> {
    let address = ip.to_string();
    let empty = IpInfo::default();
    let i = info.unwrap_or(&empty);
    let mut find = conn.prepare_cached(
        "SELECT city, region, country, countryCode, latitude, longitude, org, asn
         FROM ipInfo WHERE ipAddress = ?1",
    )?;
    let existing = find
        .query_row([&address], |r| {
            Ok(IpInfo {
                city: r.get(0)?,
                region: r.get(1)?,
                country: r.get(2)?,
                country_code: r.get(3)?,
                latitude: r.get(4)?,
                longitude: r.get(5)?,
                org: r.get(6)?,
                asn: r.get(7)?,
            })
        })
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            e => Err(e),
        })?;
    // The insert and the refresh take the same parameters: address, seen, the place, updated.
    let write = |sql: &str, updated: Option<&str>| {
        conn.prepare_cached(sql)?.execute(params![
            address,
            seen,
            i.city,
            i.region,
            i.country,
            i.country_code,
            i.latitude,
            i.longitude,
            i.org,
            i.asn,
            updated,
        ])
    };
    match existing {
        None => {
            write(
                "INSERT INTO ipInfo (ipAddress, firstSeen, lastSeen, city, region, country,
                 countryCode, latitude, longitude, org, asn, updated)
                 VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                info.map(|_| now),
            )?;
            Ok(IpInfoChange::Inserted)
        }
        Some(old) if info.is_some() && old != *i => {
            write(
                "UPDATE ipInfo SET firstSeen = min(firstSeen, ?2), lastSeen = max(lastSeen, ?2),
                 city = ?3, region = ?4, country = ?5, countryCode = ?6, latitude = ?7,
                 longitude = ?8, org = ?9, asn = ?10, updated = ?11 WHERE ipAddress = ?1",
                Some(now),
            )?;
            Ok(IpInfoChange::Refreshed)
        }
        Some(_) => {
            conn.prepare_cached(
                "UPDATE ipInfo SET firstSeen = min(firstSeen, ?2), lastSeen = max(lastSeen, ?2)
                 WHERE ipAddress = ?1",
            )?
            .execute(params![address, seen])?;
            Ok(IpInfoChange::Seen)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn london() -> IpInfo {
        IpInfo {
            city: Some("London".into()),
            country: Some("United Kingdom".into()),
            country_code: Some("GB".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            ..IpInfo::default()
        }
    }

    fn row(conn: &Connection) -> (String, String, Option<String>, Option<String>) {
        conn.query_row(
            "SELECT firstSeen, lastSeen, city, updated FROM ipInfo WHERE ipAddress = '81.2.69.142'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .unwrap()
    }

    #[test]
    fn inserts_widens_the_seen_window_and_refreshes_only_on_a_different_lookup() {
        let conn = Connection::open_in_memory().unwrap();
        crate::schema::create_fixed_tables(&conn).unwrap();
        let ip: IpAddr = "81.2.69.142".parse().unwrap();
        let t = |s: &str| format!("2026-11-23T10:00:{s}.000000Z");
        let up = |seen: &str, info: Option<&IpInfo>, now: &str| {
            upsert_ip_info(&conn, ip, seen, info, now).unwrap()
        };
        assert_eq!(
            up(&t("10"), Some(&london()), &t("10")),
            IpInfoChange::Inserted
        );
        assert_eq!(up(&t("20"), Some(&london()), &t("20")), IpInfoChange::Seen);
        assert_eq!(up(&t("05"), None, &t("21")), IpInfoChange::Seen);
        let (first, last, city, updated) = row(&conn);
        assert_eq!((first, last), (t("05"), t("20")));
        assert_eq!(
            city.as_deref(),
            Some("London"),
            "an empty lookup keeps the location"
        );
        assert_eq!(updated, Some(t("10")));
        let moved = IpInfo {
            city: Some("Boxford".into()),
            ..london()
        };
        assert_eq!(
            up(&t("30"), Some(&moved), &t("30")),
            IpInfoChange::Refreshed
        );
        let (_, last, city, updated) = row(&conn);
        assert_eq!(
            (last, city, updated),
            (t("30"), Some("Boxford".into()), Some(t("30")))
        );
    }
}
