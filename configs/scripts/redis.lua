-- A Redis 7.0 server, as an attacker scanning for open Redis instances meets it: RESP arrays of
-- bulk strings and inline commands, a small keyspace of its own per session, and every command
-- recorded (the takeover chain: CONFIG SET dir/dbfilename, SAVE, SLAVEOF, MODULE LOAD, EVAL).
-- Nothing is ever executed, saved or connected to: the answers only look like it.
-- The reference of the API used here: docs/plugins.md, "Tier 2".

plugin = {
  protocol = "redis",
  columns = {
    command = "TEXT", args = "TEXT", username = "TEXT", password = "TEXT", param = "TEXT",
    value = "TEXT", host = "TEXT", port = "TEXT", module = "TEXT", script = "TEXT",
  },
}

local MAX_ARGS = 1024          -- elements of one command (Redis allows more; nobody needs them)
local MAX_BULK = 65000         -- bytes of one argument (the sensor's buffer bounds it anyway)
-- Bytes of one whole command. The instance's memory is shared by its sessions: a source with 32
-- connections must not fill it and end other attackers' sessions.
local MAX_COMMAND = 65536
local MAX_KEYS = 64            -- keys in one session's keyspace
local MAX_VALUE = 1024         -- bytes of one stored value (or config value)

local VERSION = "7.0.15"

local function bulk(str)
  if str == nil then return "$-1\r\n" end
  return "$" .. #str .. "\r\n" .. str .. "\r\n"
end

local function array(items)
  local out = { "*" .. #items .. "\r\n" }
  for i = 1, #items do out[#out + 1] = bulk(items[i]) end
  return table.concat(out)
end

-- Arguments as one text: plain words as they are, anything else quoted.
local function show(args, first)
  local out = {}
  for i = first, #args do
    local a = args[i]
    if a ~= "" and not a:find('[%s"\\]') then
      out[#out + 1] = a
    else
      out[#out + 1] = '"' .. a:gsub('[\\"]', "\\%0") .. '"'
    end
  end
  return table.concat(out, " ")
end

-- What a real server draws at its start: the same on every install would give the honeypot away.
local function random_hex(n)
  local out = {}
  for i = 1, n do out[i] = string.format("%x", math.random(0, 15)) end
  return table.concat(out)
end
local RUN_ID, REPLID, PID = random_hex(40), random_hex(40), math.random(600, 4000)

local function info(uptime)
  return table.concat({
    "# Server",
    "redis_version:" .. VERSION,
    "redis_git_sha1:00000000",
    "redis_git_dirty:0",
    "redis_build_id:a8c9f7cd5e3e6c42",
    "redis_mode:standalone",
    "os:Linux 6.1.0-18-amd64 x86_64",
    "arch_bits:64",
    "monotonic_clock:POSIX clock_gettime",
    "multiplexing_api:epoll",
    "atomicvar_api:c11-builtin",
    "gcc_version:12.2.0",
    "process_id:" .. PID,
    "process_supervised:systemd",
    "run_id:" .. RUN_ID,
    "tcp_port:6379",
    "server_time_usec:" .. os.time() .. "000000",
    "uptime_in_seconds:" .. uptime,
    "uptime_in_days:" .. (uptime // 86400),
    "hz:10",
    "configured_hz:10",
    "lru_clock:" .. (os.time() % 16777216),
    "executable:/usr/bin/redis-server",
    "config_file:/etc/redis/redis.conf",
    "io_threads_active:0",
    "",
    "# Clients",
    "connected_clients:1",
    "maxclients:10000",
    "blocked_clients:0",
    "",
    "# Memory",
    "used_memory:1034856",
    "used_memory_human:1010.60K",
    "maxmemory:0",
    "maxmemory_policy:noeviction",
    "mem_allocator:jemalloc-5.3.0",
    "",
    "# Persistence",
    "loading:0",
    "rdb_changes_since_last_save:0",
    "rdb_bgsave_in_progress:0",
    "rdb_last_save_time:" .. (os.time() - 3600),
    "rdb_last_bgsave_status:ok",
    "aof_enabled:0",
    "",
    "# Replication",
    "role:master",
    "connected_slaves:0",
    "master_replid:" .. REPLID,
    "master_repl_offset:0",
    "",
    "# Keyspace",
    "",
  }, "\r\n")
end

local STARTED = os.time() - 1728000 - math.random(0, 86400)

local CONFIG = {
  dir = "/var/lib/redis", dbfilename = "dump.rdb", bind = "0.0.0.0", port = "6379",
  ["protected-mode"] = "no", requirepass = "", maxmemory = "0", appendonly = "no",
  save = "3600 1 300 100 60 10000", databases = "16", ["slave-read-only"] = "yes",
  ["replica-read-only"] = "yes",
}

-- One command from the client: RESP (`*N` then N bulk strings) or inline (words on a line).
-- Returns the arguments, or nil and the error to answer before closing.
local function read_command(s)
  local line = s:read_line()
  if line == nil then return nil end
  if line:sub(1, 1) ~= "*" then
    local args = {}
    for word in line:gmatch("%S+") do
      if #args >= MAX_ARGS then break end
      args[#args + 1] = word
    end
    return args
  end
  local n = tonumber(line:sub(2))
  if n == nil or n > MAX_ARGS or n ~= n // 1 then
    return nil, "-ERR Protocol error: invalid multibulk length\r\n"
  end
  local args, total = {}, 0
  for i = 1, n do
    local head = s:read_line()
    if head == nil then return nil end
    if head:sub(1, 1) ~= "$" then
      return nil, "-ERR Protocol error: expected '$', got '" .. head:sub(1, 1) .. "'\r\n"
    end
    local len = tonumber(head:sub(2))
    if len == nil or len < 0 or len > MAX_BULK or len ~= len // 1 then
      return nil, "-ERR Protocol error: invalid bulk length\r\n"
    end
    total = total + len
    if total > MAX_COMMAND then
      return nil, "-ERR Protocol error: invalid bulk length\r\n"
    end
    local data = s:read(len + 2)
    if data == nil then return nil end
    args[i] = data:sub(1, len)
  end
  return args
end

local function wrong_args(name)
  return "-ERR wrong number of arguments for '" .. name:lower() .. "' command\r\n"
end

local function unknown(args)
  local shown = {}
  for i = 2, math.min(#args, 20) do shown[#shown + 1] = "'" .. args[i]:sub(1, 128) .. "' " end
  return "-ERR unknown command '" .. args[1]:sub(1, 128) .. "', with args beginning with: "
    .. table.concat(shown) .. "\r\n"
end

-- The answer to one command, and the row to record beside `command` and `args`.
local function answer(args, db, config)
  local cmd = args[1]:upper()
  local n = #args
  local row = {}
  if cmd == "PING" then
    if n == 1 then return "+PONG\r\n", row end
    return bulk(args[2]), row
  elseif cmd == "ECHO" then
    if n ~= 2 then return wrong_args(cmd), row end
    return bulk(args[2]), row
  elseif cmd == "AUTH" then
    if n == 2 then
      row.password = args[2]
    elseif n == 3 then
      row.username, row.password = args[2], args[3]
    else
      return "-ERR syntax error\r\n", row
    end
    return "-ERR AUTH <password> called without any password configured for the default "
      .. "user. Are you sure your configuration is correct?\r\n", row
  elseif cmd == "INFO" then
    return bulk(info(os.time() - STARTED)), row
  elseif cmd == "CONFIG" then
    local sub = (args[2] or ""):upper()
    if sub == "SET" and n >= 4 and n % 2 == 0 then
      row.param, row.value = args[3], args[4]
      local name = args[3]:lower()
      if config[name] == nil and CONFIG[name] == nil then
        return "-ERR Unknown option or number of arguments for CONFIG SET - '" .. args[3] .. "'\r\n", row
      end
      config[name] = args[4]:sub(1, MAX_VALUE)
      return "+OK\r\n", row
    elseif sub == "GET" and n >= 3 then
      row.param = args[3]
      local out = {}
      for i = 3, n do
        local pattern = args[i]:lower()
        for name, default in pairs(CONFIG) do
          if pattern == "*" or pattern == name then
            out[#out + 1] = name
            out[#out + 1] = config[name] or default
          end
        end
      end
      return array(out), row
    elseif sub == "RESETSTAT" or sub == "REWRITE" then
      return "+OK\r\n", row
    end
    return "-ERR unknown subcommand or wrong number of arguments for '" .. (args[2] or "") .. "'\r\n", row
  elseif cmd == "SET" then
    if n < 3 then return wrong_args(cmd), row end
    row.value = args[3]
    if db.count >= MAX_KEYS and db.keys[args[2]] == nil then
      return "-OOM command not allowed when used memory > 'maxmemory'.\r\n", row
    end
    if db.keys[args[2]] == nil then db.count = db.count + 1 end
    db.keys[args[2]] = args[3]:sub(1, MAX_VALUE)
    return "+OK\r\n", row
  elseif cmd == "GET" then
    if n ~= 2 then return wrong_args(cmd), row end
    return bulk(db.keys[args[2]]), row
  elseif cmd == "DEL" then
    if n < 2 then return wrong_args(cmd), row end
    local gone = 0
    for i = 2, n do
      if db.keys[args[i]] ~= nil then
        db.keys[args[i]] = nil
        db.count = db.count - 1
        gone = gone + 1
      end
    end
    return ":" .. gone .. "\r\n", row
  elseif cmd == "EXISTS" then
    local found = 0
    for i = 2, n do if db.keys[args[i]] ~= nil then found = found + 1 end end
    return ":" .. found .. "\r\n", row
  elseif cmd == "KEYS" then
    if n ~= 2 then return wrong_args(cmd), row end
    local out = {}
    for k in pairs(db.keys) do
      if args[2] == "*" or args[2] == k then out[#out + 1] = k end
    end
    table.sort(out)
    return array(out), row
  elseif cmd == "DBSIZE" then
    return ":" .. db.count .. "\r\n", row
  elseif cmd == "SELECT" then
    return "+OK\r\n", row
  elseif cmd == "SLAVEOF" or cmd == "REPLICAOF" then
    if n ~= 3 then return wrong_args(cmd), row end
    row.host, row.port = args[2], args[3]
    -- Never connects anywhere: the answer a replica gives before it tries.
    return "+OK\r\n", row
  elseif cmd == "MODULE" then
    local sub = (args[2] or ""):upper()
    if sub == "LOAD" and n >= 3 then
      row.module = args[3]
      return "-ERR Error loading the extension. Please check the server logs.\r\n", row
    elseif sub == "LIST" then
      return "*0\r\n", row
    end
    return "-ERR unknown subcommand or wrong number of arguments for '" .. (args[2] or "") .. "'\r\n", row
  elseif cmd == "EVAL" or cmd == "EVAL_RO" or cmd == "FCALL" then
    if n < 3 then return wrong_args(cmd), row end
    row.script = args[2]
    -- Recorded, never run: a script that returns nothing.
    return "$-1\r\n", row
  elseif cmd == "EVALSHA" then
    if n < 3 then return wrong_args(cmd), row end
    row.script = args[2]
    return "-NOSCRIPT No matching script. Please use EVAL.\r\n", row
  elseif cmd == "FLUSHALL" or cmd == "FLUSHDB" then
    db.keys, db.count = {}, 0
    return "+OK\r\n", row
  elseif cmd == "SAVE" then
    return "+OK\r\n", row
  elseif cmd == "BGSAVE" then
    return "+Background saving started\r\n", row
  elseif cmd == "COMMAND" then
    return "*0\r\n", row
  elseif cmd == "CLIENT" then
    return "+OK\r\n", row
  elseif cmd == "QUIT" then
    return "+OK\r\n", row, true
  end
  return unknown(args), row
end

function session(s)
  local db = { keys = {}, count = 0 }
  local config = {}
  while true do
    local args, err = read_command(s)
    if args == nil then
      if err then
        s:record({ command = "protocol error", args = err:sub(2, -3) })
        s:write(err)
        s:close("protocol error")
      end
      return
    end
    if #args > 0 then
      local reply, row, quit = answer(args, db, config)
      row.command = args[1]:upper()
      row.args = show(args, 2)
      s:record(row)
      s:write(reply)
      if quit then
        s:close("quit")
        return
      end
    end
  end
end
