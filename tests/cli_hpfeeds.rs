//! `recce7 hpfeeds publish|subscribe` against the real hpfeeds3 broker and Python client.

use std::process::Command;
use std::time::Duration;

use testkit::{
    Authkey, DumpedMessage, HpfeedsBroker, LineProcess, hpfeeds_cli, python_dump_subscriber,
    run_with_timeout,
};

const CHAN: &str = "recce7.events";
const WAIT: Duration = Duration::from_secs(15);

fn recce7(broker: &HpfeedsBroker, key: &Authkey, action: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_recce7"));
    cmd.args(["hpfeeds", action, "--host", "127.0.0.1", "--port"])
        .arg(broker.port().to_string())
        .args([
            "--ident",
            &key.ident,
            "--secret",
            &key.secret,
            "--channel",
            CHAN,
        ]);
    cmd
}

#[test]
fn subscribe_prints_channel_ident_and_payload_of_a_python_publish() {
    let key = Authkey::new("tester", "s3cret", &[CHAN]);
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut cmd = recce7(&broker, &key, "subscribe");
    cmd.args(["--count", "1"]);
    let mut sub = LineProcess::spawn(cmd);
    let payload = r#"{"type":"telnet.command","input":"wget http://x/y"}"#;
    let line = (0..30)
        .find_map(|_| {
            let mut publish = hpfeeds_cli(&broker, &key, "publish", CHAN);
            publish.arg(payload);
            assert!(run_with_timeout(publish, WAIT).status.success());
            sub.wait_line(Duration::from_millis(500), |l| l.contains("telnet.command"))
        })
        .expect("recce7 subscribe printed the message");
    assert_eq!(line, format!("{CHAN} tester {payload}"));
    let status = sub.process().child().wait().unwrap();
    assert!(status.success(), "exits 0 after --count messages");
}

#[test]
fn publish_reaches_python_subscriber_and_reports_success() {
    let key = Authkey::new("tester", "s3cret", &[CHAN]);
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut sub = python_dump_subscriber(&broker, &key, CHAN);
    sub.wait_line(WAIT, |l| l == "READY")
        .expect("python subscriber ready");
    let payload = r#"{"type":"http.request","path":"/login.cgi"}"#;
    let received = (0..30).find_map(|_| {
        let mut cmd = recce7(&broker, &key, "publish");
        cmd.arg(payload);
        let out = run_with_timeout(cmd, WAIT);
        assert!(out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.starts_with(&format!(
                "published {} bytes on {CHAN} as tester",
                payload.len()
            )),
            "{stdout}"
        );
        sub.wait_line(Duration::from_millis(500), |l| {
            DumpedMessage::parse(l).is_some()
        })
    });
    let msg = DumpedMessage::parse(&received.expect("python subscriber received it")).unwrap();
    assert_eq!(msg.head, payload.as_bytes());
}

#[test]
fn publish_with_a_wrong_secret_fails_with_the_brokers_text() {
    let key = Authkey::new("tester", "s3cret", &[CHAN]);
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let wrong = Authkey::new("tester", "wrong", &[CHAN]);
    let mut cmd = recce7(&broker, &wrong, "publish");
    cmd.arg("x");
    let out = run_with_timeout(cmd, WAIT);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("Authentication failed for tester"),
        "{stderr}"
    );

    // And a broker that is not there is a connect error, not a hang.
    let port = testkit::free_port();
    let out = run_with_timeout(
        {
            let mut c = Command::new(env!("CARGO_BIN_EXE_recce7"));
            c.args([
                "hpfeeds",
                "publish",
                "--port",
                &port.to_string(),
                "-i",
                "a",
                "-s",
                "b",
                "-c",
                CHAN,
                "x",
            ]);
            c
        },
        WAIT,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("cannot connect to broker"),
        "{out:?}"
    );
}

#[test]
fn subscribe_into_a_closed_pipe_stops_quietly_at_the_first_message() {
    let key = Authkey::new("tester", "s3cret", &[CHAN]);
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    // `recce7 hpfeeds subscribe | head -n 0`: the reader is gone before the first line.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let mut cmd = recce7(&broker, &key, "subscribe");
    cmd.stdout(writer).stderr(std::process::Stdio::piped());
    let mut child = testkit::ChildGuard::new(cmd.spawn().expect("start subscribe"));
    let exited = (0..60).find_map(|_| {
        let mut publish = hpfeeds_cli(&broker, &key, "publish", CHAN);
        publish.arg("{}");
        assert!(run_with_timeout(publish, WAIT).status.success());
        std::thread::sleep(Duration::from_millis(250));
        child.child().try_wait().unwrap()
    });
    let status = exited.expect("subscribe stopped once nobody read its output");
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.child().stderr.take().unwrap(), &mut err).unwrap();
    assert!(!err.contains("panicked"), "{err}");
    assert!(status.success(), "{status}: {err}");
}
