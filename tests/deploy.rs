//! Issue 15's end-to-end path as a fleet operator runs it: `deploy-scripts/deploy_recce7.sh
//! --no-install --no-start` against `recce7 registrar` on loopback registers a sensor; the sensor
//! it configured publishes through the real hpfeeds3 broker (whose SQLite auth store the
//! registrar wrote) into the normalizer, whose central store shows the new ident; a second run
//! does not register again; a wrong deploy key fails with MHN's message.

mod sensor_common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sensor_common::*;
use serde_json::Value;
use testkit::role::{Readiness, RoleProcess};
use testkit::sensor::{ports, telnet_any_login};
use testkit::{Authkey, HpfeedsBroker};

const KEY: &str = "fleet-deploy-key-0123456789";
const EVENTS: &str = "recce7.events";
const TIMEOUT: Duration = Duration::from_secs(30);

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy-scripts/deploy_recce7.sh")
}

/// PATH with the recce7 under test first (the deploy script calls `recce7`).
fn path_with_recce7() -> String {
    let bin_dir = bin().parent().unwrap().to_path_buf();
    format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// `bash <args>` with `etc` as RECCE7_ETC and the recce7 under test first on PATH.
fn bash_in(etc: &Path, args: &[&std::ffi::OsStr]) -> Command {
    let mut cmd = Command::new("bash");
    cmd.args(args)
        .env("RECCE7_ETC", etc)
        .env("PATH", path_with_recce7());
    cmd
}

/// The deploy script as pi-01, without installing or starting anything.
fn deploy(etc: &Path, server: &str, key: &str) -> Output {
    let script = script();
    let cmd = bash_in(
        etc,
        &[
            script.as_os_str(),
            server.as_ref(),
            key.as_ref(),
            "--no-install".as_ref(),
            "--no-start".as_ref(),
            "--name".as_ref(),
            "pi-01".as_ref(),
        ],
    );
    let out = testkit::run_with_timeout(cmd, TIMEOUT);
    eprintln!(
        "deploy_recce7.sh: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn registered_sensors(auth_db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(auth_db).unwrap();
    count(&conn, "SELECT count(*) FROM registrar_sensors")
}

#[test]
fn the_deploy_script_registers_a_sensor_that_publishes_into_the_central_store() {
    let broker = HpfeedsBroker::start_with_live_keys(&[Authkey::new(
        "normalizer",
        "n0rm-secret",
        &[EVENTS],
    )]);
    let work = tempfile::tempdir().unwrap();
    let [registrar_port, telnet_port] = ports();
    let registrar = RoleProcess::start(
        &bin(),
        "registrar",
        work.path(),
        &format!(
            "[registrar]\nlisten = \"127.0.0.1:{registrar_port}\"\ndeploy_key = \"{KEY}\"\n\
             broker_auth_db = \"{}\"\nbroker_host = \"127.0.0.1\"\nbroker_port = {}\n",
            broker.auth_db().display(),
            broker.port()
        ),
    );
    let server = format!("http://127.0.0.1:{registrar_port}");

    // The Pi: a sensor config as the package installs it, with free ports for the test.
    let etc = tempfile::tempdir().unwrap();
    let db = etc.path().join("sensor.sqlite");
    std::fs::write(
        etc.path().join("sensor.toml"),
        format!(
            "[sensor]\nname = \"pi-01\"\nlisten = [\"127.0.0.1\"]\ndatabase = \"{}\"\nmetrics_listen = \"\"\n{}",
            db.display(),
            telnet_any_login("telnet", telnet_port, "telnet")
        ),
    )
    .unwrap();

    // A wrong deploy key: MHN's words, nothing registered, nothing written.
    let wrong = deploy(etc.path(), &server, "not-the-deploy-key-000");
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains(
            "the server refused the registration (HTTP 401): Not authorized to perform this request."
        ),
        "{err}"
    );
    assert!(!etc.path().join("registration.json").exists());
    assert_eq!(registered_sensors(&broker.auth_db()), 0);

    // The real key: registered, configured, the answer kept for the next run.
    let first = deploy(etc.path(), &server, KEY);
    assert!(first.status.success());
    let state = etc.path().join("registration.json");
    let answer: Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    let ident = answer["identifier"].as_str().unwrap().to_owned();
    assert_eq!(answer["name"], "pi-01");
    assert_eq!(
        std::fs::metadata(&state).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let config = sensor::config::load(&etc.path().join("sensor.toml")).unwrap();
    let hpfeeds = config.hpfeeds.unwrap();
    assert_eq!(
        (hpfeeds.host.as_str(), hpfeeds.port),
        ("127.0.0.1", broker.port())
    );
    assert_eq!(hpfeeds.ident, ident);
    assert_eq!(registered_sensors(&broker.auth_db()), 1);

    // A second run: no second registration, the same ident.
    let second = deploy(etc.path(), &server, KEY);
    assert!(second.status.success());
    assert!(
        String::from_utf8_lossy(&second.stdout).contains("already registered"),
        "{}",
        String::from_utf8_lossy(&second.stdout)
    );
    assert_eq!(registered_sensors(&broker.auth_db()), 1);
    let again = sensor::config::load(&etc.path().join("sensor.toml")).unwrap();
    assert_eq!(again.hpfeeds.unwrap().ident, ident);

    // Another Pi under a name already taken: the server's words.
    let other = tempfile::tempdir().unwrap();
    std::fs::copy(
        etc.path().join("sensor.toml"),
        other.path().join("sensor.toml"),
    )
    .unwrap();
    let taken = deploy(other.path(), &server, KEY);
    assert!(!taken.status.success());
    let err = String::from_utf8_lossy(&taken.stderr);
    assert!(
        err.contains("(HTTP 400): Sensor with name or hostname \"pi-01\" already exists."),
        "{err}"
    );
    assert!(!other.path().join("registration.json").exists());
    // A server that does not answer.
    let [closed] = ports();
    let gone = deploy(other.path(), &format!("http://127.0.0.1:{closed}"), KEY);
    assert!(!gone.status.success());
    let err = String::from_utf8_lossy(&gone.stderr);
    assert!(err.contains("cannot reach http://127.0.0.1:"), "{err}");
    // Starting the service where no systemd runs (this machine): refused before anything.
    let script = script();
    let mut cmd = bash_in(other.path(), &[script.as_os_str()]);
    cmd.args([server.as_str(), KEY, "--no-install", "--name", "pi-02"]);
    let no_systemd = testkit::run_with_timeout(cmd, TIMEOUT);
    if !Path::new("/run/systemd/system").exists() {
        assert!(!no_systemd.status.success());
        let err = String::from_utf8_lossy(&no_systemd.stderr);
        assert!(
            err.contains("no systemd here: run with --no-start"),
            "{err}"
        );
        assert_eq!(
            registered_sensors(&broker.auth_db()),
            1,
            "nothing registered"
        );
    }

    // The pipeline: the configured sensor publishes through the broker to the normalizer.
    let central = work.path().join("central.sqlite");
    let normalizer = RoleProcess::start(
        &bin(),
        "normalizer",
        work.path(),
        &format!(
            "[normalizer]\ndatabase = \"{}\"\n\n[hpfeeds]\nhost = \"127.0.0.1\"\nport = {}\nident = \"normalizer\"\nsecret = \"n0rm-secret\"\nchannels = [\"{EVENTS}\"]\nreconnect_max_secs = 1\n",
            central.display(),
            broker.port()
        ),
    );
    let text = std::fs::read_to_string(etc.path().join("sensor.toml")).unwrap();
    let sensor_dir = tempfile::tempdir().unwrap();
    let sensor = RoleProcess::start_owned(
        &bin(),
        "sensor",
        sensor_dir,
        db.clone(),
        &text,
        Readiness::lines_containing(1, "listening on"),
    );
    telnet_login(telnet_port, "root", "xc3511", &["uname -a"]);
    let deadline = Instant::now() + TIMEOUT;
    let stored = loop {
        let n = if central.exists() {
            let conn = rusqlite::Connection::open(&central).unwrap();
            conn.query_row(
                "SELECT count(*) FROM sessions WHERE ident = ?1 AND sensor = 'pi-01'",
                [&ident],
                |r| r.get::<_, i64>(0),
            )
            .unwrap_or(0)
        } else {
            0
        };
        if n > 0 || Instant::now() > deadline {
            break n;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        stored > 0,
        "no session of ident {ident} in the central store; sensor log: {}",
        testkit::sensor::log(sensor.dir())
    );
    let (status, log) = sensor.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert!(
        !log.contains(answer["secret"].as_str().unwrap()),
        "the secret is never logged"
    );
    let (status, log) = normalizer.terminate(TIMEOUT);
    assert!(status.success(), "{log}");

    // The deploy key from standard input ("-"), kept out of the process list.
    let third = tempfile::tempdir().unwrap();
    std::fs::copy(
        etc.path().join("sensor.toml"),
        third.path().join("sensor.toml"),
    )
    .unwrap();
    let piped_run = format!(
        "printf '%s\\n' \"$KEY\" | bash {} {server} - --no-install --no-start --name pi-03",
        script.display()
    );
    let mut cmd = bash_in(third.path(), &["-c".as_ref(), piped_run.as_ref()]);
    cmd.env("KEY", KEY);
    let piped = testkit::run_with_timeout(cmd, TIMEOUT);
    // This machine's host name has its recce7 sensor already (pi-01), so the registrar refuses
    // the host; it checks the deploy key first (as MHN does), so this answer proves the key
    // arrived through standard input (a wrong or empty one gets the 401).
    let err = String::from_utf8_lossy(&piped.stderr);
    assert!(!piped.status.success());
    assert!(
        err.contains("(HTTP 400): Sensor with name or hostname \"pi-03\" already exists."),
        "{err}"
    );

    let (status, log) = registrar.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}
