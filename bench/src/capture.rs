//! `bench capture`: what the sensor's packet capture costs (docs/capture.md). Needs root (a raw
//! socket to send, and the sensor's AF_PACKET socket) and the release binary.
//!
//! - Packets per second on one core: the sensor is pinned to CPU 1 and this program to CPU 0;
//!   spoofed SYNs (a new source each, the worst case: every one is fingerprinted, tracked and
//!   evicted) are sent to 127.0.0.1 at rising rates for 3 s each. For each rate: the packets the
//!   capture read, the packets the kernel dropped (its buffer full: counted in
//!   `recce7_capture_kernel_drops_total`), and the sensor's CPU.
//! - The sensor's CPU while `nmap -sS -p 1-1000 127.0.0.1` runs, with capture on and off, median
//!   of 3.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use testkit::role::{Readiness, RoleProcess};
use testkit::sensor::{ports, telnet_any_login};

use crate::median;
use crate::sensor::{binary, limits, today};

/// Offered rates, packets per second.
const RATES: [u64; 6] = [10_000, 25_000, 50_000, 100_000, 150_000, 250_000];
/// Seconds per rate.
const SECS: u64 = 3;

fn start(bin: &Path, capture: bool) -> (RoleProcess, u16) {
    let [telnet, metrics] = ports::<2>();
    let dir = tempfile::tempdir().expect("temporary directory");
    let db = dir.path().join("sensor.sqlite");
    let text = format!(
        "[sensor]\nname = \"bench\"\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\n\
         metrics_listen = \"127.0.0.1:{metrics}\"\n{}\n{}",
        db.display(),
        limits(60).replace(
            &crate::sensor::capture_table(),
            &format!("[capture]\nenabled = {capture}\n")
        ),
        telnet_any_login("telnet", telnet, "telnet"),
    );
    let sensor = RoleProcess::start_owned(
        bin,
        "sensor",
        dir,
        db,
        &text,
        Readiness::lines_containing(1, "listening on"),
    );
    (sensor, metrics)
}

/// One sample of the sensor's `/metrics`.
fn metric(port: u16, name: &str) -> f64 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("the metrics port");
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("ask for the metrics");
    let mut page = String::new();
    s.read_to_string(&mut page).expect("read the metrics");
    page.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("{name} not in the metrics"))
}

/// The process's CPU time (user + system), seconds.
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc/PID/stat");
    // The fields after the command (which may hold spaces) start after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 =
        fields[11].parse::<f64>().unwrap_or(0.0) + fields[12].parse::<f64>().unwrap_or(0.0);
    ticks / 100.0
}

fn pin(pid: u32, cpu: u32) {
    let ok = Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(ok, "taskset (util-linux) could not pin {pid} to CPU {cpu}");
}

/// Sends `rate` SYNs per second for `secs`, paced per millisecond; returns how many were sent.
fn flood(rate: u64, secs: u64, port: u16, seq: &mut u32) -> u64 {
    let raw = testkit::packets::RawSender::to_loopback(port);
    let start = Instant::now();
    let total = rate * secs;
    let mut sent = 0u64;
    while sent < total {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        if sent >= due.min(total) {
            std::thread::sleep(Duration::from_micros(200));
            continue;
        }
        while sent < due.min(total) {
            *seq = seq.wrapping_add(1);
            let packet = testkit::packets::spoofed_syn(
                testkit::packets::spoofed_source(*seq),
                1024 + (*seq % 60_000) as u16,
                port,
                64_240,
            );
            if raw.send(&packet) {
                sent += 1;
            }
        }
    }
    sent
}

/// Runs both measurements and prints the Markdown lines.
pub fn run() {
    let bin = binary();
    println!("machine: {}, {}", crate::machine(), today());
    let me = std::process::id();
    let (mut sensor, metrics) = start(&bin, true);
    assert_eq!(
        metric(metrics, "recce7_capture_enabled"),
        1.0,
        "capture is off: run the benchmark as root"
    );
    let pid = sensor.pid();
    pin(pid, 1);
    pin(me, 0);
    let [closed] = ports::<1>();
    let mut seq = 0u32;
    println!(
        "| offered SYN/s (spoofed sources) | read by the capture /s | kernel drops | sensor CPU (one core) |"
    );
    println!("|---|---|---|---|");
    for rate in RATES {
        let (p0, d0, c0) = (
            metric(metrics, "recce7_capture_packets_total"),
            metric(metrics, "recce7_capture_kernel_drops_total"),
            cpu_secs(pid),
        );
        let t = Instant::now();
        let sent = flood(rate, SECS, closed, &mut seq);
        let secs = t.elapsed().as_secs_f64();
        let c1 = cpu_secs(pid);
        // Let the capture drain its buffer and read the kernel's counts (every 250 ms).
        std::thread::sleep(Duration::from_millis(1500));
        let read = metric(metrics, "recce7_capture_packets_total") - p0;
        let drops = metric(metrics, "recce7_capture_kernel_drops_total") - d0;
        println!(
            "| {:.0} (sent {sent} in {secs:.2} s) | {:.0} | {:.0} ({:.2}%) | {:.0}% |",
            sent as f64 / secs,
            read / secs,
            drops,
            100.0 * drops / sent.max(1) as f64,
            100.0 * (c1 - c0) / secs
        );
    }
    let evicted = metric(metrics, "recce7_capture_evictions_total{state=\"source\"}");
    let suppressed = metric(metrics, "recce7_capture_events_suppressed_total");
    println!("(sources evicted {evicted:.0}, events held back by the rate limit {suppressed:.0})");
    let (status, _) = sensor.terminate(Duration::from_secs(30));
    assert!(status.success(), "the sensor exited with {status}");

    println!();
    println!(
        "| nmap -sS -p 1-1000 127.0.0.1 | sensor CPU during the scan (median of 3) | scan time |"
    );
    println!("|---|---|---|");
    for capture in [true, false] {
        let (mut sensor, _) = start(&bin, capture);
        let pid = sensor.pid();
        let mut cpu = Vec::new();
        let mut wall = Vec::new();
        for _ in 0..3 {
            let c0 = cpu_secs(pid);
            let t = Instant::now();
            let out = Command::new("nmap")
                .args(["-sS", "-Pn", "-n", "-p", "1-1000", "127.0.0.1"])
                .output()
                .expect("nmap (apt-get install -y nmap)");
            assert!(out.status.success(), "nmap failed");
            wall.push(t.elapsed().as_secs_f64());
            // The scan's report is made after the quiet time; count that work too.
            std::thread::sleep(Duration::from_secs(6));
            cpu.push(cpu_secs(pid) - c0);
        }
        println!(
            "| capture {} | {:.0} ms | {:.2} s |",
            if capture { "on" } else { "off" },
            1000.0 * median(cpu),
            median(wall)
        );
        let (status, _) = sensor.terminate(Duration::from_secs(30));
        assert!(status.success(), "the sensor exited with {status}");
    }
}
