//! Sandboxed Lua scripts (`kind = "lua"`): a service described by a Lua 5.4 script that a
//! sysadmin writes, with the same capabilities as a Rust plug-in and no more (read, write,
//! sleep, record, adopt a session, close), bounded in instructions, time and memory.
//! docs/plugins.md ("Tier 2") is the reference.
//!
//! One Lua state per instance, built (and the script compiled and checked) in [`build`], so
//! that `recce7 check-config` reports a script's problems and a reload builds a new state while
//! live sessions finish on the one they started with. Each session runs the script's `session`
//! function as a coroutine of that state: an idle session costs a coroutine, not a VM. The
//! coroutine asks for I/O by yielding a request ([`sandbox::PRELUDE`]); [`LuaPlugin`] performs
//! it on the [`Connection`] and resumes the coroutine with the answer. A resume is synchronous
//! and bounded by the session's [`Budget`]: an instruction budget for the whole session, and a
//! slice of wall time between two waits on I/O.
//!
//! ```toml
//! [[plugin]]
//! name = "redis"
//! kind = "lua"
//! port = 6379
//! table = "redis"
//! [plugin.options]
//! script = "scripts/redis.lua"
//! ```

pub mod sandbox;
#[cfg(test)]
mod tests;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mlua::thread::ThreadStatus;
use mlua::{MultiValue, Table, Thread, Value};
use serde::Deserialize;
use serde_json::Value as Json;
use store::{Column, ColumnType, EventType, Row};
use tokio::time::Instant;

use crate::connection::{CloseReason, Connection};
use crate::plugin::{HandlerFuture, OptionProblem, Plugin, PluginSettings, text};
use crate::plugins::foreign;
use crate::plugins::http::cookie::CookieKey;
use crate::plugins::options::read_options;
use crate::session::Session;

pub use crate::encoding::{base64_decode, base64_encode, hex};
pub use sandbox::{Budget, Exhausted};

/// The most columns a script may declare.
pub const MAX_COLUMNS: usize = 64;

/// The column every Lua instance adds to its script's: why a script was stopped.
pub const ERROR_COLUMN: &str = "error";

/// The longest `s:sleep` (seconds).
pub const MAX_SLEEP_SECS: f64 = 30.0;

/// Rows one session may record.
pub const MAX_ROWS_PER_SESSION: u64 = 10_000;

/// Bytes of one recorded value kept (longer values are cut, with the length they had).
pub const MAX_VALUE_BYTES: usize = 65_536;

/// Distinct close reasons scripts may introduce in one sensor process (each is kept for the
/// process's life); past that, `closed by script`.
const MAX_CLOSE_REASONS: usize = 64;

/// `[plugin.options]` of a Lua instance.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LuaOptions {
    /// The script's path, relative to the config file's directory. Required.
    pub script: String,
    /// The protocol recorded in every event. Default: the script's `plugin.protocol`, else
    /// `tcp`.
    pub protocol: Option<String>,
    /// The memory cap of the instance's Lua state (all its sessions together), in MiB.
    /// Default 16.
    pub memory_mb: u32,
    /// Lua VM instructions one session may run in all. Default 50,000,000.
    pub instructions: u64,
    /// The longest a script may run without waiting on I/O before its session ends, in
    /// milliseconds. Default 200.
    pub slice_ms: u64,
}

impl Default for LuaOptions {
    fn default() -> LuaOptions {
        LuaOptions {
            script: String::new(),
            protocol: None,
            memory_mb: 16,
            instructions: 50_000_000,
            slice_ms: 200,
        }
    }
}

impl LuaOptions {
    /// Checks the values (each problem by key).
    pub fn validate(&self) -> Vec<OptionProblem> {
        let mut problems = Vec::new();
        if self.script.is_empty() {
            problems.push(OptionProblem::new(
                "script",
                "required: the path of the Lua script",
            ));
        }
        if let Some(p) = &self.protocol
            && !is_protocol_name(p)
        {
            problems.push(OptionProblem::new(
                "protocol",
                "1 to 32 printable characters without spaces",
            ));
        }
        if !(1..=1024).contains(&self.memory_mb) {
            problems.push(OptionProblem::new("memory_mb", "must be 1 to 1024"));
        }
        if !(100_000..=10_000_000_000).contains(&self.instructions) {
            problems.push(OptionProblem::new(
                "instructions",
                "must be 100000 to 10000000000",
            ));
        }
        if !(1..=10_000).contains(&self.slice_ms) {
            problems.push(OptionProblem::new("slice_ms", "must be 1 to 10000"));
        }
        problems
    }
}

/// Whether `name` may be recorded as an event's protocol: 1 to 32 printable ASCII characters
/// without spaces.
pub fn is_protocol_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 32 && name.bytes().all(|b| b.is_ascii_graphic())
}

/// A Lua instance: its state (shared by its sessions) and what it records.
pub struct LuaPlugin {
    /// The instance's name (signed into its session tokens).
    name: String,
    /// The script's file name, for logs.
    script_name: String,
    protocol: String,
    /// The script's columns (checked), without [`ERROR_COLUMN`].
    columns: Vec<Column>,
    script: sandbox::LoadedScript,
    /// Held while a coroutine of this state runs, so that the `aborting` flag is the running
    /// session's.
    run_lock: Mutex<()>,
    instructions: u64,
    slice: Duration,
    /// The most `s:read(n)` may ask for (the connection's buffer cap).
    read_cap: usize,
}

/// Builds a [`LuaPlugin`]: reads and checks the options, loads and runs the script's top
/// level, and checks its `plugin` table and `session` function.
pub fn build(settings: &PluginSettings<'_>) -> Result<Arc<dyn Plugin>, Vec<OptionProblem>> {
    let (options, mut problems) = read_options::<LuaOptions>(settings.options);
    problems.extend(options.validate());
    if !problems.is_empty() {
        return Err(problems);
    }
    let path = settings.config_dir.join(&options.script);
    let script_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| options.script.clone());
    let source = match read_script(&path) {
        Ok(source) => source,
        Err(why) => return Err(vec![OptionProblem::new("script", why)]),
    };
    let slice = Duration::from_millis(options.slice_ms);
    let loaded = sandbox::load(
        settings.name,
        &script_name,
        &source,
        sandbox::StateLimits {
            memory_bytes: usize::try_from(options.memory_mb)
                .unwrap_or(usize::MAX)
                .saturating_mul(1 << 20),
            instructions: options.instructions,
            slice: slice.max(Duration::from_secs(1)),
        },
    )
    .map_err(|why| vec![OptionProblem::new("script", why)])?;
    let columns = check_columns(&script_name, &loaded.columns).map_err(|why| {
        why.into_iter()
            .map(|w| OptionProblem::new("script", w))
            .collect::<Vec<_>>()
    })?;
    if let Some(p) = &loaded.protocol
        && !is_protocol_name(p)
    {
        return Err(vec![OptionProblem::new(
            "script",
            format!(
                "{script_name}: plugin.protocol must be 1 to 32 printable characters without spaces"
            ),
        )]);
    }
    let protocol = options
        .protocol
        .clone()
        .or_else(|| loaded.protocol.clone())
        .unwrap_or_else(|| "tcp".into());
    Ok(Arc::new(LuaPlugin {
        name: settings.name.to_owned(),
        script_name,
        protocol,
        columns,
        script: loaded,
        run_lock: Mutex::new(()),
        instructions: options.instructions,
        slice,
        read_cap: settings
            .limits
            .max_request_bytes
            .max(settings.limits.max_line_bytes),
    }))
}

/// The script's bytes, or why not (`cannot read PATH: ...`); scripts over 1 MiB are refused.
fn read_script(path: &std::path::Path) -> Result<Vec<u8>, String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("cannot read {shown}: not a file"));
    }
    if meta.len() > 1 << 20 {
        return Err(format!("cannot read {shown}: larger than 1 MiB"));
    }
    std::fs::read(path).map_err(|e| format!("cannot read {shown}: {e}"))
}

/// `plugin.columns` checked against the store's rules: a safe name that is neither fixed nor
/// [`ERROR_COLUMN`], of a known type. Every problem, each naming `file: plugin.columns.NAME`.
pub fn check_columns(file: &str, pairs: &[(String, String)]) -> Result<Vec<Column>, Vec<String>> {
    let mut problems = Vec::new();
    let mut columns = Vec::new();
    for (name, kind) in pairs {
        let at = format!(
            "{file}: plugin.columns.{}",
            store::escape_text(name.as_bytes())
        );
        if !store::is_safe_identifier(name) {
            problems.push(format!("{at}: not a safe SQL identifier"));
        } else if store::schema::is_fixed_column(name) {
            problems.push(format!(
                "{at}: one of the fixed columns every table starts with"
            ));
        } else if name.eq_ignore_ascii_case(ERROR_COLUMN) {
            problems.push(format!(
                "{at}: reserved (the sensor records why a script stopped in it)"
            ));
        } else if columns
            .iter()
            .any(|c: &Column| c.name.eq_ignore_ascii_case(name))
        {
            problems.push(format!("{at}: listed twice"));
        }
        match ColumnType::parse(kind) {
            Some(kind) => columns.push(Column::new(name.clone(), kind)),
            None => problems.push(format!(
                "{at}: unknown column type {kind:?} (TEXT, INTEGER, REAL, BLOB)"
            )),
        }
    }
    if problems.is_empty() {
        Ok(columns)
    } else {
        Err(problems)
    }
}

/// What a coroutine asked for when it yielded.
#[derive(Debug)]
enum Request {
    ReadLine,
    Read(usize),
    ReadSome,
    Write(Vec<u8>),
    Sleep(Duration),
    Record(Row),
    Close(String),
    Peer,
    LocalAddr,
    Id,
    IssueToken,
    Adopt(String),
}

/// How one resume ended.
enum Step {
    /// The coroutine asked for something (or made a mistake the script is told about).
    Request(Result<Request, String>),
    /// The hook gave the worker back: resume again soon.
    Yielded,
    /// `session` returned.
    Finished,
    /// The script failed or was stopped: the close reason and what to log and record.
    Failed(&'static str, String),
}

/// The answer to a request: values for the coroutine, or the end of the session.
type Answer = Result<Vec<Value>, CloseReason>;

impl LuaPlugin {
    /// The key path of this instance's tokens: the instance's name, set apart from an HTTP
    /// instance's cookies of the same name.
    fn token_scope(&self) -> String {
        format!("lua\u{0}{}", self.name)
    }

    /// Runs the coroutine until it yields or ends, under the run lock and the budget.
    fn resume(&self, thread: &Thread, args: MultiValue, budget: &Budget, after_io: bool) -> Step {
        let result = {
            let _running = self.run_lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.script.aborting.store(false, Ordering::SeqCst);
            budget.resumed(after_io);
            thread.resume::<MultiValue>(args)
        };
        match result {
            Ok(values) => match thread.status() {
                ThreadStatus::Resumable if values.is_empty() => Step::Yielded,
                ThreadStatus::Resumable => Step::Request(self.parse_request(values)),
                _ => Step::Finished,
            },
            Err(e) => {
                let detail = sandbox::first_line(&sandbox::script_error(&e));
                if let Some(exhausted) = budget.ended() {
                    Step::Failed(exhausted.as_str(), detail)
                } else if sandbox::is_memory_error(&e) {
                    Step::Failed("script memory limit", detail)
                } else {
                    Step::Failed("script error", detail)
                }
            }
        }
    }

    fn parse_request(&self, values: MultiValue) -> Result<Request, String> {
        let mut args = values.into_iter();
        let op = match args.next() {
            Some(Value::String(s)) => s.to_string_lossy(),
            _ => return Err("bad request".into()),
        };
        let arg = args.next().unwrap_or(Value::Nil);
        let bytes = |what: &str, v: &Value| match v {
            Value::String(s) => Ok(s.as_bytes().to_vec()),
            Value::Integer(i) => Ok(i.to_string().into_bytes()),
            Value::Number(n) => Ok(n.to_string().into_bytes()),
            other => Err(format!(
                "s:{what}: expected a string, got {}",
                other.type_name()
            )),
        };
        match op.as_str() {
            "read_line" => Ok(Request::ReadLine),
            "read_some" => Ok(Request::ReadSome),
            "read" => {
                let cap = self.read_cap();
                match arg {
                    Value::Integer(n) if n >= 1 && (n as u64) <= cap as u64 => {
                        Ok(Request::Read(n as usize))
                    }
                    _ => Err(format!("s:read: n must be an integer from 1 to {cap}")),
                }
            }
            "write" => bytes("write", &arg).map(Request::Write),
            "sleep" => {
                let secs = match arg {
                    Value::Integer(i) => i as f64,
                    Value::Number(n) => n,
                    _ => f64::NAN,
                };
                if (0.0..=MAX_SLEEP_SECS).contains(&secs) {
                    Ok(Request::Sleep(Duration::from_secs_f64(secs)))
                } else {
                    Err(format!("s:sleep: seconds must be 0 to {MAX_SLEEP_SECS}"))
                }
            }
            "record" => match arg {
                Value::Table(t) => self.row(&t).map(Request::Record),
                other => Err(format!(
                    "s:record: expected a table of column = value, got {}",
                    other.type_name()
                )),
            },
            "close" => match arg {
                Value::Nil => Ok(Request::Close("closed by script".into())),
                Value::String(s) => {
                    let b = s.as_bytes();
                    Ok(Request::Close(store::escape_text(
                        b.get(..100).unwrap_or(&b),
                    )))
                }
                other => Err(format!(
                    "s:close: expected a string, got {}",
                    other.type_name()
                )),
            },
            "peer" => Ok(Request::Peer),
            "local_addr" => Ok(Request::LocalAddr),
            "id" => Ok(Request::Id),
            "issue_token" => Ok(Request::IssueToken),
            "adopt" => match arg {
                Value::String(s) => {
                    let b = s.as_bytes();
                    Ok(Request::Adopt(
                        String::from_utf8_lossy(b.get(..200).unwrap_or(&b)).into_owned(),
                    ))
                }
                other => Err(format!(
                    "s:adopt: expected a string, got {}",
                    other.type_name()
                )),
            },
            _ => Err("bad request".into()),
        }
    }

    /// The most bytes `s:read(n)` may ask for: what the connection's buffer holds.
    fn read_cap(&self) -> usize {
        self.read_cap
    }

    /// A `s:record{...}` table as a row: declared columns only, values bounded.
    fn row(&self, t: &Table) -> Result<Row, String> {
        let mut row = Row::new();
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair.map_err(|e| format!("s:record: {e}"))?;
            let name = match &k {
                Value::String(s) => s.to_string_lossy(),
                other => {
                    return Err(format!(
                        "s:record: keys must be column names, got {}",
                        other.type_name()
                    ));
                }
            };
            let Some(column) = self.columns.iter().find(|c| c.name == name) else {
                return Err(format!(
                    "s:record: column {:?} is not declared in plugin.columns",
                    store::escape_text(name.as_bytes())
                ));
            };
            let value = match v {
                Value::String(s) => {
                    let b = s.as_bytes();
                    if b.len() > MAX_VALUE_BYTES {
                        let mut text = store::escape_text(&b[..MAX_VALUE_BYTES]);
                        text.push_str(&format!("...(+{} bytes)", b.len() - MAX_VALUE_BYTES));
                        Json::from(text)
                    } else {
                        Json::from(store::escape_text(&b))
                    }
                }
                Value::Integer(i) => Json::from(i),
                Value::Number(n) => serde_json::Number::from_f64(n)
                    .map(Json::Number)
                    .unwrap_or(Json::Null),
                Value::Boolean(b) => Json::from(b),
                other => {
                    return Err(format!(
                        "s:record: column {:?}: cannot record a {}",
                        column.name,
                        other.type_name()
                    ));
                }
            };
            row.insert(column.name.clone(), value);
        }
        Ok(row)
    }

    async fn converse(
        &self,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Result<(), CloseReason> {
        let budget = Arc::new(Budget::new(
            self.instructions,
            self.slice,
            Arc::clone(&self.script.aborting),
        ));
        let started = self
            .start(&budget)
            .map_err(|e| sandbox::first_line(&sandbox::script_error(&e)));
        let started = match started {
            Ok(started) => started,
            Err(detail) => {
                return Err(
                    Box::pin(self.fail(conn, session, "script memory limit", detail)).await,
                );
            }
        };
        let (thread, s) = started;
        let session_deadline = Instant::now() + conn.limits().session_timeout;
        let mut args: MultiValue = std::iter::once(Value::Table(s)).collect();
        let mut after_io = true;
        let mut rows = 0u64;
        loop {
            if Instant::now() >= session_deadline {
                return Err(conn.close(CloseReason::SessionTimeout));
            }
            let step = self.resume(&thread, std::mem::take(&mut args), &budget, after_io);
            // The step is taken apart before anything is awaited, so that the idle future does
            // not carry it.
            let request = match step {
                Step::Finished => {
                    return Err(conn.close(CloseReason::Plugin("script ended the session")));
                }
                Step::Yielded => None,
                Step::Failed(reason, detail) => {
                    let failed = Box::pin(self.fail(conn, session, reason, detail));
                    return Err(failed.await);
                }
                Step::Request(Err(message)) => {
                    args = [Value::Boolean(false), self.string(message.as_bytes())?]
                        .into_iter()
                        .collect();
                    after_io = false;
                    continue;
                }
                Step::Request(Ok(request)) => Some(request),
            };
            let Some(request) = request else {
                after_io = false;
                tokio::task::yield_now().await;
                continue;
            };
            {
                {
                    if matches!(request, Request::Record(_)) {
                        rows += 1;
                        if rows > MAX_ROWS_PER_SESSION {
                            let message = format!(
                                "s:record: more than {MAX_ROWS_PER_SESSION} rows in one session"
                            );
                            args = [Value::Boolean(false), self.string(message.as_bytes())?]
                                .into_iter()
                                .collect();
                            after_io = false;
                            continue;
                        }
                    }
                    let values = Box::pin(self.perform(request, conn, session)).await?;
                    after_io = true;
                    args = std::iter::once(Value::Boolean(true))
                        .chain(values)
                        .collect();
                }
            }
        }
    }

    /// A new coroutine for `session`, hooked to `budget`, and its session object.
    fn start(&self, budget: &Arc<Budget>) -> mlua::Result<(Thread, Table)> {
        let _running = self.run_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let lua = &self.script.lua;
        let thread = lua.create_thread(self.script.session.clone())?;
        budget.hook_thread(&thread)?;
        let s = lua.create_table()?;
        s.set_metatable(Some(self.script.session_meta.clone()))?;
        Ok((thread, s))
    }

    /// A Lua string for an answer; a state out of memory ends the session.
    fn string(&self, bytes: &[u8]) -> Result<Value, CloseReason> {
        self.script
            .lua
            .create_string(bytes)
            .map(Value::String)
            .map_err(|_| CloseReason::Plugin("script memory limit"))
    }

    /// Logs and records why the script stopped, and closes the connection with `reason`.
    async fn fail(
        &self,
        conn: &mut Connection,
        session: &mut Session,
        reason: &'static str,
        detail: String,
    ) -> CloseReason {
        tracing::warn!(
            plugin = %self.name,
            script = %self.script_name,
            reason,
            error = %detail,
            "script stopped"
        );
        let mut row = Row::new();
        let text = if detail.is_empty() || detail == reason {
            reason.to_owned()
        } else {
            format!("{reason}: {detail}")
        };
        row.insert(
            ERROR_COLUMN.into(),
            Json::from(store::escape_text(text.as_bytes())),
        );
        Box::pin(session.record(EventType::ServiceInput, row)).await;
        conn.close(CloseReason::Plugin(reason))
    }

    /// Performs one request; `Err` ends the session with that reason.
    async fn perform(
        &self,
        request: Request,
        conn: &mut Connection,
        session: &mut Session,
    ) -> Answer {
        match request {
            Request::ReadLine => {
                if let Some(reason) = conn.close_reason() {
                    return Err(reason.clone());
                }
                match conn.read_line().await {
                    Ok(line) => Ok(vec![self.string(&line)?]),
                    Err(reason) => {
                        foreign::record_unread(conn, session, reason.as_str()).await;
                        Ok(vec![Value::Nil])
                    }
                }
            }
            Request::Read(n) => {
                if let Some(reason) = conn.close_reason() {
                    return Err(reason.clone());
                }
                while conn.buffer().len() < n {
                    if let Err(reason) = conn.read_more().await {
                        foreign::record_unread(conn, session, reason.as_str()).await;
                        return Ok(vec![Value::Nil]);
                    }
                }
                let value = self.string(&conn.buffer()[..n])?;
                conn.consume(n);
                Ok(vec![value])
            }
            Request::ReadSome => {
                if let Some(reason) = conn.close_reason() {
                    return Err(reason.clone());
                }
                if conn.buffer().is_empty()
                    && let Err(_reason) = conn.read_more().await
                {
                    return Ok(vec![Value::Nil]);
                }
                let bytes = conn.take_buffer();
                Ok(vec![self.string(&bytes)?])
            }
            Request::Write(data) => {
                conn.write_all(&data).await?;
                Ok(Vec::new())
            }
            Request::Sleep(d) => {
                conn.sleep(d).await?;
                Ok(Vec::new())
            }
            Request::Record(row) => {
                session.record(EventType::ServiceInput, row).await;
                Ok(Vec::new())
            }
            Request::Close(reason) => Err(conn.close(CloseReason::Plugin(intern(&reason)))),
            Request::Peer => self.addr(conn.peer()),
            Request::LocalAddr => self.addr(conn.local()),
            Request::Id => Ok(vec![self.string(session.id().as_bytes())?]),
            Request::IssueToken => match CookieKey::process() {
                Ok(key) => {
                    let token = key.issue(&self.token_scope(), session.id());
                    Ok(vec![self.string(token.as_bytes())?])
                }
                Err(_) => Ok(vec![Value::Nil]),
            },
            Request::Adopt(token) => {
                let adopted = CookieKey::process()
                    .ok()
                    .and_then(|key| key.adopt(&self.token_scope(), &token));
                match adopted {
                    Some(id) => {
                        session.adopt_id(id);
                        Ok(vec![Value::Boolean(true)])
                    }
                    None => Ok(vec![Value::Boolean(false)]),
                }
            }
        }
    }

    fn addr(&self, addr: std::net::SocketAddr) -> Answer {
        Ok(vec![
            self.string(addr.ip().to_string().as_bytes())?,
            Value::Integer(i64::from(addr.port())),
        ])
    }
}

/// A close reason a script chose, kept for the process's life (at most [`MAX_CLOSE_REASONS`]
/// distinct ones; then `closed by script`).
fn intern(reason: &str) -> &'static str {
    static REASONS: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut reasons = REASONS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(known) = reasons.iter().find(|r| **r == reason) {
        return known;
    }
    if reasons.len() >= MAX_CLOSE_REASONS {
        return "closed by script";
    }
    let leaked: &'static str = Box::leak(reason.to_owned().into_boxed_str());
    reasons.push(leaked);
    leaked
}

impl Plugin for LuaPlugin {
    fn protocol(&self) -> &str {
        &self.protocol
    }

    fn columns(&self) -> Vec<Column> {
        let mut columns = self.columns.clone();
        columns.push(text(ERROR_COLUMN));
        columns
    }

    fn handle<'a>(
        &'a self,
        conn: &'a mut Connection,
        session: &'a mut Session,
    ) -> HandlerFuture<'a> {
        Box::pin(self.converse(conn, session))
    }
}
