//! Packet capture (docs/capture.md): an `AF_PACKET` socket filtered in the kernel to TCP for
//! the sensor's addresses. Every SYN gets a p0f v3 fingerprint, recorded for the session it
//! opened (`fingerprint.p0f`; the [`SessionDirectory`] pairs them) or, for a SYN that opened
//! none, once per source and signature; every packet feeds the scan detector, whose reports
//! become `scan.*` events. Without root or `CAP_NET_RAW` the sensor runs without it, says so
//! once, and its metrics show it off.
//!
//! Everything it holds is bounded: the detector's sources and handshakes, the directory's
//! waiting fingerprints, the repeat memory; and what it records is rate-limited (a spoofed flood
//! must not become a flood of rows): what the limit holds back is counted, never silent.

pub mod bpf;
pub mod directory;
pub mod socket;

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use fingerprint::p0f::{P0f, SynFingerprint};
use fingerprint::scan::{ScanDetector, ScanKind, ScanReport};
use serde_json::Value;
use store::{Event, EventType, RecorderHandle, Row, SCHEMA_VERSION, new_id, now_rfc3339};
use tokio_util::sync::CancellationToken;

pub use directory::{FlowKey, Pairing, SessionDirectory, SessionLink};
use socket::PacketSocket;

use crate::config::CaptureSettings;

/// The `plugin` of the events the capture records of no session (a configured instance may not
/// take the name: the sensor's config refuses it).
pub const PLUGIN: &str = "capture";

/// The event types the capture records under [`PLUGIN`].
pub const EVENT_TYPES: [EventType; 8] = [
    EventType::FingerprintP0f,
    EventType::ScanSyn,
    EventType::ScanConnect,
    EventType::ScanNull,
    EventType::ScanFin,
    EventType::ScanXmas,
    EventType::ScanOs,
    EventType::ScanPorts,
];

/// Events the capture records of no session (scan reports, sessionless fingerprints) per
/// second at most, with bursts up to [`EVENT_BURST`]; the rest is counted as suppressed.
pub const EVENTS_PER_SEC: f64 = 50.0;
/// The burst the limit allows.
pub const EVENT_BURST: f64 = 500.0;
/// Entries of the sessionless-fingerprint repeat memory at most (it is cleared when full).
const REPEAT_MEMORY: usize = 8192;
/// Packets read per wake-up before the detector is polled again.
const BATCH: usize = 256;

/// The capture's counters, for `/metrics`.
#[derive(Debug, Default)]
pub struct CaptureStats {
    /// Capture is running (1) or off (0).
    pub enabled: AtomicBool,
    /// Packets read from the socket.
    pub packets: AtomicU64,
    /// Packets the kernel dropped because the socket's buffer was full.
    pub kernel_drops: AtomicU64,
    /// Packets that were not a parseable TCP packet.
    pub malformed: AtomicU64,
    /// SYNs fingerprinted.
    pub syns: AtomicU64,
    /// Fingerprints recorded for a session.
    pub fingerprints_linked: AtomicU64,
    /// Fingerprints recorded for SYNs that opened no session.
    pub fingerprints_sessionless: AtomicU64,
    /// Scan reports recorded.
    pub scans: AtomicU64,
    /// Events held back by the rate limit.
    pub suppressed: AtomicU64,
    /// Sources and handshakes the detector evicted to stay within its caps, and fingerprints
    /// pushed out of the directory's wait.
    pub evicted_sources: AtomicU64,
    /// See `evicted_sources`.
    pub evicted_flows: AtomicU64,
    /// See `evicted_sources`.
    pub evicted_fingerprints: AtomicU64,
    /// Sources and handshakes tracked now, and fingerprints waiting for their session.
    pub sources: AtomicU64,
    /// See `sources`.
    pub flows: AtomicU64,
    /// See `sources`.
    pub waiting: AtomicU64,
}

/// What sessions share of the capture: the signatures (for the HTTP plug-in's fingerprints)
/// and, while capture runs, the directory that pairs their SYN's fingerprint with them.
pub struct CaptureShared {
    /// The p0f signatures.
    pub p0f: Arc<Signatures>,
    /// The directory; none when capture is off (no privilege).
    pub directory: Option<Arc<SessionDirectory>>,
}

/// The capture, opened (before privileges are dropped) and ready to run.
pub struct Capture {
    socket: PacketSocket,
    p0f: Arc<Signatures>,
    settings: CaptureSettings,
    directory: Arc<SessionDirectory>,
    stats: Arc<CaptureStats>,
}

/// The p0f signatures, loaded when first needed: a file the configuration names is read (and
/// checked) at start, the built-in ones at the first SYN or HTTP request, so that an idle
/// sensor does not hold them (about 0.3 MB with the code that parses them).
pub struct Signatures {
    loaded: std::sync::OnceLock<Option<Arc<P0f>>>,
}

impl Signatures {
    /// The signatures `settings` names: a file is read now (an error names it), the built-in
    /// ones later.
    pub fn load(settings: &CaptureSettings) -> Result<Signatures, fingerprint::FingerprintError> {
        let loaded = std::sync::OnceLock::new();
        if let Some(path) = &settings.signatures {
            let _ = loaded.set(Some(Arc::new(P0f::from_file(path)?)));
        }
        Ok(Signatures { loaded })
    }

    /// The matcher, loading the built-in signatures on first use; none only if they failed to
    /// load (logged once; their tests make that a build that never ships).
    pub fn get(&self) -> Option<&P0f> {
        self.loaded
            .get_or_init(|| match P0f::embedded() {
                Ok(p0f) => {
                    tracing::debug!(signatures = p0f.tcp_signatures(), "p0f signatures loaded");
                    Some(Arc::new(p0f))
                }
                Err(e) => {
                    tracing::error!(error = %e, "the built-in p0f signatures do not load");
                    None
                }
            })
            .as_deref()
    }

    /// Whether they are loaded yet (for the start-up log).
    pub fn loaded(&self) -> Option<usize> {
        self.loaded.get()?.as_ref().map(|p| p.tcp_signatures())
    }
}

/// Why capture is off.
#[derive(Debug, thiserror::Error)]
pub enum CaptureOff {
    /// No root or `CAP_NET_RAW`.
    #[error("packet capture is off: it needs root or CAP_NET_RAW ({0})")]
    NoPrivilege(std::io::Error),
    /// The socket or its filter could not be set up.
    #[error("packet capture is off: {0}")]
    Socket(std::io::Error),
}

impl Capture {
    /// Opens the socket for `listen` (empty: every address), matching with `p0f`.
    pub fn open(
        settings: &CaptureSettings,
        listen: &[IpAddr],
        p0f: Arc<Signatures>,
        stats: Arc<CaptureStats>,
    ) -> Result<Capture, CaptureOff> {
        let socket =
            PacketSocket::open(settings.interface.as_deref(), listen, settings.buffer_bytes)
                .map_err(|e| match e.kind() {
                    std::io::ErrorKind::PermissionDenied => CaptureOff::NoPrivilege(e),
                    _ => CaptureOff::Socket(e),
                })?;
        stats.enabled.store(true, Ordering::Relaxed);
        Ok(Capture {
            socket,
            p0f,
            settings: settings.clone(),
            directory: Arc::new(SessionDirectory::default()),
            stats,
        })
    }

    /// The directory the accept loops register sessions in.
    pub fn directory(&self) -> Arc<SessionDirectory> {
        self.directory.clone()
    }

    /// The number of signatures when a file was loaded at start; none for the built-in ones
    /// (loaded at the first SYN).
    pub fn signatures(&self) -> Option<usize> {
        self.p0f.loaded()
    }

    /// Reads packets until `stop`, recording through `recorder` as sensor `sensor`; then
    /// records what the detector still holds.
    pub async fn run(self, sensor: Arc<str>, recorder: RecorderHandle, stop: CancellationToken) {
        let mut task = CaptureTask {
            detector: ScanDetector::new(self.settings.scan.clone()),
            p0f: self.p0f,
            directory: self.directory,
            stats: self.stats,
            repeat: self.settings.fingerprint_repeat,
            seen: HashMap::new(),
            limit: RateLimit::new(EVENTS_PER_SEC, EVENT_BURST),
            sensor,
            recorder,
            pending: Vec::new(),
        };
        let socket = match self.socket.watch() {
            Ok(socket) => socket,
            Err(e) => {
                tracing::error!(error = %e, "packet capture is off: the socket cannot be watched");
                task.stats.enabled.store(false, Ordering::Relaxed);
                return;
            }
        };
        let mut buf = vec![0u8; 2048];
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                _ = tick.tick() => {
                    task.poll(Instant::now());
                    if let Ok(counts) = socket.counts() {
                        task.stats.kernel_drops.fetch_add(counts.drops, Ordering::Relaxed);
                    }
                }
                read = socket.recv_batch(&mut buf, BATCH, |packet| task.packet(packet)) => {
                    if let Err(e) = read {
                        tracing::error!(error = %e, "packet capture stopped: the socket failed");
                        task.stats.enabled.store(false, Ordering::Relaxed);
                        break;
                    }
                }
            }
            task.record_pending().await;
        }
        let reports = task.detector.flush();
        task.reports(reports);
        task.record_pending().await;
    }
}

/// The running capture's state (one task owns it; no locks but the directory's).
struct CaptureTask {
    detector: ScanDetector,
    p0f: Arc<Signatures>,
    directory: Arc<SessionDirectory>,
    stats: Arc<CaptureStats>,
    repeat: Duration,
    /// Sessionless fingerprints recorded lately: (source, signature hash) to when.
    seen: HashMap<(IpAddr, u64), Instant>,
    limit: RateLimit,
    sensor: Arc<str>,
    recorder: RecorderHandle,
    /// Events made while reading, recorded after the batch (recording may wait for the queue).
    pending: Vec<Event>,
}

impl CaptureTask {
    fn packet(&mut self, bytes: &[u8]) {
        self.stats.packets.fetch_add(1, Ordering::Relaxed);
        let packet = match fingerprint::packet::parse(bytes) {
            Ok(packet) => packet,
            Err(e) => {
                self.stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(error = %e, len = bytes.len(), "captured packet not read");
                return;
            }
        };
        let now = Instant::now();
        let syn = packet.flags.has(fingerprint::packet::TcpFlags::SYN)
            && !packet.flags.has(fingerprint::packet::TcpFlags::ACK);
        if let Some(fp) = syn
            .then(|| self.p0f.get())
            .flatten()
            .and_then(|p0f| p0f.syn(&packet))
        {
            self.stats.syns.fetch_add(1, Ordering::Relaxed);
            let key = FlowKey {
                peer: SocketAddr::new(packet.src, packet.src_port),
                local: SocketAddr::new(packet.dst, packet.dst_port),
            };
            let mut evicted = Vec::new();
            if let Some(pairing) = self
                .directory
                .syn_seen(key, Arc::new(fp), now, &mut evicted)
            {
                self.linked(&pairing);
            }
            self.stats
                .evicted_fingerprints
                .fetch_add(evicted.len() as u64, Ordering::Relaxed);
            for (key, fp) in evicted {
                self.sessionless(key, &fp, now);
            }
        }
        self.detector.observe(&packet, now, SystemTime::now());
    }

    fn poll(&mut self, now: Instant) {
        let mut expired = Vec::new();
        self.directory.expire(now, &mut expired);
        for (key, fp) in expired {
            self.sessionless(key, &fp, now);
        }
        let reports = self.detector.poll(now);
        self.reports(reports);
        let s = self.detector.stats();
        self.stats
            .sources
            .store(s.sources as u64, Ordering::Relaxed);
        self.stats.flows.store(s.flows as u64, Ordering::Relaxed);
        let (_, waiting) = self.directory.sizes();
        self.stats.waiting.store(waiting as u64, Ordering::Relaxed);
        self.stats
            .evicted_sources
            .store(s.evicted_sources, Ordering::Relaxed);
        self.stats
            .evicted_flows
            .store(s.evicted_flows, Ordering::Relaxed);
        let repeat = self.repeat;
        self.seen
            .retain(|_, at| now.saturating_duration_since(*at) < repeat);
    }

    /// A fingerprint paired with its session.
    fn linked(&mut self, pairing: &Pairing) {
        self.stats
            .fingerprints_linked
            .fetch_add(1, Ordering::Relaxed);
        self.pending.push(p0f_event(
            &self.sensor,
            pairing.session.id.to_string(),
            &pairing.session.info.plugin,
            &pairing.session.info.protocol,
            pairing.key,
            &pairing.fingerprint,
            true,
        ));
    }

    /// A fingerprint whose SYN opened no session: recorded once per source and signature
    /// within the repeat time, within the rate limit.
    fn sessionless(&mut self, key: FlowKey, fp: &SynFingerprint, now: Instant) {
        // By the OS it matched (nmap varies its TTL from probe to probe), else the signature.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        match &fp.os {
            Some(os) => os.hash(&mut h),
            None => fp.raw_signature.hash(&mut h),
        }
        let memo = (key.peer.ip(), h.finish());
        if self.seen.contains_key(&memo) {
            return;
        }
        if !self.limit.take(now) {
            self.stats.suppressed.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if self.seen.len() >= REPEAT_MEMORY {
            self.seen.clear();
        }
        self.seen.insert(memo, now);
        self.stats
            .fingerprints_sessionless
            .fetch_add(1, Ordering::Relaxed);
        self.pending.push(p0f_event(
            &self.sensor,
            new_id(),
            PLUGIN,
            "tcp",
            key,
            fp,
            false,
        ));
    }

    fn reports(&mut self, reports: Vec<ScanReport>) {
        let now = Instant::now();
        for report in reports {
            if !self.limit.take(now) {
                self.stats.suppressed.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            self.stats.scans.fetch_add(1, Ordering::Relaxed);
            tracing::info!(
                kind = report.kind.as_str(),
                source = %report.source,
                ports = report.port_count,
                "scan"
            );
            self.pending.push(scan_event(&self.sensor, &report));
        }
    }

    async fn record_pending(&mut self) {
        for event in self.pending.drain(..) {
            // Waits while the recorder's queue is full: the kernel's buffer then fills, and
            // what it drops is counted (kernel_drops).
            if let Err(e) = self.recorder.record(event).await {
                tracing::error!(error = %e, "capture event lost");
            }
        }
    }
}

/// The `fingerprint.p0f` row of `fp`.
pub fn p0f_row(fp: &SynFingerprint) -> Row {
    let mut row = Row::new();
    row.insert(
        "os".into(),
        fp.os.clone().map_or(Value::Null, Value::String),
    );
    row.insert(
        "os_class".into(),
        fp.os_class.clone().map_or(Value::Null, Value::String),
    );
    row.insert("distance".into(), fp.distance.into());
    row.insert("quality".into(), fp.quality.as_str().into());
    row.insert("raw_signature".into(), fp.raw_signature.clone().into());
    row
}

fn p0f_event(
    sensor: &str,
    session: String,
    plugin: &str,
    protocol: &str,
    key: FlowKey,
    fp: &SynFingerprint,
    opened_session: bool,
) -> Event {
    let mut data = p0f_row(fp);
    if !opened_session {
        data.insert("opened_session".into(), false.into());
    }
    Event {
        schema: SCHEMA_VERSION,
        id: new_id(),
        sensor: sensor.to_owned(),
        session,
        time: now_rfc3339(),
        kind: EventType::FingerprintP0f,
        plugin: plugin.to_owned(),
        protocol: protocol.to_owned(),
        src_ip: key.peer.ip(),
        src_port: key.peer.port(),
        dst_ip: key.local.ip(),
        dst_port: key.local.port(),
        data,
    }
}

/// The event type of a scan kind.
pub fn scan_type(kind: ScanKind) -> EventType {
    match kind {
        ScanKind::Syn => EventType::ScanSyn,
        ScanKind::Connect => EventType::ScanConnect,
        ScanKind::Null => EventType::ScanNull,
        ScanKind::Fin => EventType::ScanFin,
        ScanKind::Xmas => EventType::ScanXmas,
        ScanKind::OsProbe => EventType::ScanOs,
        ScanKind::Sweep => EventType::ScanPorts,
    }
}

fn scan_event(sensor: &str, report: &ScanReport) -> Event {
    let mut data = Row::new();
    data.insert(
        "ports".into(),
        Value::Array(report.ports.iter().map(|p| Value::from(*p)).collect()),
    );
    data.insert("port_count".into(), report.port_count.into());
    data.insert("packets".into(), report.packets.into());
    data.insert(
        "first_seen".into(),
        store::event::format_rfc3339(report.first_seen.into()).into(),
    );
    data.insert(
        "last_seen".into(),
        store::event::format_rfc3339(report.last_seen.into()).into(),
    );
    Event {
        schema: SCHEMA_VERSION,
        id: new_id(),
        sensor: sensor.to_owned(),
        session: new_id(),
        time: now_rfc3339(),
        kind: scan_type(report.kind),
        plugin: PLUGIN.into(),
        protocol: "tcp".into(),
        src_ip: report.source,
        src_port: 0,
        dst_ip: report.target,
        dst_port: report.ports.first().copied().unwrap_or(0),
        data,
    }
}

/// A token bucket: `rate` per second, up to `burst` at once.
struct RateLimit {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Option<Instant>,
}

impl RateLimit {
    fn new(rate: f64, burst: f64) -> RateLimit {
        RateLimit {
            rate,
            burst,
            tokens: burst,
            at: None,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        if let Some(at) = self.at {
            let refill = now.saturating_duration_since(at).as_secs_f64() * self.rate;
            self.tokens = (self.tokens + refill).min(self.burst);
        }
        self.at = Some(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_limit_allows_its_burst_then_its_rate() {
        let mut limit = RateLimit::new(10.0, 5.0);
        let t0 = Instant::now();
        assert_eq!((0..8).filter(|_| limit.take(t0)).count(), 5);
        assert!(!limit.take(t0 + Duration::from_millis(50)));
        assert!(limit.take(t0 + Duration::from_millis(160)));
        // A long pause refills only up to the burst.
        let later = t0 + Duration::from_secs(60);
        assert_eq!((0..8).filter(|_| limit.take(later)).count(), 5);
    }
}
