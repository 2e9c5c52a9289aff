//! Scripted packet sequences with injected times.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant, SystemTime};

use super::*;

const SCANNER: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7));
const SENSOR: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
const SCANNER_PORT: u16 = 54321;

/// A packet from `src:src_port` to `dst:dst_port`.
fn packet(
    src: IpAddr,
    src_port: u16,
    dst: IpAddr,
    dst_port: u16,
    flags: TcpFlags,
) -> TcpPacket<'static> {
    TcpPacket {
        l3: &[],
        src,
        dst,
        src_port,
        dst_port,
        flags,
        seq: 1,
        ack: 0,
        window: 1024,
        urgent: 0,
        ttl: 64,
        timestamp: None,
        sack_permitted: false,
        mss: Some(1460),
        payload_len: 0,
    }
}

/// Scanner to sensor port `port`.
fn out(port: u16, flags: TcpFlags) -> TcpPacket<'static> {
    packet(SCANNER, SCANNER_PORT, SENSOR, port, flags)
}

/// Sensor port `port` back to the scanner.
fn back(port: u16, flags: TcpFlags) -> TcpPacket<'static> {
    packet(SENSOR, port, SCANNER, SCANNER_PORT, flags)
}

fn with_sack(mut packet: TcpPacket<'static>) -> TcpPacket<'static> {
    packet.sack_permitted = true;
    packet
}

/// A detector, its clock's start and a wall clock that advances with it.
struct Script {
    detector: ScanDetector,
    start: Instant,
    wall_start: SystemTime,
}

impl Script {
    fn new() -> Script {
        Script::with(ScanSettings::default())
    }

    fn with(settings: ScanSettings) -> Script {
        Script {
            detector: ScanDetector::new(settings),
            start: Instant::now(),
            wall_start: SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000),
        }
    }

    fn at(&self, millis: u64) -> Instant {
        self.start + Duration::from_millis(millis)
    }

    fn send(&mut self, millis: u64, packet: &TcpPacket<'_>) {
        let now = self.at(millis);
        self.detector
            .observe(packet, now, self.wall_start + Duration::from_millis(millis));
    }

    fn poll(&mut self, millis: u64) -> Vec<ScanReport> {
        let now = self.at(millis);
        self.detector.poll(now)
    }
}

fn kinds(reports: &[ScanReport]) -> Vec<ScanKind> {
    reports.iter().map(|report| report.kind).collect()
}

const SYN: TcpFlags = TcpFlags::SYN;
const SYN_ACK: TcpFlags = TcpFlags(TcpFlags::SYN.0 | TcpFlags::ACK.0);
const ACK: TcpFlags = TcpFlags::ACK;
const RST: TcpFlags = TcpFlags::RST;
const RST_ACK: TcpFlags = TcpFlags(TcpFlags::RST.0 | TcpFlags::ACK.0);
const FIN_ACK: TcpFlags = TcpFlags(TcpFlags::FIN.0 | TcpFlags::ACK.0);

#[test]
fn syn_scan_of_an_open_port() {
    let mut script = Script::new();
    script.send(0, &out(22, SYN));
    script.send(1, &back(22, SYN_ACK));
    script.send(2, &out(22, RST));
    assert!(script.poll(4_999).is_empty(), "not quiet yet");
    let reports = script.poll(5_002);
    assert_eq!(kinds(&reports), [ScanKind::Syn]);
    let report = &reports[0];
    assert_eq!((report.source, report.target), (SCANNER, SENSOR));
    assert_eq!(report.ports, [22]);
    assert_eq!((report.port_count, report.packets), (1, 1));
    assert_eq!(report.first_seen, script.wall_start);
    assert_eq!(script.detector.stats().flows, 0);
    assert_eq!(script.detector.stats().sources, 0);
}

#[test]
fn syn_scan_of_closed_and_silent_ports() {
    let mut script = Script::new();
    script.send(0, &out(23, SYN));
    script.send(1, &back(23, RST_ACK));
    script.send(10, &out(24, SYN)); // filtered: nothing comes back
    assert_eq!(script.detector.stats().flows, 1);
    assert!(script.poll(5_009).is_empty(), "port 24 is still undecided");
    let reports = script.poll(5_010);
    assert_eq!(kinds(&reports), [ScanKind::Syn]);
    assert_eq!(reports[0].ports, [23, 24]);
    assert_eq!(reports[0].packets, 2);
}

#[test]
fn connect_scan_closes_with_a_reset_after_the_handshake() {
    let mut script = Script::new();
    script.send(0, &with_sack(out(80, SYN)));
    script.send(1, &back(80, SYN_ACK));
    script.send(2, &out(80, ACK));
    script.send(3, &back(80, TcpFlags::PSH | ACK)); // the sensor's banner
    script.send(4, &out(80, RST_ACK));
    assert_eq!(kinds(&script.poll(6_000)), [ScanKind::Connect]);
}

#[test]
fn connect_to_closed_and_silent_ports() {
    let mut script = Script::new();
    script.send(0, &with_sack(out(81, SYN)));
    script.send(1, &back(81, RST_ACK));
    script.send(2, &with_sack(out(82, SYN)));
    let reports = script.poll(6_000);
    assert_eq!(kinds(&reports), [ScanKind::Connect]);
    assert_eq!(reports[0].ports, [81, 82]);
}

#[test]
fn ordinary_connections_are_never_scans() {
    let mut script = Script::new();
    // Handshake, data, FIN.
    let client = |port: u16, flags| with_sack(packet(SCANNER, port, SENSOR, 80, flags));
    let server = |port: u16, flags| packet(SENSOR, 80, SCANNER, port, flags);
    script.send(0, &client(40000, SYN));
    script.send(1, &server(40000, SYN_ACK));
    script.send(2, &client(40000, ACK));
    let mut request = client(40000, TcpFlags::PSH | ACK);
    request.payload_len = 78;
    script.send(3, &request);
    script.send(4, &server(40000, TcpFlags::PSH | ACK));
    script.send(5, &client(40000, FIN_ACK));
    script.send(6, &server(40000, FIN_ACK));
    // Handshake and FIN, without data.
    script.send(10, &client(40001, SYN));
    script.send(11, &server(40001, SYN_ACK));
    script.send(12, &client(40001, ACK));
    script.send(13, &client(40001, FIN_ACK));
    // Handshake, then silence past the handshake timeout, then a reset: still ordinary.
    script.send(20, &client(40002, SYN));
    script.send(21, &server(40002, SYN_ACK));
    script.send(22, &client(40002, ACK));
    assert!(script.poll(5_100).is_empty());
    script.send(5_200, &client(40002, RST_ACK));
    // Many ordinary connections from one client to one port are no sweep either, and the
    // server's replies to each ephemeral port are not counted.
    for port in 41000..41050u16 {
        let at = 6_000 + u64::from(port - 41000);
        script.send(at, &client(port, SYN));
        script.send(at, &server(port, SYN_ACK));
        script.send(at, &client(port, ACK));
        script.send(at, &client(port, FIN_ACK));
        script.send(at, &server(port, FIN_ACK));
    }
    assert!(script.poll(70_000).is_empty());
    assert!(script.detector.flush().is_empty());
    assert_eq!(script.detector.stats().flows, 0);
}

#[test]
fn null_fin_and_xmas_probes() {
    let mut script = Script::new();
    script.send(0, &out(21, TcpFlags::NONE));
    script.send(1, &out(22, TcpFlags::NONE));
    script.send(2, &out(21, TcpFlags::FIN));
    script.send(3, &out(23, TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG));
    // The sensor's RST|ACK answers are not probes.
    script.send(4, &back(21, RST_ACK));
    let reports = script.poll(6_000);
    assert_eq!(
        kinds(&reports),
        [ScanKind::Null, ScanKind::Fin, ScanKind::Xmas]
    );
    assert_eq!(reports[0].ports, [21, 22]);
    assert_eq!(reports[0].packets, 2);
    assert_eq!(reports[1].ports, [21]);
    assert_eq!(reports[2].ports, [23]);
}

#[test]
fn os_detection_probes_count_only_as_os() {
    let mut script = Script::new();
    let mut timestamped_syn = out(22, SYN);
    timestamped_syn.timestamp = Some((u32::MAX, 0));
    script.send(0, &timestamped_syn);
    script.send(1, &back(22, SYN_ACK));
    script.send(2, &out(22, RST));
    let mut timestamped_null = out(23, TcpFlags::NONE);
    timestamped_null.timestamp = Some((u32::MAX, 0));
    script.send(3, &timestamped_null);
    let mut timestamped_xmas = out(24, TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG);
    timestamped_xmas.timestamp = Some((u32::MAX, 0));
    script.send(4, &timestamped_xmas);
    script.send(
        5,
        &out(25, SYN | TcpFlags::FIN | TcpFlags::PSH | TcpFlags::URG),
    );
    let mut ecn_syn = out(26, SYN | TcpFlags::ECE | TcpFlags::CWR);
    ecn_syn.urgent = 0xf7f5;
    script.send(6, &ecn_syn);
    assert_eq!(
        script.detector.stats().flows,
        0,
        "an OS probe opens no flow"
    );
    let reports = script.poll(6_000);
    assert_eq!(kinds(&reports), [ScanKind::OsProbe]);
    assert_eq!(reports[0].ports, [22, 23, 24, 25, 26]);
    assert_eq!(reports[0].packets, 5);
    // A SYN with ECE and CWR but no urgent pointer is an ordinary ECN SYN.
    let mut script = Script::new();
    script.send(0, &with_sack(out(26, SYN | TcpFlags::ECE | TcpFlags::CWR)));
    assert_eq!(script.detector.stats().flows, 1);
}

#[test]
fn a_sweep_needs_enough_ports_in_a_window() {
    let mut script = Script::new();
    for port in 1000..1025u16 {
        script.send(u64::from(port - 1000), &out(port, SYN));
        script.send(u64::from(port - 1000), &back(port, RST_ACK));
    }
    let reports = script.poll(6_000);
    assert_eq!(kinds(&reports), [ScanKind::Syn, ScanKind::Sweep]);
    let sweep = &reports[1];
    assert_eq!(sweep.kind.as_str(), "ports");
    assert_eq!(sweep.port_count, 25);
    assert_eq!(sweep.ports, (1000..1025).collect::<Vec<u16>>());
    assert_eq!(sweep.packets, 25);

    let mut script = Script::new();
    for port in 1000..1019u16 {
        script.send(0, &out(port, TcpFlags::FIN));
    }
    assert_eq!(
        kinds(&script.poll(6_000)),
        [ScanKind::Fin],
        "19 ports are no sweep"
    );
}

#[test]
fn quiet_and_window_timing() {
    let mut script = Script::new();
    // One NULL probe a second: never quiet, so the 60 s window ends the first report.
    for second in 0..70u64 {
        script.send(second * 1000, &out(9, TcpFlags::NONE));
        let reports = script.poll(second * 1000);
        if second < 60 {
            assert!(reports.is_empty(), "a report at {second} s");
        } else if second == 60 {
            assert_eq!(kinds(&reports), [ScanKind::Null]);
            assert_eq!(reports[0].packets, 61);
            let wall = script.wall_start;
            assert_eq!(reports[0].first_seen, wall);
            assert_eq!(reports[0].last_seen, wall + Duration::from_secs(60));
        } else {
            assert!(reports.is_empty(), "a second report at {second} s");
        }
    }
    // The new window started at 61 s; quiet after the last probe at 69 s.
    assert!(script.poll(73_999).is_empty());
    let reports = script.poll(74_000);
    assert_eq!(kinds(&reports), [ScanKind::Null]);
    assert_eq!(reports[0].packets, 9);
}

#[test]
fn ports_listed_are_capped_and_counted() {
    let settings = ScanSettings {
        max_ports_listed: 10,
        sweep_ports: 5,
        ..ScanSettings::default()
    };
    let mut script = Script::with(settings);
    for port in (100..130u16).rev() {
        script.send(0, &out(port, TcpFlags::NONE));
    }
    script.send(1, &out(125, TcpFlags::NONE)); // a listed port again: not counted twice
    let reports = script.poll(6_000);
    assert_eq!(kinds(&reports), [ScanKind::Null, ScanKind::Sweep]);
    for report in &reports {
        assert_eq!(report.ports, (120..130).collect::<Vec<u16>>());
        assert_eq!(report.port_count, 30);
        assert_eq!(report.packets, 31);
    }
    // An unlisted port again is counted again: the documented over-count past the cap.
    for port in (100..130u16).rev().chain([100]) {
        script.send(10_000, &out(port, TcpFlags::NONE));
    }
    let reports = script.poll(16_000);
    assert_eq!(reports[0].port_count, 31);
}

#[test]
fn a_spoofed_flood_stays_within_its_bounds() {
    let mut script = Script::new();
    let settings = ScanSettings::default();
    let floods = 100_000u32;
    for index in 0..floods {
        let source = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + index));
        let syn = packet(source, 1024 + (index % 60000) as u16, SENSOR, 80, SYN);
        script.send(u64::from(index / 100), &syn);
        let stats = script.detector.stats();
        assert!(stats.sources <= settings.max_sources, "{stats:?}");
        assert!(stats.flows <= settings.max_flows, "{stats:?}");
        assert!(script.detector.flow_order.len() <= 2 * settings.max_flows + 17);
        assert!(script.detector.source_order.len() <= 2 * settings.max_sources + 17);
    }
    let stats = script.detector.stats();
    assert_eq!(stats.packets, u64::from(floods));
    assert_eq!(stats.sources, settings.max_sources);
    assert_eq!(stats.flows, settings.max_flows);
    assert!(
        stats.evicted_flows >= u64::from(floods) - settings.max_flows as u64,
        "{stats:?}"
    );
    assert!(
        stats.evicted_sources >= u64::from(floods) - settings.max_sources as u64,
        "{stats:?}"
    );
    // Everything is decided, reported (at most one report per tracked source) and gone.
    let reports = script.poll(1_000 + 6_000);
    assert!(!reports.is_empty() && reports.len() <= settings.max_sources);
    assert!(
        reports
            .iter()
            .all(|report| report.kind == ScanKind::Syn && report.ports == [80])
    );
    let reports_after = script.poll(1_000 + 12_000);
    assert!(reports_after.len() <= settings.max_sources);
    let stats = script.detector.stats();
    assert_eq!((stats.sources, stats.flows), (0, 0));
    assert!(
        script.detector.flows.capacity() < 4096,
        "maps shrink after a flood"
    );
}

#[test]
fn entries_stay_small() {
    // The module documentation states these sizes; a change must update it.
    eprintln!(
        "flow entry {} B, flow order {} B, source entry {} B, source order {} B, tally {} B",
        std::mem::size_of::<(FlowKey, Flow)>(),
        std::mem::size_of::<(FlowKey, u32)>(),
        std::mem::size_of::<(IpAddr, Source)>(),
        std::mem::size_of::<(IpAddr, u32)>(),
        std::mem::size_of::<Tally>(),
    );
    assert!(std::mem::size_of::<(FlowKey, Flow)>() <= 56);
    assert!(std::mem::size_of::<(FlowKey, u32)>() <= 44);
    assert!(std::mem::size_of::<(IpAddr, Source)>() <= 136);
    assert!(std::mem::size_of::<Tally>() <= 64);
}

#[test]
fn flush_reports_everything_pending() {
    let mut script = Script::new();
    script.send(0, &out(22, SYN));
    script.send(1, &out(23, TcpFlags::FIN));
    let reports = script.detector.flush();
    assert_eq!(kinds(&reports), [ScanKind::Syn, ScanKind::Fin]);
    assert_eq!(
        script.detector.stats(),
        ScanStats {
            packets: 2,
            ..ScanStats::default()
        }
    );
}

#[test]
fn kind_words() {
    let words: Vec<&str> = ScanKind::ALL.iter().map(|kind| kind.as_str()).collect();
    assert_eq!(
        words,
        ["syn", "connect", "null", "fin", "xmas", "os", "ports"]
    );
}

#[test]
fn zero_bounds_track_nothing() {
    let settings = ScanSettings {
        max_sources: 0,
        max_flows: 0,
        ..ScanSettings::default()
    };
    let mut script = Script::with(settings);
    script.send(0, &out(22, SYN));
    script.send(0, &out(23, TcpFlags::NONE));
    assert!(script.poll(10_000).is_empty());
    assert_eq!(script.detector.stats().sources, 0);
}

/// A loopback capture (`AF_PACKET` on lo, outgoing copies dropped) while nmap 7.93 scanned ports
/// 47001 (open, sends a banner), 47002 (open, HTTP) and 1-30 (closed) of a different 127.0.0.x
/// address each time, from a different spoofed source (`-S 127.0.0.3x -e lo`) for the raw scans:
/// a curl to 127.0.0.20:47002, `-sS` from .31 to .21, `-sT` (from the kernel's .1) to .22, `-sN`
/// .33 to .23, `-sF` .34 to .24, `-sX` .35 to .25, `-O` on 47001,47002,9 from .36 to .26, and
/// a curl to 127.0.0.27:47002; 7 seconds apart.
pub(crate) const NMAP_LOOPBACK: &[u8] = include_bytes!("nmap_loopback.pcap");

#[test]
fn real_nmap_scans_on_loopback() {
    let mut detector = ScanDetector::new(ScanSettings::default());
    let start = Instant::now();
    let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_661_956);
    let mut reports = Vec::new();
    let mut last_poll = Duration::ZERO;
    let records = crate::packet::tests::pcap_records(NMAP_LOOPBACK);
    assert_eq!(
        records.len(),
        571,
        "541 TCP packets and -O's ICMP and UDP probes"
    );
    for (since_start, bytes) in &records {
        let Ok(parsed) = crate::packet::parse(bytes) else {
            continue;
        };
        detector.observe(&parsed, start + *since_start, wall + *since_start);
        if since_start.saturating_sub(last_poll) >= Duration::from_millis(500) {
            last_poll = *since_start;
            reports.extend(detector.poll(start + *since_start));
        }
    }
    reports.extend(detector.poll(start + last_poll + Duration::from_secs(60)));
    let address = |last: u8| IpAddr::V4(Ipv4Addr::new(127, 0, 0, last));
    let scanned: Vec<u16> = (1..=30).chain([47001, 47002]).collect();
    let found: Vec<(ScanKind, IpAddr, IpAddr, Vec<u16>)> = reports
        .into_iter()
        .map(|report| (report.kind, report.source, report.target, report.ports))
        .collect();
    let mut expected = Vec::new();
    for (kind, source, target) in [
        (ScanKind::Syn, 31, 21),
        (ScanKind::Connect, 1, 22),
        (ScanKind::Null, 33, 23),
        (ScanKind::Fin, 34, 24),
        (ScanKind::Xmas, 35, 25),
    ] {
        expected.push((kind, address(source), address(target), scanned.clone()));
        expected.push((
            ScanKind::Sweep,
            address(source),
            address(target),
            scanned.clone(),
        ));
    }
    // -O's own SYN scan of its three ports, then its probes (to one open and one closed port).
    expected.push((
        ScanKind::Syn,
        address(36),
        address(26),
        vec![9, 47001, 47002],
    ));
    expected.push((ScanKind::OsProbe, address(36), address(26), vec![9, 47001]));
    assert_eq!(found, expected);
    assert_eq!(detector.stats().flows, 0);
}
