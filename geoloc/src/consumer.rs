//! geoloc's pipeline: every message on the honeypot channels is parsed (with the normalizer's
//! parser), its source and destination looked up, and one MHN-format record published on
//! `geoloc.events` per attack (a recce7 `session.start`, a Cowrie session, a Dionaea
//! connection); the source's sighting goes to `ipInfo`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use normalizer::parse::{Parsed, PayloadLimits, parse};
use serde_json::{Map, Value};
use store::EventType;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio_util::sync::CancellationToken;

use crate::GeolocError;
use crate::config::GeolocSettings;
use crate::ipinfo_writer::{IpInfoWriter, Sighting};
use crate::mhn_record;
use crate::{GeoDb, Location};

/// How often counters are logged while messages flow.
const REPORT_EVERY: Duration = Duration::from_secs(30);

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
    /// Not an attack's first event (a later event of a session): nothing to publish.
    Skipped,
    /// The payload was refused by the parser.
    Refused(String),
}

/// The lookup and record building, without I/O.
pub struct Geolocator {
    db: Arc<GeoDb>,
    sensor_locations: HashMap<String, Location>,
    recent: RecentIds,
    limits: PayloadLimits,
}

impl Geolocator {
    /// A geolocator over `db`; `sensor_locations` by ident (`*`: the default).
    pub fn new(
        db: Arc<GeoDb>,
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

    /// Handles one message.
    pub fn handle(&mut self, channel: &str, ident: &str, payload: &[u8]) -> Outcome {
        let parsed = match parse(channel, ident, payload, &self.limits) {
            Ok(parsed) => parsed,
            Err(rejection) => return Outcome::Refused(rejection.to_string()),
        };
        let (id, src, dst, time) = match &parsed {
            Parsed::Event(e) if e.kind == EventType::SessionStart => {
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
        let src_location = self.db.lookup(src);
        let dst_location = self.db.lookup(dst).or_else(|| self.sensor_location(ident));
        let record = mhn_record(
            channel,
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
                ip: crate::canonical(src),
                seen,
                info: src_location.as_ref().map(to_ip_info),
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

/// A lookup as an `ipInfo` row.
pub fn to_ip_info(l: &Location) -> store::IpInfo {
    store::IpInfo {
        city: l.city.clone(),
        region: l.region.clone(),
        country: l.country.clone(),
        country_code: l.country_code.clone(),
        latitude: l.latitude,
        longitude: l.longitude,
        org: l.org.clone(),
        asn: l.asn,
    }
}

impl store::IpLocator for GeoDb {
    fn locate(&self, ip: IpAddr) -> Option<store::IpInfo> {
        self.lookup(ip).as_ref().map(to_ip_info)
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
    let db = GeoDb::open(&settings.geoip)?;
    match &settings.geoip_asn {
        Some(asn) => db.with_asn(asn),
        None => Ok(db),
    }
}

/// Runs geoloc until `shutdown`.
pub async fn run(
    settings: GeolocSettings,
    shutdown: CancellationToken,
) -> Result<GeolocSummary, GeolocError> {
    let db = Arc::new(open_db(&settings)?);
    let writer = match &settings.database {
        Some(path) => Some(IpInfoWriter::start(path, 8192)?),
        None => None,
    };
    let mut geolocator = Geolocator::new(
        db.clone(),
        settings.sensor_locations.clone(),
        settings.dedup_window,
    );
    let stats = GeolocStats::default();
    let mut client =
        broker_client::Client::start(normalizer::consumer::client_config(&settings.hpfeeds));
    for channel in &settings.hpfeeds.channels {
        client.subscribe(channel).await?;
    }
    tracing::info!(
        geoip = %settings.geoip.display(),
        database_type = db.database_type(),
        channels = ?settings.hpfeeds.channels,
        publish = %settings.publish_channel,
        "geoloc started"
    );
    let mut report = tokio::time::interval(REPORT_EVERY);
    report.tick().await;
    let ended = loop {
        tokio::select! {
            () = shutdown.cancelled() => break None,
            message = client.recv() => match message {
                Some(Ok(m)) => {
                    stats.received.fetch_add(1, Ordering::Relaxed);
                    let outcome = geolocator.handle(&m.channel, &m.ident, &m.payload);
                    stats.count(&outcome);
                    match outcome {
                        Outcome::Located { record, sighting } => {
                            let json = Bytes::from(serde_json::to_vec(&record).unwrap_or_default());
                            client.publish(&settings.publish_channel, json).await?;
                            if let Some(w) = &writer {
                                w.record(*sighting).await?;
                            }
                        }
                        Outcome::Refused(reason) => {
                            tracing::warn!(channel = %m.channel, ident = %m.ident, %reason, "payload refused");
                        }
                        Outcome::Duplicate | Outcome::Skipped => {}
                    }
                }
                Some(Err(e)) => tracing::warn!(error = %e, "hpfeeds"),
                None => break Some(GeolocError::Closed),
            },
            _ = report.tick() => {
                let s = stats.summary(0);
                tracing::info!(received = s.received, published = s.published, duplicates = s.duplicates, refused = s.refused, connected = client.status().connected, "geoloc");
            }
        }
    };
    if let Err(e) = client.close().await {
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
    match ended {
        Some(e) => Err(e),
        None => Ok(stats.summary(written)),
    }
}
