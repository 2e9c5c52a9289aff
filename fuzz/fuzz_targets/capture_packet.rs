//! The packet-capture path on arbitrary bytes: the packet reader, the p0f SYN matcher and the
//! scan detector (the input cut into packets by 2-byte length prefixes, fed with advancing
//! times and polled), then the same bytes as a TLS ClientHello (JA4) and an HTTP request head
//! (p0f's HTTP signature). Nothing may panic, and the detector stays within its bounds.

#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime};

use fingerprint::p0f::P0f;
use fingerprint::scan::{ScanDetector, ScanSettings};
use fingerprint::{packet, tls};
use libfuzzer_sys::fuzz_target;

/// The embedded signatures, parsed once.
fn signatures() -> &'static P0f {
    static P0F: OnceLock<P0f> = OnceLock::new();
    P0F.get_or_init(|| P0f::embedded().expect("the embedded signatures load"))
}

fuzz_target!(|data: &[u8]| {
    let p0f = signatures();
    let settings = ScanSettings {
        max_sources: 4,
        max_flows: 4,
        max_ports_listed: 3,
        sweep_ports: 2,
        ..ScanSettings::default()
    };
    let mut detector = ScanDetector::new(settings.clone());
    let start = Instant::now();
    let wall = SystemTime::UNIX_EPOCH;
    let mut rest = data;
    let mut step = 0u64;
    while let [high, low, tail @ ..] = rest {
        let length = usize::from(u16::from_be_bytes([*high, *low])).min(tail.len());
        let (bytes, after) = tail.split_at(length);
        rest = after;
        step += 1;
        // Each packet a second apart, so quiet, window and handshake timeouts all happen.
        let now = start + Duration::from_secs(step);
        if let Ok(parsed) = packet::parse(bytes) {
            if let Some(syn) = p0f.syn(&parsed) {
                assert!(!syn.raw_signature.is_empty());
            }
            detector.observe(&parsed, now, wall + Duration::from_secs(step));
        }
        for report in detector.poll(now) {
            assert!(report.ports.len() <= settings.max_ports_listed);
            assert!(report.ports.windows(2).all(|pair| pair[0] < pair[1]));
        }
        let stats = detector.stats();
        assert!(stats.sources <= settings.max_sources && stats.flows <= settings.max_flows);
    }
    for report in detector.flush() {
        assert!(report.ports.len() <= settings.max_ports_listed);
    }
    if let Ok(parsed) = packet::parse(data) {
        let _ = p0f.syn(&parsed);
    }
    let _ = tls::ja4(data);
    let _ = p0f.http_request(data, Some("Linux 2.2.x-3.x"));
});
