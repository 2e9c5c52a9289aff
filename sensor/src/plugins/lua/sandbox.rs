//! The Lua state of one instance: the safe library a script sees, the script loaded and sealed,
//! and the budget that bounds each session's coroutine.
//!
//! What a script can reach is decided here and nowhere else:
//! - the base functions without `load`, `loadstring`, `dofile`, `loadfile`, `require`,
//!   `collectgarbage`, `rawset`, `print` and `warn`; `pcall`/`xpcall` wrapped so that a budget
//!   that ran out cannot be caught; `setmetatable` without `__gc` (a finaliser would run outside
//!   any session's budget);
//! - `string` (without `dump`), `table`, `math`, `utf8`, `os.time`, `os.clock`, `os.date`;
//! - the `recce7` table: `base64_encode`, `base64_decode`, `hex`, `sha1`, `log`.
//!
//! The session object's methods (`s:read_line()`, ...) are Lua functions from [`PRELUDE`] that
//! yield a request to the Rust driver ([`super::LuaPlugin`]), which performs it on the
//! [`Connection`](crate::connection::Connection) and resumes the coroutine with the answer: a
//! script has no other way to the network, and never holds a socket.
//!
//! After the script's top level has run, the global table, the library tables and the script's
//! `plugin` table are sealed: assigning to a global (new or existing) or a library field is an
//! error, so that no session can change what another session sees through a global.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, StdLib, Table, Value, VmState};

/// The instruction hook runs every this many VM instructions: the budget's granularity.
pub const HOOK_EVERY: u32 = 10_000;

/// A script running longer than this without waiting on I/O gives the tokio worker back (a
/// cooperative yield), so that other sessions run in between; the slice goes on.
pub const YIELD_AFTER: Duration = Duration::from_millis(10);

/// The longest input a `recce7.*` helper takes (its output is made outside the memory cap).
pub const MAX_HELPER_INPUT: usize = 1 << 20;

/// Messages per second an instance may log with `recce7.log`; more are counted and dropped.
pub const LOG_PER_SECOND: u32 = 20;

/// The longest message `recce7.log` writes (bytes; longer ones are cut).
pub const MAX_LOG_BYTES: usize = 512;

/// Defines the session object's methods and the wrapped base functions. Runs once per state,
/// before the script; gets the Rust functions it needs as arguments and returns the session
/// metatable and the sealing function.
pub const PRELUDE: &str = r#"
local abort_check = ...
local yield, error, type, rawget, next = coroutine.yield, error, type, rawget, next
local raw_pcall, raw_xpcall, raw_setmetatable = pcall, xpcall, setmetatable
-- `getmetatable("")` would hand out the string metatable, shared by every session.
getmetatable("").__metatable = false

local function after(ok, ...)
  abort_check()
  return ok, ...
end
pcall = function(f, ...) return after(raw_pcall(f, ...)) end
xpcall = function(f, h, ...) return after(raw_xpcall(f, h, ...)) end
setmetatable = function(t, mt)
  if type(mt) == "table" and rawget(mt, "__gc") ~= nil then
    error("setmetatable: __gc is not available to scripts", 2)
  end
  return raw_setmetatable(t, mt)
end

local function check(ok, ...)
  if ok then return ... end
  error((...), 3)
end

local S = {}
function S.read_line(s) return (check(yield("read_line"))) end
function S.read(s, n) return (check(yield("read", n))) end
function S.read_some(s) return (check(yield("read_some"))) end
function S.write(s, data) return (check(yield("write", data))) end
function S.sleep(s, seconds) return (check(yield("sleep", seconds))) end
function S.record(s, row) return (check(yield("record", row))) end
function S.close(s, reason) return (check(yield("close", reason))) end
function S.peer(s) local ip, port = check(yield("peer")) return ip, port end
function S.local_addr(s) local ip, port = check(yield("local_addr")) return ip, port end
function S.id(s) return (check(yield("id"))) end
function S.issue_token(s) return (check(yield("issue_token"))) end
function S.adopt(s, token) return (check(yield("adopt", token))) end

local function seal(t, what)
  local backing = {}
  for k, v in next, t do backing[k] = v end
  for k in next, backing do t[k] = nil end
  raw_setmetatable(t, {
    __index = backing,
    __newindex = function(_, k)
      local name = type(k) == "string" and k or "?"
      error("cannot assign " .. what .. name .. ": globals and libraries are read-only "
        .. "after the script is loaded (use locals, or fields of the session object)", 2)
    end,
    __metatable = false,
  })
end

local meta = { __index = S, __metatable = false }
seal(S, "s.")
return meta, seal
"#;

/// Why a session's script was stopped by its budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exhausted {
    /// The session ran more instructions than `instructions` allows.
    Instructions,
    /// The script ran longer than `slice_ms` without waiting on I/O.
    Slice,
}

impl Exhausted {
    /// The close reason recorded in `sessions`.
    pub fn as_str(self) -> &'static str {
        match self {
            Exhausted::Instructions => "script instruction budget",
            Exhausted::Slice => "script ran too long without I/O",
        }
    }
}

/// The bounds of one coroutine (a session, or the script's top level at load).
#[derive(Debug)]
pub struct Budget {
    state: Mutex<BudgetState>,
    slice: Duration,
    aborting: Arc<AtomicBool>,
}

#[derive(Debug)]
struct BudgetState {
    instructions_left: u64,
    slice_started: Instant,
    resumed: Instant,
    ended: Option<Exhausted>,
}

impl Budget {
    /// A budget of `instructions` in all and `slice` between two waits on I/O; `aborting` is
    /// the instance's flag that makes the wrapped `pcall` re-raise once the budget is spent.
    pub fn new(instructions: u64, slice: Duration, aborting: Arc<AtomicBool>) -> Budget {
        let now = Instant::now();
        Budget {
            state: Mutex::new(BudgetState {
                instructions_left: instructions,
                slice_started: now,
                resumed: now,
                ended: None,
            }),
            slice,
            aborting,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BudgetState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Notes that the script is resumed; `after_io` starts a new slice (the script waited).
    pub fn resumed(&self, after_io: bool) {
        let now = Instant::now();
        let mut state = self.lock();
        state.resumed = now;
        if after_io {
            state.slice_started = now;
        }
    }

    /// Why the budget stopped the script, if it did.
    pub fn ended(&self) -> Option<Exhausted> {
        self.lock().ended
    }

    /// The hook: counts [`HOOK_EVERY`] instructions, ends the script when a bound is passed
    /// (an error that every wrapped `pcall` re-raises), and yields to the driver after
    /// [`YIELD_AFTER`] so that the worker thread is not held.
    pub fn tick(&self) -> mlua::Result<VmState> {
        let mut state = self.lock();
        if state.ended.is_none() {
            state.instructions_left = state
                .instructions_left
                .saturating_sub(u64::from(HOOK_EVERY));
            let now = Instant::now();
            if state.instructions_left == 0 {
                state.ended = Some(Exhausted::Instructions);
            } else if now.duration_since(state.slice_started) > self.slice {
                state.ended = Some(Exhausted::Slice);
            } else if now.duration_since(state.resumed) > YIELD_AFTER {
                return Ok(VmState::Yield);
            }
        }
        match state.ended {
            Some(why) => {
                self.aborting.store(true, Ordering::SeqCst);
                Err(mlua::Error::RuntimeError(why.as_str().to_owned()))
            }
            None => Ok(VmState::Continue),
        }
    }

    /// Installs [`Budget::tick`] as the hook of `thread` (a session's coroutine).
    pub fn hook_thread(self: &Arc<Budget>, thread: &mlua::Thread) -> mlua::Result<()> {
        let budget = Arc::clone(self);
        thread.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| budget.tick(),
        )
    }
}

/// A script loaded into its own state: what the plug-in needs to run sessions.
pub struct LoadedScript {
    /// The state.
    pub lua: Lua,
    /// The script's `session` function.
    pub session: Function,
    /// The metatable of session objects (its `__index` holds the methods).
    pub session_meta: Table,
    /// The `plugin` table's protocol, if it has one.
    pub protocol: Option<String>,
    /// `plugin.columns` as (name, type) pairs, sorted by name.
    pub columns: Vec<(String, String)>,
    /// Set by a budget that ran out, read by the wrapped `pcall`; reset before every resume.
    pub aborting: Arc<AtomicBool>,
}

/// The limits a state is built with.
#[derive(Debug, Clone, Copy)]
pub struct StateLimits {
    /// The memory cap of the whole state, in bytes.
    pub memory_bytes: usize,
    /// The instruction budget of the script's top level (and of each session).
    pub instructions: u64,
    /// The longest the top level may run.
    pub slice: Duration,
}

/// Builds a state with the safe library, loads `source` as chunk `file_name` (errors read
/// `file_name:LINE: ...`), runs its top level within `limits`, checks and reads `plugin`
/// and `session`, and seals the globals. The error is one line for `options.script`.
pub fn load(
    instance: &str,
    file_name: &str,
    source: &[u8],
    limits: StateLimits,
) -> Result<LoadedScript, String> {
    let lua = Lua::new_with(
        StdLib::COROUTINE
            | StdLib::STRING
            | StdLib::TABLE
            | StdLib::MATH
            | StdLib::UTF8
            | StdLib::OS,
        mlua::LuaOptions::default(),
    )
    .map_err(|e| format!("cannot start Lua: {e}"))?;
    let aborting = Arc::new(AtomicBool::new(false));
    let (session_meta, seal) = install_library(&lua, instance, &aborting)
        .map_err(|e| format!("cannot prepare the Lua library: {e}"))?;
    lua.set_memory_limit(limits.memory_bytes)
        .map_err(|e| format!("cannot set the memory limit: {e}"))?;

    let chunk = lua
        .load(source)
        .set_name(format!("={file_name}"))
        .set_mode(ChunkMode::Text)
        .into_function()
        .map_err(|e| first_line(&script_error(&e)))?;
    let budget = Arc::new(Budget::new(
        limits.instructions,
        limits.slice,
        Arc::clone(&aborting),
    ));
    let hook_budget = Arc::clone(&budget);
    lua.set_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, _| hook_budget.tick(),
    )
    .map_err(|e| format!("cannot set the instruction hook: {e}"))?;
    let ran = chunk.call::<()>(());
    lua.remove_hook();
    aborting.store(false, Ordering::SeqCst);
    if let Err(e) = ran {
        let why = match budget.ended() {
            Some(exhausted) => format!("its top level stopped: {}", exhausted.as_str()),
            None => first_line(&script_error(&e)),
        };
        return Err(why);
    }

    let globals = lua.globals();
    let plugin: Table = match globals.raw_get::<Value>("plugin") {
        Ok(Value::Table(t)) => t,
        _ => {
            return Err(format!(
                "{file_name}: defines no `plugin` table (plugin = {{ protocol = ..., columns = {{ ... }} }})"
            ));
        }
    };
    let session = match globals.raw_get::<Value>("session") {
        Ok(Value::Function(f)) => f,
        _ => return Err(format!("{file_name}: defines no `session` function")),
    };
    let protocol = match plugin.raw_get::<Value>("protocol") {
        Ok(Value::Nil) => None,
        Ok(Value::String(s)) => Some(
            s.to_str()
                .map(|s| s.to_owned())
                .map_err(|_| format!("{file_name}: plugin.protocol is not UTF-8 text"))?,
        ),
        _ => return Err(format!("{file_name}: plugin.protocol must be a string")),
    };
    let columns = read_columns(file_name, &plugin)?;

    let seal_all = || -> mlua::Result<()> {
        if let Ok(Value::Table(cols)) = plugin.raw_get::<Value>("columns") {
            seal.call::<()>((cols, "plugin.columns."))?;
        }
        seal.call::<()>((plugin.clone(), "plugin."))?;
        for lib in ["string", "table", "math", "utf8", "os", "recce7"] {
            if let Ok(Value::Table(t)) = globals.raw_get::<Value>(lib) {
                seal.call::<()>((t, format!("{lib}.")))?;
            }
        }
        seal.call::<()>((globals.clone(), ""))
    };
    seal_all().map_err(|e| format!("cannot seal the script's globals: {e}"))?;
    Ok(LoadedScript {
        lua,
        session,
        session_meta,
        protocol,
        columns,
        aborting,
    })
}

/// `plugin.columns` (`{ name = "TEXT", ... }`) as sorted pairs; names and types are checked by
/// the caller against the store's rules.
fn read_columns(file_name: &str, plugin: &Table) -> Result<Vec<(String, String)>, String> {
    let cols = match plugin.raw_get::<Value>("columns") {
        Ok(Value::Table(t)) => t,
        Ok(Value::Nil) => return Ok(Vec::new()),
        _ => {
            return Err(format!(
                "{file_name}: plugin.columns must be a table of name = \"TYPE\""
            ));
        }
    };
    let mut out = Vec::new();
    for pair in cols.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| format!("{file_name}: plugin.columns: {e}"))?;
        let name = match &k {
            Value::String(s) => s.to_string_lossy(),
            _ => {
                return Err(format!(
                    "{file_name}: plugin.columns: every key must be a column name"
                ));
            }
        };
        let kind = match &v {
            Value::String(s) => s.to_string_lossy(),
            _ => {
                return Err(format!(
                    "{file_name}: plugin.columns.{name}: the type must be a string (\"TEXT\", ...)"
                ));
            }
        };
        out.push((name, kind));
        if out.len() > super::MAX_COLUMNS {
            return Err(format!(
                "{file_name}: plugin.columns: more than {} columns",
                super::MAX_COLUMNS
            ));
        }
    }
    out.sort();
    Ok(out)
}

/// A Lua error as the operator should read it: Lua's own message (`redis.lua:3: ...`), without
/// mlua's prefixes.
pub fn script_error(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(message) | mlua::Error::MemoryError(message) => message.clone(),
        mlua::Error::CallbackError { cause, .. } => script_error(cause),
        mlua::Error::WithContext { cause, .. } => script_error(cause),
        other => other.to_string(),
    }
}

/// Whether `e` is (or wraps) Lua running out of memory under the cap.
pub fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            is_memory_error(cause)
        }
        mlua::Error::RuntimeError(m) => m.contains("not enough memory"),
        _ => false,
    }
}

/// The most of a script's error message that is logged and recorded (a script chooses its
/// messages, and `error(string.rep("x", 1e7))` is one).
pub const MAX_ERROR_BYTES: usize = 512;

/// The first line of a message (Lua appends a traceback to some), at most [`MAX_ERROR_BYTES`].
pub fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    let mut end = line.len().min(MAX_ERROR_BYTES);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    line[..end].to_owned()
}

/// Removes what a script must not reach, adds `recce7`, runs [`PRELUDE`]. Returns the session
/// metatable and the sealing function.
fn install_library(
    lua: &Lua,
    instance: &str,
    aborting: &Arc<AtomicBool>,
) -> mlua::Result<(Table, Function)> {
    let globals = lua.globals();

    let flag = Arc::clone(aborting);
    let abort_check = lua.create_function(move |_, ()| {
        if flag.load(Ordering::SeqCst) {
            Err(mlua::Error::RuntimeError(
                "script stopped by its budget".into(),
            ))
        } else {
            Ok(())
        }
    })?;
    let (meta, seal): (Table, Function) = lua
        .load(PRELUDE)
        .set_name("=recce7-prelude")
        .set_mode(ChunkMode::Text)
        .call(abort_check)?;

    for name in [
        "load",
        "loadstring",
        "dofile",
        "loadfile",
        "require",
        "collectgarbage",
        "rawset",
        "print",
        "warn",
        "coroutine",
        "package",
        "debug",
        "io",
    ] {
        globals.raw_set(name, Value::Nil)?;
    }
    let string: Table = globals.raw_get("string")?;
    string.raw_set("dump", Value::Nil)?;
    let os: Table = globals.raw_get("os")?;
    let safe_os = lua.create_table()?;
    for name in ["time", "clock", "date"] {
        safe_os.raw_set(name, os.raw_get::<Value>(name)?)?;
    }
    globals.raw_set("os", safe_os)?;
    globals.raw_set("recce7", helpers(lua, instance)?)?;
    Ok((meta, seal))
}

/// The `recce7` table.
fn helpers(lua: &Lua, instance: &str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "base64_encode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = helper_input(&s)?;
            lua.create_string(crate::encoding::base64_encode(&bytes))
        })?,
    )?;
    t.raw_set(
        "base64_decode",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = helper_input(&s)?;
            match crate::encoding::base64_decode(&bytes) {
                Some(decoded) => Ok(Value::String(lua.create_string(decoded)?)),
                None => Ok(Value::Nil),
            }
        })?,
    )?;
    t.raw_set(
        "hex",
        lua.create_function(|lua, s: mlua::LuaString| {
            let bytes = helper_input(&s)?;
            lua.create_string(crate::encoding::hex(&bytes))
        })?,
    )?;
    t.raw_set(
        "sha1",
        lua.create_function(|lua, s: mlua::LuaString| {
            use sha1::Digest;
            let bytes = helper_input(&s)?;
            lua.create_string(sha1::Sha1::digest(&bytes).as_slice())
        })?,
    )?;
    let instance: Arc<str> = instance.into();
    let window = Mutex::new((Instant::now(), 0u32));
    t.raw_set(
        "log",
        lua.create_function(move |_, msg: mlua::LuaString| {
            let now = Instant::now();
            let mut w = window.lock().unwrap_or_else(PoisonError::into_inner);
            if now.duration_since(w.0) >= Duration::from_secs(1) {
                if w.1 > LOG_PER_SECOND {
                    tracing::info!(
                        plugin = %instance,
                        dropped = w.1 - LOG_PER_SECOND,
                        "recce7.log messages dropped (rate limit)"
                    );
                }
                *w = (now, 0);
            }
            w.1 = w.1.saturating_add(1);
            if w.1 <= LOG_PER_SECOND {
                let bytes = msg.as_bytes();
                let shown = bytes.get(..MAX_LOG_BYTES).unwrap_or(&bytes);
                tracing::info!(plugin = %instance, "script: {}", store::escape_text(shown));
            }
            Ok(())
        })?,
    )?;
    Ok(t)
}

/// A helper's argument, refused past [`MAX_HELPER_INPUT`].
fn helper_input(s: &mlua::LuaString) -> mlua::Result<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.len() > MAX_HELPER_INPUT {
        return Err(mlua::Error::RuntimeError(format!(
            "input longer than {MAX_HELPER_INPUT} bytes"
        )));
    }
    Ok(bytes.to_vec())
}
