//! `geoloc.toml`: the `[geoloc]` table (databases, where to publish), optional
//! `[[sensor_location]]` entries, and the `[hpfeeds]` table every consumer shares. Every
//! problem is reported at once as `file: key: reason`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use roleconfig::{ConfigProblems, SubscriberSection, SubscriberSettings, Validated};
use serde::Deserialize;

use crate::Location;

/// The shipped configuration, `configs/geoloc.toml`.
pub const SHIPPED_CONFIG: &str = include_str!("../../configs/geoloc.toml");

/// Channels read when `[hpfeeds]` names none.
pub const DEFAULT_CHANNELS: [&str; 1] = ["recce7.events"];

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
pub struct GeolocFile {
    /// `[geoloc]`.
    pub geoloc: GeolocSection,
    /// `[[sensor_location]]`.
    #[serde(default)]
    pub sensor_location: Vec<SensorLocation>,
    /// `[hpfeeds]`.
    pub hpfeeds: SubscriberSection,
}

/// `[geoloc]`.
#[derive(Debug, Clone, Deserialize)]
pub struct GeolocSection {
    /// The city database, or several asked in order (DB-IP Lite's IPv4 and IPv6 files).
    pub geoip: roleconfig::Paths,
    /// An optional ASN database.
    #[serde(default)]
    pub geoip_asn: Option<PathBuf>,
    /// How often the databases are looked at for a replacement (`recce7 geoip update`), seconds.
    #[serde(default = "default_geoip_check_secs")]
    pub geoip_check_secs: u64,
    /// The central store whose ipInfo is filled; empty for none.
    #[serde(default)]
    pub database: PathBuf,
    /// The channel records are published on.
    #[serde(default = "default_publish_channel")]
    pub publish_channel: String,
    /// Log level.
    #[serde(default = "default_log_level")]
    pub log_level: String,
    /// Recent ids remembered for deduplication.
    #[serde(default = "default_dedup_window")]
    pub dedup_window: u64,
}

fn default_geoip_check_secs() -> u64 {
    crate::DEFAULT_CHECK_SECS
}
fn default_publish_channel() -> String {
    "geoloc.events".into()
}
fn default_log_level() -> String {
    "info".into()
}
fn default_dedup_window() -> u64 {
    100_000
}

/// `[[sensor_location]]`: where a sensor is.
#[derive(Debug, Clone, Deserialize)]
pub struct SensorLocation {
    /// The sensor's hpfeeds ident, or `*` for every sensor without its own entry.
    pub ident: String,
    /// City.
    pub city: Option<String>,
    /// Country name.
    pub country: Option<String>,
    /// ISO country code.
    pub countrycode: Option<String>,
    /// Latitude.
    pub latitude: f64,
    /// Longitude.
    pub longitude: f64,
}

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct GeolocSettings {
    /// The city databases, asked in order.
    pub geoip: Vec<PathBuf>,
    /// The ASN database.
    pub geoip_asn: Option<PathBuf>,
    /// How often the databases are looked at for a replacement, seconds.
    pub geoip_check_secs: u64,
    /// The central store, if any.
    pub database: Option<PathBuf>,
    /// Channel to publish on.
    pub publish_channel: String,
    /// Log level.
    pub log_level: String,
    /// Dedup window.
    pub dedup_window: usize,
    /// Sensor locations by ident (`*`: the default).
    pub sensor_locations: HashMap<String, Location>,
    /// The broker and channels.
    pub hpfeeds: SubscriberSettings,
}

impl GeolocFile {
    /// Checks everything; every problem as `(key, reason)`.
    pub fn validate(&self) -> Validated<GeolocSettings> {
        let g = &self.geoloc;
        let mut problems = Vec::new();
        let geoip = g.geoip.to_vec();
        if geoip.is_empty() {
            problems.push((
                "geoloc.geoip".into(),
                "must name a city database (.mmdb)".into(),
            ));
        }
        roleconfig::check_name("geoloc.publish_channel", &g.publish_channel, &mut problems);
        if !["error", "warn", "info", "debug", "trace"].contains(&g.log_level.as_str()) {
            problems.push((
                "geoloc.log_level".into(),
                format!(
                    "{:?} is not one of error, warn, info, debug, trace",
                    g.log_level
                ),
            ));
        }
        if !(1..=86_400).contains(&g.geoip_check_secs) {
            problems.push((
                "geoloc.geoip_check_secs".into(),
                format!("{} is outside 1..=86400", g.geoip_check_secs),
            ));
        }
        if !(1..=10_000_000).contains(&g.dedup_window) {
            problems.push((
                "geoloc.dedup_window".into(),
                format!("{} is outside 1..=10000000", g.dedup_window),
            ));
        }
        let mut sensor_locations = HashMap::new();
        for (i, l) in self.sensor_location.iter().enumerate() {
            let key = |k: &str| format!("sensor_location[{i}].{k}");
            if l.ident.is_empty() {
                problems.push((key("ident"), "must be a sensor's ident or *".into()));
            }
            if !(-90.0..=90.0).contains(&l.latitude) {
                problems.push((
                    key("latitude"),
                    format!("{} is outside -90..90", l.latitude),
                ));
            }
            if !(-180.0..=180.0).contains(&l.longitude) {
                problems.push((
                    key("longitude"),
                    format!("{} is outside -180..180", l.longitude),
                ));
            }
            let location = Location {
                city: l.city.clone(),
                country: l.country.clone(),
                country_code: l.countrycode.clone(),
                latitude: Some(l.latitude),
                longitude: Some(l.longitude),
                ..Location::default()
            };
            if sensor_locations.insert(l.ident.clone(), location).is_some() {
                problems.push((key("ident"), format!("{:?} is given twice", l.ident)));
            }
        }
        let hpfeeds = match self.hpfeeds.validate(&DEFAULT_CHANNELS) {
            Ok(h) => Some(h),
            Err(more) => {
                problems.extend(more);
                None
            }
        };
        if hpfeeds
            .as_ref()
            .is_some_and(|h| h.channels.contains(&g.publish_channel))
        {
            problems.push((
                "geoloc.publish_channel".into(),
                "must not be one of the channels read".into(),
            ));
        }
        match hpfeeds {
            Some(hpfeeds) if problems.is_empty() => Ok(GeolocSettings {
                geoip,
                geoip_asn: g.geoip_asn.clone().filter(|p| !p.as_os_str().is_empty()),
                geoip_check_secs: g.geoip_check_secs,
                database: Some(g.database.clone()).filter(|p| !p.as_os_str().is_empty()),
                publish_channel: g.publish_channel.clone(),
                log_level: g.log_level.clone(),
                dedup_window: g.dedup_window as usize,
                sensor_locations,
                hpfeeds,
            }),
            _ => Err(problems),
        }
    }
}

/// Reads and validates a file.
pub fn load(path: &Path) -> Result<GeolocSettings, ConfigProblems> {
    roleconfig::load(path, GeolocFile::validate)
}

/// Parses and validates `text`; `file` names it in problems.
pub fn parse_config(text: &str, file: &str) -> Result<GeolocSettings, ConfigProblems> {
    roleconfig::parse(text, file, GeolocFile::validate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_is_valid() {
        let s = parse_config(SHIPPED_CONFIG, "configs/geoloc.toml").unwrap();
        assert_eq!(s.publish_channel, "geoloc.events");
        assert_eq!(s.database, Some(PathBuf::from("central.sqlite")));
        assert!(s.sensor_locations.is_empty());
        assert_eq!(
            s.geoip_check_secs, 60,
            "replaced databases are looked for every minute"
        );
    }

    #[test]
    fn every_problem_names_file_and_key() {
        let text = "[geoloc]\ngeoip = \"\"\ngeoip_check_secs = 0\npublish_channel = \"recce7.events\"\n\n[[sensor_location]]\nident = \"*\"\nlatitude = 95.0\nlongitude = 0.0\n\n[hpfeeds]\nhost = \"h\"\nident = \"i\"\nsecret = \"s\"\n";
        let problems = parse_config(text, "g.toml").unwrap_err().to_string();
        assert_eq!(
            problems.lines().collect::<Vec<_>>(),
            [
                "g.toml: geoloc.geoip: must name a city database (.mmdb) (line 2)",
                "g.toml: geoloc.geoip_check_secs: 0 is outside 1..=86400 (line 3)",
                "g.toml: sensor_location[0].latitude: 95 is outside -90..90 (line 8)",
                "g.toml: geoloc.publish_channel: must not be one of the channels read (line 4)",
            ]
        );
    }
}
