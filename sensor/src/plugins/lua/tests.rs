//! Unit tests of the Lua plug-in: its options, the sandbox and the budget, without sockets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mlua::MultiValue;
use mlua::thread::ThreadStatus;
use tokio_util::sync::CancellationToken;

use super::sandbox::{self, LoadedScript, StateLimits};
use super::*;
use crate::limits::Limits;

fn limits() -> StateLimits {
    StateLimits {
        memory_bytes: 4 << 20,
        instructions: 1_000_000,
        slice: Duration::from_secs(2),
    }
}

fn load(source: &str) -> LoadedScript {
    match sandbox::load("t", "t.lua", source.as_bytes(), limits()) {
        Ok(loaded) => loaded,
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn base64_and_hex() {
    assert_eq!(base64_encode(b""), "");
    assert_eq!(base64_encode(b"f"), "Zg==");
    assert_eq!(base64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(base64_decode(b"Zm9vYg==").as_deref(), Some(&b"foob"[..]));
    assert_eq!(
        base64_decode(b"AGFkbWluAHNlY3JldA==").as_deref(),
        Some(&b"\0admin\0secret"[..])
    );
    assert_eq!(base64_decode(b"Zm9v!"), None);
    assert_eq!(base64_decode(b"Zg==Zg"), None);
    assert_eq!(hex(b"\x00\xffA"), "00ff41");
}

#[test]
fn options_are_checked_each_by_key() {
    let options: toml::Table = toml::from_str(
        "memory_mb = 0\ninstructions = 5\nslice_ms = 0\nbogus = 1\nprotocol = 'a b'",
    )
    .unwrap();
    let limits = Limits::default();
    let Err(problems) = build(&PluginSettings {
        name: "x",
        options: &options,
        limits: &limits,
        config_dir: std::path::Path::new("."),
        data_dir: std::path::Path::new("."),
    }) else {
        panic!("bad options were accepted");
    };
    let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "bogus",
            "script",
            "protocol",
            "memory_mb",
            "instructions",
            "slice_ms"
        ]
    );
}

#[test]
fn the_library_is_the_safe_subset() {
    load(
        r#"
plugin = {}
for _, name in ipairs({ "load", "loadstring", "dofile", "loadfile", "require", "collectgarbage",
    "rawset", "print", "warn", "coroutine", "io", "debug", "package" }) do
  assert(_G[name] == nil, name)
end
assert(string.dump == nil, "string.dump")
assert(os.execute == nil and os.getenv == nil and os.exit == nil and os.remove == nil, "os")
assert(type(os.time()) == "number" and type(os.clock()) == "number", "os.time")
assert(getmetatable("") == false, "the string metatable is hidden")
assert(recce7.hex(recce7.sha1("abc")) == "a9993e364706816aba3e25717850c26c9cd0d89d", "sha1")
assert(recce7.base64_decode(recce7.base64_encode("\0\1x")) == "\0\1x", "base64")
assert(recce7.base64_decode("!") == nil, "not base64")
assert(not pcall(setmetatable, {}, { __gc = function() end }), "__gc")
assert(string.unpack("<I2", string.pack("<I2", 513)) == 513, "pack")
assert(not pcall(recce7.hex, string.rep("x", 1024 * 1024 + 1)), "helpers are bounded")
function session(s) end
"#,
    );
}

#[test]
fn bytecode_is_refused() {
    let bytecode = b"\x1bLua\x54\x00";
    let Err(e) = sandbox::load("t", "t.lua", bytecode, limits()) else {
        panic!("bytecode was loaded");
    };
    assert!(e.contains("attempt to load a binary chunk"), "{e}");
}

#[test]
fn globals_libraries_and_plugin_are_sealed_after_load() {
    for (body, expected) in [
        ("stolen = 1", "t.lua:2: cannot assign stolen: globals"),
        ("session = nil", "t.lua:2: cannot assign session"),
        ("string.rep = nil", "t.lua:2: cannot assign string.rep"),
        (
            "plugin.protocol = 'x'",
            "t.lua:2: cannot assign plugin.protocol",
        ),
        (
            "setmetatable(_G, nil)",
            "cannot change a protected metatable",
        ),
    ] {
        let loaded = load(&format!(
            "plugin = {{ protocol = 'p' }}\nfunction session(s) {body} end\n"
        ));
        let Err(e) = loaded.session.call::<()>(()) else {
            panic!("{body} was allowed");
        };
        let message = sandbox::script_error(&e);
        assert!(message.contains(expected), "{body}: {message}");
    }
    // Reading goes on as before.
    let loaded = load(
        "plugin = {}\nlocal n = 2\nfunction session(s) return string.rep('a', n) .. ('b'):rep(2) end\n",
    );
    assert_eq!(loaded.session.call::<String>(()).unwrap(), "aabb");
}

/// Resumes `loaded`'s session as the plug-in does, until it ends; the budget's verdict.
fn run_to_end(loaded: &LoadedScript, instructions: u64, slice: Duration) -> Option<Exhausted> {
    let thread = loaded.lua.create_thread(loaded.session.clone()).unwrap();
    let budget = Arc::new(Budget::new(
        instructions,
        slice,
        Arc::clone(&loaded.aborting),
    ));
    budget.hook_thread(&thread).unwrap();
    for _ in 0..100_000 {
        loaded.aborting.store(false, Ordering::SeqCst);
        budget.resumed(false);
        let result = thread.resume::<MultiValue>(());
        if result.is_err() || thread.status() != ThreadStatus::Resumable {
            return budget.ended();
        }
    }
    panic!("the script was never stopped");
}

#[test]
fn a_spent_budget_cannot_be_caught_by_pcall() {
    let loaded = load(
        "plugin = {}\nfunction session(s)\n  while true do\n    pcall(function() while true do end end)\n    xpcall(function() while true do end end, function() return 'fine' end)\n  end\nend\n",
    );
    assert_eq!(
        run_to_end(&loaded, 300_000, Duration::from_secs(10)),
        Some(Exhausted::Instructions)
    );
    let loaded = load("plugin = {}\nfunction session(s) while true do end end\n");
    assert_eq!(
        run_to_end(&loaded, u64::MAX / 2, Duration::from_millis(50)),
        Some(Exhausted::Slice)
    );
    // A loop inside a C function's callback (not yieldable) is stopped too.
    let loaded = load(
        "plugin = {}\nfunction session(s)\n  table.sort({3, 2, 1}, function(a, b) while true do pcall(function() while true do end end) end end)\nend\n",
    );
    assert_eq!(
        run_to_end(&loaded, 300_000, Duration::from_secs(10)),
        Some(Exhausted::Instructions)
    );
}

#[test]
fn columns_are_checked_against_the_store_rules() {
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    };
    let ok = check_columns("r.lua", &pairs(&[("command", "TEXT"), ("n", "integer")])).unwrap();
    assert_eq!(ok.len(), 2);
    let Err(problems) = check_columns(
        "r.lua",
        &pairs(&[
            ("order", "TEXT"),
            ("session", "TEXT"),
            ("error", "TEXT"),
            ("x", "TEXTY"),
        ]),
    ) else {
        panic!("bad columns were accepted");
    };
    assert_eq!(
        problems,
        [
            "r.lua: plugin.columns.order: not a safe SQL identifier",
            "r.lua: plugin.columns.session: one of the fixed columns every table starts with",
            "r.lua: plugin.columns.error: reserved (the sensor records why a script stopped in it)",
            "r.lua: plugin.columns.x: unknown column type \"TEXTY\" (TEXT, INTEGER, REAL, BLOB)",
        ]
    );
}

#[test]
fn error_messages_are_one_bounded_line() {
    assert_eq!(
        sandbox::first_line("a.lua:1: x\nstack traceback:"),
        "a.lua:1: x"
    );
    let long = "é".repeat(1000);
    let cut = sandbox::first_line(&long);
    assert!(cut.len() <= sandbox::MAX_ERROR_BYTES && cut.len() >= sandbox::MAX_ERROR_BYTES - 1);
}

/// What an idle Lua session costs the sensor is mostly its handler's future (and the coroutine).
/// The telnet conversation's bound is 1,280 bytes (sensor/src/server.rs); this one was 296
/// bytes once the failure path was boxed (600 before).
#[tokio::test]
async fn the_handler_future_is_small() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("s.lua"),
        "plugin = {}\nfunction session(s) s:read_line() end\n",
    )
    .unwrap();
    let mut options = toml::Table::new();
    options.insert("script".into(), "s.lua".into());
    let limits = Arc::new(Limits::default());
    let Ok(plugin) = build(&PluginSettings {
        name: "lua",
        options: &options,
        limits: &limits,
        config_dir: dir.path(),
        data_dir: std::path::Path::new("."),
    }) else {
        panic!("the script did not load");
    };
    let (db, _) = store::open(&dir.path().join("s.sqlite"), &[]).unwrap();
    let recorder = store::Recorder::start(db, &[], 16, 16).unwrap();
    let info = Arc::new(crate::session::InstanceInfo {
        sensor: "s".into(),
        plugin: "lua".into(),
        protocol: "tcp".into(),
        table: "lua".into(),
        lost: Default::default(),
        persona: Default::default(),
    });
    let addr: SocketAddr = "127.0.0.1:6379".parse().unwrap();
    let (io, _peer) = tokio::io::duplex(64);
    let mut conn = Connection::new(io, addr, addr, limits, CancellationToken::new());
    let mut session = Session::new(info, addr, addr, recorder.handle(), 16);
    let size = std::mem::size_of_val(&*plugin.handle(&mut conn, &mut session));
    eprintln!("lua conversation future: {size} bytes");
    assert!(size <= 320, "lua conversation future: {size} bytes");
}
