//! The subscriber loop against a scripted broker on 127.0.0.1: it subscribes to every
//! configured channel, hands every message to the consumer in order (waiting for a slow one),
//! lets the consumer publish on the same connection, stops on the shutdown token, and ends at
//! once when the consumer fails.

use std::time::Duration;

use broker_client::{Frame, FrameRef, HpfeedsCodec, Message, Publisher, Status};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use intake::{Consumer, Ended, Subscriber};
use roleconfig::SubscriberSettings;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;

const WAIT: Duration = Duration::from_secs(10);

fn settings(port: u16, channels: &[&str]) -> SubscriberSettings {
    SubscriberSettings {
        host: "127.0.0.1".into(),
        port,
        ident: "intake-test".into(),
        secret: "s3cret".into(),
        channels: channels.iter().map(|c| (*c).to_owned()).collect(),
        reconnect_max: Duration::from_secs(1),
    }
}

/// Accepts one client, greets it, and returns the connection and the channels it subscribed
/// to (once `expected` of them have arrived).
async fn accept(
    listener: &TcpListener,
    expected: usize,
) -> (Framed<TcpStream, HpfeedsCodec>, Vec<String>) {
    let (socket, _) = listener.accept().await.unwrap();
    let mut broker = Framed::new(socket, HpfeedsCodec::default());
    broker
        .send(FrameRef::Info {
            name: b"scripted",
            nonce: b"0123",
        })
        .await
        .unwrap();
    let mut subscribed = Vec::new();
    while subscribed.len() < expected {
        match broker.next().await {
            Some(Ok(Frame::Auth { ident, .. })) => assert_eq!(&ident[..], b"intake-test"),
            Some(Ok(Frame::Subscribe { channel, .. })) => {
                subscribed.push(String::from_utf8(channel.to_vec()).unwrap());
            }
            other => panic!("unexpected from the client: {other:?}"),
        }
    }
    (broker, subscribed)
}

async fn publish(
    broker: &mut Framed<TcpStream, HpfeedsCodec>,
    ident: &str,
    channel: &str,
    payload: &[u8],
) {
    broker
        .send(FrameRef::Publish {
            ident: ident.as_bytes(),
            channel: channel.as_bytes(),
            payload,
        })
        .await
        .unwrap();
}

/// Keeps every message; slow on purpose; echoes each payload on `echo`, and cancels the
/// shutdown token once it has `stop_after` messages.
struct Recorder {
    seen: Vec<(String, String, Bytes)>,
    publisher: Publisher,
    stop_after: usize,
    shutdown: CancellationToken,
    fail_on: Option<usize>,
}

impl Consumer for Recorder {
    type Error = String;

    async fn consume(&mut self, m: Message) -> Result<(), String> {
        tokio::time::sleep(Duration::from_millis(5)).await;
        if self.fail_on == Some(self.seen.len()) {
            return Err(format!("refused message {}", self.seen.len()));
        }
        self.publisher
            .publish("echo", m.payload.clone())
            .await
            .map_err(|e| e.to_string())?;
        self.seen.push((m.channel, m.ident, m.payload));
        if self.seen.len() == self.stop_after {
            self.shutdown.cancel();
        }
        Ok(())
    }

    fn report(&mut self, _status: &Status) {}
}

#[tokio::test]
async fn every_message_reaches_the_consumer_in_order_and_shutdown_ends_the_loop() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let channels = ["recce7.events", "cowrie.sessions"];
    let (report, result) = tokio::sync::oneshot::channel();
    let broker = tokio::spawn(async move {
        let (mut broker, subscribed) = accept(&listener, channels.len()).await;
        for i in 0..40u32 {
            let channel = channels[i as usize % 2];
            publish(
                &mut broker,
                "sensor-1",
                channel,
                format!("message {i}").as_bytes(),
            )
            .await;
        }
        let mut echoed = Vec::new();
        while echoed.len() < 40 {
            match broker.next().await {
                Some(Ok(Frame::Publish {
                    channel, payload, ..
                })) => {
                    assert_eq!(&channel[..], b"echo");
                    echoed.push(payload);
                }
                other => panic!("unexpected from the client: {other:?}"),
            }
        }
        report.send((subscribed, echoed)).unwrap();
        // Hold the connection until the client goes.
        while let Some(Ok(_)) = broker.next().await {}
    });
    let shutdown = CancellationToken::new();
    let mut subscriber = Subscriber::start(&settings(port, &channels)).await.unwrap();
    let mut consumer = Recorder {
        seen: Vec::new(),
        publisher: subscriber.publisher(),
        stop_after: 40,
        shutdown: shutdown.clone(),
        fail_on: None,
    };
    let ended = tokio::time::timeout(WAIT, subscriber.run(&mut consumer, &shutdown))
        .await
        .expect("the loop stops on the shutdown token")
        .unwrap();
    assert_eq!(ended, Ended::Shutdown);
    assert!(ended.into_result().is_ok());
    assert!(subscriber.status().connected);
    let (subscribed, echoed) = tokio::time::timeout(WAIT, result).await.unwrap().unwrap();
    assert_eq!(subscribed, channels);
    assert_eq!(consumer.seen.len(), 40);
    for (i, (channel, ident, payload)) in consumer.seen.iter().enumerate() {
        assert_eq!(channel, channels[i % 2]);
        assert_eq!(ident, "sensor-1");
        assert_eq!(&payload[..], format!("message {i}").as_bytes());
        assert_eq!(echoed[i], *payload);
    }
    drop(consumer);
    let closed = tokio::time::timeout(WAIT, subscriber.close()).await;
    assert!(matches!(closed, Ok(Ok(()))), "{closed:?}");
    tokio::time::timeout(WAIT, broker).await.unwrap().unwrap();
}

#[tokio::test]
async fn a_consumer_error_ends_the_loop_at_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let broker = tokio::spawn(async move {
        let (mut broker, _) = accept(&listener, 1).await;
        for i in 0..5u32 {
            publish(&mut broker, "s", "recce7.events", format!("{i}").as_bytes()).await;
        }
        // Hold the connection until the client goes.
        while let Some(Ok(_)) = broker.next().await {}
    });
    let shutdown = CancellationToken::new();
    let mut subscriber = Subscriber::start(&settings(port, &["recce7.events"]))
        .await
        .unwrap();
    let mut consumer = Recorder {
        seen: Vec::new(),
        publisher: subscriber.publisher(),
        stop_after: usize::MAX,
        shutdown: shutdown.clone(),
        fail_on: Some(2),
    };
    let ended = tokio::time::timeout(WAIT, subscriber.run(&mut consumer, &shutdown))
        .await
        .expect("the loop ends when the consumer fails");
    assert_eq!(ended, Err("refused message 2".to_owned()));
    assert_eq!(consumer.seen.len(), 2);
    assert!(!shutdown.is_cancelled());
    drop(consumer);
    let _ = tokio::time::timeout(WAIT, subscriber.close()).await;
    broker.abort();
}
