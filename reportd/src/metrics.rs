//! `/metrics` in the Prometheus text format: the report service's requests (by route template
//! and status, never by address), its live streams, the process, and whatever else the process
//! runs (the sensor, in `recce7 up`) through [`MetricsSource`].

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

pub use promtext::{Exposition, MetricsSource, process_metrics};

/// Request duration buckets, in seconds.
pub const BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

#[derive(Debug, Default)]
struct Histogram {
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The report service's own counters.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    durations: Mutex<BTreeMap<String, Histogram>>,
    /// Open live-update streams.
    pub stream_clients: AtomicI64,
    /// The HTTP server's connections: open, and refused by the per-source cap.
    pub connections: std::sync::Arc<crate::server::ServerCounters>,
}

impl HttpMetrics {
    /// Counts one answered request.
    pub fn observe(&self, route: &str, status: u16, took: Duration) {
        if let Ok(mut r) = self.requests.lock() {
            *r.entry((route.to_owned(), status)).or_default() += 1;
        }
        if let Ok(mut d) = self.durations.lock() {
            let h = d.entry(route.to_owned()).or_default();
            let secs = took.as_secs_f64();
            for (i, le) in BUCKETS.iter().enumerate() {
                if secs <= *le {
                    h.buckets[i] += 1;
                }
            }
            h.count += 1;
            h.sum += secs;
        }
    }

    /// Writes the report service's metrics.
    pub fn render(&self, out: &mut Exposition) {
        out.family(
            "recce7_reportd_requests_total",
            "counter",
            "Requests answered, by route template and status.",
        );
        if let Ok(r) = self.requests.lock() {
            for ((route, status), n) in r.iter() {
                out.sample(
                    "recce7_reportd_requests_total",
                    &[("route", route), ("status", &status.to_string())],
                    *n as f64,
                );
            }
        }
        out.family(
            "recce7_reportd_request_duration_seconds",
            "histogram",
            "Time to answer a request, by route template.",
        );
        if let Ok(d) = self.durations.lock() {
            let name = "recce7_reportd_request_duration_seconds";
            for (route, h) in d.iter() {
                for (i, le) in BUCKETS.iter().enumerate() {
                    out.sample(
                        &format!("{name}_bucket"),
                        &[("route", route), ("le", &le.to_string())],
                        h.buckets[i] as f64,
                    );
                }
                out.sample(
                    &format!("{name}_bucket"),
                    &[("route", route), ("le", "+Inf")],
                    h.count as f64,
                );
                out.sample(&format!("{name}_sum"), &[("route", route)], h.sum);
                out.sample(
                    &format!("{name}_count"),
                    &[("route", route)],
                    h.count as f64,
                );
            }
        }
        out.family(
            "recce7_reportd_stream_clients",
            "gauge",
            "Open live-update streams.",
        );
        out.sample(
            "recce7_reportd_stream_clients",
            &[],
            self.stream_clients.load(Ordering::Relaxed) as f64,
        );
        out.family(
            "recce7_reportd_connections_open",
            "gauge",
            "HTTP connections open now (at most reportd.max_connections).",
        );
        out.sample(
            "recce7_reportd_connections_open",
            &[],
            self.connections.open.load(Ordering::Relaxed) as f64,
        );
        out.family(
            "recce7_reportd_connections_refused_total",
            "counter",
            "Connections closed at once: their address had max_connections_per_source open.",
        );
        out.sample(
            "recce7_reportd_connections_refused_total",
            &[],
            self.connections.refused_per_source.load(Ordering::Relaxed) as f64,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_with_escaped_labels_and_a_histogram() {
        let m = HttpMetrics::default();
        m.observe("/v1/analytics/ports", 200, Duration::from_millis(3));
        m.observe("/v1/analytics/ports", 200, Duration::from_millis(30));
        let mut out = Exposition::default();
        m.render(&mut out);
        let text = out.finish();
        assert!(text.contains(
            "recce7_reportd_requests_total{route=\"/v1/analytics/ports\",status=\"200\"} 2"
        ));
        assert!(text.contains("recce7_reportd_request_duration_seconds_bucket{route=\"/v1/analytics/ports\",le=\"0.005\"} 1"));
        assert!(text.contains("recce7_reportd_request_duration_seconds_bucket{route=\"/v1/analytics/ports\",le=\"+Inf\"} 2"));
        assert!(text.contains("# TYPE recce7_reportd_request_duration_seconds histogram"));
    }
}
