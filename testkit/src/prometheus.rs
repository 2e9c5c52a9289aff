//! A real Prometheus server (Debian's `prometheus` package) for the metrics tests, and the PromQL
//! of the shipped Grafana dashboards (`configs/grafana/dashboards/`), so a test can prove that
//! every panel shows data once Prometheus has scraped a running sensor and report service.
//!
//! Prometheus runs on an ephemeral loopback port with its data in a temporary directory and is
//! killed when dropped. Its HTTP API is read with `curl` (no HTTP client crate here), and its JSON
//! answers with serde_json. A missing `prometheus` or `curl` is a
//! test failure with the install hint, never a silent skip.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{ChildGuard, free_port, run_with_timeout};

/// Where Debian's `prometheus` package installs the server; `RECCE7_PROMETHEUS` overrides it.
pub const PROMETHEUS_BIN: &str = "/usr/bin/prometheus";

/// The Prometheus server binary: `$RECCE7_PROMETHEUS`, or [`PROMETHEUS_BIN`]; panics with the
/// install hint when it is missing.
fn prometheus_bin() -> PathBuf {
    let path = std::env::var_os("RECCE7_PROMETHEUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(PROMETHEUS_BIN));
    assert!(
        path.exists(),
        "{} not found. Run ./scripts/test-all.sh (it installs what the tests need), or: \
         apt-get install -y prometheus (or set RECCE7_PROMETHEUS to a Prometheus 2.x binary)",
        path.display()
    );
    path
}

/// Panics with the install hint when `curl` cannot be run.
fn require_curl() {
    let found = Command::new("curl")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "curl not found. Run ./scripts/test-all.sh, or: apt-get install -y curl"
    );
}

/// Runs `curl -sS` with `args`; the body, or `None` when curl failed (e.g. connection refused).
fn try_curl(args: &[&str]) -> Option<String> {
    let mut cmd = Command::new("curl");
    cmd.args(["-sS", "--max-time", "10"]).args(args);
    let out = run_with_timeout(cmd, Duration::from_secs(30));
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A YAML double-quoted string.
fn yaml_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The Prometheus configuration scraping `targets` every second; bearer tokens are written to
/// `<dir>/<n>.token` files (`credentials_file`), so no token needs quoting.
fn scrape_config(dir: &Path, targets: &[(&str, String, Option<String>)]) -> String {
    let mut config = String::from(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
         scrape_configs:\n",
    );
    if targets.is_empty() {
        config.push_str("  []\n");
    }
    for (n, (job, address, token)) in targets.iter().enumerate() {
        config.push_str(&format!(
            "  - job_name: {}\n    metrics_path: /metrics\n",
            yaml_str(job)
        ));
        if let Some(token) = token {
            let file = dir.join(format!("{n}.token"));
            std::fs::write(&file, token).expect("write the bearer token file");
            config.push_str(&format!(
                "    authorization:\n      type: Bearer\n      credentials_file: {}\n",
                yaml_str(&file.to_string_lossy())
            ));
        }
        config.push_str(&format!(
            "    static_configs:\n      - targets: [{}]\n",
            yaml_str(address)
        ));
    }
    config
}

/// A real Prometheus server (Debian's `prometheus` package) on an ephemeral loopback port,
/// scraping `targets` every second; stopped when dropped.
pub struct PrometheusServer {
    // Declared before `dir`: the server is killed before its data directory is removed.
    process: ChildGuard,
    port: u16,
    targets: usize,
    dir: tempfile::TempDir,
}

impl PrometheusServer {
    /// `targets`: (job name, "127.0.0.1:port", optional bearer token). Panics with
    /// `apt-get install -y prometheus` when the binary is missing.
    ///
    /// Returns once the server answers `/-/ready` (up to 30 s). Prometheus hands new targets to
    /// its scrapers at most every 5 s, so the first scrape comes about 5 s after the start: wait
    /// with [`PrometheusServer::wait_scraped`] (two scrapes took 6.5 to 7 s here). Its log
    /// (warnings and errors) is `prometheus.log` in its temporary directory, and is part of
    /// every panic message.
    pub fn start(targets: &[(&str, String, Option<String>)]) -> PrometheusServer {
        let bin = prometheus_bin();
        require_curl();
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(&config, scrape_config(dir.path(), targets)).expect("write prometheus.yml");
        let log = File::create(dir.path().join("prometheus.log")).expect("prometheus.log");
        let port = free_port();
        let child = Command::new(&bin)
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut server = PrometheusServer {
            process: ChildGuard::new(child),
            port,
            targets: targets.len(),
            dir,
        };
        server.wait_ready();
        server
    }

    /// Waits (up to 30 s) until `/-/ready` answers.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let url = self.url("/-/ready");
        loop {
            if let Ok(Some(status)) = self.process.child().try_wait() {
                panic!("prometheus exited early ({status}); log: {}", self.log());
            }
            if try_curl(&[&url]).is_some_and(|body| body.contains("Ready")) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "prometheus did not become ready on port {}; log: {}",
                self.port,
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What the server has logged so far (warnings and errors).
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("prometheus.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The server's port on 127.0.0.1 (its UI and HTTP API).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs an instant query via the HTTP API (curl); returns the raw JSON text.
    ///
    /// A PromQL error is not a panic here: the JSON says `"status":"error"` (see
    /// [`PrometheusServer::has_data`]); a server that does not answer is.
    pub fn query(&self, expr: &str) -> String {
        let url = self.url("/api/v1/query");
        let param = format!("query={expr}");
        try_curl(&["-G", "--data-urlencode", &param, &url]).unwrap_or_else(|| {
            panic!(
                "prometheus did not answer the query {expr:?}; log: {}",
                self.log()
            )
        })
    }

    /// True when the query's result vector is non-empty. Panics when Prometheus rejects the
    /// query (a PromQL error is a bug, not "no data").
    pub fn has_data(&self, expr: &str) -> bool {
        let json = self.query(expr);
        assert!(
            json.contains(r#""status":"success""#),
            "prometheus rejected {expr:?}: {json}"
        );
        result_non_empty(&json)
            .unwrap_or_else(|| panic!("no \"result\" in prometheus's answer to {expr:?}: {json}"))
    }

    /// Waits until every target reports `up == 1` and has been scraped at least `scrapes` times
    /// (poll `count_over_time(up[1m])`), or panics after the timeout with the targets' state
    /// (GET /api/v1/targets).
    ///
    /// Allow 15 s or more for two scrapes (see [`PrometheusServer::start`]). The panic message
    /// has each target's `health` and `lastError` (e.g. connection refused, or HTTP 401 when a
    /// bearer token is missing or wrong).
    pub fn wait_scraped(&self, scrapes: u32, timeout: Duration) {
        // The targets (job, instance) that have `scrapes` samples and whose last scrape worked.
        let ready =
            format!("count(count_over_time(up[1m]) >= {scrapes} and on(job, instance) (up == 1))");
        let deadline = Instant::now() + timeout;
        loop {
            let json = self.query(&ready);
            let count = first_value(&json).unwrap_or(0.0);
            if count >= self.targets as f64 {
                return;
            }
            if Instant::now() >= deadline {
                let samples = self.query("count_over_time(up[1m])");
                let targets = try_curl(&[&self.url("/api/v1/targets")]).unwrap_or_default();
                panic!(
                    "prometheus: {count} of {} targets up and scraped {scrapes} times after \
                     {timeout:?}; samples of up: {samples}; targets: {targets}; log: {}",
                    self.targets,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

/// Parses a Prometheus API answer; panics with the text when it is not JSON.
fn answer(json: &str) -> Value {
    serde_json::from_str(json).unwrap_or_else(|e| panic!("prometheus answered {json:?}: {e}"))
}

/// Whether `data.result` of a Prometheus API answer is a non-empty array; `None` without one.
fn result_non_empty(json: &str) -> Option<bool> {
    let answer = answer(json);
    answer["data"]["result"].as_array().map(|r| !r.is_empty())
}

/// The value of the first sample of an instant vector answer (`"value":[<time>,"<value>"]`).
fn first_value(json: &str) -> Option<f64> {
    let answer = answer(json);
    answer["data"]["result"][0]["value"][1]
        .as_str()?
        .parse()
        .ok()
}

/// Every PromQL expression (`targets[].expr`) of every panel in a Grafana dashboard JSON file,
/// with the panel title: returns (title, expr) pairs.
///
/// Panels inside rows (`panels[].panels[]`) are included; the order is the file's. Targets
/// without an `expr` (other data sources) are skipped. Panics when `json` is not JSON.
pub fn dashboard_queries(json: &str) -> Vec<(String, String)> {
    let value: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("dashboard JSON: {e}"));
    let mut out = Vec::new();
    collect_queries(&value, &mut out);
    out
}

/// Walks every object: one with a `targets` array is a panel.
fn collect_queries(value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(members) => {
            if let Some(Value::Array(targets)) = members.get("targets") {
                let title = members.get("title").and_then(Value::as_str).unwrap_or("");
                for target in targets {
                    if let Some(expr) = target.get("expr").and_then(Value::as_str) {
                        out.push((title.to_owned(), expr.to_owned()));
                    }
                }
            }
            for (key, v) in members {
                if key != "targets" {
                    collect_queries(v, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| collect_queries(v, out)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DASHBOARD: &str = r#"{
      "title": "not a panel",
      "schemaVersion": 42,
      "panels": [
        {
          "type": "timeseries",
          "title": "Sessions/s",
          "id": 1.5e0,
          "gridPos": {"h": 8, "w": 12, "x": 0, "y": 0},
          "targets": [
            {"refId": "A", "expr": "sum by (plugin) (rate(recce7_sessions_total[5m]))"},
            {"refId": "B", "expr": "sum(rate(recce7_events_total{type=\"telnet.login\"}[5m]))\nor on() vector(0)", "hide": false},
            {"refId": "C", "datasource": null}
          ]
        },
        {
          "type": "row",
          "title": "Store",
          "collapsed": true,
          "panels": [
            {"type": "stat", "title": "Queue \u0022depth\u0022 \\ \u00e9\ud83d\ude00",
             "targets": [{"expr": "max(recce7_store_queue_depth{job=~\"recce7-.*\"}) \\ \u002f"}]}
          ]
        },
        {"type": "text", "title": "Notes", "options": {"content": "no targets"}}
      ]
    }"#;

    #[test]
    fn dashboard_queries_finds_every_expr_with_its_title() {
        let queries = dashboard_queries(DASHBOARD);
        assert_eq!(
            queries,
            vec![
                (
                    "Sessions/s".to_string(),
                    "sum by (plugin) (rate(recce7_sessions_total[5m]))".to_string()
                ),
                (
                    "Sessions/s".to_string(),
                    "sum(rate(recce7_events_total{type=\"telnet.login\"}[5m]))\nor on() vector(0)"
                        .to_string()
                ),
                (
                    "Queue \"depth\" \\ \u{e9}\u{1f600}".to_string(),
                    "max(recce7_store_queue_depth{job=~\"recce7-.*\"}) \\ /".to_string()
                ),
            ]
        );
    }

    #[test]
    fn dashboard_queries_of_a_dashboard_without_panels_is_empty() {
        assert!(dashboard_queries(r#"{"title": "empty", "panels": []}"#).is_empty());
        assert!(dashboard_queries("[]").is_empty());
    }

    #[test]
    #[should_panic(expected = "dashboard JSON")]
    fn dashboard_queries_rejects_broken_json() {
        dashboard_queries(r#"{"panels": [{"targets": [{"expr": "up"}]}"#);
    }

    #[test]
    #[should_panic(expected = "dashboard JSON: invalid escape")]
    fn dashboard_queries_rejects_bad_escapes() {
        dashboard_queries(r#"{"panels": [{"targets": [{"expr": "\q"}]}]}"#);
    }

    #[test]
    fn shipped_dashboards_have_a_query_in_every_panel() {
        for name in ["attack-overview.json", "sensor-health.json"] {
            let path = crate::workspace_root()
                .join("configs/grafana/dashboards")
                .join(name);
            let json = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
            let queries = dashboard_queries(&json);
            assert!(queries.len() >= 8, "{name}: {queries:?}");
            for (title, expr) in &queries {
                assert!(!title.is_empty() && !expr.is_empty(), "{name}: {title:?}");
                assert!(
                    !expr.contains('$'),
                    "{name}: {title:?} uses a Grafana variable: {expr}"
                );
            }
            // Every panel with a title has at least one query.
            let panels = json.matches("\"gridPos\"").count();
            let mut titles: Vec<&str> = queries.iter().map(|(t, _)| t.as_str()).collect();
            titles.dedup();
            assert_eq!(titles.len(), panels, "{name}: a panel without a query");
        }
    }

    #[test]
    fn prometheus_answers_are_read() {
        let empty = r#"{"status":"success","data":{"resultType":"vector","result":[]}}"#;
        let one = r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1795478109.659,"3"]}]}}"#;
        assert_eq!(result_non_empty(empty), Some(false));
        assert_eq!(result_non_empty(one), Some(true));
        assert_eq!(result_non_empty(r#"{"status":"error"}"#), None);
        assert_eq!(first_value(one), Some(3.0));
        assert_eq!(first_value(empty), None);
    }

    #[test]
    fn scrape_config_quotes_and_keeps_tokens_in_files() {
        let dir = tempfile::tempdir().unwrap();
        let config = scrape_config(
            dir.path(),
            &[
                ("recce7-sensor", "127.0.0.1:9108".into(), None),
                (
                    "recce7-reportd",
                    "127.0.0.1:8880".into(),
                    Some("s3cr\"et".into()),
                ),
            ],
        );
        assert!(config.contains("scrape_interval: 1s"), "{config}");
        assert!(config.contains("job_name: \"recce7-reportd\""), "{config}");
        assert!(config.contains("targets: [\"127.0.0.1:9108\"]"), "{config}");
        assert!(!config.contains("s3cr"), "{config}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("1.token")).unwrap(),
            "s3cr\"et"
        );
    }
}
