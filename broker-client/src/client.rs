//! The async hpfeeds client: one background task owns the connection.
//!
//! Callers talk to the task through a bounded command queue (so a publisher that outruns the
//! broker waits instead of growing memory) and read received messages from a bounded queue (so
//! a slow subscriber slows the socket, never drops a message). Publishing and subscribing keep
//! their order: both go through the one queue.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_util::codec::Framed;
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, debug, info, warn};

use crate::backoff::Backoff;
use crate::codec::HpfeedsCodec;
use crate::error::{BrokerError, BrokerErrorKind, FeedError};
use crate::wire::{self, DEFAULT_MAX_FRAME_BYTES, Frame, FrameRef};

/// How to reach and authenticate with a broker, and how the client behaves.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Broker host name or address.
    pub host: String,
    /// Broker port (10000 on MHN servers).
    pub port: u16,
    /// The authkey's ident.
    pub ident: String,
    /// The authkey's secret.
    pub secret: String,
    /// The largest frame sent or accepted (hpfeeds3: 1,048,581).
    pub max_frame_bytes: usize,
    /// Deadline for the TCP connection and the broker's INFO greeting.
    pub connect_timeout: Duration,
    /// How long `close` waits for the broker to confirm, by closing its side, that it took
    /// everything written.
    pub close_timeout: Duration,
    /// Reconnect after a lost connection with this backoff; `None` ends the client instead.
    pub reconnect: Option<Backoff>,
    /// A connection that stayed up this long resets the backoff to its first step.
    pub stable_after: Duration,
    /// Capacity of the command queue (publish, subscribe) and of the received-message queue.
    pub queue_capacity: usize,
}

impl ClientConfig {
    /// A configuration with the defaults: hpfeeds3's frame limit, 10 s to connect, 5 s to close,
    /// reconnect with [`Backoff::default`], queues of 1,024.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        ident: impl Into<String>,
        secret: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            ident: ident.into(),
            secret: secret.into(),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            connect_timeout: Duration::from_secs(10),
            close_timeout: Duration::from_secs(5),
            reconnect: Some(Backoff::default()),
            stable_after: Duration::from_secs(5),
            queue_capacity: 1024,
        }
    }

    /// The same configuration, but the client ends at the first lost connection.
    pub fn without_reconnect(mut self) -> Self {
        self.reconnect = None;
        self
    }

    /// The same configuration with another reconnect backoff.
    pub fn with_backoff(mut self, backoff: Backoff) -> Self {
        self.reconnect = Some(backoff);
        self
    }

    /// The same configuration, reconnecting with [`Backoff::up_to`] `max`: how every recce7
    /// role (sensor, normalizer, geoloc) configures its client.
    pub fn with_reconnect_max(self, max: Duration) -> Self {
        self.with_backoff(Backoff::up_to(max))
    }

    fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

/// A message received on a subscribed channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The publisher's ident (invalid UTF-8 replaced).
    pub ident: String,
    /// The channel (invalid UTF-8 replaced).
    pub channel: String,
    /// The payload, byte for byte.
    pub payload: Bytes,
}

/// A snapshot of the client's connection and counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    /// A connection is up (INFO read, AUTH sent, not refused yet).
    pub connected: bool,
    /// The broker's name from its last INFO.
    pub broker_name: Option<String>,
    /// Connections made so far; it grows by one at every reconnect.
    pub connections: u64,
    /// PUBLISH frames written to a connection.
    pub frames_published: u64,
    /// Messages received.
    pub messages_received: u64,
    /// Errors the broker sent.
    pub broker_errors: u64,
    /// The last error, as text.
    pub last_error: Option<String>,
}

#[derive(Default)]
struct SharedStatus {
    connected: AtomicBool,
    connections: AtomicU64,
    frames_published: AtomicU64,
    messages_received: AtomicU64,
    broker_errors: AtomicU64,
    broker_name: Mutex<Option<String>>,
    last_error: Mutex<Option<String>>,
}

impl SharedStatus {
    fn snapshot(&self) -> Status {
        Status {
            connected: self.connected.load(Ordering::Relaxed),
            broker_name: lock(&self.broker_name).clone(),
            connections: self.connections.load(Ordering::Relaxed),
            frames_published: self.frames_published.load(Ordering::Relaxed),
            messages_received: self.messages_received.load(Ordering::Relaxed),
            broker_errors: self.broker_errors.load(Ordering::Relaxed),
            last_error: lock(&self.last_error).clone(),
        }
    }

    fn set_error(&self, err: &FeedError) {
        *lock(&self.last_error) = Some(err.to_string());
    }
}

/// A poisoned lock only means a panic elsewhere; the status text is still usable.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

enum Command {
    Publish { channel: Bytes, payload: Bytes },
    Subscribe(String),
    Unsubscribe(String),
    Close,
}

/// A cloneable handle that publishes through a [`Client`]'s connection, for tasks that only
/// publish.
#[derive(Clone)]
pub struct Publisher {
    commands: mpsc::Sender<Command>,
    ident: Bytes,
    max_frame_bytes: usize,
}

impl Publisher {
    /// Refuses, before queueing, a frame the encoder would refuse.
    fn publish_command(&self, channel: &str, payload: Bytes) -> Result<Command, FeedError> {
        wire::validate(
            &FrameRef::Publish {
                ident: &self.ident,
                channel: channel.as_bytes(),
                payload: &payload,
            },
            self.max_frame_bytes,
        )?;
        Ok(Command::Publish {
            channel: Bytes::copy_from_slice(channel.as_bytes()),
            payload,
        })
    }

    /// Queues a message for `channel`, waiting while the queue is full (backpressure).
    ///
    /// A frame over the size limit, or a channel name over 255 bytes, is refused at once with
    /// [`FeedError::Wire`]. hpfeeds never acknowledges a publish: refusals by the broker arrive
    /// later, in the message stream, in [`Client::status`] and from [`Client::close`].
    pub async fn publish(&self, channel: &str, payload: impl Into<Bytes>) -> Result<(), FeedError> {
        let cmd = self.publish_command(channel, payload.into())?;
        self.commands
            .send(cmd)
            .await
            .map_err(|_| FeedError::Shutdown)
    }

    /// Queues a message without waiting; `Ok(false)` when the queue is full.
    pub fn try_publish(&self, channel: &str, payload: impl Into<Bytes>) -> Result<bool, FeedError> {
        let cmd = self.publish_command(channel, payload.into())?;
        match self.commands.try_send(cmd) {
            Ok(()) => Ok(true),
            Err(mpsc::error::TrySendError::Full(_)) => Ok(false),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(FeedError::Shutdown),
        }
    }
}

/// An hpfeeds client with a background task that keeps its connection up.
///
/// The client is a [`futures_core::Stream`] of received messages; broker errors arrive in the
/// same stream as `Err` items (and are never allowed to block the connection: when nobody reads
/// them they are only counted and logged). The stream ends when the client ends.
pub struct Client {
    publisher: Publisher,
    messages: mpsc::Receiver<Result<Message, FeedError>>,
    status: Arc<SharedStatus>,
    closing: CancellationToken,
    close_timeout: Duration,
    task: JoinHandle<Result<(), FeedError>>,
}

impl Client {
    /// Connects, reads the broker's INFO and sends AUTH, then returns; the connection lives on
    /// in a background task. Fails if this first connection cannot be made.
    ///
    /// The broker never acknowledges AUTH: a refused secret surfaces as an `Err` in the stream,
    /// from [`Client::close`] and in [`Client::status`].
    pub async fn connect(config: ClientConfig) -> Result<Self, FeedError> {
        let (first_tx, first_rx) = oneshot::channel();
        let client = Self::spawn(config, Some(first_tx));
        match first_rx.await {
            Ok(Ok(())) => Ok(client),
            Ok(Err(err)) => {
                client.task.abort();
                Err(err)
            }
            Err(_) => Err(client.task.await.err_or_shutdown()),
        }
    }

    /// Starts the client without waiting: it connects (and keeps reconnecting, if so
    /// configured) in the background, and queued publishes wait for the connection.
    pub fn start(config: ClientConfig) -> Self {
        Self::spawn(config, None)
    }

    fn spawn(config: ClientConfig, first: Option<oneshot::Sender<Result<(), FeedError>>>) -> Self {
        let capacity = config.queue_capacity.max(1);
        let (cmd_tx, cmd_rx) = mpsc::channel(capacity);
        let (msg_tx, msg_rx) = mpsc::channel(capacity);
        let status = Arc::new(SharedStatus::default());
        let closing = CancellationToken::new();
        let ident = Bytes::from(config.ident.clone());
        let span = tracing::info_span!("hpfeeds", broker = %config.addr(), ident = %config.ident);
        let publisher = Publisher {
            commands: cmd_tx,
            ident: ident.clone(),
            max_frame_bytes: config.max_frame_bytes,
        };
        let close_timeout = config.close_timeout;
        let task = ConnectionTask {
            config,
            ident,
            commands: cmd_rx,
            messages: msg_tx,
            status: status.clone(),
            closing: closing.clone(),
            subscriptions: BTreeSet::new(),
            first,
        };
        let task = tokio::spawn(task.run().instrument(span));
        Self {
            publisher,
            messages: msg_rx,
            status,
            closing,
            close_timeout,
            task,
        }
    }

    /// Queues a message; see [`Publisher::publish`].
    pub async fn publish(&self, channel: &str, payload: impl Into<Bytes>) -> Result<(), FeedError> {
        self.publisher.publish(channel, payload).await
    }

    /// A cloneable handle for publishing from other tasks.
    pub fn publisher(&self) -> Publisher {
        self.publisher.clone()
    }

    /// Subscribes to `channel`, now and after every reconnect.
    pub async fn subscribe(&self, channel: &str) -> Result<(), FeedError> {
        self.send(Command::Subscribe(channel.to_owned())).await
    }

    /// Unsubscribes from `channel`.
    pub async fn unsubscribe(&self, channel: &str) -> Result<(), FeedError> {
        self.send(Command::Unsubscribe(channel.to_owned())).await
    }

    async fn send(&self, cmd: Command) -> Result<(), FeedError> {
        self.publisher
            .commands
            .send(cmd)
            .await
            .map_err(|_| FeedError::Shutdown)
    }

    /// The next received message or broker error; `None` once the client has ended.
    pub async fn recv(&mut self) -> Option<Result<Message, FeedError>> {
        self.messages.recv().await
    }

    /// The connection's state and counters.
    pub fn status(&self) -> Status {
        self.status.snapshot()
    }

    /// Sends everything queued, closes our side, and waits (up to `close_timeout`) for the
    /// broker to close its side: any ERROR it sends before that (a refused secret or channel)
    /// is returned. If the broker is unreachable, gives up after `close_timeout` and reports
    /// what stayed queued as [`FeedError::Unsent`].
    pub async fn close(self) -> Result<(), FeedError> {
        let Self {
            publisher,
            messages,
            closing,
            close_timeout,
            mut task,
            ..
        } = self;
        // Order matters: the Close command queues behind every publish already queued.
        let queued = tokio::time::timeout(close_timeout, publisher.commands.send(Command::Close));
        let _ = queued.await;
        drop(publisher);
        drop(messages);
        // Give a connecting or reconnecting client its close_timeout to deliver the queue, then
        // tell it to give up; the task itself bounds the broker's confirmation.
        if let Ok(result) = tokio::time::timeout(close_timeout, &mut task).await {
            return result.err_or_ok();
        }
        closing.cancel();
        match tokio::time::timeout(close_timeout * 2, &mut task).await {
            Ok(result) => result.err_or_ok(),
            Err(_) => {
                task.abort();
                Err(FeedError::Timeout {
                    during: "closing",
                    after: close_timeout * 3,
                })
            }
        }
    }
}

impl futures_core::Stream for Client {
    type Item = Result<Message, FeedError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.messages.poll_recv(cx)
    }
}

trait JoinOutcome {
    fn err_or_shutdown(self) -> FeedError;
    fn err_or_ok(self) -> Result<(), FeedError>;
}

impl JoinOutcome for Result<Result<(), FeedError>, tokio::task::JoinError> {
    fn err_or_shutdown(self) -> FeedError {
        match self {
            Ok(Err(err)) => err,
            _ => FeedError::Shutdown,
        }
    }

    fn err_or_ok(self) -> Result<(), FeedError> {
        match self {
            Ok(result) => result,
            Err(_) => Err(FeedError::Shutdown),
        }
    }
}

/// How one connection ended.
enum End {
    /// Closed on purpose; the client is done.
    Closed(Result<(), FeedError>),
    /// Lost; `reported` says whether the error is already in the message stream.
    Lost { error: FeedError, reported: bool },
}

type Conn = Framed<TcpStream, HpfeedsCodec>;

/// PUBLISH frames fed to the socket before one flush, when many are queued.
const PUBLISH_BATCH: usize = 256;

struct ConnectionTask {
    config: ClientConfig,
    ident: Bytes,
    commands: mpsc::Receiver<Command>,
    messages: mpsc::Sender<Result<Message, FeedError>>,
    status: Arc<SharedStatus>,
    closing: CancellationToken,
    subscriptions: BTreeSet<String>,
    first: Option<oneshot::Sender<Result<(), FeedError>>>,
}

impl ConnectionTask {
    async fn run(mut self) -> Result<(), FeedError> {
        let mut attempt: u32 = 0;
        loop {
            let started = Instant::now();
            let connections = self.status.connections.load(Ordering::Relaxed);
            let (error, reported) = match self.connection().await {
                End::Closed(result) => return result,
                End::Lost { error, reported } => (error, reported),
            };
            let was_connected = self.status.connections.load(Ordering::Relaxed) > connections;
            self.status.connected.store(false, Ordering::Relaxed);
            if let Some(first) = self.first.take() {
                self.status.set_error(&error);
                let _ = first.send(Err(error));
                return Err(FeedError::Shutdown);
            }
            let (error, reported) =
                if !reported && was_connected && started.elapsed() < self.config.stable_after {
                    // Lost soon after connecting, with no ERROR seen: often a refused AUTH whose
                    // ERROR frame a TCP reset swallowed. Learn the reason before retrying.
                    let error = match self.diagnose_reset("connected").await {
                        FeedError::Broker(err) => FeedError::Broker(err),
                        _ => error,
                    };
                    let reported = matches!(error, FeedError::Broker(_));
                    (error, reported)
                } else {
                    (error, reported)
                };
            self.status.set_error(&error);
            let Some(backoff) = self.config.reconnect else {
                warn!(%error, "connection to broker lost; not reconnecting");
                if !reported {
                    let _ = self.messages.try_send(Err(error.duplicate()));
                }
                return Err(error);
            };
            if started.elapsed() >= self.config.stable_after {
                attempt = 0;
            }
            let delay = backoff.delay(attempt);
            attempt = attempt.saturating_add(1);
            warn!(%error, retry_in_ms = delay.as_millis() as u64, attempt, "connection to broker lost");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.closing.cancelled() => return self.unsent(),
            }
        }
    }

    /// `Ok` if nothing waits in the queue, else how much stays unsent.
    fn unsent(&mut self) -> Result<(), FeedError> {
        let mut count = 0;
        while let Ok(cmd) = self.commands.try_recv() {
            count += usize::from(matches!(cmd, Command::Publish { .. }));
        }
        if count == 0 {
            Ok(())
        } else {
            Err(FeedError::Unsent { count })
        }
    }

    async fn connection(&mut self) -> End {
        let closing = self.closing.clone();
        let mut conn = tokio::select! {
            res = self.handshake() => match res {
                Ok((conn, name)) => {
                    info!(broker_name = %name, resubscribed = self.subscriptions.len(), "connected to broker");
                    *lock(&self.status.broker_name) = Some(name);
                    self.status.connections.fetch_add(1, Ordering::Relaxed);
                    self.status.connected.store(true, Ordering::Relaxed);
                    conn
                }
                Err(error) => {
                    let reported = self.report_if_broker(&error);
                    return End::Lost { error, reported };
                }
            },
            _ = closing.cancelled() => return End::Closed(self.unsent()),
        };
        if let Some(first) = self.first.take() {
            let _ = first.send(Ok(()));
        }
        let mut broker_error: Option<BrokerError> = None;
        loop {
            tokio::select! {
                frame = conn.next() => match frame {
                    Some(Ok(Frame::Publish { ident, channel, payload })) => {
                        let msg = self.received(&ident, &channel, payload);
                        // Backpressure: a slow reader slows the socket; nothing is dropped.
                        let _ = self.messages.send(Ok(msg)).await;
                    }
                    Some(Ok(Frame::Error { message })) => {
                        let err = BrokerError::from_text(&message);
                        self.on_broker_error(&err);
                        broker_error = Some(err);
                    }
                    Some(Ok(other)) => {
                        let error = FeedError::Unexpected { opcode: other.opcode(), during: "connected" };
                        return End::Lost { error, reported: false };
                    }
                    Some(Err(error)) => return lost(error, broker_error),
                    None => return lost(FeedError::Closed { during: "connected" }, broker_error),
                },
                cmd = self.commands.recv() => {
                    let close = match cmd {
                        None | Some(Command::Close) => Ok(true),
                        Some(cmd) => self.write(&mut conn, cmd).await,
                    };
                    match close {
                        Ok(false) => {}
                        Ok(true) => return End::Closed(self.finish(&mut conn, broker_error).await),
                        Err(error) => return lost(error, broker_error),
                    }
                }
            }
        }
    }

    /// TCP connect, INFO, AUTH, and a SUBSCRIBE for every channel subscribed so far.
    /// Returns the connection and the broker's name; the caller records it as connected.
    async fn handshake(&mut self) -> Result<(Conn, String), FeedError> {
        let timeout = self.config.connect_timeout;
        let connect = TcpStream::connect((self.config.host.as_str(), self.config.port));
        let stream = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| FeedError::Timeout {
                during: "connecting",
                after: timeout,
            })?
            .map_err(|source| FeedError::Connect {
                addr: self.config.addr(),
                source,
            })?;
        stream.set_nodelay(true)?;
        let mut conn = Framed::new(stream, HpfeedsCodec::new(self.config.max_frame_bytes));
        conn.set_backpressure_boundary(64 * 1024);

        const DURING: &str = "waiting for the broker's INFO";
        let greeting = tokio::time::timeout(timeout, conn.next())
            .await
            .map_err(|_| FeedError::Timeout {
                during: DURING,
                after: timeout,
            })?;
        let (name, nonce) = match greeting {
            Some(Ok(Frame::Info { name, nonce })) => (name, nonce),
            Some(Ok(Frame::Error { message })) => {
                return Err(BrokerError::from_text(&message).into());
            }
            Some(Ok(other)) => {
                return Err(FeedError::Unexpected {
                    opcode: other.opcode(),
                    during: DURING,
                });
            }
            Some(Err(err)) => return Err(err),
            None => return Err(FeedError::Closed { during: DURING }),
        };
        let auth = Frame::auth(self.ident.clone(), &nonce, &self.config.secret);
        conn.feed(auth.as_ref()).await?;
        for channel in &self.subscriptions {
            conn.feed(FrameRef::Subscribe {
                ident: &self.ident,
                channel: channel.as_bytes(),
            })
            .await?;
        }
        conn.flush().await?;
        Ok((conn, String::from_utf8_lossy(&name).into_owned()))
    }

    /// Writes one command, and as many more as are already queued (up to a batch), then
    /// flushes. Returns true when a Close was met: everything before it is flushed.
    async fn write(&mut self, conn: &mut Conn, first: Command) -> Result<bool, FeedError> {
        let mut next = Some(first);
        let mut written = 0;
        let mut close = false;
        while let Some(cmd) = next.take() {
            match cmd {
                Command::Publish { channel, payload } => {
                    conn.feed(FrameRef::Publish {
                        ident: &self.ident,
                        channel: &channel,
                        payload: &payload,
                    })
                    .await?;
                    self.status.frames_published.fetch_add(1, Ordering::Relaxed);
                }
                Command::Subscribe(channel) => {
                    if self.subscriptions.insert(channel.clone()) {
                        conn.feed(FrameRef::Subscribe {
                            ident: &self.ident,
                            channel: channel.as_bytes(),
                        })
                        .await?;
                    }
                }
                Command::Unsubscribe(channel) => {
                    if self.subscriptions.remove(&channel) {
                        conn.feed(FrameRef::Unsubscribe {
                            ident: &self.ident,
                            channel: channel.as_bytes(),
                        })
                        .await?;
                    }
                }
                Command::Close => {
                    close = true;
                    break;
                }
            }
            written += 1;
            if written < PUBLISH_BATCH {
                next = self.commands.try_recv().ok();
            }
        }
        conn.flush().await?;
        Ok(close)
    }

    /// Flushes, half-closes, and reads until the broker closes: hpfeeds3 handles every frame
    /// before it sees our end of stream, so an ERROR for anything we wrote arrives first.
    async fn finish(
        &mut self,
        conn: &mut Conn,
        refused: Option<BrokerError>,
    ) -> Result<(), FeedError> {
        conn.flush().await?;
        conn.get_mut().shutdown().await?;
        self.status.connected.store(false, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + self.config.close_timeout;
        let mut refused = refused;
        loop {
            match tokio::time::timeout_at(deadline, conn.next()).await {
                Err(_) => {
                    debug!("broker kept the connection open after our close; not waiting longer");
                    break;
                }
                Ok(None) => break,
                Ok(Some(Ok(Frame::Error { message }))) => {
                    let err = BrokerError::from_text(&message);
                    self.on_broker_error(&err);
                    refused.get_or_insert(err);
                }
                Ok(Some(Ok(Frame::Publish {
                    ident,
                    channel,
                    payload,
                }))) => {
                    // The reader is gone or closing: deliver what fits, never block the close.
                    let msg = self.received(&ident, &channel, payload);
                    let _ = self.messages.try_send(Ok(msg));
                }
                Ok(Some(Ok(_))) => {}
                Ok(Some(Err(FeedError::Io(_)))) => {
                    // A reset loses the broker's ERROR frame with it; ask again, cleanly.
                    return Err(self.diagnose_reset("closing").await);
                }
                Ok(Some(Err(err))) => return Err(err),
            }
        }
        match refused {
            Some(err) => Err(err.into()),
            None => Ok(()),
        }
    }

    /// Explains a connection the broker reset: connects again, sends only AUTH and closes our
    /// side. With no data behind the AUTH the broker closes cleanly, so its ERROR (a refused
    /// ident or secret) arrives intact; it is recorded and returned. Otherwise the reset stays
    /// unexplained and is returned as such.
    async fn diagnose_reset(&mut self, during: &'static str) -> FeedError {
        let unexplained = FeedError::Closed {
            during: if during == "closing" {
                "closing: it reset the connection before confirming what was written"
            } else {
                "connected: it reset the connection"
            },
        };
        let subscriptions = std::mem::take(&mut self.subscriptions);
        let probe = self.handshake().await;
        self.subscriptions = subscriptions;
        let Ok((mut conn, _)) = probe else {
            return unexplained;
        };
        if conn.get_mut().shutdown().await.is_err() {
            return unexplained;
        }
        let deadline = tokio::time::Instant::now() + self.config.close_timeout;
        while let Ok(Some(Ok(frame))) = tokio::time::timeout_at(deadline, conn.next()).await {
            if let Frame::Error { message } = frame {
                let err = BrokerError::from_text(&message);
                self.on_broker_error(&err);
                return err.into();
            }
        }
        unexplained
    }

    /// Counts a received PUBLISH and turns it into a [`Message`].
    fn received(&self, ident: &[u8], channel: &[u8], payload: Bytes) -> Message {
        self.status
            .messages_received
            .fetch_add(1, Ordering::Relaxed);
        Message {
            ident: String::from_utf8_lossy(ident).into_owned(),
            channel: String::from_utf8_lossy(channel).into_owned(),
            payload,
        }
    }

    fn on_broker_error(&mut self, err: &BrokerError) {
        warn!(error = %err.message, "broker sent an error");
        self.status.broker_errors.fetch_add(1, Ordering::Relaxed);
        *lock(&self.status.last_error) = Some(err.message.clone());
        if let BrokerErrorKind::SubscribeDenied {
            channel: Some(channel),
        } = &err.kind
        {
            // Resubscribing after a reconnect would only be refused again.
            self.subscriptions.remove(channel);
        }
        // Never block the connection on a reader that does not read errors.
        let _ = self.messages.try_send(Err(err.clone().into()));
    }

    /// Sends a broker error met during the handshake to the stream; true if it was one.
    fn report_if_broker(&mut self, error: &FeedError) -> bool {
        match error {
            FeedError::Broker(err) => {
                let err = err.clone();
                self.on_broker_error(&err);
                true
            }
            _ => false,
        }
    }
}

/// The reason a connection was lost: the broker's own error, when it sent one before closing.
fn lost(error: FeedError, broker_error: Option<BrokerError>) -> End {
    match broker_error {
        Some(err) => End::Lost {
            error: err.into(),
            reported: true,
        },
        None => End::Lost {
            error,
            reported: false,
        },
    }
}
