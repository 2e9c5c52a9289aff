//! Looking addresses up in a MaxMind-format (MMDB) city database.
//!
//! Two record layouts are understood:
//!
//! - the GeoIP2 City layout of MaxMind's GeoLite2-City and GeoIP2-City (also
//!   GeoIP2-Country style databases and others that copy the layout): nested maps
//!   such as `city.names.en`, `country.iso_code` and `location.latitude`;
//! - the flat layout of DB-IP City Lite as repackaged one file per address family
//!   (database types `city ipv4` and `city ipv6`): one map per network such as
//!   `{"city": "London", "country_code": "GB", "latitude": 51.5, "longitude": -0.12,
//!   "state1": "England", ...}`.
//!
//! The layout is found by reading the first records of the database, so an
//! unfamiliar `database_type` does not matter; the type is kept for messages.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;

use maxminddb::{LookupResult, Mmap, Reader, WithinOptions};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, Visitor};

use crate::addr::is_public;
use crate::error::GeolocError;

/// How many records with data `open` and `with_asn` read to recognise a layout.
const PROBE_RECORDS: usize = 256;

/// How many networks [`GeoDb::sample_answer`] reads at most.
const SAMPLE_NETWORKS: usize = 4096;

/// Where an address is, as far as the database knows: the `ipInfo` row's place, so a lookup
/// goes into the store as it is. Latitude and longitude come only as a pair.
pub type Location = store::IpInfo;

/// Whether there is anything to put on a map: coordinates or a country.
fn has_place(location: &Location) -> bool {
    location.latitude.is_some() || location.country.is_some() || location.country_code.is_some()
}

/// Which record layout the database uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// MaxMind's nested GeoIP2 City (or Country) records.
    GeoIp2City,
    /// Flat records: `city`, `country_code`, `state1`, `latitude`, `longitude`.
    FlatCity,
}

/// An open city database, with an optional ASN database beside it.
///
/// Lookups only read the memory-mapped files, so one `GeoDb` can be shared by
/// many threads behind an `Arc`.
#[derive(Debug)]
pub struct GeoDb {
    /// The city database.
    city: Reader<Mmap>,
    /// The city database's record layout.
    layout: Layout,
    /// The ASN database, if one was given.
    asn: Option<Reader<Mmap>>,
    /// More city databases, asked in order when the first has no answer (DB-IP Lite's flat
    /// files come as one IPv4 and one IPv6 file).
    more: Vec<(Reader<Mmap>, Layout)>,
}

impl GeoDb {
    /// Opens (memory-maps) the city database at `path` and recognises its layout.
    ///
    /// The file must not be changed in place while it is open: replace it by
    /// renaming a new file over it, as database updaters do, and open it again.
    /// A database whose records carry neither a country nor coordinates in
    /// either layout (an ASN or connection-type database, say) is a
    /// [`GeolocError::Layout`] error.
    pub fn open(path: &Path) -> Result<GeoDb, GeolocError> {
        let city = open_reader(path)?;
        let layout = probe_city_layout(&city).map_err(|reason| GeolocError::Layout {
            path: shown(path),
            reason,
        })?;
        Ok(GeoDb {
            city,
            layout,
            asn: None,
            more: Vec::new(),
        })
    }

    /// Opens the city databases `cities` (asked in order) and the ASN database `asn`, if any.
    pub fn open_all(
        cities: &[std::path::PathBuf],
        asn: Option<&Path>,
    ) -> Result<GeoDb, GeolocError> {
        let Some((first, rest)) = cities.split_first() else {
            return Err(GeolocError::Open {
                path: String::new(),
                reason: "no city database given".into(),
            });
        };
        let mut db = GeoDb::open(first)?;
        for path in rest {
            db = db.with_city(path)?;
        }
        match asn {
            Some(asn) => db.with_asn(asn),
            None => Ok(db),
        }
    }

    /// Adds another city database (any layout), asked when the ones before it have no answer:
    /// DB-IP City Lite's flat files come as one IPv4 and one IPv6 file.
    pub fn with_city(mut self, path: &Path) -> Result<GeoDb, GeolocError> {
        let reader = open_reader(path)?;
        let layout = probe_city_layout(&reader).map_err(|reason| GeolocError::Layout {
            path: shown(path),
            reason,
        })?;
        self.more.push((reader, layout));
        Ok(self)
    }

    /// Adds the ASN database at `path` (GeoLite2-ASN style records:
    /// `autonomous_system_number`, `autonomous_system_organization`), used for
    /// `asn` and `org` when the city record has no autonomous system number.
    pub fn with_asn(self, path: &Path) -> Result<GeoDb, GeolocError> {
        let asn = open_reader(path)?;
        probe_asn_layout(&asn).map_err(|reason| GeolocError::AsnLayout {
            path: shown(path),
            reason,
        })?;
        Ok(GeoDb {
            asn: Some(asn),
            ..self
        })
    }

    /// The city database's record layout.
    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// The city database's `database_type` metadata, such as `GeoLite2-City`.
    pub fn database_type(&self) -> &str {
        &self.city.metadata().database_type
    }

    /// A public address the city database places, and its place, from its first networks:
    /// proof that lookups answer (`recce7 geoip update` checks a download with it).
    pub fn sample_answer(&self) -> Option<(IpAddr, Location)> {
        let networks = self.city.networks(WithinOptions::default()).ok()?;
        networks
            .take(SAMPLE_NETWORKS)
            .filter_map(Result::ok)
            .find_map(|result| {
                let ip = result.network().ok()?.ip();
                self.lookup(ip).map(|location| (ip, location))
            })
    }

    /// Where `ip` is, or `None`.
    ///
    /// An IPv4-mapped IPv6 address is looked up as IPv4. `None` without reading
    /// the database when the address is not public (see
    /// [`is_public`](crate::is_public)); `None` when the database has no record
    /// for it, when the record has neither coordinates nor a country, or when the
    /// record cannot be decoded.
    pub fn lookup(&self, ip: IpAddr) -> Option<Location> {
        let ip = ip.to_canonical();
        if !is_public(ip) {
            return None;
        }
        let mut location = std::iter::once((&self.city, self.layout))
            .chain(self.more.iter().map(|(reader, layout)| (reader, *layout)))
            .find_map(|(reader, layout)| {
                let location = match layout {
                    Layout::GeoIp2City => decode::<GeoIp2Record>(reader, ip)?.into_location(),
                    Layout::FlatCity => decode::<FlatRecord>(reader, ip)?.into_location(),
                };
                has_place(&location).then_some(location)
            })?;
        self.add_asn(&mut location, ip);
        Some(location)
    }

    /// Fills `asn` and `org` from the ASN database when the city record had no ASN.
    fn add_asn(&self, location: &mut Location, ip: IpAddr) {
        if location.asn.is_some() {
            return;
        }
        let Some(reader) = &self.asn else {
            return;
        };
        let Some(record) = decode::<AsnRecord>(reader, ip) else {
            return;
        };
        if let Some(asn) = record.autonomous_system_number {
            location.asn = Some(asn);
            location.org = text(record.autonomous_system_organization).or(location.org.take());
        }
    }
}

/// The path as it is shown in errors.
fn shown(path: &Path) -> String {
    path.display().to_string()
}

/// Memory-maps the MMDB file at `path`.
fn open_reader(path: &Path) -> Result<Reader<Mmap>, GeolocError> {
    // SAFETY: the mapped file is only read. Undefined behaviour would follow if
    // the file were truncated or rewritten in place while mapped; `GeoDb::open`
    // documents that a database must be replaced by renaming a new file over it
    // (as database updaters do), which leaves this mapping intact.
    let opened = unsafe { Reader::open_mmap(path) };
    opened.map_err(|error| GeolocError::Open {
        path: shown(path),
        reason: error.to_string(),
    })
}

/// The record for `ip`, decoded as `T`; `None` for no record or any error.
fn decode<T: DeserializeOwned>(reader: &Reader<Mmap>, ip: IpAddr) -> Option<T> {
    reader.lookup(ip).ok()?.decode::<T>().ok().flatten()
}

/// Reads the first records with data, up to [`PROBE_RECORDS`].
fn sample(reader: &Reader<Mmap>) -> Result<Vec<LookupResult<'_, Mmap>>, String> {
    let networks = reader
        .networks(WithinOptions::default())
        .map_err(|error| format!("cannot walk its networks: {error}"))?;
    Ok(networks
        .take(PROBE_RECORDS)
        .filter_map(Result::ok)
        .collect())
}

/// Which city layout the first records of `reader` have, or why none.
fn probe_city_layout(reader: &Reader<Mmap>) -> Result<Layout, String> {
    let records = sample(reader)?;
    if let Some(layout) = records.iter().find_map(classify) {
        return Ok(layout);
    }
    let database_type = &reader.metadata().database_type;
    let what = if records.iter().any(is_asn_record) {
        "they hold autonomous system numbers (an ASN database)"
    } else {
        "they have neither GeoIP2 fields (country, location) nor flat ones \
         (country_code, latitude, longitude)"
    };
    Err(format!(
        "its database_type is {database_type:?} and none of the {} records read has a \
         country or coordinates: {what}",
        records.len()
    ))
}

/// The layout one record shows, if it has a country or coordinates.
fn classify(result: &LookupResult<'_, Mmap>) -> Option<Layout> {
    let geoip2 = result.decode::<GeoIp2Record>().ok().flatten();
    if geoip2.is_some_and(|record| has_place(&record.into_location())) {
        return Some(Layout::GeoIp2City);
    }
    let flat = result.decode::<FlatRecord>().ok().flatten();
    if flat.is_some_and(|record| has_place(&record.into_location())) {
        return Some(Layout::FlatCity);
    }
    None
}

/// Whether one record carries an autonomous system number.
fn is_asn_record(result: &LookupResult<'_, Mmap>) -> bool {
    let record = result.decode::<AsnRecord>().ok().flatten();
    record.is_some_and(|record| record.autonomous_system_number.is_some())
}

/// Checks that the first records of `reader` carry autonomous system numbers.
fn probe_asn_layout(reader: &Reader<Mmap>) -> Result<(), String> {
    let records = sample(reader)?;
    if records.iter().any(is_asn_record) {
        return Ok(());
    }
    Err(format!(
        "its database_type is {:?} and none of the {} records read has an \
         autonomous_system_number",
        reader.metadata().database_type,
        records.len()
    ))
}

/// A string field, dropped when empty (the flat layout writes "" for missing).
fn text(value: Option<String>) -> Option<String> {
    value.filter(|value| !value.trim().is_empty())
}

/// Both coordinates when both are present, finite and in range; otherwise neither.
fn coordinates(latitude: Option<f64>, longitude: Option<f64>) -> (Option<f64>, Option<f64>) {
    match (latitude, longitude) {
        (Some(lat), Some(lon))
            if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) =>
        {
            (Some(lat), Some(lon))
        }
        _ => (None, None),
    }
}

/// Localised names; only English is read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Names {
    /// English name.
    en: Option<String>,
}

/// A GeoIP2 `city` or `subdivisions[i]` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Named {
    /// Its names.
    names: Option<Names>,
}

impl Named {
    /// The English name, if any.
    fn english(self) -> Option<String> {
        text(self.names?.en)
    }
}

/// A GeoIP2 `country` or `registered_country` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GeoCountry {
    /// Two-letter code.
    iso_code: Option<String>,
    /// Its names.
    names: Option<Names>,
}

impl GeoCountry {
    /// (English name, code), each dropped when empty.
    fn parts(self) -> (Option<String>, Option<String>) {
        let name = self.names.and_then(|names| text(names.en));
        (name, text(self.iso_code))
    }
}

/// A GeoIP2 `location` entry.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GeoLocation {
    /// Latitude.
    #[serde(deserialize_with = "lenient_f64")]
    latitude: Option<f64>,
    /// Longitude.
    #[serde(deserialize_with = "lenient_f64")]
    longitude: Option<f64>,
}

/// A GeoIP2 `traits` entry (Enterprise and ISP style databases fill these).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GeoTraits {
    /// Autonomous system number.
    #[serde(deserialize_with = "lenient_u32")]
    autonomous_system_number: Option<u32>,
    /// Autonomous system organisation.
    autonomous_system_organization: Option<String>,
    /// Organisation.
    organization: Option<String>,
}

/// The parts of a GeoIP2 City record that are used; other fields are skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct GeoIp2Record {
    /// City.
    city: Option<Named>,
    /// Subdivisions, largest first.
    subdivisions: Option<Vec<Named>>,
    /// Country where the address is.
    country: Option<GeoCountry>,
    /// Country where the network is registered.
    registered_country: Option<GeoCountry>,
    /// Coordinates.
    location: Option<GeoLocation>,
    /// Network traits.
    traits: Option<GeoTraits>,
}

impl GeoIp2Record {
    /// The location this record describes.
    fn into_location(self) -> Location {
        let (mut country, mut country_code) =
            self.country.map(GeoCountry::parts).unwrap_or_default();
        if country.is_none() && country_code.is_none() {
            (country, country_code) = self
                .registered_country
                .map(GeoCountry::parts)
                .unwrap_or_default();
        }
        let location = self.location.unwrap_or_default();
        let (latitude, longitude) = coordinates(location.latitude, location.longitude);
        let traits = self.traits.unwrap_or_default();
        let region = self.subdivisions.and_then(|list| list.into_iter().next());
        Location {
            city: self.city.and_then(Named::english),
            region: region.and_then(Named::english),
            country,
            country_code,
            latitude,
            longitude,
            org: text(traits.autonomous_system_organization).or(text(traits.organization)),
            asn: traits.autonomous_system_number,
        }
    }
}

/// A flat (repackaged DB-IP City Lite) record; other fields are skipped.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct FlatRecord {
    /// City.
    city: Option<String>,
    /// Country name; not part of the usual flat layout.
    country: Option<String>,
    /// Two-letter country code.
    country_code: Option<String>,
    /// First-level subdivision.
    state1: Option<String>,
    /// Latitude (a float, or a decimal string in some conversions).
    #[serde(deserialize_with = "lenient_f64")]
    latitude: Option<f64>,
    /// Longitude (a float, or a decimal string in some conversions).
    #[serde(deserialize_with = "lenient_f64")]
    longitude: Option<f64>,
}

impl FlatRecord {
    /// The location this record describes.
    fn into_location(self) -> Location {
        let (latitude, longitude) = coordinates(self.latitude, self.longitude);
        Location {
            city: text(self.city),
            region: text(self.state1),
            country: text(self.country),
            country_code: text(self.country_code),
            latitude,
            longitude,
            org: None,
            asn: None,
        }
    }
}

/// A GeoLite2-ASN record.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct AsnRecord {
    /// Autonomous system number.
    #[serde(deserialize_with = "lenient_u32")]
    autonomous_system_number: Option<u32>,
    /// Autonomous system organisation.
    autonomous_system_organization: Option<String>,
}

/// Reads a number stored as any MMDB numeric type (the decoder matches `f64` to
/// `double` only, but the flat databases store `float`) or as a decimal string.
fn lenient_f64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<f64>, D::Error> {
    deserializer.deserialize_any(FloatVisitor)
}

/// Reads an unsigned number stored as any MMDB integer type or a decimal string;
/// a value that does not fit in `u32` reads as absent.
fn lenient_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    deserializer.deserialize_any(U32Visitor)
}

/// Visitor behind [`lenient_f64`].
struct FloatVisitor;

impl Visitor<'_> for FloatVisitor {
    type Value = Option<f64>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a number or a decimal string")
    }

    fn visit_f32<E: de::Error>(self, value: f32) -> Result<Self::Value, E> {
        // Widen through the shortest decimal form, so that 51.5085f32 reads as
        // 51.5085 rather than 51.508499145507810.
        Ok(Some(value.to_string().parse().unwrap_or(f64::from(value))))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Self::Value, E> {
        Ok(Some(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(Some(value as f64))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(Some(value as f64))
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Self::Value, E> {
        Ok(Some(value as f64))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(value.trim().parse().ok())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Visitor behind [`lenient_u32`].
struct U32Visitor;

impl Visitor<'_> for U32Visitor {
    type Value = Option<u32>;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("an unsigned integer or a decimal string")
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Self::Value, E> {
        Ok(u32::try_from(value).ok())
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Self::Value, E> {
        Ok(u32::try_from(value).ok())
    }

    fn visit_u128<E: de::Error>(self, value: u128) -> Result<Self::Value, E> {
        Ok(u32::try_from(value).ok())
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Self::Value, E> {
        Ok(value.trim().parse().ok())
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata");

    fn fixture(name: &str) -> PathBuf {
        Path::new(TESTDATA).join(name)
    }

    fn open(name: &str) -> GeoDb {
        GeoDb::open(&fixture(name)).expect("fixture opens")
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    fn london_geoip2() -> Location {
        Location {
            city: Some("London".into()),
            region: Some("England".into()),
            country: Some("United Kingdom".into()),
            country_code: Some("GB".into()),
            latitude: Some(51.5142),
            longitude: Some(-0.0931),
            org: None,
            asn: None,
        }
    }

    #[test]
    fn london_in_both_geoip2_fixtures() {
        for (name, database_type) in [
            ("GeoIP2-City-Test.mmdb", "GeoIP2-City"),
            ("GeoLite2-City-Test.mmdb", "GeoLite2-City"),
        ] {
            let db = open(name);
            assert_eq!(db.layout(), Layout::GeoIp2City, "{name}");
            assert_eq!(db.database_type(), database_type);
            assert_eq!(
                db.lookup(ip("81.2.69.142")),
                Some(london_geoip2()),
                "{name}"
            );
        }
    }

    #[test]
    fn boxford_takes_the_first_subdivision() {
        let found = open("GeoLite2-City-Test.mmdb").lookup(ip("2.125.160.216"));
        let expected = Location {
            city: Some("Boxford".into()),
            region: Some("England".into()),
            country: Some("United Kingdom".into()),
            country_code: Some("GB".into()),
            latitude: Some(51.75),
            longitude: Some(-1.25),
            org: None,
            asn: None,
        };
        assert_eq!(found, Some(expected));
    }

    #[test]
    fn absent_and_non_public_addresses_have_no_location() {
        let db = open("GeoIP2-City-Test.mmdb");
        for text in [
            "8.8.8.8",
            "10.0.0.1",
            "127.0.0.1",
            "::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert_eq!(db.lookup(ip(text)), None, "{text}");
        }
    }

    #[test]
    fn ipv4_mapped_addresses_are_looked_up_as_ipv4() {
        let db = open("GeoIP2-City-Test.mmdb");
        assert_eq!(db.lookup(ip("::ffff:81.2.69.142")), Some(london_geoip2()));
    }

    #[test]
    fn country_level_and_coordinate_only_records_are_answers() {
        let db = open("GeoLite2-City-Test.mmdb");
        let japan = db.lookup(ip("2001:218::1")).expect("Japan record");
        assert_eq!(japan.city, None);
        assert_eq!(japan.country.as_deref(), Some("Japan"));
        assert_eq!(japan.country_code.as_deref(), Some("JP"));
        assert_eq!(
            (japan.latitude, japan.longitude),
            (Some(35.68536), Some(139.75309))
        );

        let no_country = db
            .lookup(ip("2a02:d500::1"))
            .expect("coordinates-only record");
        assert_eq!(no_country.country_code, None);
        assert_eq!(
            (no_country.latitude, no_country.longitude),
            (Some(48.69096), Some(9.14062))
        );
    }

    #[test]
    fn a_record_without_country_or_coordinates_is_no_answer() {
        // 214.1.1.0/24 holds only `traits.is_anycast` in the GeoIP2 City test data.
        assert_eq!(open("GeoIP2-City-Test.mmdb").lookup(ip("214.1.1.1")), None);
    }

    #[test]
    fn flat_ipv4_fixture() {
        let db = open("dbip-city-ipv4-test.mmdb");
        assert_eq!(db.layout(), Layout::FlatCity);
        assert_eq!(db.database_type(), "city ipv4");
        let london = Location {
            city: Some("London".into()),
            region: Some("England".into()),
            country: None,
            country_code: Some("GB".into()),
            latitude: Some(51.5085),
            longitude: Some(-0.1257),
            org: None,
            asn: None,
        };
        assert_eq!(db.lookup(ip("81.2.69.142")), Some(london.clone()));
        assert_eq!(db.lookup(ip("::ffff:81.2.69.142")), Some(london));

        let boxford = db.lookup(ip("2.125.160.216")).expect("Boxford");
        assert_eq!(boxford.city.as_deref(), Some("Boxford"));
        assert_eq!(boxford.region.as_deref(), Some("England"));
        assert_eq!(
            (boxford.latitude, boxford.longitude),
            (Some(51.4469), Some(-1.3841))
        );

        let linkoping = db.lookup(ip("89.160.20.128")).expect("Linköping");
        assert_eq!(linkoping.city.as_deref(), Some("Linköping"));
        assert_eq!(linkoping.region.as_deref(), Some("Östergötland County"));
        assert_eq!(linkoping.country_code.as_deref(), Some("SE"));
    }

    #[test]
    fn flat_records_with_string_coordinates_odd_types_or_nothing() {
        let db = open("dbip-city-ipv4-test.mmdb");
        let paris = db.lookup(ip("5.6.7.8")).expect("string coordinates");
        assert_eq!(paris.city.as_deref(), Some("Paris"));
        assert_eq!(
            (paris.latitude, paris.longitude),
            (Some(48.8566), Some(2.3522))
        );
        assert_eq!(db.lookup(ip("5.6.8.8")), None, "wrong field types");
        assert_eq!(db.lookup(ip("5.6.9.9")), None, "only empty strings");
        assert_eq!(
            db.lookup(ip("10.0.0.1")),
            None,
            "private, though in the file"
        );
        assert_eq!(db.lookup(ip("8.8.8.8")), None, "not in the file");
        assert_eq!(
            db.lookup(ip("2a02:c7f::1")),
            None,
            "IPv6 in an IPv4-only file"
        );
    }

    #[test]
    fn flat_ipv6_fixture() {
        let db = open("dbip-city-ipv6-test.mmdb");
        assert_eq!(db.layout(), Layout::FlatCity);
        assert_eq!(db.database_type(), "city ipv6");
        let london = db.lookup(ip("2a02:c7f::1")).expect("London");
        assert_eq!(london.city.as_deref(), Some("London"));
        assert_eq!(london.country_code.as_deref(), Some("GB"));
        let falkenstein = db.lookup(ip("2a01:4f8::1")).expect("Falkenstein");
        assert_eq!(falkenstein.region.as_deref(), Some("Saxony"));
        assert_eq!(
            (falkenstein.latitude, falkenstein.longitude),
            (Some(50.4779), Some(12.3713))
        );
        assert_eq!(
            db.lookup(ip("81.2.69.142")),
            None,
            "no IPv4 data in the IPv6 file"
        );
    }

    #[test]
    fn db_ip_ipv4_and_ipv6_files_together() {
        let db = open("dbip-city-ipv4-test.mmdb")
            .with_city(&fixture("dbip-city-ipv6-test.mmdb"))
            .expect("the IPv6 file opens");
        let v4 = db
            .lookup(ip("81.2.69.142"))
            .expect("IPv4 from the first file");
        let v6 = db
            .lookup(ip("2a01:4f8::1"))
            .expect("IPv6 from the second file");
        assert_eq!(v4.city.as_deref(), Some("London"));
        assert_eq!(v6.city.as_deref(), Some("Falkenstein"));
        assert!(matches!(
            open("dbip-city-ipv4-test.mmdb").with_city(&fixture("GeoLite2-ASN-Test.mmdb")),
            Err(GeolocError::Layout { .. })
        ));
    }

    #[test]
    fn asn_database_fills_org_and_asn() {
        let db = open("GeoLite2-City-Test.mmdb")
            .with_asn(&fixture("GeoLite2-ASN-Test.mmdb"))
            .expect("ASN fixture opens");
        let linkoping = db.lookup(ip("89.160.20.128")).expect("Linköping");
        assert_eq!(linkoping.city.as_deref(), Some("Linköping"));
        assert_eq!(linkoping.country.as_deref(), Some("Sweden"));
        assert_eq!(linkoping.asn, Some(29518));
        assert_eq!(linkoping.org.as_deref(), Some("Bredband2 AB"));

        let milton = db.lookup(ip("216.160.83.56")).expect("Milton");
        assert_eq!(milton.city.as_deref(), Some("Milton"));
        assert_eq!((milton.asn, milton.org), (Some(209), None));

        let london = db.lookup(ip("81.2.69.142")).expect("London");
        assert_eq!((london.asn, london.org), (None, None));
        // In the ASN data only: no place, so no answer.
        assert_eq!(db.lookup(ip("1.0.0.1")), None);
    }

    #[test]
    fn asn_database_works_with_the_flat_layout() {
        let db = open("dbip-city-ipv4-test.mmdb")
            .with_asn(&fixture("GeoLite2-ASN-Test.mmdb"))
            .expect("ASN fixture opens");
        let linkoping = db.lookup(ip("89.160.20.128")).expect("Linköping");
        assert_eq!(
            (linkoping.asn, linkoping.org.as_deref()),
            (Some(29518), Some("Bredband2 AB"))
        );
    }

    #[test]
    fn an_asn_database_is_not_a_city_database() {
        let path = fixture("GeoLite2-ASN-Test.mmdb");
        let error = GeoDb::open(&path).expect_err("ASN data is refused");
        assert!(matches!(error, GeolocError::Layout { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("is not a city database"), "{message}");
        assert!(message.contains("GeoLite2-ASN"), "{message}");
        assert!(message.contains("autonomous system numbers"), "{message}");
    }

    #[test]
    fn enterprise_traits_give_asn_and_org() {
        let db = open("GeoIP2-Enterprise-Test.mmdb");
        assert_eq!(db.layout(), Layout::GeoIp2City);
        let chatham = db.lookup(ip("74.209.24.1")).expect("Chatham");
        assert_eq!(chatham.city.as_deref(), Some("Chatham"));
        assert_eq!(chatham.region.as_deref(), Some("New York"));
        assert_eq!(chatham.country_code.as_deref(), Some("US"));
        assert_eq!(chatham.asn, Some(14671));
        // autonomous_system_organization wins over organization ("Fairpoint ...").
        assert_eq!(chatham.org.as_deref(), Some("FairPoint Communications"));
        // Only `traits.organization` there.
        let bhutan = db.lookup(ip("67.43.156.1")).expect("Bhutan");
        assert_eq!(
            (bhutan.asn, bhutan.org.as_deref()),
            (Some(35908), Some("zudoarichikito_"))
        );
    }

    #[test]
    fn a_connection_type_database_is_not_a_city_database() {
        let error = GeoDb::open(&fixture("GeoIP2-Connection-Type-Test.mmdb"))
            .expect_err("connection-type data is refused");
        assert!(matches!(error, GeolocError::Layout { .. }), "{error:?}");
        assert!(
            error.to_string().contains("GeoIP2-Connection-Type"),
            "{error}"
        );
    }

    #[test]
    fn undecodable_records_are_no_answer() {
        // Its `location` doubles are malformed; records without one still decode.
        let db = open("GeoIP2-City-Test-Broken-Double-Format.mmdb");
        assert_eq!(db.lookup(ip("81.2.69.142")), None);
        assert_eq!(db.lookup(ip("2.125.160.216")), None);
    }

    #[test]
    fn a_city_database_is_not_an_asn_database() {
        let error = open("GeoLite2-City-Test.mmdb")
            .with_asn(&fixture("GeoIP2-City-Test.mmdb"))
            .expect_err("city data is refused as ASN data");
        assert!(matches!(error, GeolocError::AsnLayout { .. }), "{error:?}");
        assert!(
            error.to_string().contains("is not an ASN database"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_file_is_an_open_error_naming_the_path() {
        let path = fixture("no-such-database.mmdb");
        let error = GeoDb::open(&path).expect_err("missing file");
        assert!(matches!(error, GeolocError::Open { .. }), "{error:?}");
        let message = error.to_string();
        assert!(
            message.starts_with("cannot open the GeoIP database "),
            "{message}"
        );
        assert!(message.contains(&path.display().to_string()), "{message}");
    }

    #[test]
    fn a_file_that_is_not_mmdb_is_an_open_error() {
        let error = GeoDb::open(&fixture("LICENSE-MIT")).expect_err("not an MMDB file");
        assert!(matches!(error, GeolocError::Open { .. }), "{error:?}");
    }

    #[test]
    fn geodb_is_send_and_sync_and_shareable() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<GeoDb>();

        let db = Arc::new(open("GeoLite2-City-Test.mmdb"));
        std::thread::scope(|scope| {
            for _ in 0..2 {
                let db = Arc::clone(&db);
                scope.spawn(move || {
                    assert_eq!(db.lookup(ip("81.2.69.142")), Some(london_geoip2()));
                });
            }
        });
    }

    #[test]
    fn coordinates_must_come_in_range_and_in_pairs() {
        assert_eq!(coordinates(Some(1.0), Some(2.0)), (Some(1.0), Some(2.0)));
        assert_eq!(coordinates(Some(1.0), None), (None, None));
        assert_eq!(coordinates(Some(91.0), Some(0.0)), (None, None));
        assert_eq!(coordinates(Some(0.0), Some(-180.5)), (None, None));
        assert_eq!(coordinates(Some(f64::NAN), Some(0.0)), (None, None));
    }
}
