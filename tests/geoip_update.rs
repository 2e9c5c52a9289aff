//! `recce7 geoip update` end to end: the real curl downloads from a local HTTP server on
//! 127.0.0.1 (an ephemeral port) serving gzipped test databases (geoloc/testdata); the file is
//! swapped in, and a running sensor started before the file existed places a new session from a
//! test address (81.2.69.142, London in MaxMind's test database, bound in a network namespace
//! of its own) without a restart. Every failure (404, a body that is not gzip, a gzip of
//! garbage, a database that is not a city database, a gzip bomb over the cap, a server closing
//! mid-body) exits non-zero with its reason and leaves the old file as it was. The dashboard
//! credits DB-IP.

mod sensor_common;

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use sensor_common::*;
use testkit::ChildGuard;
use testkit::role::RoleProcess;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The test address the databases place in London (geoloc/testdata/README.md).
const LONDON: &str = "81.2.69.142";

fn fixture(name: &str) -> PathBuf {
    testkit::workspace_root().join("geoloc/testdata").join(name)
}

/// `data` gzipped by Debian's gzip.
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new(require("gzip", "gzip"))
        .args(["-c", "-n"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run gzip");
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success());
    out.stdout
}

/// What the fixture server answers for a path.
#[derive(Clone)]
enum Reply {
    /// 200 with this body.
    Body(Vec<u8>),
    /// 200 announcing this body's length, then half of it and a closed connection.
    Cut(Vec<u8>),
}

/// A small HTTP/1.1 server on 127.0.0.1: one thread, one request per connection, 404 for
/// unknown paths. Stopped (and its thread joined) on drop.
struct FixtureServer {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FixtureServer {
    fn start(routes: HashMap<&'static str, Reply>) -> FixtureServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let _ = serve(stream, &routes);
                }
            }
        });
        FixtureServer {
            port,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for FixtureServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, routes: &HashMap<&'static str, Reply>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    let mut out = stream;
    match routes.get(path) {
        Some(Reply::Body(body)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Type: application/gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            out.write_all(body)?;
        }
        Some(Reply::Cut(body)) => {
            write!(
                out,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )?;
            out.write_all(&body[..body.len() / 2])?;
        }
        None => out.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found",
        )?,
    }
    out.flush()
}

/// `recce7 geoip update --dir DIR --url URL` and `extra` arguments, bounded in time.
fn update(dir: &Path, url: &str, extra: &[&str]) -> Output {
    require("curl", "curl");
    let mut cmd = Command::new(bin());
    cmd.args(["geoip", "update", "--dir"])
        .arg(dir)
        .args(["--url", url])
        .args(extra);
    testkit::run_with_timeout(cmd, TIMEOUT)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The names in `dir`, sorted.
fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_update_swaps_the_file_and_every_failure_keeps_the_old_one() {
    let city = std::fs::read(fixture("GeoIP2-City-Test.mmdb")).unwrap();
    let garbage: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let server = FixtureServer::start(HashMap::from([
        ("/first.mmdb.gz", Reply::Body(gzip(&city))),
        (
            "/second.mmdb.gz",
            Reply::Body(gzip(
                &std::fs::read(fixture("GeoLite2-City-Test.mmdb")).unwrap(),
            )),
        ),
        ("/plain.mmdb.gz", Reply::Body(city.clone())),
        ("/garbage.mmdb.gz", Reply::Body(gzip(&garbage))),
        (
            "/asn.mmdb.gz",
            Reply::Body(gzip(
                &std::fs::read(fixture("GeoLite2-ASN-Test.mmdb")).unwrap(),
            )),
        ),
        ("/bomb.mmdb.gz", Reply::Body(gzip(&vec![0u8; 3 << 20]))),
        ("/cut.mmdb.gz", Reply::Cut(gzip(&garbage))),
    ]));
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("geoip");

    // The first download creates the folder and the file, readable by every role.
    let out = update(&dir, &server.url("/first.mmdb.gz"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let path = dir.join("dbip-city-lite.mmdb");
    assert_eq!(std::fs::read(&path).unwrap(), city);
    assert_eq!(
        std::fs::metadata(&path).unwrap().mode() & 0o777,
        0o644,
        "public data, written by root or recce7, read by recce7"
    );
    assert!(
        text(&out).contains("IP Geolocation by DB-IP (https://db-ip.com)"),
        "{}",
        text(&out)
    );
    assert_eq!(names(&dir), ["dbip-city-lite.mmdb"]);

    // A new file is renamed over the old one (a new inode: readers that mapped the old file
    // keep it intact).
    let old_inode = std::fs::metadata(&path).unwrap().ino();
    let out = update(&dir, &server.url("/second.mmdb.gz"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("(GeoLite2-City, "), "{}", text(&out));
    assert_ne!(std::fs::metadata(&path).unwrap().ino(), old_inode);
    let installed = std::fs::read(&path).unwrap();
    let inode = std::fs::metadata(&path).unwrap().ino();

    // A recent file is kept when asked to (the timer's runs after a reboot).
    let out = update(
        &dir,
        &server.url("/first.mmdb.gz"),
        &["--if-older-than-days", "20"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("not downloaded"), "{}", text(&out));
    assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode);

    for (what, url_path, extra, said) in [
        (
            "a 404",
            "/missing.mmdb.gz",
            &[][..],
            &["cannot download", "404"][..],
        ),
        (
            "a body that is not gzip",
            "/plain.mmdb.gz",
            &[],
            &["does not unpack", "not a complete gzip file"],
        ),
        (
            "a gzip of garbage",
            "/garbage.mmdb.gz",
            &[],
            &["cannot open the GeoIP database"],
        ),
        (
            "an ASN database",
            "/asn.mmdb.gz",
            &[],
            &["is not a city database", "an ASN database"],
        ),
        (
            "a gzip bomb",
            "/bomb.mmdb.gz",
            &["--max-mib", "1"],
            &["does not unpack", "more than 1048576 bytes"],
        ),
        (
            "a server closing mid-body",
            "/cut.mmdb.gz",
            &[],
            &["cannot download", "curl: (18)"],
        ),
        (
            "a URL that is not HTTP",
            "",
            &[],
            &["must start with https:// or http://"],
        ),
    ] {
        let url = if url_path.is_empty() {
            format!("file://{}", fixture("GeoLite2-City-Test.mmdb").display())
        } else {
            server.url(url_path)
        };
        let out = update(&dir, &url, extra);
        let t = text(&out);
        assert!(!out.status.success(), "{what}: {t}");
        for s in said {
            assert!(t.contains(s), "{what}: {s:?} in {t}");
        }
        assert_eq!(
            std::fs::read(&path).unwrap(),
            installed,
            "{what}: the old file stays"
        );
        assert_eq!(std::fs::metadata(&path).unwrap().ino(), inode, "{what}");
        assert_eq!(
            names(&dir),
            ["dbip-city-lite.mmdb"],
            "{what}: no partial file is left behind"
        );
    }
}

#[test]
fn a_template_falls_back_to_the_month_before() {
    let today = time::OffsetDateTime::now_utc().date();
    let (year, month) = match today.month() {
        time::Month::January => (today.year() - 1, time::Month::December),
        m => (today.year(), m.previous()),
    };
    let before: &'static str = Box::leak(
        format!("/dbip-city-lite-{year:04}-{:02}.mmdb.gz", u8::from(month)).into_boxed_str(),
    );
    let server = FixtureServer::start(HashMap::from([(
        before,
        Reply::Body(gzip(
            &std::fs::read(fixture("GeoLite2-City-Test.mmdb")).unwrap(),
        )),
    )]));
    let root = tempfile::tempdir().unwrap();
    let out = update(
        root.path(),
        &server.url("/dbip-city-lite-{YYYY}-{MM}.mmdb.gz"),
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains(before), "{}", text(&out));
}

/// A sensor in a network namespace of its own whose loopback also holds [`LONDON`], so that a
/// session from there is a public source. Stopped on drop.
struct NamespacedSensor {
    child: ChildGuard,
    pid: u32,
    log: PathBuf,
}

impl NamespacedSensor {
    fn start(config: &Path, log: PathBuf) -> NamespacedSensor {
        let unshare = require("unshare", "util-linux");
        require("ip", "iproute2");
        let script = format!(
            "ip link set lo up && ip addr add {LONDON}/32 dev lo && exec \"$0\" sensor --config \"$1\""
        );
        let child = Command::new(unshare)
            .args([
                "--user",
                "--map-root-user",
                "--net",
                "--",
                "sh",
                "-c",
                &script,
            ])
            .arg(bin())
            .arg(config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("run unshare");
        let pid = child.id();
        let sensor = NamespacedSensor {
            child: ChildGuard::new(child),
            pid,
            log,
        };
        assert!(
            wait_until(TIMEOUT, || sensor.log().contains("sensor started")),
            "the sensor did not start: {}",
            sensor.log()
        );
        sensor
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One HTTP session from [`LONDON`] to the sensor's `port`, inside its namespace.
    fn session_from_london(&self, port: u16) {
        let out = testkit::run_with_timeout(
            {
                let mut cmd = Command::new(require("nsenter", "util-linux"));
                cmd.args(["--target", &self.pid.to_string()])
                    .args(["--user", "--net", "--preserve-credentials", "--"])
                    .arg(require("curl", "curl"))
                    .args(["--silent", "--max-time", "5", "--output", "/dev/null"])
                    .arg(format!("http://{LONDON}:{port}/"));
                cmd
            },
            TIMEOUT,
        );
        assert!(out.status.success(), "curl from {LONDON}: {out:?}");
    }

    fn stop(mut self) -> String {
        testkit::signal(self.pid, "TERM");
        let stopped = wait_until(TIMEOUT, || {
            matches!(self.child.child().try_wait(), Ok(Some(_)))
        });
        assert!(stopped, "the sensor did not stop: {}", self.log());
        self.log()
    }
}

/// The city `ipInfo` holds for [`LONDON`] in the sensor's database (`None`: no row yet).
fn london_city(database: &Path) -> Option<String> {
    if !database.exists() {
        return None;
    }
    let conn = db(database);
    rows(
        &conn,
        &format!("SELECT city FROM ipInfo WHERE ipAddress = '{LONDON}'"),
    )
    .into_iter()
    .next()
    .map(|row| row[0].clone())
}

#[test]
fn a_running_sensor_picks_up_the_first_download_without_a_restart() {
    let server = FixtureServer::start(HashMap::from([(
        "/city.mmdb.gz",
        Reply::Body(gzip(
            &std::fs::read(fixture("GeoLite2-City-Test.mmdb")).unwrap(),
        )),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let geoip_dir = dir.path().join("geoip");
    std::fs::create_dir(&geoip_dir).unwrap();
    let database = dir.path().join("sensor.sqlite");
    let [port] = testkit::sensor::ports();
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[sensor]\nname = \"test\"\nlisten = [\"0.0.0.0\"]\ndatabase = \"{}\"\nshutdown_grace_secs = 1\ngeoip = \"{}\"\ngeoip_check_secs = 1\n{}",
            database.display(),
            geoip_dir.join("dbip-city-lite.mmdb").display(),
            testkit::sensor::plugin("web", "http", port, "http")
        ),
    )
    .unwrap();

    // The packages' config names the file before the first download: check-config accepts it.
    let out = Command::new(bin())
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("recce7 geoip update downloads dbip-city-lite.mmdb"),
        "{}",
        text(&out)
    );

    let sensor = NamespacedSensor::start(&config, dir.path().join("sensor.log"));
    assert!(
        sensor.log().contains("no GeoIP database yet"),
        "{}",
        sensor.log()
    );
    sensor.session_from_london(port);
    assert!(
        wait_until(TIMEOUT, || london_city(&database).is_some()),
        "the session's source is recorded: {}",
        sensor.log()
    );
    assert_eq!(london_city(&database).as_deref(), Some("NULL"));

    let out = update(&geoip_dir, &server.url("/city.mmdb.gz"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    // The sensor looks at the file at most once a second here: a new session is placed.
    let placed = wait_until(TIMEOUT, || {
        std::thread::sleep(Duration::from_millis(600));
        sensor.session_from_london(port);
        std::thread::sleep(Duration::from_millis(300));
        london_city(&database).as_deref() == Some("London")
    });
    let log = sensor.stop();
    assert!(placed, "London after the update: {log}");
    assert!(log.contains("GeoIP database (re)opened"), "{log}");
}

#[test]
fn check_config_still_refuses_a_geoip_file_whose_directory_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sensor.toml");
    std::fs::write(
        &config,
        format!(
            "[sensor]\ngeoip = \"/nonexistent/geoip/dbip-city-lite.mmdb\"\n{}",
            testkit::sensor::plugin("web", "http", 8080, "http")
        ),
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains(
            "sensor.geoip: cannot open the GeoIP database /nonexistent/geoip/dbip-city-lite.mmdb"
        ),
        "{}",
        text(&out)
    );
}

#[test]
fn the_dashboard_credits_db_ip() {
    let dir = tempfile::tempdir().unwrap();
    let [port] = testkit::sensor::ports();
    let config = format!(
        "[reportd]\nlisten = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\n",
        dir.path().join("none-yet.sqlite").display()
    );
    let reportd = RoleProcess::start(&bin(), "reportd", dir.path(), &config);
    let page = curl(port, "/", &[]);
    assert_eq!(page.status, 200);
    let html = String::from_utf8_lossy(&page.body);
    assert!(
        html.contains(r#"<a href="https://db-ip.com">IP Geolocation by DB-IP</a>"#),
        "{html}"
    );
    let (status, log) = reportd.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

/// A recce7 `session.start` from [`LONDON`], as a sensor publishes it.
fn session_start_from_london() -> String {
    let id = store::new_id();
    serde_json::json!({
        "schema": 1, "id": id, "sensor": "feeder", "session": id,
        "time": store::now_rfc3339(), "type": "session.start", "plugin": "telnet",
        "protocol": "telnet", "src_ip": LONDON, "src_port": 40000, "dst_ip": "10.0.0.5",
        "dst_port": 2323, "data": {"table": "telnet"},
    })
    .to_string()
}

#[test]
fn a_running_geoloc_picks_up_the_first_download_without_a_restart() {
    use testkit::{Authkey, HpfeedsBroker};
    const EVENTS: &str = "recce7.events";
    let geoloc_key =
        || Authkey::new("geoloc", "g3o", &[]).with_channels(&["geoloc.events"], &[EVENTS]);
    let feeder = || Authkey::new("feeder", "f33d", &[EVENTS]);
    let broker = HpfeedsBroker::start(&[geoloc_key(), feeder()]);
    let server = FixtureServer::start(HashMap::from([(
        "/city.mmdb.gz",
        Reply::Body(gzip(
            &std::fs::read(fixture("GeoLite2-City-Test.mmdb")).unwrap(),
        )),
    )]));
    let dir = tempfile::tempdir().unwrap();
    let geoip_dir = dir.path().join("geoip");
    std::fs::create_dir(&geoip_dir).unwrap();
    let central = dir.path().join("central.sqlite");
    let config = format!(
        "[geoloc]\ngeoip = \"{}\"\ngeoip_check_secs = 1\ndatabase = \"{}\"\n\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"geoloc\"\nsecret = \"g3o\"\nchannels = [\"{EVENTS}\"]\nreconnect_max_secs = 1\n",
        geoip_dir.join("dbip-city-lite.mmdb").display(),
        central.display(),
        broker.port()
    );
    let geoloc = RoleProcess::start(&bin(), "geoloc", dir.path(), &config);
    let publish = || {
        let mut cmd = testkit::hpfeeds_cli(&broker, &feeder(), "publish", EVENTS);
        cmd.arg(session_start_from_london());
        let out = testkit::run_with_timeout(cmd, TIMEOUT);
        assert!(out.status.success(), "publish failed: {out:?}");
    };
    // Subscribed and running without a database: the sighting is recorded without a place.
    let seen = wait_until(TIMEOUT, || {
        publish();
        std::thread::sleep(Duration::from_millis(300));
        london_city(&central).is_some()
    });
    assert!(seen, "no ipInfo row for {LONDON}: {}", geoloc.log());
    assert_eq!(london_city(&central).as_deref(), Some("NULL"));
    assert!(
        geoloc.log().contains("no GeoIP database yet"),
        "{}",
        geoloc.log()
    );

    let out = update(&geoip_dir, &server.url("/city.mmdb.gz"), &[]);
    assert!(out.status.success(), "{}", text(&out));
    let placed = wait_until(TIMEOUT, || {
        std::thread::sleep(Duration::from_millis(600));
        publish();
        std::thread::sleep(Duration::from_millis(300));
        london_city(&central).as_deref() == Some("London")
    });
    assert!(placed, "London after the update: {}", geoloc.log());
    let (status, log) = geoloc.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert!(log.contains("GeoIP database (re)opened"), "{log}");
}
