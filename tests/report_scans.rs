//! Scans and OS fingerprints as a user of the report service sees them (issue 17): a real
//! sensor's database with a recorded session, to which the packet capture's rows are added
//! (scans, p0f results with and without a session, TLS and HTTP fingerprints, some of their
//! text hostile); `recce7 reportd` over it, asked with real curl; the dashboard's scans and
//! operating-systems panels and its address view in Debian's headless Chromium, where the
//! hostile text must show as text and never become markup.

mod sensor_common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use serde_json::Value;
use testkit::role::RoleProcess;
use testkit::sensor::{ports, telnet_any_login};

const TIMEOUT: Duration = Duration::from_secs(30);

/// An OS label no signature file has: markup, as a remote sensor of a fleet could send it.
const HOSTILE_OS: &str = "<img src=x onerror=alert(1)>";
/// A server name a TLS client chose.
const HOSTILE_SNI: &str = "<script>alert(2)</script>";
/// A path an attacker wrote a file to and a URL it named (issue 18): markup too.
const HOSTILE_PATH: &str = "/tmp/<img src=x onerror=alert(3)>";
const HOSTILE_URL: &str = "http://203.0.113.9/<script>alert(4)</script>.sh";
/// The scanner (a documentation address: nothing is ever sent to it).
const SCANNER: &str = "203.0.113.9";

/// A time `ago` seconds before now, as the store writes it.
fn stamp(ago: i64) -> String {
    let t = time::OffsetDateTime::now_utc() - time::Duration::seconds(ago);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// A sensor's database with one telnet session from 127.0.0.1, then the capture's rows.
fn recorded_with_capture_rows() -> (tempfile::TempDir, String) {
    let [telnet_port] = ports();
    let sensor = RoleProcess::sensor(&bin(), &telnet_any_login("telnet", telnet_port, "telnet"));
    telnet_login(telnet_port, "root", "xc3511", &["uname -a"]);
    let (status, dir) = sensor.terminate_keeping_dir(TIMEOUT);
    assert!(status.success(), "{}", testkit::sensor::log(dir.path()));
    let path = dir.path().join("sensor.sqlite");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let session: String = conn
        .query_row("SELECT session FROM sessions", [], |r| r.get(0))
        .unwrap();
    for (i, (source, kind, ports)) in [
        (SCANNER, "syn", "21,22,23,80,443,2323,8080,8443,9000"),
        (SCANNER, "xmas", "22"),
        ("127.0.0.1", "connect", "2323"),
    ]
    .into_iter()
    .enumerate()
    {
        let count = ports.split(',').count() as i64;
        conn.execute(
            "INSERT INTO scans (session, eventDateTime, peerAddress, localAddress, sensor, kind,
               ports, portCount, packets, firstSeen, lastSeen)
             VALUES (?1, ?2, ?3, '127.0.0.1', 'test', ?4, ?5, ?6, ?7, ?8, ?2)",
            rusqlite::params![
                format!("scan-{i}"),
                stamp(60 - i as i64),
                source,
                kind,
                ports,
                count,
                count * 2,
                stamp(70)
            ],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO p0f (session, eventDateTime, peerAddress, localAddress, peerPort, localPort,
           os, distance, rawSignature, quality, osClass) VALUES
           (?1, ?2, '127.0.0.1', '127.0.0.1', 40000, 2323, 'Linux 2.2.x-3.x', 0,
            '4:64+0:0:65495:mss*20,7:mss,sok,ts,nop,ws:df,id+:0', 'exact', 'unix'),
           (NULL, ?2, ?3, '127.0.0.1', 40001, 22, ?4, 2, '4:62+2:0:1460:1024,0:mss::0',
            'fuzzy', '!')",
        rusqlite::params![session, stamp(50), SCANNER, HOSTILE_OS],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO fingerprints (session, eventDateTime, peerAddress, localAddress, peerPort,
           localPort, kind, fingerprint, detail, sni, claimedOs, tcpOs, contradiction) VALUES
           (?1, ?2, '127.0.0.1', '127.0.0.1', 40000, 2323, 'tls',
            't13d1516h2_8daaf6152771_e5627efa2ab1', 't13d1516h2_raw', ?3, NULL,
            'Linux 2.2.x-3.x', 0),
           (?1, ?2, '127.0.0.1', '127.0.0.1', 40000, 2323, 'http',
            '1:Host,User-Agent:Accept:Mozilla', 'Firefox', NULL, 'Windows', 'Linux 2.2.x-3.x', 1)",
        rusqlite::params![session, stamp(40), HOSTILE_SNI],
    )
    .unwrap();
    // What the shell recorded (issue 18): a file written and a URL named, both hostile text.
    conn.execute(
        "INSERT INTO files (session, eventDateTime, peerAddress, localAddress, peerPort,
           localPort, path, size, sha256, data, truncated, via) VALUES
           (?1, ?2, '127.0.0.1', '127.0.0.1', 40000, 2323, ?3, 4,
            '743a049318f0aa042d63b4deb2c16de02e944ae60cdf843cb8938377ba2667ac', x'3c623e0a', 0,
            'redirect')",
        rusqlite::params![session, stamp(35), HOSTILE_PATH],
    )
    .unwrap();
    conn.execute(
        "INSERT INTO downloads (session, eventDateTime, peerAddress, localAddress, peerPort,
           localPort, url, command) VALUES (?1, ?2, '127.0.0.1', '127.0.0.1', 40000, 2323, ?3,
           'wget')",
        rusqlite::params![session, stamp(34), HOSTILE_URL],
    )
    .unwrap();
    (dir, session)
}

fn start_reportd(dir: &Path, database: &Path) -> (RoleProcess, u16) {
    let [port] = ports();
    let config = format!(
        "[reportd]\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\n",
        database.display()
    );
    (RoleProcess::start(&bin(), "reportd", dir, &config), port)
}

fn ok_json(port: u16, path: &str) -> Value {
    let a = curl(port, path, &[]);
    assert_eq!(
        a.status,
        200,
        "{path}: {}",
        String::from_utf8_lossy(&a.body)
    );
    a.json()
}

#[test]
fn scans_and_fingerprints_over_the_api_of_a_running_reportd() {
    let (rec, session) = recorded_with_capture_rows();
    let dir = tempfile::tempdir().unwrap();
    let (reportd, port) = start_reportd(dir.path(), &rec.path().join("sensor.sqlite"));

    let scans = ok_json(port, "/v1/scans");
    let items = scans["items"].as_array().unwrap();
    let listed: Vec<(&str, &str)> = items
        .iter()
        .map(|s| (s["id"].as_str().unwrap(), s["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        listed,
        [("scan-2", "connect"), ("scan-1", "xmas"), ("scan-0", "syn")],
        "newest first"
    );
    assert_eq!(items[2]["ports"].as_array().unwrap().len(), 9);
    assert_eq!(items[2]["portCount"], 9);
    assert_eq!(items[2]["peerAddress"], SCANNER);
    let xmas = ok_json(port, &format!("/v1/analytics/scans?kind=xmas&ip={SCANNER}"));
    assert_eq!(xmas["items"].as_array().unwrap().len(), 1);
    for (path, parameter) in [
        ("/v1/scans?kind=stealth", "kind"),
        ("/v1/scans?ip=203.0.113", "ip"),
    ] {
        let a = curl(port, path, &[]);
        assert_eq!(a.status, 400, "{path}");
        assert_eq!(a.json()["parameter"], parameter, "{path}");
    }

    let scanner = ok_json(port, &format!("/v1/ipaddresses/{SCANNER}"));
    assert_eq!(scanner["os"][0]["os"], HOSTILE_OS, "kept as it was stored");
    assert_eq!(scanner["os"][0]["quality"], "fuzzy");
    assert_eq!(scanner["scans"].as_array().unwrap().len(), 2);
    let local = ok_json(port, "/v1/ipaddress/127.0.0.1");
    assert_eq!(local["os"][0]["os"], "Linux 2.2.x-3.x");
    let fps = local["fingerprints"].as_array().unwrap();
    assert_eq!(fps.len(), 2);
    assert!(
        fps.iter()
            .any(|f| f["kind"] == "http" && f["contradiction"] == true),
        "{local}"
    );
    let detail = ok_json(port, &format!("/v1/sessions/{session}"));
    assert_eq!(detail["p0f"][0]["osClass"], "unix");
    assert_eq!(detail["fingerprints"].as_array().unwrap().len(), 2);
    assert_eq!(detail["files"][0]["path"], HOSTILE_PATH);
    assert_eq!(detail["downloads"][0]["url"], HOSTILE_URL);
    assert!(detail["item_count"].as_i64().unwrap() >= 1);

    let summary = ok_json(port, "/v1/analytics/summary");
    let kinds: Vec<&str> = summary["summary"]["scans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["connect", "syn", "xmas"]);
    assert_eq!(summary["summary"]["os"].as_array().unwrap().len(), 2);

    let openapi = ok_json(port, "/v1/openapi.json");
    for route in ["/v1/scans", "/v1/analytics/scans"] {
        assert!(openapi["paths"].get(route).is_some(), "{route}");
    }
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

/// Chromium from Debian, with the hint to install it.
fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "chromium-headless-shell"] {
        for dir in ["/usr/bin", "/usr/lib/chromium"] {
            let p = Path::new(dir).join(name);
            if p.exists() {
                return p;
            }
        }
    }
    panic!(
        "chromium not found: run ./scripts/test-all.sh (it installs it) or: apt-get install -y chromium"
    );
}

/// The page at `url` after its scripts ran, as Chromium serializes it.
fn dump_dom(url: &str) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        // No connections of its own: a test browser has no business calling out.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-quic",
        "--virtual-time-budget=10000",
        "--window-size=1280,1800",
        "--dump-dom",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(url);
    let out = testkit::run_with_timeout(cmd, Duration::from_secs(90));
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The text of the element with `id` in serialized `html` (up to its closing tag), for
/// assertions on one part of the page.
fn element<'a>(html: &'a str, id: &str, closing: &str) -> &'a str {
    let start = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[start..];
    &rest[..rest.find(closing).unwrap_or(rest.len())]
}

#[test]
fn the_dashboard_shows_scans_oses_and_an_address_with_hostile_text_inert() {
    let (rec, session) = recorded_with_capture_rows();
    let dir = tempfile::tempdir().unwrap();
    let (reportd, port) = start_reportd(dir.path(), &rec.path().join("sensor.sqlite"));
    // `live=0`: no event stream (its open request would keep virtual time from running out);
    // `#address=`: the address view opens at load.
    let html = dump_dom(&format!(
        "http://127.0.0.1:{port}/?live=0#address={SCANNER}"
    ));

    // The scans panel: newest first, with kind, port count and the first ports.
    let scans = element(&html, "scans", "</table>");
    let rows: Vec<&str> = scans.split("<tr").skip(2).collect();
    assert_eq!(rows.len(), 3, "{scans}");
    assert!(
        rows[0].contains(">127.0.0.1<") && rows[0].contains(">connect<"),
        "{scans}"
    );
    assert!(
        rows[2].contains(SCANNER) && rows[2].contains(">syn<"),
        "{scans}"
    );
    assert!(rows[2].contains(">9<"), "the port count: {}", rows[2]);
    assert!(
        rows[2].contains("21, 22, 23, 80, 443, 2323, 8080, 8443 …"),
        "the first eight ports: {}",
        rows[2]
    );
    // The operating systems panel: both OSes, the hostile one as text.
    let oses = element(&html, "oses", "</table>");
    assert!(oses.contains("Linux 2.2.x-3.x"), "{oses}");
    assert!(
        oses.contains(">&lt;img src=x onerror=alert(1)&gt;<") && !oses.contains("<img"),
        "shown as text: {oses}"
    );
    // The address view of the scanner: its OS and its scans.
    let address = element(&html, "address", "</section>");
    assert!(!address.contains("hidden"), "the view is open: {address}");
    assert!(address.contains(&format!(">{SCANNER}<")), "{address}");
    let os = element(&html, "address-os", "</table>");
    assert!(
        os.contains("&lt;img src=x onerror=alert(1)&gt;") && os.contains(">fuzzy<"),
        "{os}"
    );
    let address_scans = element(&html, "address-scans", "</table>");
    assert!(
        address_scans.contains(">xmas<") && address_scans.contains(">syn<"),
        "{address_scans}"
    );
    // The shell's panels: the file's path and the URL as text, the bytes only as a link.
    let files = element(&html, "files", "</table>");
    assert!(
        files.contains(">/tmp/&lt;img src=x onerror=alert(3)&gt;<") && files.contains(">redirect<"),
        "the path as text: {files}"
    );
    assert!(
        files
            .contains("/v1/files/743a049318f0aa042d63b4deb2c16de02e944ae60cdf843cb8938377ba2667ac")
            && files.contains(">4 B<"),
        "the kept bytes as a download link: {files}"
    );
    let downloads = element(&html, "downloads", "</table>");
    assert!(
        downloads.contains(">http://203.0.113.9/&lt;script&gt;alert(4)&lt;/script&gt;.sh<")
            && downloads.contains(">wget<"),
        "the URL as text: {downloads}"
    );
    assert!(
        element(&html, "files-count", "</span>").ends_with(">1"),
        "{html}"
    );
    assert!(
        !html.contains("<script>alert(4)"),
        "an injected script: {html}"
    );
    // Nothing hostile became markup anywhere on the page.
    assert!(
        !html.contains("<img src=\"x\""),
        "an injected element: {html}"
    );
    assert!(!html.contains("onerror=\"alert"), "{html}");

    // The session's address: its fingerprints, the hostile server name as text, and the
    // contradiction flagged.
    let html = dump_dom(&format!(
        "http://127.0.0.1:{port}/?live=0#address=127.0.0.1"
    ));
    let fps = element(&html, "address-fingerprints", "</table>");
    assert!(
        fps.contains("&lt;script&gt;alert(2)&lt;/script&gt;"),
        "the SNI as text: {fps}"
    );
    assert!(
        fps.contains("contradicts: claims Windows, TCP Linux 2.2.x-3.x"),
        "{fps}"
    );
    assert!(fps.contains("class=\"warn\""), "{fps}");
    assert!(
        !html.contains("<script>alert(2)"),
        "an injected script: {html}"
    );

    // The session: the OS of its SYN and its fingerprints under its summary.
    let html = dump_dom(&format!(
        "http://127.0.0.1:{port}/?live=0#session={session}"
    ));
    let head = element(&html, "detail-head", "</pre>");
    assert!(
        head.contains("OS (p0f): Linux 2.2.x-3.x · exact · 0 hops"),
        "{head}"
    );
    assert!(
        head.contains("TLS (JA4): t13d1516h2_8daaf6152771_e5627efa2ab1")
            && head.contains("SNI &lt;script&gt;alert(2)&lt;/script&gt;"),
        "{head}"
    );
    assert!(
        head.contains("the User-Agent claims Windows, the TCP stack is Linux 2.2.x-3.x"),
        "{head}"
    );
    assert!(
        head.contains("file written: /tmp/&lt;img src=x onerror=alert(3)&gt; · 4 B")
            && head.contains(
                "download URL (wget): http://203.0.113.9/&lt;script&gt;alert(4)&lt;/script&gt;.sh"
            ),
        "{head}"
    );
    assert!(
        !html.contains("<script>alert(4)"),
        "an injected script: {html}"
    );
    assert!(
        !html.contains("<script>alert(2)"),
        "an injected script: {html}"
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}
