# Sourced by build-release.sh and image.sh: runs a recce7 binary as a sensor on free loopback
# ports with a telnet and an HTTP instance, logs in over telnet with curl's telnet client and
# runs `uname -a`, sends an HTTP request, reads /metrics, stops it with SIGTERM and reads back
# the database it wrote. Exits through `fail` (the caller's) on any miss.
#
#   sensor_check LABEL HOST_DIR BIN_DIR COMMAND...
#
# HOST_DIR is a writable directory on this machine; BIN_DIR is the same directory as the binary
# sees it (they differ when it runs in another root). COMMAND runs recce7 (e.g.
# `qemu-arm-static -cpu arm1176 target/.../recce7`); its arguments are appended.

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sensor_check() {
  local label="$1" host_dir="$2" bin_dir="$3" telnet http metrics pid
  shift 3
  telnet="$(free_port)"; http="$(free_port)"; metrics="$(free_port)"
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

[[plugin]]
name = "http"
kind = "http"
port = $http
table = "http"
CONF
  # exec: the pid signalled below is the binary's own (or its emulator's).
  ( exec "$@" sensor --config "$bin_dir/check.toml" ) >"$host_dir/out.log" 2>"$host_dir/err.log" &
  pid=$!
  for _ in $(seq 1 150); do
    [ "$(grep -c 'listening on' "$host_dir/out.log" 2>/dev/null)" -ge 2 ] && break
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
print(f"recorded by {sys.argv[2]}: {sessions} ended sessions, {commands} telnet command, {requests} HTTP request")
if sessions < 2 or commands < 1 or requests < 1:
    sys.exit(f"{sys.argv[2]}: the sessions were not recorded")
PY
}
