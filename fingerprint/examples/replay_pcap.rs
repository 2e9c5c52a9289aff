//! Replays a pcap file of raw IP packets (link type 101, as a capture on an `AF_PACKET`
//! `SOCK_DGRAM` socket writes them) through the p0f matcher and the scan detector, with the
//! file's own timestamps, and prints one line per SYN fingerprint and per scan report. For
//! checking the crate by hand against `p0f -r FILE` and real nmap runs:
//!
//! ```text
//! cargo run -p fingerprint --example replay_pcap -- FILE.pcap [p0f.fp]
//! ```

use std::time::{Duration, Instant, SystemTime};

use fingerprint::p0f::P0f;
use fingerprint::packet;
use fingerprint::scan::{ScanDetector, ScanReport, ScanSettings};

/// The pcap link type of raw IPv4/IPv6 packets.
const LINKTYPE_RAW: u32 = 101;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut arguments = std::env::args().skip(1);
    let path = arguments
        .next()
        .ok_or("usage: replay_pcap FILE.pcap [p0f.fp]")?;
    let p0f = match arguments.next() {
        Some(signatures) => P0f::from_file(std::path::Path::new(&signatures))?,
        None => P0f::embedded()?,
    };
    let bytes = std::fs::read(&path)?;
    let header = bytes.get(..24).ok_or("not a pcap file")?;
    let word = |at: usize| -> u32 {
        let mut quad = [0u8; 4];
        quad.copy_from_slice(&header[at..at + 4]);
        u32::from_le_bytes(quad)
    };
    if word(0) != 0xa1b2_c3d4 || word(20) != LINKTYPE_RAW {
        return Err("only little-endian microsecond pcap files of raw IP packets".into());
    }
    let mut detector = ScanDetector::new(ScanSettings::default());
    let start = Instant::now();
    let mut first: Option<Duration> = None;
    let mut last_poll = Duration::ZERO;
    let mut offset = 24;
    while let Some(record) = bytes.get(offset..offset + 16) {
        let field = |at: usize| {
            let mut quad = [0u8; 4];
            quad.copy_from_slice(&record[at..at + 4]);
            u32::from_le_bytes(quad)
        };
        let stamp = Duration::from_secs(field(0).into()) + Duration::from_micros(field(4).into());
        let length = field(8) as usize;
        let Some(data) = bytes.get(offset + 16..offset + 16 + length) else {
            break;
        };
        offset += 16 + length;
        let since_first = stamp.saturating_sub(*first.get_or_insert(stamp));
        let now = start + since_first;
        let wall = SystemTime::UNIX_EPOCH + stamp;
        let Ok(parsed) = packet::parse(data) else {
            continue;
        };
        if let Some(syn) = p0f.syn(&parsed) {
            println!(
                "{:.3} syn {}/{} -> {}/{} raw_sig={} os={} class={} quality={} dist={}",
                stamp.as_secs_f64(),
                parsed.src,
                parsed.src_port,
                parsed.dst,
                parsed.dst_port,
                syn.raw_signature,
                syn.os.as_deref().unwrap_or("???"),
                syn.os_class.as_deref().unwrap_or("-"),
                syn.quality.as_str(),
                syn.distance,
            );
        }
        detector.observe(&parsed, now, wall);
        if since_first.saturating_sub(last_poll) >= Duration::from_millis(500) {
            last_poll = since_first;
            detector.poll(now).iter().for_each(print_report);
        }
    }
    let end = start + last_poll + Duration::from_secs(120);
    detector.poll(end).iter().for_each(print_report);
    detector.flush().iter().for_each(print_report);
    println!("{:?}", detector.stats());
    Ok(())
}

fn print_report(report: &ScanReport) {
    let seconds = |time: SystemTime| {
        time.duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    };
    println!(
        "{:.3}-{:.3} scan.{} {} -> {} ports={:?} port_count={} packets={}",
        seconds(report.first_seen),
        seconds(report.last_seen),
        report.kind.as_str(),
        report.source,
        report.target,
        report.ports,
        report.port_count,
        report.packets,
    );
}
