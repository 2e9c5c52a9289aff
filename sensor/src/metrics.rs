//! The sensor's `/metrics`: sessions, refusals and events by plug-in instance and type, the
//! store's write latency and queue, the publisher's backlog. Instance names come from the
//! configuration and types from a closed enum, so every label set is bounded; no address is
//! ever a label.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use promtext::{Exposition, MetricsSource};
use store::{EventType, RecorderHandle, RecorderStats};

use crate::publisher::PublisherStats;

/// The plug-in instances with the event types their kind can record, shared with the running
/// sensor (a reload replaces them).
/// With each, its login counters when it logs users in.
pub type PluginEvents = Arc<std::sync::Mutex<Vec<PluginMetrics>>>;

/// One plug-in instance as the metrics see it: its name, the event types its kind can record,
/// and its login counters when it logs users in.
pub type PluginMetrics = (
    String,
    &'static [EventType],
    Option<Arc<crate::credentials::LoginCounters>>,
);

/// A running sensor's counters, ready to be written as a metrics page.
pub struct SensorMetrics {
    /// The plug-in instances with the event types their kind can record, so each has its
    /// series from the start (at 0), and none for a type it cannot record.
    /// A reload replaces the list.
    pub plugins: PluginEvents,
    /// Configuration reloads applied and refused.
    pub reloads: Arc<crate::reload::ReloadCounters>,
    /// The recorder's counters.
    pub recorder: Arc<RecorderStats>,
    /// The recorder's queue.
    pub queue: RecorderHandle,
    /// The publisher's counters, when publishing.
    pub publisher: Option<Arc<PublisherStats>>,
    /// The packet capture's counters (all 0, and `recce7_capture_enabled` 0, when it is off).
    pub capture: Arc<crate::capture::CaptureStats>,
}

impl MetricsSource for SensorMetrics {
    fn render(&self, out: &mut Exposition) {
        let by_plugin = self
            .recorder
            .by_plugin
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default();
        let counts = |plugin: &str| by_plugin.get(plugin).copied().unwrap_or_default();
        let mut kinds = self.plugins.lock().map(|p| p.clone()).unwrap_or_default();
        for p in by_plugin.keys() {
            if !kinds.iter().any(|(name, _, _)| name == p) {
                // Counted but no longer configured: its kind is unknown here. The packet
                // capture's own events (scans, fingerprints of SYNs that opened no session)
                // count under `capture`, which has no sessions.
                let types: &'static [EventType] = if p == crate::capture::PLUGIN {
                    &crate::capture::EVENT_TYPES
                } else {
                    &EventType::ALL
                };
                kinds.push((p.clone(), types, None));
            }
        }
        // Instances have sessions; the capture has none.
        let plugins: Vec<String> = kinds
            .iter()
            .map(|(name, _, _)| name.clone())
            .filter(|name| name != crate::capture::PLUGIN)
            .collect();
        out.family(
            "recce7_sessions_total",
            "counter",
            "Sessions started (accepted connections), by plug-in instance.",
        );
        for p in &plugins {
            let c = counts(p);
            let started = c.of(EventType::SessionStart).saturating_sub(c.refused);
            out.sample("recce7_sessions_total", &[("plugin", p)], started as f64);
        }
        out.family(
            "recce7_connections_refused_total",
            "counter",
            "Connections refused by a connection limit, by plug-in instance.",
        );
        for p in &plugins {
            out.sample(
                "recce7_connections_refused_total",
                &[("plugin", p)],
                counts(p).refused as f64,
            );
        }
        out.family(
            "recce7_sessions_open",
            "gauge",
            "Sessions started and not yet ended, by plug-in instance.",
        );
        for p in &plugins {
            let c = counts(p);
            let open = c
                .of(EventType::SessionStart)
                .saturating_sub(c.of(EventType::SessionEnd));
            out.sample("recce7_sessions_open", &[("plugin", p)], open as f64);
        }
        out.family(
            "recce7_events_total",
            "counter",
            "Events recorded (committed), by plug-in instance and type.",
        );
        for (p, events, _) in &kinds {
            let c = counts(p);
            // The kind's types (from 0), and any other type that was counted all the same: an
            // event recorded is never hidden by a kind's list that forgot it.
            let shown = EventType::ALL
                .into_iter()
                .filter(|kind| events.contains(kind) || c.of(*kind) > 0);
            for kind in shown {
                out.sample(
                    "recce7_events_total",
                    &[("plugin", p), ("type", kind.as_str())],
                    c.of(kind) as f64,
                );
            }
        }
        out.family(
            "recce7_logins_total",
            "counter",
            "Logins decided by the credential policy, by plug-in instance and outcome (from the instance's start or last rebuild).",
        );
        for (p, _, logins) in &kinds {
            if let Some(logins) = logins {
                for (outcome, n) in [
                    ("accepted", logins.accepted()),
                    ("refused", logins.refused()),
                ] {
                    out.sample(
                        "recce7_logins_total",
                        &[("plugin", p), ("outcome", outcome)],
                        n as f64,
                    );
                }
            }
        }
        out.family(
            "recce7_config_reloads_total",
            "counter",
            "Configuration reloads (SIGHUP), by result: applied, or refused (a file with problems, a port that cannot be bound).",
        );
        for (result, n) in [
            ("applied", &self.reloads.applied),
            ("refused", &self.reloads.refused),
        ] {
            out.sample(
                "recce7_config_reloads_total",
                &[("result", result)],
                n.load(Ordering::Relaxed) as f64,
            );
        }
        let r = self.recorder.snapshot();
        out.family(
            "recce7_store_events_written_total",
            "counter",
            "Events committed to the database.",
        );
        out.sample("recce7_store_events_written_total", &[], r.events as f64);
        out.family(
            "recce7_store_events_failed_total",
            "counter",
            "Events the database refused (a full disk).",
        );
        out.sample("recce7_store_events_failed_total", &[], r.failed as f64);
        out.family(
            "recce7_store_events_dropped_disk_full_total",
            "counter",
            "Events dropped because the disk was full (also in recce7_store_events_failed_total).",
        );
        out.sample(
            "recce7_store_events_dropped_disk_full_total",
            &[],
            r.disk_full as f64,
        );
        out.family(
            "recce7_store_writing",
            "gauge",
            "1 while the database takes writes, 0 while the disk is full.",
        );
        let full = self.recorder.disk_full_now.load(Ordering::Relaxed);
        out.sample("recce7_store_writing", &[], f64::from(u8::from(!full)));
        out.family(
            "recce7_store_pruned_rows_total",
            "counter",
            "Rows deleted by retention (age and size limits).",
        );
        out.sample("recce7_store_pruned_rows_total", &[], r.pruned_rows as f64);
        out.family(
            "recce7_store_database_bytes",
            "gauge",
            "The database's pages in use plus its WAL, at the last retention check (0 without retention).",
        );
        out.sample(
            "recce7_store_database_bytes",
            &[],
            self.recorder.database_bytes.load(Ordering::Relaxed) as f64,
        );
        out.family(
            "recce7_store_commit_seconds",
            "summary",
            "Time spent writing and committing batches.",
        );
        out.sample(
            "recce7_store_commit_seconds_sum",
            &[],
            r.commit_micros as f64 / 1e6,
        );
        out.sample("recce7_store_commit_seconds_count", &[], r.batches as f64);
        out.family(
            "recce7_store_queue_depth",
            "gauge",
            "Events waiting for the database writer.",
        );
        out.sample("recce7_store_queue_depth", &[], self.queue.queued() as f64);
        out.family(
            "recce7_outbox_backlog",
            "gauge",
            "Events waiting in the outbox to be published.",
        );
        out.sample("recce7_outbox_backlog", &[], r.outbox_unsent as f64);
        out.family(
            "recce7_outbox_full_total",
            "counter",
            "Events recorded but not queued for publishing because the outbox was full.",
        );
        out.sample("recce7_outbox_full_total", &[], r.outbox_full as f64);
        let p = self
            .publisher
            .as_ref()
            .map(|p| p.snapshot())
            .unwrap_or_default();
        out.family(
            "recce7_published_total",
            "counter",
            "Events handed to the hpfeeds broker.",
        );
        out.sample("recce7_published_total", &[], p.sent as f64);
        out.family(
            "recce7_publisher_connected",
            "gauge",
            "1 while connected to the hpfeeds broker.",
        );
        out.sample(
            "recce7_publisher_connected",
            &[],
            f64::from(u8::from(p.connected)),
        );
        render_capture(&self.capture, out);
    }
}

/// The packet capture's families (docs/capture.md, "Metrics").
fn render_capture(c: &crate::capture::CaptureStats, out: &mut Exposition) {
    let n = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as f64;
    out.family(
        "recce7_capture_enabled",
        "gauge",
        "1 while packet capture runs; 0 when it is off (no root or CAP_NET_RAW, or [capture] enabled = false).",
    );
    out.sample(
        "recce7_capture_enabled",
        &[],
        f64::from(u8::from(c.enabled.load(Ordering::Relaxed))),
    );
    let counters = [
        (
            "recce7_capture_packets_total",
            "Packets the capture read (TCP to the sensor's addresses, after the kernel's filter).",
            &c.packets,
        ),
        (
            "recce7_capture_kernel_drops_total",
            "Packets the kernel dropped because the capture's buffer was full.",
            &c.kernel_drops,
        ),
        (
            "recce7_capture_malformed_total",
            "Captured packets that were not a readable TCP packet.",
            &c.malformed,
        ),
        ("recce7_capture_syns_total", "SYNs fingerprinted.", &c.syns),
        (
            "recce7_capture_scans_total",
            "Scan reports recorded.",
            &c.scans,
        ),
        (
            "recce7_capture_events_suppressed_total",
            "Scan reports and sessionless fingerprints held back by the capture's rate limit.",
            &c.suppressed,
        ),
    ];
    for (name, help, value) in counters {
        out.family(name, "counter", help);
        out.sample(name, &[], n(value));
    }
    out.family(
        "recce7_capture_fingerprints_total",
        "counter",
        "SYN fingerprints recorded, for a session or for a SYN that opened none.",
    );
    out.sample(
        "recce7_capture_fingerprints_total",
        &[("session", "yes")],
        n(&c.fingerprints_linked),
    );
    out.sample(
        "recce7_capture_fingerprints_total",
        &[("session", "no")],
        n(&c.fingerprints_sessionless),
    );
    out.family(
        "recce7_capture_evictions_total",
        "counter",
        "State evicted to stay within the capture's caps: scan sources, handshakes, fingerprints waiting for a session.",
    );
    for (what, value) in [
        ("source", &c.evicted_sources),
        ("handshake", &c.evicted_flows),
        ("fingerprint", &c.evicted_fingerprints),
    ] {
        out.sample(
            "recce7_capture_evictions_total",
            &[("state", what)],
            n(value),
        );
    }
    out.family(
        "recce7_capture_tracked",
        "gauge",
        "Scan sources and handshakes the capture tracks now, and SYN fingerprints waiting for their session.",
    );
    out.sample(
        "recce7_capture_tracked",
        &[("state", "source")],
        n(&c.sources),
    );
    out.sample(
        "recce7_capture_tracked",
        &[("state", "handshake")],
        n(&c.flows),
    );
    out.sample(
        "recce7_capture_tracked",
        &[("state", "fingerprint")],
        n(&c.waiting),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A type the kind's list does not name still gets its series once it is counted.
    #[tokio::test]
    async fn an_event_counted_is_shown_even_when_its_kind_does_not_list_its_type() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = store::open(&dir.path().join("m.sqlite"), &[]).unwrap();
        let recorder = store::Recorder::start(db, &[], 16, 16).unwrap();
        let stats = recorder.stats();
        let mut counted = store::PluginCounts::default();
        let raw = EventType::ALL
            .iter()
            .position(|k| *k == EventType::InputRaw)
            .unwrap();
        counted.events[raw] = 3;
        stats
            .by_plugin
            .lock()
            .unwrap()
            .insert("ftp".into(), counted);
        let metrics = SensorMetrics {
            plugins: Arc::new(std::sync::Mutex::new(vec![
                (
                    "ftp".to_string(),
                    &[EventType::SessionStart, EventType::ServiceInput][..],
                    None,
                ),
                // An instance that logs users in: its policy's counters.
                ("telnet".to_string(), &[EventType::SessionStart][..], {
                    let policy = crate::credentials::CredentialPolicy::new(
                        &crate::credentials::CredentialOptions::default(),
                        None,
                    );
                    policy.check("192.0.2.1".parse().unwrap(), b"root", b"x");
                    Some(policy.counters())
                }),
            ])),
            reloads: Arc::default(),
            recorder: stats,
            queue: recorder.handle(),
            publisher: None,
            capture: Arc::default(),
        };
        let mut out = Exposition::default();
        metrics.render(&mut out);
        let text = out.finish();
        for expected in [
            "recce7_events_total{plugin=\"ftp\",type=\"session.start\"} 0",
            "recce7_events_total{plugin=\"ftp\",type=\"service.input\"} 0",
            "recce7_events_total{plugin=\"ftp\",type=\"input.raw\"} 3",
            "recce7_logins_total{plugin=\"telnet\",outcome=\"accepted\"} 0",
            "recce7_logins_total{plugin=\"telnet\",outcome=\"refused\"} 1",
        ] {
            assert!(text.contains(expected), "{expected} in {text}");
        }
        assert!(!text.contains("type=\"telnet.login\""), "{text}");
        recorder.finish().await;
    }
}
