#!/bin/bash
# Issue 12, item 2, against `recce7 up` (sensor and report service in one process): 60 HTTP
# sessions of about 1 MiB each (keep-alive requests with 7 KB of headers and a 4 KB body, the
# default limits' largest rows), then one /v1/sessions?limit=25 and six concurrent
# /v1/sessions?limit=500; prints answer sizes and the process's RSS and peak RSS (KiB).
#
# `up` binds the shipped config's fixed ports (8080, 8880, ...), so it runs in a private network
# namespace of its own (needs root, util-linux's unshare and iproute2), where nothing else
# listens and nothing leaves loopback.
#
# usage: sudo scripts/bench-up-memory.sh [path/to/recce7]   (default target/debug/recce7)
set -euo pipefail
bin=$(realpath "${1:-target/debug/recce7}")
if [ "${RECCE7_IN_NETNS:-}" != 1 ]; then
  exec env RECCE7_IN_NETNS=1 unshare -n "$0" "$bin"
fi
ip link set lo up
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
"$bin" up --database "$dir/up.sqlite" --report 127.0.0.1:8880 >"$dir/up.out" 2>"$dir/up.log" &
pid=$!
for _ in $(seq 100); do grep -q dashboard "$dir/up.out" 2>/dev/null && break; sleep 0.2; done
python3 - "$pid" <<'PY'
import socket, subprocess, sys, threading, time
pid = int(sys.argv[1])
def memory():
    fields = dict(l.split(":", 1) for l in open(f"/proc/{pid}/status") if ":" in l)
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM")}
pad, body = "A" * 7000, b"B" * 4000
for _ in range(60):
    s = socket.create_connection(("127.0.0.1", 8080), timeout=10)
    sent = 0
    try:
        while sent < 1024 * 1024:  # the default max_session_bytes ends it
            request = (f"POST /login.cgi HTTP/1.1\r\nHost: router\r\nX-Pad: {pad}\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            s.sendall(request)
            sent += len(request)
            got = b""
            while b"</html>" not in got:
                chunk = s.recv(65536)
                if not chunk:
                    raise EOFError
                got += chunk
    except (OSError, EOFError):
        pass
    s.close()
time.sleep(2)
print("after 60 sessions:", memory())
def get(path, out):
    r = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
                        "--max-time", "120", f"http://127.0.0.1:8880{path}"],
                       capture_output=True, text=True)
    out.append((path, r.stdout))
one = []
get("/v1/sessions?limit=25", one)
print("status and bytes:", one)
print("before the concurrent requests:", memory())
out = []
threads = [threading.Thread(target=get, args=("/v1/sessions?limit=500", out)) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
print("status and bytes:", sorted(set(out)))
print("after:", memory())
PY
kill -TERM "$pid"
wait "$pid" || true
