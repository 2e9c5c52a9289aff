//! `recce7 registrar` (issue 15) as a fleet uses it: registrations and the admin's requests
//! with the real curl over loopback, against a real hpfeeds3 broker whose SQLite auth store the
//! registrar writes; the returned ident and secret publish through that broker with `recce7
//! hpfeeds publish`, and a revoked sensor's next AUTH fails. Plus `recce7 check-config` on a
//! bad registrar.toml.

mod sensor_common;

use std::process::Command;
use std::time::Duration;

use sensor_common::*;
use serde_json::{Value, json};
use testkit::role::RoleProcess;
use testkit::sensor::ports;
use testkit::{Authkey, DumpedMessage, HpfeedsBroker, python_dump_subscriber, run_with_timeout};

const CHAN: &str = "recce7.events";
const KEY: &str = "fleet-deploy-key-0123456789";
const ADMIN: &str = "fleet-admin-token-0123456789";
const WAIT: Duration = Duration::from_secs(20);
const TIMEOUT: Duration = Duration::from_secs(30);

/// A registrar over `broker`'s live keys, with `extra` lines in `[registrar]`.
fn start_registrar(
    dir: &std::path::Path,
    broker: &HpfeedsBroker,
    extra: &str,
) -> (RoleProcess, u16) {
    let [port] = ports();
    let config = format!(
        "[registrar]\nlisten = \"127.0.0.1:{port}\"\ndeploy_key = \"{KEY}\"\nadmin_token = \"{ADMIN}\"\n\
         broker_auth_db = \"{}\"\nbroker_port = {}\n{extra}",
        broker.auth_db().display(),
        broker.port()
    );
    (RoleProcess::start(&bin(), "registrar", dir, &config), port)
}

/// `curl -X method` with `args` on the registrar's `path`.
fn curl_to(port: u16, method: &str, path: &str, args: &[&str]) -> Answer {
    let mut all = vec!["-X", method];
    all.extend_from_slice(args);
    curl_with(
        Command::new(require("curl", "curl")),
        &all,
        &format!("http://127.0.0.1:{port}{path}"),
    )
}

/// A registration as MHN's deploy scripts send it.
fn register(port: u16, body: &Value) -> Answer {
    let body = body.to_string();
    curl_to(
        port,
        "POST",
        "/api/sensor/",
        &["-H", "Content-Type: application/json", "-d", &body],
    )
}

fn registration(name: &str, key: &str) -> Value {
    json!({"name": format!("{name}-recce7"), "hostname": name, "deploy_key": key, "honeypot": "recce7"})
}

/// `recce7 hpfeeds publish` with a registered sensor's ident and secret (MHN's variables).
fn publish(
    broker: &HpfeedsBroker,
    ident: &str,
    secret: &str,
    channel: &str,
) -> std::process::Output {
    let mut cmd = Command::new(bin());
    cmd.args(["hpfeeds", "publish", "--channel", channel])
        .env("HPF_HOST", "127.0.0.1")
        .env("HPF_PORT", broker.port().to_string())
        .env("HPF_IDENT", ident)
        .env("HPF_SECRET", secret)
        .arg(format!(
            "{{\"type\":\"session.start\",\"sensor\":\"{ident}\"}}"
        ));
    run_with_timeout(cmd, WAIT)
}

fn error_of(answer: &Answer) -> String {
    answer.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn a_registered_sensor_publishes_through_the_broker_until_it_is_revoked() {
    let watcher = Authkey::new("watcher", "watcher-secret", &[CHAN]).with_channels(&[], &[CHAN]);
    let broker = HpfeedsBroker::start_with_live_keys(std::slice::from_ref(&watcher));
    let dir = tempfile::tempdir().unwrap();
    let (registrar, port) = start_registrar(dir.path(), &broker, "");

    let answer = register(port, &registration("pi-1", KEY));
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(answer.header("cache-control").as_deref(), Some("no-store"));
    let v = answer.json();
    let uuid = v["uuid"].as_str().unwrap().to_owned();
    let secret = v["secret"].as_str().unwrap().to_owned();
    assert_eq!(v["identifier"], v["uuid"]);
    assert_eq!(v["name"], "pi-1-recce7");
    assert_eq!(v["hostname"], "pi-1");
    assert_eq!(v["honeypot"], "recce7");
    assert_eq!(v["ip"], "127.0.0.1");
    assert_eq!(v["publish"], json!([CHAN]));
    assert_eq!(v["broker_host"], "127.0.0.1");
    assert_eq!(v["broker_port"], broker.port());
    assert!(v["created_date"].as_str().unwrap().starts_with("20"));
    // The secret never reaches the log.
    assert!(!registrar.log().contains(&secret), "{}", registrar.log());

    // The new key works at once: the broker reads its SQLite store on every AUTH.
    let mut sub = python_dump_subscriber(&broker, &watcher, CHAN);
    sub.wait_line(WAIT, |l| l == "READY")
        .expect("subscriber ready");
    let got = (0..20).find_map(|_| {
        let out = publish(&broker, &uuid, &secret, CHAN);
        assert!(out.status.success(), "{out:?}");
        sub.wait_line(Duration::from_millis(500), |l| {
            DumpedMessage::parse(l).is_some()
        })
    });
    let msg = DumpedMessage::parse(&got.expect("the subscriber got the sensor's message")).unwrap();
    assert_eq!(msg.ident, uuid);
    // Only on its honeypot type's channels.
    let out = publish(&broker, &uuid, &secret, "cowrie.sessions");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not allowed to pub"),
        "{out:?}"
    );

    // MHN's errors, with MHN's texts.
    let again = register(
        port,
        &json!({"name": "pi-1-recce7", "hostname": "pi-9", "deploy_key": KEY, "honeypot": "recce7"}),
    );
    assert_eq!(
        (again.status, error_of(&again).as_str()),
        (
            400,
            "Sensor with name or hostname \"pi-1-recce7\" already exists."
        )
    );
    let wrong = register(port, &registration("pi-2", "not-the-deploy-key-0123"));
    assert_eq!(
        (wrong.status, error_of(&wrong).as_str()),
        (401, "Not authorized to perform this request.")
    );
    let missing = register(port, &json!({"deploy_key": KEY, "honeypot": "recce7"}));
    assert_eq!(
        (missing.status, error_of(&missing).as_str()),
        (400, "Missing required fields: ['name', 'hostname'].")
    );
    let unknown = register(
        port,
        &json!({"name": "x", "hostname": "x", "deploy_key": KEY, "honeypot": "honeyd"}),
    );
    assert_eq!(unknown.status, 400);
    assert!(
        error_of(&unknown).starts_with("Unknown honeypot type \"honeyd\": this registrar knows")
    );
    let hostile = register(
        port,
        &json!({"name": "x'; drop table authkeys;--", "hostname": "x", "deploy_key": KEY, "honeypot": "recce7"}),
    );
    assert_eq!(hostile.status, 400);
    let big = format!(
        "{{\"deploy_key\":\"{KEY}\",\"pad\":\"{}\"}}",
        "x".repeat(8000)
    );
    let too_large = curl_to(
        port,
        "POST",
        "/api/sensor/",
        &["-H", "Content-Type: application/json", "-d", &big],
    );
    assert_eq!(too_large.status, 413);
    // CHN's `ip` field is taken as given.
    let chn = register(
        port,
        &json!({"name": "pi-3-recce7", "hostname": "pi-3", "ip": "192.0.2.3", "deploy_key": KEY, "honeypot": "recce7"}),
    );
    assert_eq!(
        (chn.status, chn.json()["ip"].as_str()),
        (200, Some("192.0.2.3"))
    );

    // The admin lists (without secrets) and revokes.
    let bearer = format!("Authorization: Bearer {ADMIN}");
    let no_token = curl_to(port, "GET", "/api/sensors/", &[]);
    assert_eq!(no_token.status, 401);
    let list = curl_to(port, "GET", "/api/sensors/", &["-H", &bearer]);
    assert_eq!(list.status, 200);
    let sensors = list.json();
    assert_eq!(sensors.as_array().unwrap().len(), 2, "{sensors}");
    assert!(!String::from_utf8_lossy(&list.body).contains(&secret));
    let revoked = curl_to(
        port,
        "DELETE",
        &format!("/api/sensor/{uuid}/"),
        &["-H", &bearer],
    );
    assert_eq!(
        (revoked.status, revoked.json()["revoked"].as_bool()),
        (200, Some(true))
    );
    let out = publish(&broker, &uuid, &secret, CHAN);
    assert!(!out.status.success(), "a revoked key still publishes");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("Authentication failed for {uuid}")),
        "{out:?}"
    );
    let list = curl_to(port, "GET", "/api/sensors/", &["-H", &bearer]).json();
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["uuid"] == uuid.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (row["revoked"].as_bool(), row["publish"].clone()),
        (Some(true), json!([]))
    );

    let metrics = curl_to(port, "GET", "/metrics", &[]);
    let text = String::from_utf8_lossy(&metrics.body);
    assert!(
        text.contains("recce7_registrar_registrations_total 2"),
        "{text}"
    );
    assert!(
        text.contains("recce7_registrar_revocations_total 1"),
        "{text}"
    );
    assert!(text.contains("recce7_registrar_sensors 1"), "{text}");

    let (status, log) = registrar.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
    assert!(
        log.contains("registrar stopped: 2 registered, 1 revoked"),
        "{log}"
    );
    assert!(
        !log.contains(&secret) && !log.contains(KEY) && !log.contains(ADMIN),
        "{log}"
    );
}

#[test]
fn a_deploy_key_cannot_be_guessed_faster_than_the_limit() {
    let broker = HpfeedsBroker::start_with_live_keys(&[]);
    let dir = tempfile::tempdir().unwrap();
    let (registrar, port) = start_registrar(
        dir.path(),
        &broker,
        "[registrar.limits]\nmax_failed_attempts_per_minute = 3\n",
    );
    for i in 0..3 {
        let a = register(
            port,
            &registration("pi-1", &format!("guess-number-{i}-0123456789")),
        );
        assert_eq!(a.status, 401);
    }
    // Blocked for the minute: the right key gets 429 too, so a guess learns nothing.
    let blocked = register(port, &registration("pi-1", KEY));
    assert_eq!(blocked.status, 429);
    assert_eq!(
        error_of(&blocked),
        "Too many failed attempts from this address; try again in a minute."
    );
    let wait: u64 = blocked.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    let admin = curl_to(
        port,
        "GET",
        "/api/sensors/",
        &["-H", &format!("Authorization: Bearer {ADMIN}")],
    );
    assert_eq!(admin.status, 429);
    // Nothing was written.
    let db = rusqlite::Connection::open(broker.auth_db()).unwrap();
    let keys: i64 = db
        .query_row("select count(*) from authkeys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(keys, 0);
    let (status, log) = registrar.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

#[test]
fn a_broker_started_after_the_registrar_uses_the_store_it_created() {
    let dir = tempfile::tempdir().unwrap();
    let [port, broker_port] = ports();
    let config = format!(
        "[registrar]\nlisten = \"127.0.0.1:{port}\"\ndeploy_key = \"{KEY}\"\nbroker_auth_db = \"{}\"\n",
        dir.path().join("sqlite.db").display()
    );
    let registrar = RoleProcess::start(&bin(), "registrar", dir.path(), &config);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("sqlite.db"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the store holds secrets");
    }
    let v = register(port, &registration("pi-1", KEY)).json();
    let (uuid, secret) = (
        v["identifier"].as_str().unwrap().to_owned(),
        v["secret"].as_str().unwrap().to_owned(),
    );
    // `hpfeeds-broker --auth sqlite` in the registrar's directory: it finds its tables there.
    let mut broker = Command::new(testkit::venv_bin("hpfeeds-broker"));
    broker
        .args([
            "--bind",
            &format!("127.0.0.1:{broker_port}"),
            "--auth",
            "sqlite",
            "--name",
            "late",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let _broker = testkit::ChildGuard::new(broker.spawn().expect("start hpfeeds-broker"));
    let published = (0..40).any(|_| {
        let mut cmd = Command::new(bin());
        cmd.args([
            "hpfeeds",
            "publish",
            "--port",
            &broker_port.to_string(),
            "-c",
            CHAN,
        ])
        .env("HPF_IDENT", &uuid)
        .env("HPF_SECRET", &secret)
        .arg("{}");
        let out = run_with_timeout(cmd, WAIT);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("Authentication failed"), "{stderr}");
        out.status.success() || {
            std::thread::sleep(Duration::from_millis(250));
            false
        }
    });
    assert!(published, "the late broker accepted the registered key");
    let (status, log) = registrar.terminate(TIMEOUT);
    assert!(status.success(), "{log}");
}

#[test]
fn check_config_names_every_problem_of_a_bad_registrar_toml() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("registrar.toml");
    std::fs::write(
        &file,
        "[registrar]\nlisten = \"0.0.0.0\"\ndeploy_key = \"short\"\nbroker_port = 70000\n\
         [registrar.limits]\nmax_body_bytes = 0\n[registrar.honeypot_channels]\nrecce7 = []\n",
    )
    .unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check-config")
        .arg(&file)
        .env_remove("RECCE7_DEPLOY_KEY");
    let out = run_with_timeout(cmd, WAIT);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("{}: ", file.display());
    for key in [
        "registrar.listen",
        "registrar.deploy_key: must be 16 to 256 characters",
        "registrar.broker_port: 70000 is outside 1..=65535",
        "registrar.limits.max_body_bytes",
        "registrar.honeypot_channels.recce7: must list at least one channel",
    ] {
        assert!(
            stderr.contains(&format!("{prefix}{key}")),
            "{key}: {stderr}"
        );
    }
    assert!(stderr.contains("5 problems found"), "{stderr}");
    assert!(
        !stderr.contains("short\""),
        "the deploy key is not echoed: {stderr}"
    );

    // Without a deploy key at all, check-config says it is required.
    std::fs::write(&file, "[registrar]\n").unwrap();
    let mut cmd = Command::new(bin());
    cmd.arg("check-config")
        .arg(&file)
        .env_remove("RECCE7_DEPLOY_KEY");
    let out = run_with_timeout(cmd, WAIT);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{prefix}registrar.deploy_key: required")),
        "{stderr}"
    );

    // The shipped file with a key from the environment is valid.
    let shipped = testkit::workspace_root().join("configs/registrar.toml");
    let mut cmd = Command::new(bin());
    cmd.arg("check-config")
        .arg(&shipped)
        .env("RECCE7_DEPLOY_KEY", KEY)
        .current_dir(dir.path());
    let out = run_with_timeout(cmd, WAIT);
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("ok: registrar on 127.0.0.1:8090"),
        "{out:?}"
    );
}
