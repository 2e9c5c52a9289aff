//! The recorder: one writer thread that owns the SQLite connection, fed by a bounded channel,
//! committing in batches (one transaction per batch, WAL mode).
//!
//! rusqlite blocks, so the writer is a plain thread; sessions talk to it through a cloneable
//! [`RecorderHandle`] whose `record` waits when the queue is full (backpressure, nothing dropped).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

use crate::StoreError;
use crate::event::{Event, EventType};
use crate::events::{self, SqliteSink};
use crate::ipinfo::IpLocator;
use crate::outbox::{self, OutboxState};
use crate::retention::{self, Prune, RetentionPolicy};
use crate::schema::{self, Migration, TableSpec};

/// Most events committed in one transaction; bounds the time one batch holds the write lock.
pub const DEFAULT_BATCH_MAX: usize = 1024;

/// Default queue length between sessions and the writer.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

/// A plug-in instance and the table its rows go to.
#[derive(Debug, Clone)]
pub struct InstanceTable {
    /// The instance name (the event's `plugin`).
    pub plugin: String,
    /// Its table.
    pub table: TableSpec,
}

/// The page cache's size, in pages, while [`open`] creates or checks the schema.
const SETUP_CACHE_PAGES: i64 = 8;

/// Opens (creating if needed) the SQLite store at `path` in WAL mode, creates the fixed tables
/// and creates or migrates each instance's table. Returns the connection and what was migrated.
///
/// Called before privileges are dropped, so the database and its WAL can be created anywhere the
/// operator chose.
pub fn open(
    path: &Path,
    instances: &[InstanceTable],
) -> Result<(Connection, Vec<(String, Migration)>), StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| StoreError::Open {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
    }
    let mut conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| StoreError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    // Before the first table exists, so that a new file can shrink when retention prunes it
    // (an existing file keeps its mode; see `retention::enable_incremental_vacuum`).
    conn.execute_batch("PRAGMA auto_vacuum = INCREMENTAL")?;
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Open {
            path: path.display().to_string(),
            reason: format!("cannot switch to WAL mode (got {mode})"),
        });
    }
    // NORMAL in WAL mode: a committed batch survives a crash of the process; a power cut may
    // lose the last batches but never corrupts the file.
    conn.execute_batch("PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=OFF;")?;
    // Creating or checking the schema reads a page for every table and index (about 50): with
    // the cache capped meanwhile they do not all stay cached. The cache's memory is never given
    // back to the system by the static builds' allocator, so this is idle memory (about 0.4 MB,
    // each 4 KiB page taking an 8 KiB block). The cache grows again with the pages writes use.
    let cache_size: i64 = conn.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
    conn.execute_batch(&format!("PRAGMA cache_size = {SETUP_CACHE_PAGES}"))?;
    schema::create_fixed_tables(&conn)?;
    let tx = conn.transaction()?;
    let mut migrations = Vec::with_capacity(instances.len());
    for inst in instances {
        migrations.push((
            inst.table.name.clone(),
            schema::migrate_table(&tx, &inst.table)?,
        ));
    }
    tx.commit()?;
    conn.execute_batch(&format!("PRAGMA cache_size = {cache_size}"))?;
    Ok((conn, migrations))
}

/// Counters of the writer, shared with whoever reports metrics.
#[derive(Debug, Default)]
pub struct RecorderStats {
    /// Events committed.
    pub events: AtomicU64,
    /// Transactions committed.
    pub batches: AtomicU64,
    /// Events whose insert failed (logged with the reason).
    pub failed: AtomicU64,
    /// Columns a plug-in recorded that its table does not have (logged; the rest of the row kept).
    pub unknown_columns: AtomicU64,
    /// Total microseconds spent committing batches.
    pub commit_micros: AtomicU64,
    /// The outbox's counters (queued, full, unsent) and the publisher's wake-up; see
    /// [`crate::outbox`], the only code that changes them.
    pub outbox: Arc<OutboxState>,
    /// Events dropped because the database could not be written (a full disk); also in
    /// `failed`. Nothing is held back in memory: the next batch simply tries again.
    pub disk_full: AtomicU64,
    /// True while writes fail for a full disk (the last commit failed that way).
    pub disk_full_now: AtomicBool,
    /// Rows deleted by retention (all tables).
    pub pruned_rows: AtomicU64,
    /// The store's size (pages in use plus the WAL) at the last retention check, in bytes.
    pub database_bytes: AtomicU64,
    /// Committed events by plug-in instance and type (for `/metrics`; instance names come from
    /// the configuration, so the set is bounded).
    pub by_plugin: std::sync::Mutex<std::collections::BTreeMap<String, PluginCounts>>,
}

/// Committed events of one plug-in instance.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PluginCounts {
    /// Events by type, indexed like [`EventType::ALL`].
    pub events: [u64; EventType::ALL.len()],
    /// Sessions refused by a limit (their `session.start` carries `refused`).
    pub refused: u64,
}

impl PluginCounts {
    /// Committed events of `kind`.
    pub fn of(&self, kind: EventType) -> u64 {
        EventType::ALL
            .iter()
            .position(|k| *k == kind)
            .map_or(0, |i| self.events[i])
    }

    fn count(&mut self, event: &Event) {
        if let Some(i) = EventType::ALL.iter().position(|k| *k == event.kind) {
            self.events[i] += 1;
        }
        if event.kind == EventType::SessionStart && event.data.contains_key("refused") {
            self.refused += 1;
        }
    }

    fn add(&mut self, other: &PluginCounts) {
        for (a, b) in self.events.iter_mut().zip(other.events) {
            *a += b;
        }
        self.refused += other.refused;
    }
}

/// A point-in-time copy of [`RecorderStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderSnapshot {
    /// Events written.
    pub events: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Events whose insert failed.
    pub failed: u64,
    /// Unknown columns seen.
    pub unknown_columns: u64,
    /// Microseconds spent committing.
    pub commit_micros: u64,
    /// Events queued in the outbox.
    pub outboxed: u64,
    /// Events not queued because the outbox was full.
    pub outbox_full: u64,
    /// Events in the outbox not sent yet.
    pub outbox_unsent: u64,
    /// Events dropped because the disk was full (also in `failed`).
    pub disk_full: u64,
    /// Rows deleted by retention.
    pub pruned_rows: u64,
}

impl RecorderStats {
    /// Reads every counter.
    pub fn snapshot(&self) -> RecorderSnapshot {
        RecorderSnapshot {
            events: self.events.load(Ordering::Relaxed),
            batches: self.batches.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            unknown_columns: self.unknown_columns.load(Ordering::Relaxed),
            commit_micros: self.commit_micros.load(Ordering::Relaxed),
            outboxed: self.outbox.queued(),
            outbox_full: self.outbox.full(),
            outbox_unsent: self.outbox.unsent(),
            disk_full: self.disk_full.load(Ordering::Relaxed),
            pruned_rows: self.pruned_rows.load(Ordering::Relaxed),
        }
    }
}

enum Command {
    Event(Box<Event>),
    Flush(oneshot::Sender<()>),
    /// Time for a retention check (sent by the ticker thread when retention is on).
    Maintain,
    /// A reloaded configuration: create or migrate these tables, record the instances.
    Reconfigure(Box<Reconfigure>),
    Stop,
}

/// What [`RecorderHandle::reconfigure`] asks of the writer.
struct Reconfigure {
    instances: Vec<InstanceTable>,
    meta: Vec<crate::meta::InstanceMeta>,
    done: oneshot::Sender<Result<Vec<(String, Migration)>, StoreError>>,
}

/// How a [`Recorder`] runs.
#[derive(Clone)]
pub struct RecorderOptions {
    /// Events queued before `record` waits.
    pub queue_capacity: usize,
    /// Most events in one transaction.
    pub batch_max: usize,
    /// Also queue every event's JSON in the `outbox` table, up to this many unsent events.
    pub outbox_max_events: Option<u64>,
    /// Look every new session's source address up and keep `ipInfo` current (the in-process
    /// geoloc of a standalone sensor).
    pub locator: Option<Arc<dyn IpLocator>>,
    /// Prune by age and size between batches (see [`crate::retention`]).
    pub retention: Option<RetentionPolicy>,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            queue_capacity: DEFAULT_QUEUE_CAPACITY,
            batch_max: DEFAULT_BATCH_MAX,
            outbox_max_events: None,
            locator: None,
            retention: None,
        }
    }
}

/// The writer thread and the first handle to it.
pub struct Recorder {
    handle: RecorderHandle,
    thread: Option<JoinHandle<()>>,
}

/// A cheap, cloneable way to hand events to the writer.
#[derive(Clone)]
pub struct RecorderHandle {
    tx: mpsc::Sender<Command>,
    stats: Arc<RecorderStats>,
}

impl Recorder {
    /// Starts the writer thread over an opened store. `instances` maps plug-in instance names to
    /// their tables (as given to [`open`]).
    pub fn start(
        conn: Connection,
        instances: &[InstanceTable],
        queue_capacity: usize,
        batch_max: usize,
    ) -> Result<Recorder, StoreError> {
        Self::start_with_outbox(conn, instances, queue_capacity, batch_max, None)
    }

    /// Like [`Recorder::start`], and when `outbox_max_events` is given, also writes every
    /// event as JSON into the `outbox` table in the same transaction as its rows, for the
    /// publisher. When the outbox holds `outbox_max_events` rows, events are still recorded
    /// locally but not queued; they are counted in `outbox_full` and logged, and sessions never
    /// wait for the publisher. The bound counts unsent events only.
    pub fn start_with_outbox(
        conn: Connection,
        instances: &[InstanceTable],
        queue_capacity: usize,
        batch_max: usize,
        outbox_max_events: Option<u64>,
    ) -> Result<Recorder, StoreError> {
        Self::start_with(
            conn,
            instances,
            RecorderOptions {
                queue_capacity,
                batch_max,
                outbox_max_events,
                locator: None,
                retention: None,
            },
        )
    }

    /// Starts the writer thread with every option (see [`RecorderOptions`]).
    pub fn start_with(
        conn: Connection,
        instances: &[InstanceTable],
        options: RecorderOptions,
    ) -> Result<Recorder, StoreError> {
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let stats = Arc::new(RecorderStats::default());
        stats.outbox.load_unsent(&conn)?;
        let retention = match options.retention.filter(RetentionPolicy::is_enabled) {
            Some(policy) => Some(Retention::new(&conn, policy)?),
            None => None,
        };
        let ticker = retention
            .as_ref()
            .map(|r| (tx.downgrade(), r.policy.check_interval));
        let mut writer = Writer::new(conn, instances, stats.clone(), options.batch_max.max(1));
        writer.outbox_max = options.outbox_max_events;
        writer.locator = options.locator;
        writer.retention = retention;
        if let Some((weak, every)) = ticker {
            // Wakes an idle writer for retention checks; holds no sender, so it never keeps the
            // channel open, and ends with the writer.
            std::thread::Builder::new()
                .name("recorder-tick".into())
                .stack_size(64 << 10)
                .spawn(move || {
                    loop {
                        std::thread::sleep(every);
                        let Some(tx) = weak.upgrade() else { return };
                        if let Err(mpsc::error::TrySendError::Closed(_)) =
                            tx.try_send(Command::Maintain)
                        {
                            return;
                        }
                    }
                })
                .map_err(|e| StoreError::Thread(e.to_string()))?;
        }
        let thread = std::thread::Builder::new()
            .name("recorder".into())
            .spawn(move || writer.run(rx))
            .map_err(|e| StoreError::Thread(e.to_string()))?;
        Ok(Recorder {
            handle: RecorderHandle { tx, stats },
            thread: Some(thread),
        })
    }

    /// A handle for sessions.
    pub fn handle(&self) -> RecorderHandle {
        self.handle.clone()
    }

    /// The writer's counters.
    pub fn stats(&self) -> Arc<RecorderStats> {
        self.handle.stats.clone()
    }

    /// Writes everything queued, commits and stops the thread. Events sent after this are
    /// refused with [`StoreError::Closed`] (and the caller logs them), so call it last.
    pub async fn finish(mut self) -> RecorderSnapshot {
        let _ = self.handle.tx.send(Command::Stop).await;
        if let Some(thread) = self.thread.take() {
            let _ = tokio::task::spawn_blocking(move || thread.join()).await;
        }
        self.handle.stats.snapshot()
    }
}

impl RecorderHandle {
    /// Queues one event; waits while the queue is full.
    pub async fn record(&self, event: Event) -> Result<(), StoreError> {
        self.tx
            .send(Command::Event(Box::new(event)))
            .await
            .map_err(|_| StoreError::Closed)
    }

    /// Resolves once everything queued before it is committed.
    pub async fn flush(&self) -> Result<(), StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Flush(done))
            .await
            .map_err(|_| StoreError::Closed)?;
        wait.await.map_err(|_| StoreError::Closed)
    }

    /// Takes a reloaded configuration's instances: creates or migrates their tables and
    /// records them in `storeMeta` in one transaction (after the events queued before it are
    /// committed), then routes their events to those tables. Instances not named keep their
    /// table (a removed instance's live sessions still record). Nothing changes on an error.
    pub async fn reconfigure(
        &self,
        instances: Vec<InstanceTable>,
        meta: Vec<crate::meta::InstanceMeta>,
    ) -> Result<Vec<(String, Migration)>, StoreError> {
        let (done, wait) = oneshot::channel();
        self.tx
            .send(Command::Reconfigure(Box::new(Reconfigure {
                instances,
                meta,
                done,
            })))
            .await
            .map_err(|_| StoreError::Closed)?;
        wait.await.map_err(|_| StoreError::Closed)?
    }

    /// Events waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// The writer's counters.
    pub fn stats(&self) -> &RecorderStats {
        &self.stats
    }
}

struct Writer {
    conn: Connection,
    /// Writes each event's rows (the configured instance tables).
    sink: SqliteSink,
    stats: Arc<RecorderStats>,
    batch_max: usize,
    outbox_max: Option<u64>,
    locator: Option<Arc<dyn IpLocator>>,
    retention: Option<Retention>,
    full: FullDisk,
}

/// How often, at most, the log repeats that the disk is still full.
const FULL_DISK_LOG_EVERY: Duration = Duration::from_secs(60);

/// The writer's view of a full disk: when it began, and when it was last logged.
#[derive(Default)]
struct FullDisk {
    since: Option<Instant>,
    dropped_at_start: u64,
    last_log: Option<Instant>,
}

/// Retention's state on the writer thread.
struct Retention {
    policy: RetentionPolicy,
    /// Tables that hold session rows (read at start: instance tables only change at start).
    tables: Vec<String>,
    last_check: Instant,
    due: bool,
    round: Option<Round>,
    last_warn: Option<Instant>,
}

/// One pass of pruning: size first (while over the target), then age, then shrinking the file.
struct Round {
    size_target: Option<u64>,
    age: Option<Prune>,
    shrinking: bool,
    rows: u64,
    sessions: u64,
    before: u64,
    started: Instant,
    over_cap_but_stuck: bool,
}

impl Retention {
    fn new(conn: &Connection, policy: RetentionPolicy) -> Result<Retention, StoreError> {
        // The WAL shrinks back to an eighth of the cap after each checkpoint, so it cannot
        // hold on to megabytes a small cap does not have.
        let wal = policy.wal_limit_bytes();
        let page = conn.query_row("PRAGMA page_size", [], |r| r.get::<_, i64>(0))?;
        conn.execute_batch(&format!(
            "PRAGMA journal_size_limit = {wal}; PRAGMA wal_autocheckpoint = {};",
            (wal as i64 / page.max(512)).max(16)
        ))?;
        Ok(Retention {
            tables: retention::session_tables(conn)?,
            policy,
            last_check: Instant::now(),
            due: true,
            round: None,
            last_warn: None,
        })
    }
}

/// True for errors that mean the database cannot grow: a full disk (or quota), or an I/O error
/// writing to it.
fn is_disk_full(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _))
            if matches!(f.code, rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure)
    )
}

impl Writer {
    fn new(
        conn: Connection,
        instances: &[InstanceTable],
        stats: Arc<RecorderStats>,
        batch_max: usize,
    ) -> Writer {
        let sink = SqliteSink::with_configured(
            instances
                .iter()
                .map(|inst| (inst.plugin.as_str(), &inst.table)),
        );
        Writer {
            conn,
            sink,
            stats,
            batch_max,
            outbox_max: None,
            locator: None,
            retention: None,
            full: FullDisk::default(),
        }
    }

    fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        let mut batch: Vec<Command> = Vec::with_capacity(self.batch_max);
        loop {
            // Retention works only while no event waits: events always go first.
            let first = if self.maintenance_pending() {
                match rx.try_recv() {
                    Ok(cmd) => cmd,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        self.maintain_step();
                        continue;
                    }
                    Err(mpsc::error::TryRecvError::Disconnected) => return,
                }
            } else {
                match rx.blocking_recv() {
                    Some(cmd) => cmd,
                    None => return,
                }
            };
            batch.push(first);
            while batch.len() < self.batch_max {
                match rx.try_recv() {
                    Ok(cmd) => batch.push(cmd),
                    Err(_) => break,
                }
            }
            let stop = self.write_batch(&mut batch);
            if stop {
                // Drain whatever raced in behind the stop, then end.
                rx.close();
                while let Ok(cmd) = rx.try_recv() {
                    batch.push(cmd);
                }
                self.write_batch(&mut batch);
                return;
            }
        }
    }

    /// Writes and commits one batch; answers flushes after the commit. True when told to stop.
    fn write_batch(&mut self, batch: &mut Vec<Command>) -> bool {
        let mut flushes = Vec::new();
        let mut reconfigures = Vec::new();
        let mut stop = false;
        let started = Instant::now();
        let conn = &self.conn;
        // BEGIN/COMMIT by hand rather than a Transaction guard: SQLite itself rolls a transaction
        // back on some errors (SQLITE_FULL, SQLITE_IOERR), and the batch must notice and go on.
        let mut in_tx = conn.execute_batch("BEGIN").is_ok();
        // Events inserted in the open transaction: written only once it commits.
        let mut pending = 0u64;
        // Of those, events also queued in the outbox.
        let mut pending_outbox = 0u64;
        // And by plug-in, for the metrics.
        let mut pending_counts: HashMap<String, PluginCounts> = HashMap::new();
        // Events lost to a full disk in this batch, and the error that said so: counted and
        // logged once per batch (and rate-limited), never once per event.
        let mut full_dropped = 0u64;
        let mut full_error: Option<String> = None;
        for cmd in batch.drain(..) {
            match cmd {
                Command::Event(event) => {
                    if !in_tx {
                        in_tx = conn.execute_batch("BEGIN").is_ok();
                    }
                    if !in_tx {
                        self.stats.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::error!(id = %event.id, "event not written: cannot begin a transaction");
                        continue;
                    }
                    let written =
                        events::write_event(&self.sink, conn, &event, &self.stats.unknown_columns)
                            .and_then(|()| self.locate(&event))
                            .and_then(|()| match self.outbox_max {
                                None => Ok(false),
                                Some(max) => outbox::enqueue(
                                    conn,
                                    &self.stats.outbox,
                                    max,
                                    pending_outbox,
                                    &event,
                                ),
                            });
                    match written {
                        Ok(outboxed) => {
                            pending += 1;
                            pending_outbox += u64::from(outboxed);
                            pending_counts
                                .entry(event.plugin.clone())
                                .or_default()
                                .count(&event);
                        }
                        Err(e) => {
                            self.stats.failed.fetch_add(1, Ordering::Relaxed);
                            // An end whose start was lost to a full disk is lost to it too.
                            let full = is_disk_full(&e)
                                || (matches!(e, StoreError::NoSession(_))
                                    && (full_dropped > 0
                                        || self.stats.disk_full.load(Ordering::Relaxed) > 0));
                            if full {
                                full_dropped += 1;
                                full_error = Some(e.to_string());
                            } else {
                                tracing::error!(error = %e, id = %event.id, kind = event.kind.as_str(), "event not written");
                            }
                            if conn.is_autocommit() {
                                // SQLite rolled the whole transaction back: what it held is lost.
                                self.stats.failed.fetch_add(pending, Ordering::Relaxed);
                                if full {
                                    full_dropped += pending;
                                } else {
                                    tracing::error!(
                                        lost = pending,
                                        "transaction rolled back by SQLite"
                                    );
                                }
                                pending = 0;
                                pending_outbox = 0;
                                pending_counts.clear();
                                in_tx = false;
                            }
                        }
                    }
                }
                Command::Flush(done) => flushes.push(done),
                Command::Reconfigure(r) => reconfigures.push(r),
                Command::Maintain => {
                    if let Some(r) = &mut self.retention {
                        r.due = true;
                    }
                }
                Command::Stop => stop = true,
            }
        }
        if in_tx {
            // Counted as written only once committed; a failed commit (a full disk) loses the
            // batch, and its events are counted as failed, never dropped quietly.
            self.stats.outbox.before_commit(pending_outbox);
            match conn.execute_batch("COMMIT") {
                Ok(()) => {
                    self.stats.events.fetch_add(pending, Ordering::Relaxed);
                    if let Ok(mut by_plugin) = self.stats.by_plugin.lock() {
                        for (plugin, counts) in &pending_counts {
                            by_plugin.entry(plugin.clone()).or_default().add(counts);
                        }
                    }
                    self.stats.outbox.committed_events(pending_outbox);
                    self.stats.batches.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    self.stats.outbox.commit_failed(pending_outbox);
                    self.stats.failed.fetch_add(pending, Ordering::Relaxed);
                    let e = StoreError::from(e);
                    if is_disk_full(&e) {
                        full_dropped += pending;
                        full_error = Some(e.to_string());
                    } else {
                        tracing::error!(error = %e, lost = pending, "commit failed; batch rolled back");
                    }
                }
            }
        }
        match full_error {
            Some(error) => self.disk_full(full_dropped, &error),
            None if pending > 0 && self.full.since.is_some() => self.disk_writable(),
            None => {}
        }
        if let Some(r) = &mut self.retention
            && r.last_check.elapsed() >= r.policy.check_interval
        {
            // A busy writer may never see a tick (the queue is full): check between batches too.
            r.due = true;
        }
        self.stats
            .commit_micros
            .fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        for done in flushes {
            let _ = done.send(());
        }
        // After the batch: no event of a new instance can precede its reconfiguration (the
        // sensor starts accepting for it only once this answers).
        for r in reconfigures {
            let result = self.reconfigure(&r.instances, &r.meta);
            let _ = r.done.send(result);
        }
        stop
    }

    /// Migrates and records a reloaded configuration's instances in one transaction, then
    /// routes their events.
    fn reconfigure(
        &mut self,
        instances: &[InstanceTable],
        meta: &[crate::meta::InstanceMeta],
    ) -> Result<Vec<(String, Migration)>, StoreError> {
        let tx = self.conn.transaction()?;
        let mut migrations = Vec::with_capacity(instances.len());
        for inst in instances {
            migrations.push((
                inst.table.name.clone(),
                schema::migrate_table(&tx, &inst.table)?,
            ));
        }
        crate::meta::write_instances(&tx, meta)?;
        tx.commit()?;
        self.sink.configure(
            instances
                .iter()
                .map(|inst| (inst.plugin.as_str(), &inst.table)),
        );
        if let Some(r) = &mut self.retention {
            // New tables hold session rows too.
            r.tables = retention::session_tables(&self.conn)?;
        }
        Ok(migrations)
    }
}

impl Writer {
    /// Counts events lost to a full disk and says so: once when it starts, then at most once
    /// a minute while it lasts.
    fn disk_full(&mut self, dropped: u64, error: &str) {
        self.stats.disk_full.fetch_add(dropped, Ordering::Relaxed);
        self.stats.disk_full_now.store(true, Ordering::Relaxed);
        let total = self.stats.disk_full.load(Ordering::Relaxed);
        match self.full.since {
            None => {
                self.full.since = Some(Instant::now());
                self.full.dropped_at_start = total - dropped;
                self.full.last_log = Some(Instant::now());
                tracing::error!(
                    error,
                    dropped,
                    "the disk is full: events are dropped and counted until space returns; the sensor goes on serving"
                );
            }
            Some(since) => {
                if self
                    .full
                    .last_log
                    .is_none_or(|t| t.elapsed() >= FULL_DISK_LOG_EVERY)
                {
                    self.full.last_log = Some(Instant::now());
                    tracing::warn!(
                        error,
                        dropped = total - self.full.dropped_at_start,
                        full_for_secs = since.elapsed().as_secs(),
                        "the disk is still full: events are dropped and counted"
                    );
                }
            }
        }
    }

    /// A batch was committed after a full disk: say how much was lost.
    fn disk_writable(&mut self) {
        self.stats.disk_full_now.store(false, Ordering::Relaxed);
        if let Some(since) = self.full.since.take() {
            let dropped = self.stats.disk_full.load(Ordering::Relaxed) - self.full.dropped_at_start;
            tracing::info!(
                dropped,
                full_for_secs = since.elapsed().as_secs(),
                "writing to the database again; events dropped while the disk was full are counted in recce7_store_events_dropped_disk_full_total"
            );
        }
    }

    /// True when retention has work and should run while the queue is empty.
    fn maintenance_pending(&self) -> bool {
        self.retention
            .as_ref()
            .is_some_and(|r| r.due || r.round.is_some())
    }

    /// One small piece of retention: a check, a pruning transaction, or a vacuum step.
    fn maintain_step(&mut self) {
        let Some(r) = self.retention.as_mut() else {
            return;
        };
        if let Err(e) = maintain(&self.conn, r, &self.stats) {
            r.round = None;
            if r.last_warn
                .is_none_or(|t| t.elapsed() >= FULL_DISK_LOG_EVERY)
            {
                r.last_warn = Some(Instant::now());
                tracing::warn!(error = %e, "retention: pruning failed; it will try again at the next check");
            }
        }
    }

    /// Keeps `ipInfo` current for a new session's source, when a locator is configured.
    fn locate(&self, event: &Event) -> Result<(), StoreError> {
        match &self.locator {
            Some(locator) if event.kind == EventType::SessionStart => {
                let info = locator.locate(event.src_ip);
                crate::ipinfo::upsert_ip_info(
                    &self.conn,
                    event.src_ip,
                    &event.time,
                    info.as_ref(),
                    &event.time,
                )?;
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Does one step of retention on `conn`: starts a round when a check is due, then prunes one
/// transaction at a time (over the size target first, then by age), then returns free pages to
/// the file system and truncates the WAL, and logs what the round did.
fn maintain(conn: &Connection, r: &mut Retention, stats: &RecorderStats) -> Result<(), StoreError> {
    let Some(round) = r.round.as_mut() else {
        r.due = false;
        r.last_check = Instant::now();
        let size = retention::store_size(conn)?;
        stats
            .database_bytes
            .store(size.counted_bytes(), Ordering::Relaxed);
        let over = r
            .policy
            .max_bytes
            .is_some_and(|max| size.counted_bytes() > max);
        r.round = Some(Round {
            size_target: if over { r.policy.target_bytes() } else { None },
            age: r.policy.max_age.map(Prune::age),
            // Pages freed since (by the publisher's pruning of sent rows, say) go back too.
            shrinking: size.free_bytes > 0,
            rows: 0,
            sessions: 0,
            before: size.counted_bytes(),
            started: Instant::now(),
            over_cap_but_stuck: false,
        });
        return Ok(());
    };
    if let Some(target) = round.size_target {
        let size = retention::store_size(conn)?;
        tracing::debug!(?size, target, "retention: size step");
        if size.used_bytes <= target {
            round.size_target = None;
            round.shrinking = true;
        } else {
            let why = Prune::size(r.policy.keep_sent, target);
            let step = retention::prune_step(conn, &r.tables, &why, r.policy.batch_rows)?;
            round.rows += step.rows;
            round.sessions += step.sessions;
            stats.pruned_rows.fetch_add(step.rows, Ordering::Relaxed);
            if step.rows == 0 {
                // Only open sessions and sessions with unsent events are left.
                round.size_target = None;
                round.over_cap_but_stuck = true;
                round.shrinking = true;
            }
        }
        return Ok(());
    }
    if let Some(age) = &round.age {
        let step = retention::prune_step(conn, &r.tables, age, r.policy.batch_rows)?;
        round.rows += step.rows;
        round.sessions += step.sessions;
        stats.pruned_rows.fetch_add(step.rows, Ordering::Relaxed);
        if step.rows == 0 {
            round.age = None;
        } else {
            round.shrinking = true;
        }
        return Ok(());
    }
    if round.shrinking && retention::vacuum_step(conn, retention::VACUUM_STEP_PAGES)? > 0 {
        return Ok(());
    }
    // A WAL past its limit (readers kept checkpoints from resetting it) is truncated too.
    if round.shrinking || retention::store_size(conn)?.wal_bytes > r.policy.wal_limit_bytes() {
        retention::checkpoint_truncate(conn)?;
    }
    let after = retention::store_size(conn)?.counted_bytes();
    stats.database_bytes.store(after, Ordering::Relaxed);
    if round.rows > 0 {
        tracing::info!(
            rows = round.rows,
            sessions = round.sessions,
            bytes_before = round.before,
            bytes_after = after,
            millis = round.started.elapsed().as_millis() as u64,
            "retention: pruned the oldest data"
        );
    }
    if round.over_cap_but_stuck
        && r.last_warn
            .is_none_or(|t| t.elapsed() >= FULL_DISK_LOG_EVERY)
    {
        r.last_warn = Some(Instant::now());
        tracing::warn!(
            bytes = after,
            max_bytes = r.policy.max_bytes.unwrap_or(0),
            unsent = stats.outbox.unsent(),
            "retention: over the size cap, but what is left is open sessions and events not yet published, which are never pruned"
        );
    }
    r.round = None;
    Ok(())
}

#[cfg(test)]
mod tests;
