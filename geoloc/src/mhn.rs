//! The record MHN's geoloc publishes on `geoloc.events`.

use std::net::IpAddr;

use serde_json::{Map, Value};
use time::{OffsetDateTime, UtcOffset};

use crate::lookup::Location;

/// The exact field names MHN's geoloc publishes, in order.
pub const MHN_FIELDS: [&str; 14] = [
    "type",
    "sensor",
    "time",
    "source",
    "latitude",
    "longitude",
    "city",
    "country",
    "countrycode",
    "latitude2",
    "longitude2",
    "city2",
    "country2",
    "countrycode2",
];

/// `t` as MHN writes times: `%Y-%m-%d %H:%M:%S` in UTC, such as `2024-03-09 23:02:03`.
pub fn mhn_time(t: OffsetDateTime) -> String {
    // Converting can only fail at the edges of the supported years; keep the
    // given offset's clock then rather than fail.
    let utc = t.checked_to_offset(UtcOffset::UTC).unwrap_or(t);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        utc.year(),
        u8::from(utc.month()),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second()
    )
}

/// The `geoloc.events` record for one event: exactly the [`MHN_FIELDS`] keys.
///
/// `type` is the hpfeeds channel the event came on (a recce7 scan's event type,
/// such as `scan.syn`, for a scan), `sensor` the publishing
/// sensor's ident, `source` the attacker's address (IPv4-mapped IPv6 written as
/// IPv4). The unsuffixed location fields describe `src` (the attacker), the ones
/// ending in `2` describe `dst` (the sensor). `country` is the country name and
/// `countrycode` the ISO code; coordinates are JSON numbers; anything unknown is
/// JSON `null`, never left out.
pub fn mhn_record(
    record_type: &str,
    ident: &str,
    time: OffsetDateTime,
    source: IpAddr,
    src: Option<&Location>,
    dst: Option<&Location>,
) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("type".to_owned(), Value::from(record_type));
    record.insert("sensor".to_owned(), Value::from(ident));
    record.insert("time".to_owned(), Value::from(mhn_time(time)));
    record.insert(
        "source".to_owned(),
        Value::from(source.to_canonical().to_string()),
    );
    insert_location(&mut record, "", src);
    insert_location(&mut record, "2", dst);
    record
}

/// Adds the five location fields, their names ending in `suffix`.
fn insert_location(record: &mut Map<String, Value>, suffix: &str, location: Option<&Location>) {
    let fields = [
        ("latitude", number(location.and_then(|l| l.latitude))),
        ("longitude", number(location.and_then(|l| l.longitude))),
        ("city", text(location.and_then(|l| l.city.as_deref()))),
        ("country", text(location.and_then(|l| l.country.as_deref()))),
        (
            "countrycode",
            text(location.and_then(|l| l.country_code.as_deref())),
        ),
    ];
    for (name, value) in fields {
        record.insert(format!("{name}{suffix}"), value);
    }
}

/// A JSON number, or `null` for none (or a non-finite value).
fn number(value: Option<f64>) -> Value {
    value.map_or(Value::Null, Value::from)
}

/// A JSON string, or `null` for none.
fn text(value: Option<&str>) -> Value {
    value.map_or(Value::Null, Value::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn keys(record: &Map<String, Value>) -> Vec<&str> {
        let mut keys: Vec<&str> = record.keys().map(String::as_str).collect();
        keys.sort_unstable();
        keys
    }

    fn sorted_fields() -> Vec<&'static str> {
        let mut fields = MHN_FIELDS.to_vec();
        fields.sort_unstable();
        fields
    }

    #[test]
    fn time_is_utc_in_mhn_format() {
        assert_eq!(
            mhn_time(datetime!(2024-03-10 01:02:03 +02:00)),
            "2024-03-09 23:02:03"
        );
        assert_eq!(
            mhn_time(datetime!(2024-12-31 20:30:00 -05:00)),
            "2025-01-01 01:30:00"
        );
        assert_eq!(
            mhn_time(datetime!(2024-01-02 03:04:05.999 UTC)),
            "2024-01-02 03:04:05"
        );
    }

    #[test]
    fn unknown_locations_are_nulls_never_missing() {
        let record = mhn_record(
            "cowrie.sessions",
            "sensor-1",
            datetime!(2024-03-10 01:02:03 +02:00),
            "::ffff:81.2.69.142".parse().expect("address"),
            None,
            None,
        );
        assert_eq!(keys(&record), sorted_fields());
        assert_eq!(record["type"], "cowrie.sessions");
        assert_eq!(record["sensor"], "sensor-1");
        assert_eq!(record["time"], "2024-03-09 23:02:03");
        assert_eq!(record["source"], "81.2.69.142");
        for name in &MHN_FIELDS[4..] {
            assert_eq!(record[*name], Value::Null, "{name}");
        }
    }

    #[test]
    fn known_locations_fill_both_sides() {
        let attacker = Location {
            city: Some("London".into()),
            region: Some("England".into()),
            country: Some("United Kingdom".into()),
            country_code: Some("GB".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            org: None,
            asn: None,
        };
        let sensor = Location {
            country_code: Some("SE".into()),
            latitude: Some(58.4167),
            longitude: Some(15.6167),
            ..Location::default()
        };
        let record = mhn_record(
            "dionaea.connections",
            "s",
            datetime!(2024-03-10 01:02:03 UTC),
            "2a02:c7f::1".parse().expect("address"),
            Some(&attacker),
            Some(&sensor),
        );
        assert_eq!(keys(&record), sorted_fields());
        assert_eq!(record["source"], "2a02:c7f::1");
        assert_eq!(record["latitude"], 51.5142);
        assert_eq!(record["longitude"], -0.0931);
        assert!(record["latitude"].is_f64());
        assert_eq!(record["city"], "London");
        assert_eq!(record["country"], "United Kingdom");
        assert_eq!(record["countrycode"], "GB");
        assert_eq!(record["latitude2"], 58.4167);
        assert_eq!(record["longitude2"], 15.6167);
        assert_eq!(record["city2"], Value::Null);
        assert_eq!(record["country2"], Value::Null);
        assert_eq!(record["countrycode2"], "SE");

        let text = serde_json::to_string(&record).expect("serializes");
        let back: Map<String, Value> = serde_json::from_str(&text).expect("parses");
        assert_eq!(back, record);
    }
}
