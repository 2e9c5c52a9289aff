# Sourced by build-release.sh and image.sh: runs a recce7 binary as a sensor on free loopback
# ports with a telnet, an HTTP, a rules and a Lua instance, logs in over telnet with curl's
# telnet client and runs `uname -a`, sends an HTTP request, a line to the rules instance (its
# regex engine) and one to the Lua script (the interpreter compiled into the binary), reads
# /metrics, stops it with SIGTERM and reads back the database it wrote. Exits through `fail`
# (the caller's) on any miss.
#
#   sensor_check LABEL HOST_DIR BIN_DIR COMMAND...
#
# HOST_DIR is a writable directory on this machine; BIN_DIR is the same directory as the binary
# sees it (they differ when it runs in another root). COMMAND runs recce7 (e.g.
# `qemu-arm-static -cpu arm1176 target/.../recce7`); its arguments are appended.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sensor_check() {
  local label="$1" host_dir="$2" bin_dir="$3" telnet http metrics rules lua pid
  shift 3
  telnet="$(free_port)"; http="$(free_port)"; metrics="$(free_port)"
  rules="$(free_port)"; lua="$(free_port)"
  cat >"$host_dir/check.lua" <<'LUA'
plugin = { protocol = "check", columns = { word = "TEXT", packed = "TEXT" } }
function session(s)
  local line = s:read_line()
  if line == nil then return end
  -- string.pack/unpack and the helpers, as binary protocols use them.
  local n = string.unpack(">I4", string.pack(">I4", #line))
  s:record{ word = line, packed = recce7.hex(string.pack("<I2", n)) }
  s:write("+PONG " .. n .. "\r\n")
end
LUA
  cat >"$host_dir/check.toml" <<CONF
[sensor]
name = "check"
listen = ["127.0.0.1"]
database = "$bin_dir/check.sqlite"
metrics_listen = "127.0.0.1:$metrics"
shutdown_grace_secs = 1

[[plugin]]
name = "telnet"
kind = "telnet"
port = $telnet
table = "telnet"
# Any password logs in at once: the check runs one login (the policy has its own tests).
[plugin.options.credentials]
accept_after = [0, 0]

[[plugin]]
name = "http"
kind = "http"
port = $http
table = "http"

[[plugin]]
name = "rules"
kind = "rules"
port = $rules
table = "rules"
[plugin.options]
greeting = "220 check\r\n"
[[plugin.options.states.start]]
pattern = '(?i)^USER (\w+)$'
reply = "331 {1|upper}\r\n"
record = { username = "{1}" }

[[plugin]]
name = "lua"
kind = "lua"
port = $lua
table = "lua"
[plugin.options]
script = "$bin_dir/check.lua"
CONF
  # exec: the pid signalled below is the binary's own (or its emulator's).
  ( exec "$@" sensor --config "$bin_dir/check.toml" ) >"$host_dir/out.log" 2>"$host_dir/err.log" &
  pid=$!
  for _ in $(seq 1 150); do
    [ "$(grep -c 'listening on' "$host_dir/out.log" 2>/dev/null)" -ge 4 ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$host_dir/err.log" >&2; fail "$label: the sensor did not start"; }
    sleep 0.2
  done
  # curl's telnet client answers the option negotiation.
  { sleep 1; printf 'root\r\n'; sleep 1; printf 'xc3511\r\n'; sleep 1; printf 'uname -a\r\n'; sleep 1; printf 'exit\r\n'; sleep 1; } \
    | curl -s --max-time 15 "telnet://127.0.0.1:$telnet" >"$host_dir/telnet.out" || true
  if ! grep -q "Linux" "$host_dir/telnet.out"; then
    kill "$pid" 2>/dev/null || true
    cat "$host_dir/telnet.out" >&2
    fail "$label: no shell answer over telnet"
  fi
  curl -s -o /dev/null -w "HTTP from $label: %{http_code}\n" "http://127.0.0.1:$http/"
  # A line to the rules instance and one to the Lua script, each answered.
  if ! python3 - "$rules" "$lua" <<'PY'
import socket, sys
def ask(port, greeting, line, want):
    with socket.create_connection(("127.0.0.1", int(port)), timeout=30) as s:
        got = b""
        if greeting:
            while not got.endswith(b"\r\n"):
                got += s.recv(100) or b"\r\n"
        s.sendall(line)
        answer = b""
        while not answer.endswith(b"\r\n"):
            chunk = s.recv(100)
            if not chunk:
                break
            answer += chunk
        if answer != want:
            sys.exit(f"port {port}: {answer!r}, not {want!r}")
ask(sys.argv[1], True, b"USER pizero\r\n", b"331 PIZERO\r\n")
ask(sys.argv[2], False, b"PING\r\n", b"+PONG 4\r\n")
PY
  then
    kill "$pid" 2>/dev/null || true
    cat "$host_dir/err.log" >&2
    fail "$label: the rules or the Lua instance did not answer"
  fi
  echo "rules and Lua from $label: answered"
  curl -s -o /dev/null -w "metrics from $label: %{http_code}\n" "http://127.0.0.1:$metrics/metrics"
  kill -TERM "$pid"
  wait "$pid" || { cat "$host_dir/err.log" >&2; fail "$label: the sensor did not exit cleanly"; }
  grep -h "stopped:" "$host_dir/err.log" || true
  # Read back on this machine (the file format is the same everywhere).
  python3 - "$host_dir/check.sqlite" "$label" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
sessions = db.execute("SELECT count(*) FROM sessions WHERE endTime IS NOT NULL").fetchone()[0]
commands = db.execute("SELECT count(*) FROM telnet WHERE user_input LIKE 'uname%'").fetchone()[0]
requests = db.execute("SELECT count(*) FROM http").fetchone()[0]
users = db.execute("SELECT count(*) FROM rules WHERE username = 'pizero'").fetchone()[0]
scripted = db.execute("SELECT count(*) FROM lua WHERE word = 'PING' AND packed = '0400'").fetchone()[0]
print(f"recorded by {sys.argv[2]}: {sessions} ended sessions, {commands} telnet command, {requests} HTTP request, {users} rules row, {scripted} Lua row")
if sessions < 4 or commands < 1 or requests < 1 or users < 1 or scripted < 1:
    sys.exit(f"{sys.argv[2]}: the sessions were not recorded")
PY
}
