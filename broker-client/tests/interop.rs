//! Interop with the real hpfeeds3 broker and Python client (PyPI `hpfeeds[broker]==3.1.0`),
//! on 127.0.0.1 with ephemeral ports.

use std::time::Duration;

use broker_client::{
    Backoff, BrokerError, BrokerErrorKind, Client, ClientConfig, DEFAULT_MAX_FRAME_BYTES,
    FeedError, Message, Opcode, WireError,
};
use testkit::{
    Authkey, DumpedMessage, HpfeedsBroker, LineProcess, hpfeeds_cli, python_bytes_literal,
    python_dump_subscriber, python_sha256, run_with_timeout,
};
use tokio::time::timeout;

const CHAN: &str = "recce7.events";
const WAIT: Duration = Duration::from_secs(15);

fn key() -> Authkey {
    Authkey::new("tester", "s3cret", &[CHAN])
}

fn config(broker: &HpfeedsBroker, key: &Authkey) -> ClientConfig {
    ClientConfig::new("127.0.0.1", broker.port(), &key.ident, &key.secret).with_backoff(Backoff {
        initial: Duration::from_millis(50),
        max: Duration::from_millis(500),
    })
}

/// Our client, connected and subscribed to `CHAN`.
async fn subscriber(broker: &HpfeedsBroker, key: &Authkey) -> Client {
    let client = Client::connect(config(broker, key)).await.unwrap();
    client.subscribe(CHAN).await.unwrap();
    client
}

/// Publishes numbered pings until `sub` prints one: the broker has then processed the
/// subscription (hpfeeds keeps nothing for late subscribers).
async fn sync_with(client: &Client, sub: &mut LineProcess) {
    for i in 0..150 {
        client.publish(CHAN, format!("ping-{i}")).await.unwrap();
        let seen = sub.wait_line(Duration::from_millis(100), |l| {
            l.contains("ping-") || l.contains("70696e672d") // "ping-" in hex
        });
        if seen.is_some() {
            return;
        }
    }
    panic!("subscriber never saw a ping; it printed: {:?}", sub.seen());
}

/// Runs the Python `hpfeeds publish` CLI until `client` receives `payload`.
async fn python_publish_until_received(
    broker: &HpfeedsBroker,
    client: &mut Client,
    payload: &str,
) -> Message {
    for _ in 0..30 {
        let mut cmd = hpfeeds_cli(broker, &key(), "publish", CHAN);
        cmd.arg(payload);
        let out = run_with_timeout(cmd, WAIT);
        assert!(out.status.success(), "python publish failed: {out:?}");
        if let Ok(Some(item)) = timeout(Duration::from_millis(500), client.recv()).await {
            let msg = item.expect("a message, not an error");
            return msg;
        }
    }
    panic!("the Rust subscriber never received {payload}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_publish_reaches_python_cli_subscriber_byte_for_byte() {
    let key = key();
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut sub = LineProcess::spawn(hpfeeds_cli(&broker, &key, "subscribe", CHAN));
    let client = Client::connect(config(&broker, &key)).await.unwrap();
    sync_with(&client, &mut sub).await;

    let payload = br#"{"type":"telnet.login","note":"quote ' dq \" backslash \\ tab	 end"}"#;
    client.publish(CHAN, &payload[..]).await.unwrap();
    let line = sub
        .wait_line(WAIT, |l| l.contains("telnet.login"))
        .unwrap_or_else(|| panic!("not received; subscriber printed {:?}", sub.seen()));
    // "[feedcli] publish to recce7.events by tester: b'...'"
    let (head, literal) = line.split_once(": ").expect("feedcli line");
    assert_eq!(head, format!("[feedcli] publish to {CHAN} by tester"));
    assert_eq!(
        python_bytes_literal(literal).expect("bytes literal"),
        payload
    );
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_payload_reaches_python_client_byte_for_byte() {
    let key = key();
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut sub = python_dump_subscriber(&broker, &key, CHAN);
    let client = Client::connect(config(&broker, &key)).await.unwrap();
    sync_with(&client, &mut sub).await;

    let payload: Vec<u8> = (0..=255u8).rev().chain(0..=255u8).collect();
    client.publish(CHAN, payload.clone()).await.unwrap();
    let line = sub
        .wait_line(WAIT, |l| {
            DumpedMessage::parse(l).is_some_and(|m| m.len == 512)
        })
        .expect("binary payload not received");
    let msg = DumpedMessage::parse(&line).unwrap();
    assert_eq!((msg.ident.as_str(), msg.channel.as_str()), ("tester", CHAN));
    assert_eq!(msg.head, payload);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_publish_reaches_rust_subscriber() {
    let key = key();
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut client = subscriber(&broker, &key).await;

    let payload = r#"{"src_ip":"81.2.69.142","type":"session.start","ü":"ß"}"#;
    let msg = python_publish_until_received(&broker, &mut client, payload).await;
    assert_eq!(msg.ident, "tester");
    assert_eq!(msg.channel, CHAN);
    assert_eq!(&msg.payload[..], payload.as_bytes());
    assert_eq!(client.status().broker_name.as_deref(), Some(broker.name()));
    client.close().await.unwrap();
}

fn expect_broker_error(err: FeedError) -> BrokerError {
    match err {
        FeedError::Broker(e) => e,
        other => panic!("expected a broker error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_secret_and_unknown_ident_are_typed_errors() {
    let key = key();
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    for (ident, secret) in [("tester", "wrong"), ("nobody", "s3cret")] {
        // A subscriber sees the error in its stream, then the stream ends.
        let cfg = ClientConfig::new("127.0.0.1", broker.port(), ident, secret).without_reconnect();
        let mut client = Client::connect(cfg.clone()).await.unwrap();
        // The refusal can end the client before subscribe is queued; the error still waits in
        // the stream.
        match client.subscribe(CHAN).await {
            Ok(()) | Err(FeedError::Shutdown) => {}
            Err(other) => panic!("unexpected subscribe error {other:?}"),
        }
        let item = timeout(WAIT, client.recv())
            .await
            .expect("no hang")
            .expect("an item");
        let err = expect_broker_error(item.unwrap_err());
        assert_eq!(err.kind, BrokerErrorKind::AuthFailed);
        assert_eq!(err.message, format!("Authentication failed for {ident}"));
        let end = timeout(WAIT, client.recv()).await.expect("stream ends");
        assert!(end.is_none(), "stream should end, got {end:?}");
        assert!(
            client
                .status()
                .last_error
                .unwrap()
                .contains("Authentication failed")
        );

        // A publisher gets it from close(). The refusal may end the client before the publish
        // is queued (then publish says Shutdown); close() reports why either way.
        let client = Client::connect(cfg).await.unwrap();
        match client.publish(CHAN, "x").await {
            Ok(()) | Err(FeedError::Shutdown) => {}
            Err(other) => panic!("unexpected publish error {other:?}"),
        }
        let err = timeout(WAIT, client.close())
            .await
            .expect("no hang")
            .unwrap_err();
        assert_eq!(expect_broker_error(err).kind, BrokerErrorKind::AuthFailed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channels_not_allowed_are_typed_errors() {
    let key = key().with_channels(&[CHAN], &[CHAN]);
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));

    let client = Client::connect(config(&broker, &key).without_reconnect())
        .await
        .unwrap();
    client.publish("forbidden", "x").await.unwrap();
    let err = expect_broker_error(
        timeout(WAIT, client.close())
            .await
            .expect("no hang")
            .unwrap_err(),
    );
    assert_eq!(
        err.kind,
        BrokerErrorKind::PublishDenied {
            channel: Some("forbidden".into())
        }
    );
    assert_eq!(
        err.message,
        "Authkey not allowed to pub here. ident=tester, chan=forbidden"
    );

    let mut client = Client::connect(config(&broker, &key).without_reconnect())
        .await
        .unwrap();
    client.subscribe("forbidden").await.unwrap();
    let item = timeout(WAIT, client.recv())
        .await
        .expect("no hang")
        .expect("an item");
    let err = expect_broker_error(item.unwrap_err());
    assert_eq!(
        err.kind,
        BrokerErrorKind::SubscribeDenied {
            channel: Some("forbidden".into())
        }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscriber_survives_broker_restart_without_resubscribing_by_hand() {
    let key = key();
    let mut broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut client = subscriber(&broker, &key).await;
    let before = python_publish_until_received(&broker, &mut client, "before-restart").await;
    assert_eq!(&before.payload[..], b"before-restart");

    broker.kill();
    let lost = async {
        while client.status().connected {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    timeout(WAIT, lost)
        .await
        .expect("client noticed the broker is gone");
    tokio::time::sleep(Duration::from_millis(300)).await; // a few refused reconnects
    broker.restart();

    let after = python_publish_until_received(&broker, &mut client, "after-restart").await;
    assert_eq!(&after.payload[..], b"after-restart");
    assert!(client.status().connections >= 2, "{:?}", client.status());
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn payload_at_the_frame_limit_passes_and_one_byte_more_is_refused() {
    let key = key();
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut sub = python_dump_subscriber(&broker, &key, CHAN);
    let client = Client::connect(config(&broker, &key)).await.unwrap();
    sync_with(&client, &mut sub).await;

    // The frame is header + ident + channel + payload: fill it to exactly 1,048,581 bytes.
    let fill = DEFAULT_MAX_FRAME_BYTES - 5 - (1 + key.ident.len()) - (1 + CHAN.len());
    let payload: Vec<u8> = (0..fill + 1).map(|i| (i % 251) as u8).collect();
    let err = client.publish(CHAN, payload.clone()).await.unwrap_err();
    match &err {
        FeedError::Wire(WireError::Oversize { opcode, len, max }) => {
            assert_eq!(
                (*opcode, *len, *max),
                (
                    Opcode::Publish,
                    DEFAULT_MAX_FRAME_BYTES as u64 + 1,
                    DEFAULT_MAX_FRAME_BYTES
                )
            );
        }
        other => panic!("expected Oversize, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "hpfeeds wire format: PUBLISH frame of 1048582 bytes exceeds the limit of 1048581 bytes"
    );

    let payload = &payload[..fill];
    client.publish(CHAN, payload.to_vec()).await.unwrap();
    let line = sub
        .wait_line(WAIT, |l| {
            DumpedMessage::parse(l).is_some_and(|m| m.len == fill)
        })
        .unwrap_or_else(|| panic!("max-size payload not received: {:?}", sub.seen().last()));
    let msg = DumpedMessage::parse(&line).unwrap();
    assert_eq!(msg.sha256, python_sha256(payload));
    assert_eq!(msg.head, payload[..4096]);
    client.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_flushes_everything_queued() {
    let key = key();
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut sub = subscriber(&broker, &key).await;
    let publisher = Client::connect(config(&broker, &key)).await.unwrap();
    // Make sure the subscription is live before counting.
    loop {
        publisher.publish(CHAN, "warm-up").await.unwrap();
        if let Ok(Some(Ok(_))) = timeout(Duration::from_millis(200), sub.recv()).await {
            break;
        }
    }
    while let Ok(Some(_)) = timeout(Duration::from_millis(200), sub.recv()).await {}

    const N: usize = 5_000;
    for i in 0..N {
        publisher
            .publish(CHAN, format!("{{\"n\":{i}}}"))
            .await
            .unwrap();
    }
    publisher.close().await.unwrap(); // returns once the broker has everything

    let mut seen = vec![false; N];
    let mut count = 0;
    while count < N {
        let msg = timeout(WAIT, sub.recv())
            .await
            .expect("all messages arrive")
            .unwrap()
            .unwrap();
        let text = std::str::from_utf8(&msg.payload).unwrap();
        if let Some(n) = text
            .strip_prefix("{\"n\":")
            .and_then(|t| t.strip_suffix('}'))
        {
            let n: usize = n.parse().unwrap();
            assert!(!seen[n], "duplicate {n}");
            seen[n] = true;
            count += 1;
        }
    }
    sub.unsubscribe(CHAN).await.unwrap();
    sub.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_broker_is_a_connect_error_and_close_reports_unsent() {
    let port = testkit::free_port();
    let cfg = ClientConfig::new("127.0.0.1", port, "tester", "s3cret");
    let err = Client::connect(cfg.clone())
        .await
        .err()
        .expect("no broker there");
    assert!(matches!(err, FeedError::Connect { .. }), "{err:?}");

    // Started in the background, it keeps retrying; close gives up and counts what is queued.
    let mut cfg = cfg.with_backoff(Backoff {
        initial: Duration::from_millis(20),
        max: Duration::from_millis(100),
    });
    cfg.close_timeout = Duration::from_millis(300);
    let client = Client::start(cfg);
    client.publish(CHAN, "a").await.unwrap();
    client.publish(CHAN, "b").await.unwrap();
    let err = timeout(WAIT, client.close())
        .await
        .expect("no hang")
        .unwrap_err();
    assert!(matches!(err, FeedError::Unsent { count: 2 }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn started_client_delivers_what_was_queued_before_it_connected() {
    let key = key();
    let broker = HpfeedsBroker::start(std::slice::from_ref(&key));
    let mut sub = subscriber(&broker, &key).await;
    // Let the subscription reach the broker before the publisher's frames do.
    let warm = python_publish_until_received(&broker, &mut sub, "warm-up").await;
    assert_eq!(&warm.payload[..], b"warm-up");
    while let Ok(Some(_)) = timeout(Duration::from_millis(200), sub.recv()).await {}

    // Queued at once, before the background connection exists; close() waits for delivery.
    let publisher = Client::start(config(&broker, &key));
    for i in 0..3 {
        publisher
            .publish(CHAN, format!("queued-{i}"))
            .await
            .unwrap();
    }
    timeout(WAIT, publisher.close())
        .await
        .expect("no hang")
        .unwrap();
    for i in 0..3 {
        let msg = timeout(WAIT, sub.recv())
            .await
            .expect("delivered")
            .unwrap()
            .unwrap();
        assert_eq!(msg.payload, format!("queued-{i}").as_bytes());
    }
}
