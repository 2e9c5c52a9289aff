//! geoloc's pipeline: every message on the honeypot channels is parsed (with the intake's
//! parser, [`intake::parse`]), its source and destination looked up, and one MHN-format record published on
//! `geoloc.events` per attack (a recce7 `session.start` or `scan.*`, a Cowrie session, a
//! Dionaea connection); the source's sighting goes to `ipInfo`. A scan opens no session, so
//! its report is its only event: without a record of its own a scanner would never reach the
//! map.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use broker_client::{Message, Publisher, Status};
use bytes::Bytes;
use intake::parse::{Parsed, PayloadLimits, parse};
use intake::{Consumer, Subscriber};
use serde_json::{Map, Value};
use store::EventType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::GeolocError;
use crate::config::GeolocSettings;
use crate::ipinfo_writer::{IpInfoWriter, Sighting};
use crate::mhn_record;
use crate::{GeoDb, LiveGeoDb, Location};

/// The last `capacity` ids seen, to drop duplicates of at-least-once delivery.
#[derive(Debug)]
pub struct RecentIds {
    capacity: usize,
    order: VecDeque<String>,
    set: HashSet<String>,
}

impl RecentIds {
    /// Remembers up to `capacity` ids.
    pub fn new(capacity: usize) -> RecentIds {
        RecentIds {
            capacity: capacity.max(1),
            order: VecDeque::new(),
            set: HashSet::new(),
        }
    }

    /// True when `id` is new (and remembers it); false for a duplicate.
    pub fn insert(&mut self, id: &str) -> bool {
        if self.set.contains(id) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(old) = self.order.pop_front()
        {
            self.set.remove(&old);
        }
        self.order.push_back(id.to_owned());
        self.set.insert(id.to_owned());
        true
    }
}

/// What one message became.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A record to publish and a sighting for `ipInfo`.
    Located {
        /// The MHN record.
        record: Map<String, Value>,
        /// The source's sighting.
        sighting: Box<Sighting>,
    },
    /// Already handled (same id).
    Duplicate,
    /// Not an attack's first event (a later event of a session, a fingerprint): nothing to
    /// publish.
    Skipped,
    /// The payload was refused by the parser.
    Refused(String),
}

/// The lookup and record building, without I/O.
pub struct Geolocator {
    db: Arc<dyn store::IpLocator>,
    sensor_locations: HashMap<String, Location>,
    recent: RecentIds,
    limits: PayloadLimits,
}

impl Geolocator {
    /// A geolocator over `db` (a [`GeoDb`], or a [`LiveGeoDb`] that follows its files);
    /// `sensor_locations` by ident (`*`: the default).
    pub fn new(
        db: Arc<dyn store::IpLocator>,
        sensor_locations: HashMap<String, Location>,
        dedup_window: usize,
    ) -> Geolocator {
        Geolocator {
            db,
            sensor_locations,
            recent: RecentIds::new(dedup_window),
            limits: PayloadLimits::default(),
        }
    }

    /// Handles one message. The record's `type` is the channel the message came on, except
    /// for a recce7 scan, whose `type` is its event type (`scan.syn`, ...): a map can then
    /// show scanners apart from sessions.
    pub fn handle(&mut self, channel: &str, ident: &str, payload: &[u8]) -> Outcome {
        let parsed = match parse(channel, ident, payload, &self.limits) {
            Ok(parsed) => parsed,
            Err(rejection) => return Outcome::Refused(rejection.to_string()),
        };
        let mut record_type = channel;
        let (id, src, dst, time) = match &parsed {
            Parsed::Event(e) if e.kind == EventType::SessionStart => {
                (e.id.as_str(), e.src_ip, e.dst_ip, Some(e.time.as_str()))
            }
            Parsed::Event(e) if e.kind.is_scan() => {
                record_type = e.kind.as_str();
                (e.id.as_str(), e.src_ip, e.dst_ip, Some(e.time.as_str()))
            }
            Parsed::Event(_) => return Outcome::Skipped,
            Parsed::Cowrie(c) => (
                c.id.as_str(),
                c.peer_ip,
                c.host_ip,
                Some(c.start_time.as_str()),
            ),
            Parsed::Dionaea(d) => (d.id.as_str(), d.remote_ip, d.local_ip, None),
        };
        if !self.recent.insert(id) {
            return Outcome::Duplicate;
        }
        let time = time
            .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
            .unwrap_or_else(OffsetDateTime::now_utc);
        let src_location = self.db.locate(src);
        let dst_location = self.db.locate(dst).or_else(|| self.sensor_location(ident));
        let record = mhn_record(
            record_type,
            ident,
            time,
            src,
            src_location.as_ref(),
            dst_location.as_ref(),
        );
        let seen = store::event::format_rfc3339(time);
        Outcome::Located {
            record,
            sighting: Box::new(Sighting {
                ip: src,
                seen,
                info: src_location,
            }),
        }
    }

    fn sensor_location(&self, ident: &str) -> Option<Location> {
        self.sensor_locations
            .get(ident)
            .or_else(|| self.sensor_locations.get("*"))
            .cloned()
    }
}

impl store::IpLocator for GeoDb {
    fn locate(&self, ip: IpAddr) -> Option<store::IpInfo> {
        self.lookup(ip)
    }
}

/// geoloc's counters.
#[derive(Debug, Default)]
pub struct GeolocStats {
    /// Messages received.
    pub received: AtomicU64,
    /// Records published.
    pub published: AtomicU64,
    /// Duplicates dropped.
    pub duplicates: AtomicU64,
    /// Messages that were not an attack's first event.
    pub skipped: AtomicU64,
    /// Payloads refused.
    pub refused: AtomicU64,
}

/// The final counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GeolocSummary {
    /// Messages received.
    pub received: u64,
    /// Records published.
    pub published: u64,
    /// Duplicates dropped.
    pub duplicates: u64,
    /// Later events of a session, not published.
    pub skipped: u64,
    /// Payloads refused.
    pub refused: u64,
    /// `ipInfo` sightings committed.
    pub ip_info_written: u64,
}

impl GeolocStats {
    fn count(&self, outcome: &Outcome) {
        let counter = match outcome {
            Outcome::Located { .. } => &self.published,
            Outcome::Duplicate => &self.duplicates,
            Outcome::Skipped => &self.skipped,
            Outcome::Refused(_) => &self.refused,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn summary(&self, ip_info_written: u64) -> GeolocSummary {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        GeolocSummary {
            received: get(&self.received),
            published: get(&self.published),
            duplicates: get(&self.duplicates),
            skipped: get(&self.skipped),
            refused: get(&self.refused),
            ip_info_written,
        }
    }
}

/// Opens the city database (and the ASN database, if any) named in `settings`.
pub fn open_db(settings: &GeolocSettings) -> Result<GeoDb, GeolocError> {
    GeoDb::open_all(&settings.geoip, settings.geoip_asn.as_deref())
}

/// The databases named in `settings`, reopened when replaced; waited for when a file is not
/// there yet but its directory is.
pub fn open_live(settings: &GeolocSettings) -> Result<LiveGeoDb, GeolocError> {
    LiveGeoDb::open(
        &settings.geoip,
        settings.geoip_asn.as_deref(),
        Duration::from_secs(settings.geoip_check_secs),
    )
}

/// geoloc as the subscriber's consumer: locate each message, publish its record on the same
/// connection, queue its sighting for `ipInfo`.
struct GeolocConsumer {
    geolocator: Geolocator,
    stats: GeolocStats,
    publisher: Publisher,
    publish_channel: String,
    writer: Option<IpInfoWriter>,
}

impl Consumer for GeolocConsumer {
    type Error = GeolocError;

    async fn consume(&mut self, m: Message) -> Result<(), GeolocError> {
        self.stats.received.fetch_add(1, Ordering::Relaxed);
        let outcome = self.geolocator.handle(&m.channel, &m.ident, &m.payload);
        self.stats.count(&outcome);
        match outcome {
            Outcome::Located { record, sighting } => {
                let json = Bytes::from(serde_json::to_vec(&record).unwrap_or_default());
                self.publisher.publish(&self.publish_channel, json).await?;
                if let Some(w) = &self.writer {
                    w.record(*sighting).await?;
                }
            }
            Outcome::Refused(reason) => {
                tracing::warn!(channel = %m.channel, ident = %m.ident, %reason, "payload refused");
            }
            Outcome::Duplicate | Outcome::Skipped => {}
        }
        Ok(())
    }

    fn report(&mut self, status: &Status) {
        let s = self.stats.summary(0);
        tracing::info!(
            received = s.received,
            published = s.published,
            duplicates = s.duplicates,
            refused = s.refused,
            connected = status.connected,
            "geoloc"
        );
    }
}

/// Runs geoloc until `shutdown`.
pub async fn run(
    settings: GeolocSettings,
    shutdown: CancellationToken,
) -> Result<GeolocSummary, GeolocError> {
    let db = Arc::new(open_live(&settings)?);
    let writer = match &settings.database {
        Some(path) => Some(IpInfoWriter::start(path, 8192)?),
        None => None,
    };
    let geolocator = Geolocator::new(
        db.clone(),
        settings.sensor_locations.clone(),
        settings.dedup_window,
    );
    let mut subscriber = Subscriber::start(&settings.hpfeeds).await?;
    let database_type = db.current().map(|d| d.database_type().to_owned());
    tracing::info!(
        geoip = ?settings.geoip,
        database_type = database_type.as_deref().unwrap_or("none yet"),
        channels = ?settings.hpfeeds.channels,
        publish = %settings.publish_channel,
        "geoloc started"
    );
    let mut consumer = GeolocConsumer {
        geolocator,
        stats: GeolocStats::default(),
        publisher: subscriber.publisher(),
        publish_channel: settings.publish_channel.clone(),
        writer,
    };
    let ended = subscriber.run(&mut consumer, &shutdown).await?;
    let GeolocConsumer { stats, writer, .. } = consumer;
    if let Err(e) = subscriber.close().await {
        tracing::warn!(error = %e, "hpfeeds close: records may not have reached the broker");
    }
    let written = match writer {
        Some(w) => {
            let s = w.stats();
            w.finish().await;
            s.written.load(Ordering::Relaxed)
        }
        None => 0,
    };
    ended.into_result()?;
    Ok(stats.summary(written))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::json;

    use super::*;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata")).join(name)
    }

    fn geolocator(locations: HashMap<String, Location>) -> Geolocator {
        let db = GeoDb::open(&fixture("GeoLite2-City-Test.mmdb")).unwrap();
        Geolocator::new(Arc::new(db), locations, 3)
    }

    fn start(id: &str, src: &str, dst: &str) -> Vec<u8> {
        json!({
            "schema": 1, "id": id, "sensor": "s", "session": id,
            "time": "2026-11-23T22:25:30.649422Z", "type": "session.start", "plugin": "telnet",
            "protocol": "telnet", "src_ip": src, "src_port": 1, "dst_ip": dst, "dst_port": 23,
            "data": {"table": "telnet"},
        })
        .to_string()
        .into_bytes()
    }

    const ID: [&str; 5] = [
        "01a20a83-aa19-7048-b6f8-da76f3b8d470",
        "01a20a83-aa19-7048-b6f8-da76f3b8d471",
        "01a20a83-aa19-7048-b6f8-da76f3b8d472",
        "01a20a83-aa19-7048-b6f8-da76f3b8d473",
        "01a20a83-aa19-7048-b6f8-da76f3b8d474",
    ];

    #[test]
    fn one_record_per_attack_with_the_sensor_location_for_a_private_destination() {
        let amsterdam = Location {
            city: Some("Amsterdam".into()),
            latitude: Some(52.374),
            longitude: Some(4.89),
            ..Location::default()
        };
        let mut g = geolocator(HashMap::from([("*".to_owned(), amsterdam)]));
        let Outcome::Located { record, sighting } = g.handle(
            "recce7.events",
            "sensor-1",
            &start(ID[0], "81.2.69.142", "10.0.0.1"),
        ) else {
            panic!("a session start is located");
        };
        assert_eq!(record["city"], "London");
        assert_eq!(record["city2"], "Amsterdam");
        assert_eq!(record["time"], "2026-11-23 22:25:30");
        assert_eq!(record["sensor"], "sensor-1");
        assert_eq!(sighting.seen, "2026-11-23T22:25:30.649422Z");
        assert_eq!(
            sighting.info.and_then(|i| i.city).as_deref(),
            Some("London")
        );
        assert_eq!(
            g.handle(
                "recce7.events",
                "sensor-1",
                &start(ID[0], "81.2.69.142", "10.0.0.1")
            ),
            Outcome::Duplicate
        );
        let later = String::from_utf8(start(ID[1], "81.2.69.142", "10.0.0.1"))
            .unwrap()
            .replace("session.start", "telnet.login")
            .replace(r#"{"table":"telnet"}"#, r#"{"username":"root"}"#);
        assert_eq!(
            g.handle("recce7.events", "sensor-1", later.as_bytes()),
            Outcome::Skipped
        );
        assert!(matches!(
            g.handle("recce7.events", "sensor-1", b"\xff"),
            Outcome::Refused(_)
        ));
    }

    /// A recce7 event of `kind` from the packet capture (no session row: `session` is the
    /// report's own id).
    fn capture_event(id: &str, kind: &str, src: &str, data: Value) -> Vec<u8> {
        json!({
            "schema": 1, "id": id, "sensor": "s", "session": id,
            "time": "2026-12-07T17:02:16.331950Z", "type": kind, "plugin": "capture",
            "protocol": "tcp", "src_ip": src, "src_port": 40000, "dst_ip": "10.0.0.1",
            "dst_port": 21, "data": data,
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_scan_is_located_with_its_event_type_and_the_scanner_as_source() {
        let mut g = geolocator(HashMap::new());
        let ports = json!({"ports": [21, 22, 23, 80], "port_count": 4, "packets": 8,
            "first_seen": "2026-12-07T17:02:11.204518Z",
            "last_seen": "2026-12-07T17:02:11.331950Z"});
        for (n, kind) in store::EventType::SCANS.iter().enumerate() {
            let event = capture_event(ID[n % 5], kind.as_str(), "81.2.69.142", ports.clone());
            let mut fresh = geolocator(HashMap::new());
            let Outcome::Located { record, sighting } =
                fresh.handle("recce7.events", "sensor-1", &event)
            else {
                panic!("{} is located", kind.as_str());
            };
            assert_eq!(record["type"], kind.as_str());
            assert_eq!(record["source"], "81.2.69.142");
            assert_eq!(record["city"], "London");
            assert_eq!(record["sensor"], "sensor-1");
            assert_eq!(record["time"], "2026-12-07 17:02:16");
            let mut keys: Vec<&str> = record.keys().map(String::as_str).collect();
            keys.sort_unstable();
            let mut fields = crate::MHN_FIELDS.to_vec();
            fields.sort_unstable();
            assert_eq!(keys, fields, "exactly MHN's fields");
            assert_eq!(sighting.ip.to_string(), "81.2.69.142");
            assert_eq!(sighting.seen, "2026-12-07T17:02:16.331950Z");
        }
        // Once per scan (at-least-once delivery repeats it), and a session's record is still
        // typed by its channel.
        let syn = capture_event(ID[0], "scan.syn", "::ffff:81.2.69.142", ports.clone());
        let Outcome::Located { record, .. } = g.handle("recce7.events", "s", &syn) else {
            panic!("located");
        };
        assert_eq!(
            record["source"], "81.2.69.142",
            "IPv4-mapped written as IPv4"
        );
        assert_eq!(g.handle("recce7.events", "s", &syn), Outcome::Duplicate);
        let Outcome::Located { record, .. } = g.handle(
            "recce7.events",
            "s",
            &start(ID[1], "81.2.69.142", "10.0.0.1"),
        ) else {
            panic!("located");
        };
        assert_eq!(record["type"], "recce7.events");
        // A fingerprint is no attack of its own: its session (or its scan) has a record.
        let p0f = capture_event(
            ID[2],
            "fingerprint.p0f",
            "81.2.69.142",
            json!({"os": "Linux 2.2.x-3.x", "os_class": "unix", "distance": 0,
                "quality": "exact", "raw_signature": "4:64+0:0:65495:mss*20,7:mss,sok,ts,nop,ws:df,id+:0"}),
        );
        assert_eq!(g.handle("recce7.events", "s", &p0f), Outcome::Skipped);
    }

    #[test]
    fn the_dedup_window_is_bounded() {
        let mut g = geolocator(HashMap::new());
        for id in &ID[..4] {
            assert!(matches!(
                g.handle("recce7.events", "s", &start(id, "192.168.0.1", "10.0.0.1")),
                Outcome::Located { .. }
            ));
        }
        // Three ids remembered: the first has been forgotten, the last is still known.
        assert!(matches!(
            g.handle(
                "recce7.events",
                "s",
                &start(ID[0], "192.168.0.1", "10.0.0.1")
            ),
            Outcome::Located { .. }
        ));
        assert_eq!(
            g.handle(
                "recce7.events",
                "s",
                &start(ID[3], "192.168.0.1", "10.0.0.1")
            ),
            Outcome::Duplicate
        );
    }

    #[test]
    fn cowrie_and_dionaea_messages_are_located_too() {
        let mut g = geolocator(HashMap::new());
        let cowrie = json!({"session": "abc", "startTime": "2026-11-23T10:15:02.123456Z",
            "peerIP": "2.125.160.216", "peerPort": 5, "hostIP": "81.2.69.142", "hostPort": 22});
        let Outcome::Located { record, .. } =
            g.handle("cowrie.sessions", "c", cowrie.to_string().as_bytes())
        else {
            panic!("located");
        };
        assert_eq!(
            (record["city"].as_str(), record["city2"].as_str()),
            (Some("Boxford"), Some("London"))
        );
        assert_eq!(record["type"], "cowrie.sessions");
        let dionaea = json!({"connection_type": "accept", "remote_host": "::ffff:81.2.69.142",
            "remote_port": 4, "local_host": "10.0.0.2", "local_port": 445});
        let Outcome::Located { record, .. } =
            g.handle("dionaea.connections", "d", dionaea.to_string().as_bytes())
        else {
            panic!("located");
        };
        assert_eq!(record["source"], "81.2.69.142");
        assert!(record["city2"].is_null());
    }

    #[test]
    fn a_standalone_recorder_with_a_geoip_database_fills_ip_info() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.sqlite");
        let (conn, _) = store::open(&path, &[]).unwrap();
        let db = GeoDb::open(&fixture("GeoIP2-City-Test.mmdb")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let recorder = store::Recorder::start_with(
                conn,
                &[],
                store::RecorderOptions {
                    locator: Some(Arc::new(db)),
                    ..store::RecorderOptions::default()
                },
            )
            .unwrap();
            let event: store::Event =
                serde_json::from_slice(&start(ID[0], "81.2.69.142", "10.0.0.1")).unwrap();
            recorder.handle().record(event).await.unwrap();
            let snapshot = recorder.finish().await;
            assert_eq!(snapshot.events, 1);
        });
        let conn = rusqlite::Connection::open(&path).unwrap();
        let (city, code, lat): (String, String, f64) = conn
            .query_row(
                "SELECT city, countryCode, latitude FROM ipInfo WHERE ipAddress = '81.2.69.142'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!((city.as_str(), code.as_str()), ("London", "GB"));
        assert!((lat - 51.5142).abs() < 1e-3);
    }
}
