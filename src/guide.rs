//! What each role prints on standard output once it is bound: where it listens, what it reads
//! and writes, and, for `recce7 up`, where to look next.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// What the guide says of `recce7 up`'s report service.
pub struct ReportShown {
    /// Its URL as a browser on this machine reaches it.
    pub public_url: String,
    /// Where it listens.
    pub listen: SocketAddr,
    /// Whether a bearer token is required.
    pub token: bool,
}

/// What the standalone sensor's start-up text is made of.
pub struct SensorGuide<'a> {
    /// The sensor, bound.
    pub sensor: &'a sensor::Sensor,
    /// The database as shown (absolute where it can be).
    pub database: &'a Path,
    /// The GeoIP files in use.
    pub geoip: &'a [PathBuf],
    /// Where `/metrics` is served, if it is.
    pub metrics: Option<SocketAddr>,
    /// The report service (`recce7 up`).
    pub report: Option<ReportShown>,
    /// The full guide (`recce7 up`): hints on GeoIP, what was recorded and how to stop.
    pub full: bool,
}

impl SensorGuide<'_> {
    /// The text, one line per thing.
    pub fn text(&self) -> String {
        let sensor = self.sensor;
        let mut guide = format!(
            "recce7 sensor {:?} recording to {}\n",
            sensor.config().name,
            self.database.display()
        );
        for (name, kind, addr) in sensor.listening() {
            let port = addr.port();
            // Rules and Lua instances: the client of the protocol they speak.
            let protocol = sensor
                .config()
                .instances
                .iter()
                .find(|i| i.name == name)
                .map(|i| i.plugin.protocol().to_owned())
                .unwrap_or_default();
            let hint = match (kind, protocol.as_str()) {
                ("telnet", _) => format!("try: telnet 127.0.0.1 {port}"),
                ("ssh", _) => format!("try: ssh -p {port} root@127.0.0.1"),
                ("http", _) => format!("try: curl -i http://127.0.0.1:{port}/"),
                (_, "ftp") => format!("try: curl ftp://127.0.0.1:{port}/"),
                (_, "redis") => format!("try: redis-cli -h 127.0.0.1 -p {port} info"),
                (_, "mysql") => format!("try: mariadb -h 127.0.0.1 -P {port} -u root"),
                _ => format!("try: nc 127.0.0.1 {port}"),
            };
            guide.push_str(&format!(
                "  {name:<10} {kind:<7} listening on {addr:<16} {hint}\n"
            ));
        }
        if let Some(h) = &sensor.config().hpfeeds {
            guide.push_str(&format!(
                "  publishing every event to hpfeeds {}:{} channel {} as {} (outbox in the database)\n",
                h.host, h.port, h.channel, h.ident
            ));
        }
        if !self.geoip.is_empty() {
            let files: Vec<String> = self.geoip.iter().map(|p| p.display().to_string()).collect();
            guide.push_str(&format!(
                "  looking up every source in {} (ipInfo)\n",
                files.join(", ")
            ));
        } else if self.full {
            guide.push_str(
                "  no GeoIP database: ipInfo keeps addresses without places (recce7 geoip update --dir . downloads one; then --geoip dbip-city-lite.mmdb; docs/geoip.md)\n",
            );
        }
        if let Some(addr) = self.metrics {
            guide.push_str(&format!(
                "  metrics for Prometheus at http://{addr}/metrics\n"
            ));
        }
        if self.full && cfg!(not(feature = "server")) {
            guide.push_str(
                "no report service: this binary is a sensor-only build (built without the `server` feature)\n",
            );
        }
        if let Some(settings) = &self.report {
            let url = &settings.public_url;
            guide.push_str(&format!(
                "dashboard: {url}/   REST API: {url}/v1/analytics   map: {url}/v1/worldmap?days=1\n"
            ));
            if settings.listen.ip().is_unspecified() {
                guide.push_str(&format!(
                    "  the report service listens on every address ({}): from elsewhere use this machine's address\n",
                    settings.listen
                ));
            }
            if settings.token {
                guide.push_str(
                    "  bearer token required: the dashboard asks for it once; API clients send Authorization: Bearer <token>\n",
                );
            }
        }
        if self.full {
            guide.push_str(&format!(
                "what was recorded: sqlite3 {} 'SELECT * FROM sessions ORDER BY startTime DESC LIMIT 20'  (apt install sqlite3)\n\
                 stop with Ctrl-C: open sessions get their end records, everything is committed.\n",
                self.database.display()
            ));
        }
        guide
    }
}

/// `recce7 reportd`'s start line.
#[cfg(feature = "server")]
pub fn reportd(settings: &reportd::ReportdSettings) -> String {
    format!(
        "recce7 reportd: serving {} on {}/ (listening on {}; REST API /v1/analytics, map /v1/worldmap, metrics /metrics){}",
        settings.database.display(),
        settings.public_url,
        settings.listen,
        if settings.token.is_some() {
            ", bearer token required"
        } else {
            ""
        }
    )
}

/// `recce7 normalizer`'s start line.
#[cfg(feature = "server")]
pub fn normalizer(settings: &normalizer::NormalizerSettings) -> String {
    format!(
        "recce7 normalizer: reading {} from {}:{} into {}",
        settings.hpfeeds.channels.join(", "),
        settings.hpfeeds.host,
        settings.hpfeeds.port,
        settings.database.display()
    )
}

/// `recce7 geoloc`'s start line.
#[cfg(feature = "server")]
pub fn geoloc(settings: &geoloc::config::GeolocSettings) -> String {
    format!(
        "recce7 geoloc: reading {} from {}:{}, publishing on {}",
        settings.hpfeeds.channels.join(", "),
        settings.hpfeeds.host,
        settings.hpfeeds.port,
        settings.publish_channel
    )
}
