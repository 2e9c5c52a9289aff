//! The running sensor: binds one listener per enabled instance (per listen address), opens the
//! store, accepts under the limits, runs each session in its own task and span, and shuts down
//! gracefully, in the phases of one [`Shutdown`]: stop accepting, give sessions a grace period,
//! close the rest, drain the recorder, stop the publisher.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shutdown::{Phase, Shutdown};
use socket2::{Domain, Protocol, Socket, Type};
use store::{InstanceTable, Migration, Recorder, RecorderHandle, RecorderSnapshot};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::SensorError;
use crate::capture::{Capture, CaptureShared, CaptureStats, SessionLink};
use crate::config::{Instance, ValidConfig};
use crate::connection::{CloseReason, Connection};
use crate::limits::{Admission, Gate, Limits};
use crate::persona::Persona;
use crate::publisher::{OutboxPublisher, PublisherSnapshot};
use crate::reload::{
    BindKey, BoundListener, ListenerSlot, ReloadCounters, ReloadReport, ReloadRequest,
    SensorControl, Served, Slots,
};
use crate::session::{InstanceInfo, Session};

/// Counters of the whole sensor.
#[derive(Debug, Default)]
pub struct SensorStats {
    /// Connections accepted and admitted.
    pub accepted: AtomicU64,
    /// Connections refused by a limit (recorded as sessions with the limit as close reason).
    pub refused: AtomicU64,
    /// Sessions that have ended (with their end record).
    pub ended: AtomicU64,
}

/// What a finished run reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// Connections admitted.
    pub accepted: u64,
    /// Connections refused by a limit.
    pub refused: u64,
    /// Sessions ended.
    pub ended: u64,
    /// Events the recorder refused (only possible if something outlived the shutdown): 0.
    pub lost: u64,
    /// The writer's final counters.
    pub recorder: RecorderSnapshot,
    /// The outbox publisher's final counters, when `[hpfeeds]` is configured.
    pub publisher: Option<PublisherSnapshot>,
}

/// A sensor with its sockets bound and its store open, ready to [`Sensor::run`].
///
/// Binding and opening happen before privileges are dropped; accepting happens after.
pub struct Sensor {
    config: ValidConfig,
    listeners: Vec<BoundListener>,
    recorder: Recorder,
    publisher: Option<OutboxPublisher>,
    migrations: Vec<(String, Migration)>,
    stats: Arc<SensorStats>,
    control: (mpsc::Sender<ReloadRequest>, mpsc::Receiver<ReloadRequest>),
    reloads: Arc<ReloadCounters>,
    metrics_plugins: crate::metrics::PluginEvents,
    capture: Option<Capture>,
    capture_shared: Option<Arc<CaptureShared>>,
    capture_stats: Arc<CaptureStats>,
    persona: Arc<Persona>,
}

/// Binds a TCP listener with SO_REUSEADDR; an IPv6 wildcard also accepts IPv4 (dual-stack).
fn bind(addr: SocketAddr, dual_stack: bool) -> std::io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if addr.is_ipv6() {
        socket.set_only_v6(!dual_stack)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

impl Sensor {
    /// Opens (and migrates) the store and binds every enabled instance on every listen address.
    /// Fails with the address and the OS's reason if a port cannot be bound.
    pub fn bind(config: ValidConfig) -> Result<Sensor, SensorError> {
        Self::bind_with_locator(config, None)
    }

    /// Like [`Sensor::bind`]; with a `locator` (a GeoIP database), the recorder looks every new
    /// session's source up and keeps `ipInfo` current.
    pub fn bind_with_locator(
        config: ValidConfig,
        locator: Option<Arc<dyn store::IpLocator>>,
    ) -> Result<Sensor, SensorError> {
        let mut listeners = Vec::new();
        for (i, inst) in config.instances.iter().enumerate() {
            for key in BindKey::all(&config.listen, inst.port) {
                listeners.push(bind_key(key, i, inst)?);
            }
        }
        let tables: Vec<InstanceTable> = config
            .instances
            .iter()
            .map(|inst| InstanceTable {
                plugin: inst.name.clone(),
                table: inst.table.clone(),
            })
            .collect();
        let (mut conn, migrations) = store::open(&config.database, &tables)?;
        recover(&mut conn, &config)?;
        // After the store, which made the database's directory.
        let identity = crate::persona::load_or_create(&config.persona.file_for(&config.database))?;
        let persona = Arc::new(Persona::build(&identity, &config.persona));
        // The enabled instances, for the report service's ports list (RECCE7 listed every
        // enabled port, attacked or not).
        store::meta::write_instances(&conn, &instance_meta(&config.instances))?;
        let recorder = Recorder::start_with(
            conn,
            &tables,
            store::RecorderOptions {
                queue_capacity: config.queue_capacity,
                batch_max: store::writer::DEFAULT_BATCH_MAX,
                outbox_max_events: config.hpfeeds.as_ref().map(|h| h.max_outbox_events),
                locator,
                retention: config.retention.clone().map(|mut policy| {
                    // Size pruning leaves the publisher's recent sent events to the publisher.
                    if let Some(h) = &config.hpfeeds {
                        policy.keep_sent = h.keep_sent;
                    }
                    policy
                }),
            },
        )?;
        let publisher = match &config.hpfeeds {
            Some(settings) => Some(OutboxPublisher::open(
                &config.database,
                settings.clone(),
                recorder.stats(),
            )?),
            None => None,
        };
        let metrics_plugins = Arc::new(Mutex::new(metrics_plugins(&config.instances)));
        let capture_stats = Arc::new(CaptureStats::default());
        let (capture, capture_shared) = match &config.capture {
            None => (None, None),
            Some(settings) => {
                let p0f = Arc::new(crate::capture::Signatures::load(settings)?);
                match Capture::open(settings, &config.listen, p0f.clone(), capture_stats.clone()) {
                    Ok(capture) => {
                        tracing::info!(
                            signatures = capture
                                .signatures()
                                .map_or("built in".to_string(), |n| n.to_string()),
                            interface = settings.interface.as_deref().unwrap_or("all"),
                            "packet capture on"
                        );
                        let directory = Some(capture.directory());
                        (
                            Some(capture),
                            Some(Arc::new(CaptureShared { p0f, directory })),
                        )
                    }
                    Err(off) => {
                        // Once, at start; the metrics say so for as long as it runs.
                        tracing::warn!("{off}");
                        (
                            None,
                            Some(Arc::new(CaptureShared {
                                p0f,
                                directory: None,
                            })),
                        )
                    }
                }
            }
        };
        Ok(Sensor {
            config,
            listeners,
            recorder,
            publisher,
            migrations,
            stats: Arc::new(SensorStats::default()),
            control: mpsc::channel(1),
            reloads: Arc::default(),
            metrics_plugins,
            capture,
            capture_shared,
            capture_stats,
            persona,
        })
    }

    /// The device every front door of this sensor claims to be.
    pub fn persona(&self) -> Arc<Persona> {
        self.persona.clone()
    }

    /// Whether packet capture runs (root or `CAP_NET_RAW`, and `[capture]` on).
    pub fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// What listens where: (instance name, kind, address).
    pub fn listening(&self) -> Vec<(String, &'static str, SocketAddr)> {
        self.listeners
            .iter()
            .map(|l| {
                let inst = &self.config.instances[l.instance];
                (inst.name.clone(), inst.kind, l.addr)
            })
            .collect()
    }

    /// What the store did to each instance's table at start-up.
    pub fn migrations(&self) -> &[(String, Migration)] {
        &self.migrations
    }

    /// The configuration in force.
    pub fn config(&self) -> &ValidConfig {
        &self.config
    }

    /// The sensor's counters.
    pub fn stats(&self) -> Arc<SensorStats> {
        self.stats.clone()
    }

    /// Its metrics, for a `/metrics` page (served by the report service's HTTP code).
    pub fn metrics(&self) -> Arc<crate::metrics::SensorMetrics> {
        Arc::new(crate::metrics::SensorMetrics {
            plugins: self.metrics_plugins.clone(),
            reloads: self.reloads.clone(),
            recorder: self.recorder.stats(),
            queue: self.recorder.handle(),
            publisher: self.publisher.as_ref().map(|p| p.stats()),
            capture: self.capture_stats.clone(),
        })
    }

    /// A handle that reloads the configuration of this sensor once it runs
    /// ([`crate::reload`]).
    pub fn control(&self) -> SensorControl {
        SensorControl {
            tx: self.control.0.clone(),
            counters: self.reloads.clone(),
        }
    }

    /// A handle on the recorder (tests flush through it).
    pub fn recorder(&self) -> RecorderHandle {
        self.recorder.handle()
    }

    /// Accepts and serves until `shutdown` begins (a plain token starts it when cancelled),
    /// then stops accepting, lets sessions finish for the grace period, closes the rest (each
    /// with its end record), drains the recorder, stops the publisher ([`Phase::StopPublisher`])
    /// and returns the final counts. Later phases ([`Phase::StopServices`]) are the caller's.
    pub async fn run(self, shutdown: impl Into<Shutdown>) -> Result<RunSummary, SensorError> {
        let shutdown: Shutdown = shutdown.into();
        let Sensor {
            config,
            listeners,
            recorder,
            publisher,
            stats,
            control: (_keep_open, mut requests),
            metrics_plugins,
            capture,
            capture_shared,
            persona,
            ..
        } = self;
        let capturing = capture.map(|c| {
            tokio::spawn(c.run(
                Arc::from(config.name.as_str()),
                recorder.handle(),
                shutdown.token(Phase::StopAccepting),
            ))
        });
        let publishing = publisher.map(|p| {
            let stats = p.stats();
            (
                tokio::spawn(p.run(shutdown.token(Phase::StopPublisher))),
                stats,
            )
        });
        let limits = Arc::new(config.limits.clone());
        let shutdown_grace = config.shutdown_grace;
        let mut running = Running {
            gate: Gate::new(&limits),
            limits,
            recorder: recorder.handle(),
            sessions: TaskTracker::new(),
            accept_loops: TaskTracker::new(),
            close_now: shutdown.token(Phase::CloseSessions),
            stop_accepting: shutdown.token(Phase::StopAccepting),
            sensor_name: Arc::from(config.name.as_str()),
            lost: Arc::default(),
            slots: Slots::new(),
            stats: stats.clone(),
            metrics_plugins,
            capture: capture_shared,
            persona,
            config,
        };
        let served: Vec<Arc<Served>> = running
            .config
            .instances
            .clone()
            .into_iter()
            .map(|inst| running.served(inst))
            .collect();
        for bound in listeners {
            let served = served[bound.instance].clone();
            running.start(bound, served)?;
        }
        loop {
            tokio::select! {
                biased;
                _ = shutdown.reached(Phase::StopAccepting) => break,
                Some(request) = requests.recv() => {
                    // The caller logs the outcome.
                    let outcome = running.reload(*request.config).await;
                    let _ = request.reply.send(outcome);
                }
            }
        }
        let Running {
            accept_loops,
            sessions,
            lost,
            ..
        } = running;
        accept_loops.close();
        accept_loops.wait().await;
        sessions.close();
        let open = sessions.len();
        if open > 0 {
            tracing::info!(
                open,
                grace_secs = shutdown_grace.as_secs(),
                "stopped accepting; waiting for open sessions"
            );
        }
        if tokio::time::timeout(shutdown_grace, sessions.wait())
            .await
            .is_err()
        {
            tracing::info!(open = sessions.len(), "grace period over; closing sessions");
            shutdown.enter(Phase::CloseSessions);
            sessions.wait().await;
        }
        // The capture stopped with the accepting; what it reports last is recorded first.
        if let Some(task) = capturing
            && tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_err()
        {
            tracing::warn!("the packet capture did not stop in time");
        }
        let recorder_stats = recorder.stats();
        let mut snapshot = recorder.finish().await;
        // The publisher goes last: everything is committed, so it can send the whole backlog.
        let published = match publishing {
            Some((task, stats)) => {
                shutdown.enter(Phase::StopPublisher);
                if tokio::time::timeout(Duration::from_secs(30), task)
                    .await
                    .is_err()
                {
                    tracing::warn!("the publisher did not stop in time");
                }
                // What is still unsent now that the publisher is done waits for the next start.
                snapshot.outbox_unsent = recorder_stats.outbox.unsent();
                Some(stats.snapshot())
            }
            None => None,
        };
        let lost = lost.load(Ordering::Relaxed);
        Ok(RunSummary {
            accepted: stats.accepted.load(Ordering::Relaxed),
            refused: stats.refused.load(Ordering::Relaxed),
            ended: stats.ended.load(Ordering::Relaxed),
            lost,
            recorder: snapshot,
            publisher: published,
        })
    }
}

/// Start-up work on the store before anything is accepted: with retention on, makes sure the
/// file can shrink (an older file is converted once, with a `VACUUM`); then closes the sessions
/// the last run left open (a `kill -9`, a crash, a power cut) and queues their `session.end`
/// for publishing, so that no session looks live forever.
fn recover(conn: &mut rusqlite::Connection, config: &ValidConfig) -> Result<(), SensorError> {
    if config.retention.is_some() {
        let started = std::time::Instant::now();
        match store::retention::enable_incremental_vacuum(conn) {
            Ok(true) => tracing::info!(
                millis = started.elapsed().as_millis() as u64,
                "retention: converted the database to incremental vacuum (once), so that pruning shrinks the file"
            ),
            Ok(false) => {}
            // Pruning still frees pages for reuse; only the file does not shrink.
            Err(e) => {
                tracing::warn!(error = %e, "retention: cannot convert the database to incremental vacuum (it needs free disk as large as the file); pruned pages are reused but the file does not shrink")
            }
        }
    }
    let outbox_max = config.hpfeeds.as_ref().map(|h| h.max_outbox_events);
    let done = store::retention::close_interrupted_sessions(conn, outbox_max)?;
    if done.sessions > 0 {
        tracing::info!(
            queued_for_publishing = done.outboxed,
            not_queued_outbox_full = done.outbox_full,
            "closed {} session{} left open by the last run (close reason \"{}\", ended at their last recorded event)",
            done.sessions,
            if done.sessions == 1 { "" } else { "s" },
            store::retention::CLOSE_REASON_RESTART
        );
    }
    Ok(())
}

/// Binds the listener of `key` for instance `i` (`inst`): with no configured address, one
/// dual-stack IPv6 socket, or IPv4 only where IPv6 is off.
fn bind_key(key: BindKey, i: usize, inst: &Instance) -> Result<BoundListener, SensorError> {
    let failed = |addr: SocketAddr, e: std::io::Error| SensorError::Bind {
        instance: inst.name.clone(),
        addr,
        reason: e.to_string(),
    };
    let listener = match key.ip {
        None => {
            let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), key.port);
            let v4 = SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), key.port);
            match bind(v6, true) {
                Ok(l) => l,
                Err(_) => bind(v4, false).map_err(|e| failed(v4, e))?,
            }
        }
        Some(ip) => {
            let addr = SocketAddr::new(ip, key.port);
            bind(addr, false).map_err(|e| failed(addr, e))?
        }
    };
    let addr = listener.local_addr()?;
    Ok(BoundListener {
        instance: i,
        key,
        listener,
        addr,
    })
}

/// The enabled instances as `storeMeta` lists them, for the report service's ports list
/// (RECCE7 listed every enabled port, attacked or not).
fn instance_meta(instances: &[Instance]) -> Vec<store::meta::InstanceMeta> {
    instances
        .iter()
        .map(|i| store::meta::InstanceMeta {
            kind: i.kind.to_owned(),
            name: i.name.clone(),
            port: i.port,
            table: i.table.name.clone(),
        })
        .collect()
}

/// Each instance with the event types its kind can record, for `/metrics`.
fn metrics_plugins(instances: &[Instance]) -> Vec<crate::metrics::PluginMetrics> {
    instances
        .iter()
        .map(|i| {
            let events =
                crate::plugin::find_kind(i.kind).map_or(&store::EventType::ALL[..], |k| k.events);
            (i.name.clone(), events, i.plugin.logins())
        })
        .collect()
}

/// A running sensor's listeners and what they share; a reload changes them.
struct Running {
    config: ValidConfig,
    limits: Arc<Limits>,
    gate: Arc<Gate>,
    recorder: RecorderHandle,
    sessions: TaskTracker,
    accept_loops: TaskTracker,
    close_now: CancellationToken,
    stop_accepting: CancellationToken,
    sensor_name: Arc<str>,
    /// Events the recorder refused, every instance's (shared by their infos).
    lost: Arc<AtomicU64>,
    slots: Slots,
    stats: Arc<SensorStats>,
    metrics_plugins: crate::metrics::PluginEvents,
    capture: Option<Arc<CaptureShared>>,
    persona: Arc<Persona>,
}

impl Running {
    /// What a listener of `instance` serves.
    fn served(&mut self, instance: Instance) -> Arc<Served> {
        let info = Arc::new(InstanceInfo {
            sensor: self.sensor_name.clone(),
            plugin: Arc::from(instance.name.as_str()),
            protocol: Arc::from(instance.plugin.protocol()),
            table: Arc::from(instance.table.name.as_str()),
            lost: self.lost.clone(),
            persona: self.persona.clone(),
        });
        Arc::new(Served { instance, info })
    }

    /// Starts accepting on `bound`, serving `served`.
    fn start(&mut self, bound: BoundListener, served: Arc<Served>) -> Result<(), SensorError> {
        let listener = TcpListener::from_std(bound.listener)?;
        let stop = self.stop_accepting.child_token();
        let (tx, rx) = watch::channel(served);
        let acceptor = Acceptor {
            served: rx,
            listener,
            limits: self.limits.clone(),
            gate: self.gate.clone(),
            recorder: self.recorder.clone(),
            sessions: self.sessions.clone(),
            close_now: self.close_now.clone(),
            stats: self.stats.clone(),
            capture: self.capture.clone(),
        };
        self.accept_loops.spawn(acceptor.run(stop.clone()));
        self.slots
            .insert(bound.key, ListenerSlot { stop, served: tx });
        Ok(())
    }

    /// Applies a new configuration's instances, all or nothing ([`crate::reload`]).
    async fn reload(&mut self, new: ValidConfig) -> Result<ReloadReport, SensorError> {
        let mut report = crate::reload::plan(&self.config.instances, &new.instances);
        report.needs_restart = crate::reload::needs_restart(&self.config, &new);
        // The running addresses: `[sensor] listen` changes at a restart.
        let listen = self.config.listen.clone();
        let mut wanted: HashMap<BindKey, usize> = HashMap::new();
        let mut bound = Vec::new();
        for (i, inst) in new.instances.iter().enumerate() {
            for key in BindKey::all(&listen, inst.port) {
                wanted.insert(key, i);
                if !self.slots.contains_key(&key) {
                    // An error drops what was bound so far: nothing has changed yet.
                    bound.push(bind_key(key, i, inst)?);
                }
            }
        }
        let tables = new
            .instances
            .iter()
            .map(|inst| InstanceTable {
                plugin: inst.name.clone(),
                table: inst.table.clone(),
            })
            .collect();
        let migrations = self
            .recorder
            .reconfigure(tables, instance_meta(&new.instances))
            .await?;
        for (table, migration) in migrations {
            if migration != Migration::Unchanged {
                tracing::info!(table, ?migration, "table ready");
            }
        }
        // Committed from here on.
        let served: Vec<Arc<Served>> = new
            .instances
            .iter()
            .map(|inst| self.served(inst.clone()))
            .collect();
        self.slots.retain(|key, slot| match wanted.get(key) {
            Some(&i) => {
                slot.served.send_replace(served[i].clone());
                true
            }
            None => {
                slot.stop.cancel();
                false
            }
        });
        for b in bound {
            let s = served[b.instance].clone();
            tracing::info!(instance = %s.instance.name, addr = %b.addr, "listening");
            self.start(b, s)?;
        }
        if let Ok(mut plugins) = self.metrics_plugins.lock() {
            *plugins = metrics_plugins(&new.instances);
        }
        self.config.instances = new.instances;
        Ok(report)
    }
}

/// The accept loop of one listener.
struct Acceptor {
    served: watch::Receiver<Arc<Served>>,
    listener: TcpListener,
    limits: Arc<Limits>,
    gate: Arc<Gate>,
    recorder: RecorderHandle,
    sessions: TaskTracker,
    close_now: CancellationToken,
    stats: Arc<SensorStats>,
    capture: Option<Arc<CaptureShared>>,
}

/// IPv4 peers on a dual-stack socket arrive as `::ffff:a.b.c.d`; record them as IPv4.
fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

impl Acceptor {
    async fn run(self, shutdown: CancellationToken) {
        loop {
            let accepted = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                res = self.listener.accept() => res,
            };
            let (stream, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(instance = %self.served.borrow().instance.name, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let peer = canonical(peer);
            let local = stream.local_addr().map(canonical).unwrap_or(peer);
            // What this port serves now (a reload may have changed it since the last one).
            let served = self.served.borrow().clone();
            let _ = stream.set_nodelay(true);
            match self.gate.admit(peer.ip()) {
                Ok(admission) => {
                    self.stats.accepted.fetch_add(1, Ordering::Relaxed);
                    let mut session = Session::new(
                        served.info.clone(),
                        peer,
                        local,
                        self.recorder.clone(),
                        self.limits.max_raw_bytes,
                    );
                    let mut pairing = None;
                    if let Some(capture) = &self.capture {
                        session.attach_capture(capture.clone());
                        if let Some(directory) = &capture.directory {
                            let link = SessionLink {
                                id: Arc::from(session.connection_id()),
                                info: served.info.clone(),
                            };
                            pairing = directory.session_opened(session.flow(), link).map(|p| {
                                session.set_syn_os(p.os);
                                p.fingerprint
                            });
                        }
                    }
                    let span = tracing::info_span!(
                        "session",
                        id = %session.connection_id(),
                        plugin = %served.instance.name,
                        peer = %peer,
                    );
                    let conn = Connection::new(
                        stream,
                        peer,
                        local,
                        self.limits.clone(),
                        self.close_now.clone(),
                    );
                    let plugin = served.instance.plugin.clone();
                    let stats = self.stats.clone();
                    self.sessions.spawn(
                        serve(plugin, conn, session, admission, stats, pairing).instrument(span),
                    );
                }
                Err(refusal) => {
                    // Recorded like any session, closed at once: the attacker is still seen.
                    self.stats.refused.fetch_add(1, Ordering::Relaxed);
                    drop(stream);
                    let mut session = Session::new(
                        served.info.clone(),
                        peer,
                        local,
                        self.recorder.clone(),
                        self.limits.max_raw_bytes,
                    );
                    session.record_start(Some(refusal.as_str())).await;
                    session.record_end(0, 0, refusal.as_str()).await;
                    tracing::debug!(peer = %peer, reason = refusal.as_str(), "connection refused");
                }
            }
        }
    }
}

async fn serve(
    plugin: Arc<dyn crate::plugin::Plugin>,
    mut conn: Connection,
    mut session: Session,
    admission: Admission,
    stats: Arc<SensorStats>,
    pairing: Option<Arc<fingerprint::p0f::SynFingerprint>>,
) {
    // The session's idle state is this future (one allocation per connection): what runs
    // before and after the conversation is boxed, so that its size is not paid while the
    // attacker idles (docs/BENCHMARKS.md, 10,000 idle connections).
    Box::pin(session.record_start(None)).await;
    if let Some(pairing) = pairing {
        Box::pin(session.record_p0f(&pairing)).await;
    }
    tracing::debug!("session start");
    let result = plugin.handle(&mut conn, &mut session).await;
    session.release_capture();
    let reason = match result {
        Ok(()) => conn
            .close_reason()
            .cloned()
            .unwrap_or(CloseReason::Plugin("closed by plug-in")),
        Err(reason) => reason,
    };
    if !matches!(reason, CloseReason::PeerReset | CloseReason::PeerClosed) {
        Box::pin(conn.shutdown()).await;
    }
    let (bytes_in, bytes_out) = (conn.bytes_in(), conn.bytes_out());
    drop(conn);
    drop(admission);
    Box::pin(session.record_end(bytes_in, bytes_out, reason.as_str())).await;
    stats.ended.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(reason = reason.as_str(), bytes_in, bytes_out, "session end");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_peers_on_a_dual_stack_socket_are_recorded_as_ipv4() {
        let mapped: SocketAddr = "[::ffff:203.0.113.7]:4242".parse().unwrap();
        assert_eq!(canonical(mapped), "203.0.113.7:4242".parse().unwrap());
        let v6: SocketAddr = "[2001:db8::1]:23".parse().unwrap();
        assert_eq!(canonical(v6), v6);
    }
}

/// What an idle session costs is mostly the size of its futures: the task's (`serve`) and the
/// plug-in's boxed conversation. Budget: 10,000 idle telnet connections in at most 64 MB
/// (docs/BENCHMARKS.md). These bounds fail when a large future is inlined again (the telnet
/// conversation was 2,040 bytes before its rare steps were boxed and its option tables packed).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod idle_cost {
    use super::*;

    #[tokio::test]
    async fn an_idle_telnet_session_keeps_its_futures_small() {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = store::open(&dir.path().join("s.sqlite"), &[]).unwrap();
        let recorder = store::Recorder::start(db, &[], 16, 16).unwrap();
        let info = Arc::new(crate::session::InstanceInfo {
            sensor: "s".into(),
            plugin: "telnet".into(),
            protocol: "telnet".into(),
            table: "telnet".into(),
            lost: Default::default(),
            persona: Default::default(),
        });
        let addr: SocketAddr = "127.0.0.1:2323".parse().unwrap();
        let limits = Arc::new(Limits::default());
        let (io, _peer) = tokio::io::duplex(64);
        let mut conn = Connection::new(io, addr, addr, limits.clone(), CancellationToken::new());
        let mut session = Session::new(info, addr, addr, recorder.handle(), 16);
        let options = toml::Table::new();
        let settings = crate::plugin::PluginSettings {
            name: "telnet",
            options: &options,
            limits: &limits,
            config_dir: std::path::Path::new("."),
            data_dir: std::path::Path::new("."),
        };
        let Ok(plugin) = crate::plugins::telnet::build(&settings) else {
            panic!("the telnet plug-in with default options");
        };
        let conversation = std::mem::size_of_val(&*plugin.handle(&mut conn, &mut session));
        assert!(
            conversation <= 1280,
            "telnet conversation future: {conversation} bytes"
        );
        let admission = Gate::new(&limits).admit(addr.ip()).unwrap();
        let stats = Arc::new(SensorStats::default());
        let task = std::mem::size_of_val(&serve(plugin, conn, session, admission, stats, None));
        assert!(task <= 1024, "session task future: {task} bytes");
    }
}
