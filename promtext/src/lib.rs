//! The Prometheus text exposition format (version 0.0.4), as recce7's roles write it: a page
//! of metric families built from counters the programs already keep (atomics in their stats),
//! plus the process metrics every role exposes. Labels are always from bounded sets (plug-in
//! names, event types, route templates), never addresses.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

/// Something else that reports metrics into the same page.
pub trait MetricsSource: Send + Sync {
    /// Appends its metrics (with `# HELP` and `# TYPE` lines) to `out`.
    fn render(&self, out: &mut Exposition);
}

/// A page of metrics being written.
#[derive(Debug, Default)]
pub struct Exposition {
    text: String,
}

/// A label value escaped for the text format.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('\n', "\\n")
        .replace('"', "\\\"")
}

impl Exposition {
    /// Starts a metric family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.text.push_str(name);
        if !labels.is_empty() {
            let inner: Vec<String> = labels
                .iter()
                .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
                .collect();
            let _ = write!(self.text, "{{{}}}", inner.join(","));
        }
        if value.is_finite() && value.fract() == 0.0 && value.abs() < 1e15 {
            let _ = writeln!(self.text, " {}", value as i64);
        } else {
            let _ = writeln!(self.text, " {value}");
        }
    }

    /// The page.
    pub fn finish(self) -> String {
        self.text
    }
}

/// When the process started (first use of this module, early in `main`).
fn started() -> f64 {
    static START: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *START.get_or_init(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

/// Resident memory of this process, from /proc (Linux).
fn resident_bytes() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0)
}

/// Fixes the process start time (call early in `main`; the first metrics page does otherwise).
pub fn mark_process_start() {
    started();
}

/// The process metrics every recce7 role exposes.
pub fn process_metrics(out: &mut Exposition) {
    out.family(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    out.sample(
        "process_resident_memory_bytes",
        &[],
        resident_bytes().unwrap_or(0.0),
    );
    out.family(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    out.sample("process_start_time_seconds", &[], started());
    out.family("recce7_build_info", "gauge", "The recce7 version running.");
    out.sample(
        "recce7_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_escape_labels_and_print_integers_plainly() {
        let mut out = Exposition::default();
        out.family("x", "gauge", "A test.");
        out.sample("x", &[("a", "q\"u\\o\nte")], 1.5);
        out.sample("y", &[], 3.0);
        process_metrics(&mut out);
        let text = out.finish();
        assert!(text.starts_with("# HELP x A test.\n# TYPE x gauge\n"));
        assert!(text.contains("x{a=\"q\\\"u\\\\o\\nte\"} 1.5\n"), "{text}");
        assert!(text.contains("\ny 3\n"));
        assert!(text.contains("process_resident_memory_bytes "));
        assert!(text.contains("recce7_build_info{version=\""));
    }
}
