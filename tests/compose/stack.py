"""Runs deploy-scripts/docker/compose.yaml's services the way the compose file describes them,
without a container engine (this machine has none), and checks that they work together.

scripts/compose-check.sh starts it as root inside a private mount and network namespace, chrooted
into a copy-on-write overlay of this machine's root. There each service gets what its container
would: a network namespace of its own on a bridge (the project's network), the other services'
names resolving to their addresses, the files and volumes of its `volumes`, its `secrets` under
/run/secrets, its image's user (recce7 65532, the broker 65534, Prometheus nobody), and its
image's entrypoint with the compose `command`. The checks reach the published ports at the
services' addresses, with the Host header a browser on the host would send. Grafana is not installed here and is not run:
its provisioning is checked by the compose tool and the dashboards' own tests.

Then: a telnet login and command and an HTTP request to the sensor, the events through the real
hpfeeds3 broker into the normalizer's central store, read back through reportd's REST API with the
token (and refused without it), Prometheus scraping the sensor and reportd by their service names,
and every process stopping cleanly on SIGTERM.

    stack.py COMPOSE_JSON RECCE7_BINARY VENV
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

RECCE7_USER = 65532  # deploy-scripts/docker/Dockerfile
BROKER_USER = 65534  # compose/broker.Dockerfile
PROMETHEUS_USER = 65534  # the prom/prometheus image runs as nobody
EXPECTED = {"sensor", "broker", "normalizer", "geoloc", "reportd", "prometheus", "grafana"}
NOT_RUN = {"grafana"}
START_ORDER = ["broker", "normalizer", "geoloc", "sensor", "reportd", "prometheus"]


def fail(message):
    sys.exit(f"compose-check: {message}")


def read_until(sock, marker, limit=65536, timeout=15, closed_ok=False):
    """Reads until `marker` (or any of a tuple of markers), answering telnet option negotiation
    with refusals; with `closed_ok`, the peer closing ends the read too."""
    markers = marker if isinstance(marker, tuple) else (marker,)
    sock.settimeout(timeout)
    data = b""
    while not any(m in data for m in markers):
        chunk = sock.recv(4096)
        if not chunk:
            if closed_ok:
                return data
            fail(f"the sensor closed the telnet session before {marker!r}: {data!r}")
        i = 0
        while i < len(chunk):
            if chunk[i] == 255 and i + 2 < len(chunk) and chunk[i + 1] in (251, 252, 253, 254):
                verb, opt = chunk[i + 1], chunk[i + 2]
                reply = 252 if verb in (253, 254) else 254  # DO/DONT: WONT; WILL/WONT: DONT
                sock.sendall(bytes([255, reply, opt]))
                i += 3
            else:
                data += chunk[i : i + 1]
                i += 1
        if len(data) > limit:
            fail(f"no {marker!r} in {limit} bytes")
    return data


def wait_port(host, port, name, procs, secs=30):
    deadline = time.monotonic() + secs
    while time.monotonic() < deadline:
        for pname, proc in procs.items():
            if proc.poll() is not None:
                fail(f"{pname} exited with {proc.returncode} while waiting for {name}:{port}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    fail(f"{name} does not listen on {port} after {secs} s")


def http(url, headers=None, timeout=10):
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


SUBNET = "10.77.0"


def address(name):
    """The service's address on the project's bridge."""
    return f"{SUBNET}.{10 + START_ORDER.index(name)}"


def network(names):
    """A bridge for the project's network and a namespace per service, as compose makes them."""
    run = lambda *a: subprocess.run(list(a), check=True)
    run("ip", "link", "set", "lo", "up")
    run("ip", "link", "add", "compose0", "type", "bridge")
    run("ip", "addr", "add", f"{SUBNET}.1/24", "dev", "compose0")
    run("ip", "link", "set", "compose0", "up")
    with open("/etc/hosts", "a") as hosts:
        for name in names:
            run("ip", "netns", "add", name)
            run("ip", "link", "add", f"v-{name}", "type", "veth", "peer", "name", "eth0", "netns", name)
            run("ip", "link", "set", f"v-{name}", "master", "compose0", "up")
            run("ip", "-n", name, "addr", "add", f"{address(name)}/24", "dev", "eth0")
            run("ip", "-n", name, "link", "set", "eth0", "up")
            run("ip", "-n", name, "link", "set", "lo", "up")
            hosts.write(f"{address(name)} {name}\n")


def published(svc):
    """The container ports a service publishes on the host, with the host address and port."""
    out = []
    for p in svc.get("ports", []):
        if isinstance(p, dict):
            out.append((p.get("host_ip", "0.0.0.0"), int(p["published"]), int(p["target"])))
        else:
            *host, target = str(p).split("/")[0].split(":")
            host_ip = host[0] if len(host) == 2 else "0.0.0.0"
            out.append((host_ip, int(host[-1]), int(target)))
    return out


def materialize(compose):
    """Creates every service's volumes, bind files and secrets at their container paths."""
    placed = {}
    for name, svc in compose["services"].items():
        if name in NOT_RUN:
            continue
        owner = {"broker": BROKER_USER, "prometheus": PROMETHEUS_USER}.get(name, RECCE7_USER)
        for vol in svc.get("volumes", []):
            # docker-compose's `config` gives the short form: SOURCE:TARGET[:MODE].
            parts = vol.split(":") if isinstance(vol, str) else [vol["source"], vol["target"]]
            source, target = parts[0], parts[1]
            if source.startswith("/"):
                if placed.get(target, source) != source:
                    fail(f"{target} is {placed[target]} in one service and {source} in {name}")
                placed[target] = source
                if not os.path.exists(source):
                    fail(f"{name}: the volume source {source} does not exist")
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if os.path.isdir(source):
                    shutil.copytree(source, target, dirs_exist_ok=True)
                else:
                    shutil.copy(source, target)
            else:
                # A named volume: empty, owned by the image's user, like the image's directory.
                # (The sensor's and the central store's volumes share the path /var/lib/recce7
                # here; their files have different names.)
                os.makedirs(target, exist_ok=True)
                os.chown(target, owner, owner)
        for secret in svc.get("secrets", []):
            secret_name = secret if isinstance(secret, str) else secret["source"]
            source = compose["secrets"][secret_name]["file"]
            os.makedirs("/run/secrets", exist_ok=True)
            shutil.copy(source, f"/run/secrets/{secret_name}")
            os.chmod(f"/run/secrets/{secret_name}", 0o444)


def start(name, svc, recce7, venv, logs):
    if name == "broker":
        entry, user, cwd = [f"{venv}/bin/hpfeeds-broker"], BROKER_USER, "/"
    elif name == "prometheus":
        entry, user, cwd = ["/usr/bin/prometheus"], PROMETHEUS_USER, "/prometheus"
    else:
        if svc.get("image", "").split(":")[0] not in ("recce7", "localhost/recce7"):
            fail(f"{name} does not run the recce7 image: {svc.get('image')}")
        if svc.get("pull_policy") != "never":
            fail(f"{name}: the recce7 image is built locally and must never be pulled (pull_policy: never)")
        entry, user, cwd = ["/usr/bin/recce7"], RECCE7_USER, "/var/lib/recce7"
    argv = entry + svc.get("command", [])
    log = open(f"{logs}/{name}.log", "wb")
    print(f"compose-check: {name}: {' '.join(argv)} (uid {user})", flush=True)
    return subprocess.Popen(
        ["ip", "netns", "exec", name, "setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *argv],
        cwd=cwd,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "RECCE7_LOG": "info"},
    )


def main():
    compose_json, recce7, venv = sys.argv[1:4]
    compose = json.load(open(compose_json))
    services = set(compose["services"])
    if services != EXPECTED:
        fail(f"the compose file's services are {sorted(services)}, expected {sorted(EXPECTED)}")
    network(START_ORDER)
    shutil.copy(recce7, "/usr/bin/recce7")
    materialize(compose)
    logs = "/run/compose-check-logs"
    os.makedirs(logs, exist_ok=True)

    procs = {}
    try:
        for name in START_ORDER:
            procs[name] = start(name, compose["services"][name], recce7, venv, logs)
            if name == "broker":
                wait_port(address(name), 10000, name, procs)
        for name in START_ORDER:
            for _, _, target in published(compose["services"][name]):
                wait_port(address(name), target, name, procs)
        check_pipeline(compose, procs)
    except BaseException:
        for name, proc in procs.items():
            if proc.poll() is None:
                proc.kill()
            print(f"--- {name} log", file=sys.stderr)
            print(open(f"{logs}/{name}.log", errors="replace").read()[-3000:], file=sys.stderr)
        raise
    stop(procs, logs)


def check_pipeline(compose, procs):
    token = open("/run/secrets/reportd_token").read().strip()
    sensor, reportd, prometheus = address("sensor"), address("reportd"), address("prometheus")
    # What a browser on the host sends to reportd's published port.
    api_ip, api_port, api_target = published(compose["services"]["reportd"])[0]
    if api_ip != "127.0.0.1":
        fail(f"reportd is published on {api_ip}, not on the host's loopback only")
    api = f"http://{reportd}:{api_target}"
    host = {"Host": f"127.0.0.1:{api_port}"}
    # An attacker's telnet session and HTTP request. The shipped credential policy refuses each
    # source's first 3 to 8 passwords ("Login incorrect" after 3 s, 3 tries a connection, as
    # BusyBox's login) and then lets one in: try a list, as a bot does, until a shell answers.
    passwords = [b"xc3511", b"vizxv", b"admin", b"888888", b"default", b"1234", b"12345",
                 b"54321", b"root", b"password", b"user", b"support"]
    s = None
    while s is None:
        conn = socket.create_connection((sensor, 2323), timeout=10)
        read_until(conn, b"login: ")
        for _ in range(3):
            if not passwords:
                fail("the telnet credential policy let none of 12 passwords in")
            conn.sendall(b"root\r\n")
            read_until(conn, b"assword: ")
            conn.sendall(passwords.pop(0) + b"\r\n")
            reply = read_until(conn, (b"# ", b"login: "), closed_ok=True)
            if b"# " in reply:
                s = conn
                break
            if b"Login incorrect" not in reply:
                fail(f"a refused telnet login did not say so: {reply!r}")
            if b"login: " not in reply:
                break  # closed after the third failure
        if s is None:
            conn.close()
    with s:
        s.sendall(b"uname -a\r\n")
        if b"Linux" not in read_until(s, b"# "):
            fail("no answer to uname -a over telnet")
        s.sendall(b"exit\r\n")
    status, _ = http(f"http://{sensor}:8080/cgi-bin/luci")
    print(f"compose-check: sensor: telnet session done, HTTP answered {status}", flush=True)

    # Through the broker and the normalizer into the central store, served by reportd.
    auth = {"Authorization": f"Bearer {token}", **host}
    status, _ = http(f"{api}/v1/sessions", host)
    if status != 401:
        fail(f"reportd answered {status} without its token, not 401")
    deadline = time.monotonic() + 40
    sessions = []
    while time.monotonic() < deadline:
        status, body = http(f"{api}/v1/sessions", auth)
        if status == 200:
            sessions = json.loads(body).get("items", [])
            protocols = {s.get("protocol") for s in sessions}
            if {"telnet", "http"} <= protocols:
                break
        time.sleep(0.5)
    else:
        fail(f"the sessions did not reach reportd through the broker and the normalizer: {sessions}")
    print(f"compose-check: reportd: {len(sessions)} sessions in the central store", flush=True)
    status, body = http(f"{api}/v1/analytics/commands", auth)
    if status != 200 or b"uname -a" not in body:
        fail(f"reportd's commands do not list 'uname -a': {status} {body[:300]!r}")

    # Prometheus scrapes both by service name, reportd with the token from the secret.
    deadline = time.monotonic() + 60
    health = {}
    while time.monotonic() < deadline:
        _, body = http(f"http://{prometheus}:9090/api/v1/targets")
        targets = json.loads(body)["data"]["activeTargets"]
        health = {t["labels"]["job"]: (t["health"], t.get("lastError", "")) for t in targets}
        if health and all(h == "up" for h, _ in health.values()) and len(health) == 2:
            break
        time.sleep(1)
    else:
        fail(f"Prometheus's targets are not all up: {health}")
    print(f"compose-check: prometheus: targets {sorted(health)} up", flush=True)
    for name in ("geoloc", "normalizer", "broker"):
        if procs[name].poll() is not None:
            fail(f"{name} exited with {procs[name].returncode}")


def stop(procs, logs):
    for name in reversed(START_ORDER):
        proc = procs[name]
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail(f"{name} did not stop within 20 s of SIGTERM")
        # The broker (Python) ends with the signal's code; recce7's roles exit 0.
        if name not in ("broker",) and code != 0:
            print(open(f"{logs}/{name}.log", errors="replace").read()[-3000:], file=sys.stderr)
            fail(f"{name} exited with {code} after SIGTERM")
    print("compose-check: every service stopped cleanly", flush=True)


if __name__ == "__main__":
    main()
