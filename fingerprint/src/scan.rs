//! The scan detector: TCP packets in, [`ScanReport`]s out, with bounded state.
//!
//! The capture task hands every TCP packet it sees to [`ScanDetector::observe`] with the time,
//! and calls [`ScanDetector::poll`] now and then (once a second is plenty); poll returns the
//! reports that are due. Nothing here reads a clock, opens a socket or spawns anything.
//!
//! # Direction
//!
//! A SYN without ACK opens a *flow* keyed by (client, client port, server, server port). A later
//! packet on that key is the client's; one on the reversed key is the server's. So the detector
//! works on loopback, where both ends are 127.0.0.1 and the sensor's own replies are captured
//! too, and on a real interface, where it sees only what comes in (then a flow never sees the
//! server's answer and is decided by the client's next packet or by timeout). Per flow: SYN
//! seen, then the server's SYN-ACK, then the client's ACK (established), then the client's
//! first packet after it.
//!
//! # Kinds
//!
//! - `syn` (half-open): the client sent RST after its SYN (and the SYN-ACK) without completing
//!   the handshake (nmap `-sS` on an open port: its kernel resets the SYN-ACK it did not ask
//!   for); or a SYN without SACK-permitted (raw scanners: nmap `-sS`, masscan, zmap; every OS
//!   stack sends SACK-permitted) that never completed: the server reset it (closed port) or
//!   nothing happened within `handshake_timeout`.
//! - `connect`: the handshake completed and the client's first packet after it is a RST with no
//!   data (nmap `-sT` closes this way); or a SYN *with* SACK-permitted (an OS's `connect()`)
//!   answered by the server's RST or not completed within `handshake_timeout`.
//!   A connection whose client sends data or FIN after the handshake is ordinary and never a
//!   scan, and so is one still established, silent, at `handshake_timeout`.
//! - `null` (no flags), `fin` (FIN only), `xmas` (FIN, PSH and URG): packets without SYN, ACK
//!   or RST.
//! - `os`: nmap's OS-detection probes: a TCP timestamp of TSval 0xFFFFFFFF and TSecr 0 (every
//!   nmap OS probe carries it), SYN+FIN+PSH+URG together, or a SYN with ECE and CWR and an
//!   urgent pointer without URG. Such a packet is counted as `os` only: it opens no flow and is
//!   not also `null`, `fin`, `xmas` or `syn`.
//! - `ports` (sweep): the distinct destination ports a source sends packets without ACK to
//!   (SYNs, probes, resets: whatever can begin an exchange, to monitored and unmonitored ports
//!   alike), `sweep_ports` or more of them within one window. Packets with ACK are left out:
//!   they are replies and established traffic, and on loopback the sensor's replies to each
//!   client's ephemeral port would make every busy client a sweep. (So nmap's ACK and window
//!   scans, `-sA`/`-sW`, are not counted.)
//!
//! # Aggregation and timing
//!
//! Per source, one tally per kind accumulates ports and packets. A source's reports are due
//! when it has been quiet for `quiet` and none of its flows is still undecided, or when
//! `window` has passed since its first packet; then all its tallies are reported (a `ports`
//! report only when it reached `sweep_ports`) and the source is forgotten, so its next packet
//! starts a new window. A decided flow counts at the time of its SYN. A report's `target` is the
//! destination address of the source's first packet in the window.
//!
//! # Bounds and memory
//!
//! At most `max_flows` flows and `max_sources` sources are kept; when full, the oldest (by
//! creation) is evicted and counted in [`ScanStats`] (its tallies are lost: a flood of spoofed
//! sources can push a real scanner out, and the eviction counter says that it happened). The
//! maps use std's randomly keyed SipHash, so spoofed addresses cannot be chosen to collide.
//! Each kind's port list and the sweep's port set are sorted vectors capped at
//! `max_ports_listed` ports; `port_count` is exact up to that cap, and past it every packet to a
//! port not in the list adds one, so repeats of unlisted ports are over-counted (a bitmap of
//! 65,536 ports would cost 8 KiB per source).
//!
//! Measured on 64-bit Linux (the test `entries_stay_small` checks the sizes): a flow is a
//! 56-byte map slot (plus a control byte) and an order-queue entry of 44 bytes (the queue is
//! compacted at twice the live count). The map rounds 16,384 flows up to 32,768 slots, so the
//! default bound costs at most about 3.3 MB. A source is a 136-byte map slot and a 24-byte
//! order-queue entry, plus on the heap 2 bytes per port of its sweep set and, for each kind it
//! shows, a 64-byte tally and 2 bytes per port. A spoofed SYN source (one port, one `syn`
//! tally) is about 300 bytes with allocator overhead, so the default 4,096 sources take about
//! 2.3 MB with the map's spare slots; the worst case (every kind with `max_ports_listed` ports)
//! is about 4.3 KB per source. Idle, both maps are empty, and `poll` shrinks them again once a
//! flood has passed.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::time::{Duration, Instant, SystemTime};

use crate::packet::{TcpFlags, TcpPacket};

/// The detector's thresholds and bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanSettings {
    /// Distinct destination ports within `window` that make a source a sweep (20).
    pub sweep_ports: usize,
    /// The longest a source's reports are held back (60 s).
    pub window: Duration,
    /// Silence after which a source's reports are due (5 s).
    pub quiet: Duration,
    /// How long a flow may stay undecided (5 s).
    pub handshake_timeout: Duration,
    /// Sources tracked at most (4,096).
    pub max_sources: usize,
    /// Flows tracked at most (16,384).
    pub max_flows: usize,
    /// Ports listed per report at most, and kept per tally (256).
    pub max_ports_listed: usize,
}

impl Default for ScanSettings {
    fn default() -> ScanSettings {
        ScanSettings {
            sweep_ports: 20,
            window: Duration::from_secs(60),
            quiet: Duration::from_secs(5),
            handshake_timeout: Duration::from_secs(5),
            max_sources: 4096,
            max_flows: 16384,
            max_ports_listed: 256,
        }
    }
}

/// What kind of scan a report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScanKind {
    /// Half-open SYN scan (nmap `-sS`, masscan, zmap).
    Syn,
    /// Full-connect scan (nmap `-sT`), or connects to closed or silent ports.
    Connect,
    /// NULL probes (nmap `-sN`).
    Null,
    /// FIN probes (nmap `-sF`).
    Fin,
    /// Xmas probes, FIN+PSH+URG (nmap `-sX`).
    Xmas,
    /// nmap's OS-detection probes (`-O`).
    OsProbe,
    /// Many ports from one source within a window.
    Sweep,
}

impl ScanKind {
    /// Every kind, in report order.
    pub const ALL: [ScanKind; 7] = [
        ScanKind::Syn,
        ScanKind::Connect,
        ScanKind::Null,
        ScanKind::Fin,
        ScanKind::Xmas,
        ScanKind::OsProbe,
        ScanKind::Sweep,
    ];

    /// The word stored and published (the event is `scan.<word>`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ScanKind::Syn => "syn",
            ScanKind::Connect => "connect",
            ScanKind::Null => "null",
            ScanKind::Fin => "fin",
            ScanKind::Xmas => "xmas",
            ScanKind::OsProbe => "os",
            ScanKind::Sweep => "ports",
        }
    }
}

/// One source's scan of one kind, as recorded and published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// The kind.
    pub kind: ScanKind,
    /// The scanner's address.
    pub source: IpAddr,
    /// The address scanned (of the source's first packet in the window).
    pub target: IpAddr,
    /// Ports seen, sorted and distinct, at most `max_ports_listed`.
    pub ports: Vec<u16>,
    /// All distinct ports seen (exact up to `max_ports_listed`, then approximate; see the
    /// module documentation).
    pub port_count: usize,
    /// Packets (or, for `syn` and `connect`, flows) counted.
    pub packets: u64,
    /// When the first one was seen.
    pub first_seen: SystemTime,
    /// When the last one was seen.
    pub last_seen: SystemTime,
}

/// The detector's state and counters, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanStats {
    /// Sources tracked now.
    pub sources: usize,
    /// Flows tracked now.
    pub flows: usize,
    /// Sources evicted because `max_sources` was reached (their tallies were lost).
    pub evicted_sources: u64,
    /// Flows evicted because `max_flows` was reached (never decided).
    pub evicted_flows: u64,
    /// Packets observed.
    pub packets: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FlowKey {
    client: IpAddr,
    server: IpAddr,
    client_port: u16,
    server_port: u16,
}

impl FlowKey {
    fn of(packet: &TcpPacket<'_>) -> FlowKey {
        FlowKey {
            client: packet.src,
            server: packet.dst,
            client_port: packet.src_port,
            server_port: packet.dst_port,
        }
    }

    fn reversed(self) -> FlowKey {
        FlowKey {
            client: self.server,
            server: self.client,
            client_port: self.server_port,
            server_port: self.client_port,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FlowState {
    SynSeen,
    SynAckSeen,
    Established,
}

#[derive(Debug)]
struct Flow {
    /// Milliseconds since the detector's first packet.
    created_ms: u64,
    /// Tells this flow from an older one on the same key in the order queue.
    generation: u32,
    state: FlowState,
    sack_permitted: bool,
}

impl Flow {
    /// What the flow is if it ends now without another packet.
    fn kind_if_unfinished(&self) -> Option<ScanKind> {
        match self.state {
            FlowState::Established => None,
            FlowState::SynSeen | FlowState::SynAckSeen if self.sack_permitted => {
                Some(ScanKind::Connect)
            }
            FlowState::SynSeen | FlowState::SynAckSeen => Some(ScanKind::Syn),
        }
    }
}

/// A sorted set of ports capped at a limit; ports past the cap are only counted.
#[derive(Debug, Default)]
struct PortSet {
    ports: Vec<u16>,
    beyond: u32,
}

impl PortSet {
    fn insert(&mut self, port: u16, limit: usize) {
        if let Err(at) = self.ports.binary_search(&port) {
            if self.ports.len() < limit {
                self.ports.insert(at, port);
            } else {
                self.beyond = self.beyond.saturating_add(1);
            }
        }
    }

    fn count(&self) -> usize {
        self.ports.len().saturating_add(self.beyond as usize)
    }
}

#[derive(Debug)]
struct Tally {
    kind: ScanKind,
    ports: PortSet,
    packets: u64,
    first_ms: u64,
    last_ms: u64,
}

#[derive(Debug)]
struct Source {
    target: IpAddr,
    window_start_ms: u64,
    last_seen_ms: u64,
    generation: u32,
    /// Flows of this source not yet decided: its reports wait for them (up to `window`).
    pending_flows: u32,
    sweep: PortSet,
    sweep_packets: u64,
    tallies: Vec<Tally>,
}

impl Source {
    fn count(&mut self, kind: ScanKind, port: u16, at_ms: u64, limit: usize) {
        let index = match self.tallies.iter().position(|tally| tally.kind == kind) {
            Some(index) => index,
            None => {
                self.tallies.push(Tally {
                    kind,
                    ports: PortSet::default(),
                    packets: 0,
                    first_ms: at_ms,
                    last_ms: at_ms,
                });
                self.tallies.len() - 1
            }
        };
        if let Some(tally) = self.tallies.get_mut(index) {
            tally.ports.insert(port, limit);
            tally.packets = tally.packets.saturating_add(1);
            tally.first_ms = tally.first_ms.min(at_ms);
            tally.last_ms = tally.last_ms.max(at_ms);
        }
    }
}

/// The scan detector. See the module documentation for what it reports and how it bounds its
/// state.
#[derive(Debug)]
pub struct ScanDetector {
    settings: ScanSettings,
    /// The first instant observed; times are kept as milliseconds since it.
    epoch: Option<Instant>,
    /// The last observed time, as milliseconds and wall clock, to turn milliseconds into
    /// wall-clock times for reports.
    wall_anchor: (u64, SystemTime),
    flows: HashMap<FlowKey, Flow>,
    flow_order: VecDeque<(FlowKey, u32)>,
    sources: HashMap<IpAddr, Source>,
    source_order: VecDeque<(IpAddr, u32)>,
    next_generation: u32,
    evicted_sources: u64,
    evicted_flows: u64,
    packets: u64,
}

/// Maps and queues emptied below a quarter of their capacity are shrunk past this size.
const SHRINK_ABOVE_CAPACITY: usize = 1024;

impl ScanDetector {
    /// A detector with these settings and no state.
    pub fn new(settings: ScanSettings) -> ScanDetector {
        ScanDetector {
            settings,
            epoch: None,
            wall_anchor: (0, SystemTime::UNIX_EPOCH),
            flows: HashMap::new(),
            flow_order: VecDeque::new(),
            sources: HashMap::new(),
            source_order: VecDeque::new(),
            next_generation: 0,
            evicted_sources: 0,
            evicted_flows: 0,
            packets: 0,
        }
    }

    /// Takes one TCP packet seen at `now` (monotonic) and `wall` (for the reports' times).
    pub fn observe(&mut self, packet: &TcpPacket<'_>, now: Instant, wall: SystemTime) {
        self.packets = self.packets.saturating_add(1);
        let now_ms = self.millis(now);
        self.wall_anchor = (now_ms, wall);
        let flags = packet.flags;
        let os_probe = is_os_probe(packet);
        let key = FlowKey::of(packet);
        if !os_probe {
            if self.flows.contains_key(&key) {
                self.client_packet(key, packet);
                if let Some(source) = self.sources.get_mut(&key.client) {
                    source.last_seen_ms = now_ms;
                }
                return;
            }
            let reversed = key.reversed();
            if self.flows.contains_key(&reversed) {
                self.server_packet(reversed, packet);
                return;
            }
        }
        let probe = if os_probe {
            Some(ScanKind::OsProbe)
        } else {
            probe_kind(flags)
        };
        let opens_flow = !os_probe && flags.has(TcpFlags::SYN) && !flags.has(TcpFlags::ACK);
        // A RST touches nothing: without ACK it is the answer a stack gives a stray ACK (on
        // loopback, the sensor's own answers to clients' ephemeral ports).
        let counts_for_sweep = !flags.any(TcpFlags::ACK | TcpFlags::RST);
        if probe.is_none() && !opens_flow && !counts_for_sweep {
            return;
        }
        let limit = self.settings.max_ports_listed;
        let Some(source) = self.source_mut(packet.src, packet.dst, now_ms) else {
            return;
        };
        source.last_seen_ms = now_ms;
        if counts_for_sweep {
            source.sweep.insert(packet.dst_port, limit);
            source.sweep_packets = source.sweep_packets.saturating_add(1);
        }
        if let Some(kind) = probe {
            source.count(kind, packet.dst_port, now_ms, limit);
        }
        if opens_flow {
            self.open_flow(key, packet.sack_permitted, now_ms);
        }
    }

    /// Decides flows past `handshake_timeout` and returns the reports due at `now`: sources
    /// quiet for `quiet` with no undecided flow, and sources whose `window` has passed.
    pub fn poll(&mut self, now: Instant) -> Vec<ScanReport> {
        let Some(epoch) = self.epoch else {
            return Vec::new();
        };
        let now_ms = duration_ms(now.saturating_duration_since(epoch));
        let timeout_ms = duration_ms(self.settings.handshake_timeout);
        while let Some(&(key, generation)) = self.flow_order.front() {
            let decided = match self.flows.get(&key) {
                Some(flow) if flow.generation == generation => {
                    if now_ms.saturating_sub(flow.created_ms) < timeout_ms {
                        break;
                    }
                    Some(flow.kind_if_unfinished())
                }
                _ => None,
            };
            self.flow_order.pop_front();
            if let Some(kind) = decided {
                self.finish_flow(key, kind);
            }
        }
        let quiet_ms = duration_ms(self.settings.quiet);
        let window_ms = duration_ms(self.settings.window);
        let due: Vec<IpAddr> = self
            .sources
            .iter()
            .filter(|(_, source)| {
                let quiet = now_ms.saturating_sub(source.last_seen_ms) >= quiet_ms
                    && source.pending_flows == 0;
                quiet || now_ms.saturating_sub(source.window_start_ms) >= window_ms
            })
            .map(|(address, _)| *address)
            .collect();
        let mut reports = Vec::new();
        for address in due {
            if let Some(source) = self.sources.remove(&address) {
                self.report(address, source, &mut reports);
            }
        }
        self.shrink_when_emptied();
        sort_reports(&mut reports);
        reports
    }

    /// Everything pending, at shutdown: undecided flows are decided as if they had timed out,
    /// and every source's tallies are reported.
    pub fn flush(&mut self) -> Vec<ScanReport> {
        let keys: Vec<FlowKey> = self.flows.keys().copied().collect();
        for key in keys {
            let kind = self.flows.get(&key).and_then(Flow::kind_if_unfinished);
            self.finish_flow(key, kind);
        }
        self.flow_order.clear();
        let mut reports = Vec::new();
        let sources: Vec<(IpAddr, Source)> = self.sources.drain().collect();
        for (address, source) in sources {
            self.report(address, source, &mut reports);
        }
        self.source_order.clear();
        self.shrink_when_emptied();
        sort_reports(&mut reports);
        reports
    }

    /// The state's size and the counters.
    pub fn stats(&self) -> ScanStats {
        ScanStats {
            sources: self.sources.len(),
            flows: self.flows.len(),
            evicted_sources: self.evicted_sources,
            evicted_flows: self.evicted_flows,
            packets: self.packets,
        }
    }

    fn millis(&mut self, now: Instant) -> u64 {
        let epoch = *self.epoch.get_or_insert(now);
        duration_ms(now.saturating_duration_since(epoch))
    }

    fn generation(&mut self) -> u32 {
        self.next_generation = self.next_generation.wrapping_add(1);
        self.next_generation
    }

    fn wall_time(&self, at_ms: u64) -> SystemTime {
        let (anchor_ms, anchor_wall) = self.wall_anchor;
        if at_ms <= anchor_ms {
            anchor_wall.checked_sub(Duration::from_millis(anchor_ms - at_ms))
        } else {
            anchor_wall.checked_add(Duration::from_millis(at_ms - anchor_ms))
        }
        .unwrap_or(anchor_wall)
    }

    /// A packet from the client of a tracked flow.
    fn client_packet(&mut self, key: FlowKey, packet: &TcpPacket<'_>) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        let flags = packet.flags;
        let rst = flags.has(TcpFlags::RST);
        let data_or_fin = packet.payload_len > 0 || flags.has(TcpFlags::FIN);
        // Some(kind) ends the flow: Some(None) as an ordinary connection.
        let ending = match flow.state {
            FlowState::SynSeen | FlowState::SynAckSeen if rst => Some(Some(ScanKind::Syn)),
            FlowState::SynSeen | FlowState::SynAckSeen
                if flags.has(TcpFlags::ACK) && !flags.has(TcpFlags::SYN) =>
            {
                if data_or_fin {
                    Some(None)
                } else {
                    flow.state = FlowState::Established;
                    None
                }
            }
            FlowState::SynSeen | FlowState::SynAckSeen => None,
            FlowState::Established if rst && packet.payload_len == 0 => {
                Some(Some(ScanKind::Connect))
            }
            FlowState::Established if rst || data_or_fin => Some(None),
            FlowState::Established => None,
        };
        if let Some(kind) = ending {
            self.finish_flow(key, kind);
        }
    }

    /// A packet from the server of a tracked flow (`key` is the flow's, client first).
    fn server_packet(&mut self, key: FlowKey, packet: &TcpPacket<'_>) {
        let Some(flow) = self.flows.get_mut(&key) else {
            return;
        };
        if flow.state != FlowState::SynSeen {
            return;
        }
        if packet.flags.has(TcpFlags::SYN.with(TcpFlags::ACK)) {
            flow.state = FlowState::SynAckSeen;
        } else if packet.flags.has(TcpFlags::RST) {
            let kind = flow.kind_if_unfinished();
            self.finish_flow(key, kind);
        }
    }

    fn open_flow(&mut self, key: FlowKey, sack_permitted: bool, now_ms: u64) {
        if self.settings.max_flows == 0 {
            return;
        }
        while self.flows.len() >= self.settings.max_flows {
            self.evict_oldest_flow();
        }
        let generation = self.generation();
        self.flows.insert(
            key,
            Flow {
                created_ms: now_ms,
                generation,
                state: FlowState::SynSeen,
                sack_permitted,
            },
        );
        self.flow_order.push_back((key, generation));
        if let Some(source) = self.sources.get_mut(&key.client) {
            source.pending_flows = source.pending_flows.saturating_add(1);
        }
        if self.flow_order.len() > self.settings.max_flows.saturating_mul(2).saturating_add(16) {
            let flows = &self.flows;
            self.flow_order.retain(|(key, generation)| {
                flows
                    .get(key)
                    .is_some_and(|flow| flow.generation == *generation)
            });
        }
    }

    fn evict_oldest_flow(&mut self) {
        while let Some((key, generation)) = self.flow_order.pop_front() {
            if self
                .flows
                .get(&key)
                .is_some_and(|flow| flow.generation == generation)
            {
                self.evicted_flows = self.evicted_flows.saturating_add(1);
                self.finish_flow(key, None);
                return;
            }
        }
        // The queue always holds every live flow; this only guards the loop's end.
        if let Some(key) = self.flows.keys().next().copied() {
            self.evicted_flows = self.evicted_flows.saturating_add(1);
            self.finish_flow(key, None);
        }
    }

    /// Removes a flow and, when it was a scan, counts it for its source at its SYN's time.
    fn finish_flow(&mut self, key: FlowKey, kind: Option<ScanKind>) {
        let Some(flow) = self.flows.remove(&key) else {
            return;
        };
        if let Some(source) = self.sources.get_mut(&key.client) {
            source.pending_flows = source.pending_flows.saturating_sub(1);
        }
        if let Some(kind) = kind {
            let limit = self.settings.max_ports_listed;
            if let Some(source) = self.source_mut(key.client, key.server, flow.created_ms) {
                source.count(kind, key.server_port, flow.created_ms, limit);
            }
        }
    }

    /// The source's state, made (evicting the oldest source when full) if it is new.
    fn source_mut(&mut self, address: IpAddr, target: IpAddr, at_ms: u64) -> Option<&mut Source> {
        if self.settings.max_sources == 0 {
            return None;
        }
        if !self.sources.contains_key(&address) {
            while self.sources.len() >= self.settings.max_sources {
                self.evict_oldest_source();
            }
            let generation = self.generation();
            self.sources.insert(
                address,
                Source {
                    target,
                    window_start_ms: at_ms,
                    last_seen_ms: at_ms,
                    generation,
                    pending_flows: 0,
                    sweep: PortSet::default(),
                    sweep_packets: 0,
                    tallies: Vec::new(),
                },
            );
            self.source_order.push_back((address, generation));
            let bound = self
                .settings
                .max_sources
                .saturating_mul(2)
                .saturating_add(16);
            if self.source_order.len() > bound {
                let sources = &self.sources;
                self.source_order.retain(|(address, generation)| {
                    sources
                        .get(address)
                        .is_some_and(|source| source.generation == *generation)
                });
            }
        }
        self.sources.get_mut(&address)
    }

    fn evict_oldest_source(&mut self) {
        while let Some((address, generation)) = self.source_order.pop_front() {
            if self
                .sources
                .get(&address)
                .is_some_and(|source| source.generation == generation)
            {
                self.sources.remove(&address);
                self.evicted_sources = self.evicted_sources.saturating_add(1);
                return;
            }
        }
        if let Some(address) = self.sources.keys().next().copied() {
            self.sources.remove(&address);
            self.evicted_sources = self.evicted_sources.saturating_add(1);
        }
    }

    fn report(&self, address: IpAddr, source: Source, reports: &mut Vec<ScanReport>) {
        for tally in source.tallies {
            if tally.packets == 0 {
                continue;
            }
            let port_count = tally.ports.count();
            reports.push(ScanReport {
                kind: tally.kind,
                source: address,
                target: source.target,
                ports: tally.ports.ports,
                port_count,
                packets: tally.packets,
                first_seen: self.wall_time(tally.first_ms),
                last_seen: self.wall_time(tally.last_ms),
            });
        }
        if source.sweep.count() >= self.settings.sweep_ports && source.sweep_packets > 0 {
            let port_count = source.sweep.count();
            reports.push(ScanReport {
                kind: ScanKind::Sweep,
                source: address,
                target: source.target,
                ports: source.sweep.ports,
                port_count,
                packets: source.sweep_packets,
                first_seen: self.wall_time(source.window_start_ms),
                last_seen: self.wall_time(source.last_seen_ms),
            });
        }
    }

    /// Gives memory back after a flood has passed.
    fn shrink_when_emptied(&mut self) {
        if self.flows.capacity() > SHRINK_ABOVE_CAPACITY
            && self.flows.len() < self.flows.capacity() / 4
        {
            self.flows.shrink_to(self.flows.len() * 2);
            self.flow_order.shrink_to(self.flows.len() * 2);
        }
        if self.sources.capacity() > SHRINK_ABOVE_CAPACITY
            && self.sources.len() < self.sources.capacity() / 4
        {
            self.sources.shrink_to(self.sources.len() * 2);
            self.source_order.shrink_to(self.sources.len() * 2);
        }
    }
}

fn sort_reports(reports: &mut [ScanReport]) {
    reports.sort_by_key(|report| (report.first_seen, report.source, report.kind));
}

fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// nmap's OS-detection probes (see the module documentation).
fn is_os_probe(packet: &TcpPacket<'_>) -> bool {
    let flags = packet.flags;
    packet.timestamp == Some((u32::MAX, 0))
        || flags.has(TcpFlags::SYN | TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG)
        || (flags.has(TcpFlags::SYN | TcpFlags::ECE | TcpFlags::CWR)
            && packet.urgent != 0
            && !flags.has(TcpFlags::URG))
}

/// NULL, FIN and Xmas probes: no SYN, ACK or RST, and exactly these of FIN, PSH and URG.
fn probe_kind(flags: TcpFlags) -> Option<ScanKind> {
    if flags.any(TcpFlags::SYN | TcpFlags::ACK | TcpFlags::RST) {
        return None;
    }
    let probe_bits = flags.masked(TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG);
    if probe_bits == TcpFlags::NONE {
        Some(ScanKind::Null)
    } else if probe_bits == TcpFlags::FIN {
        Some(ScanKind::Fin)
    } else if probe_bits == TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG {
        Some(ScanKind::Xmas)
    } else {
        None
    }
}

#[cfg(test)]
pub(crate) mod tests;
