#!/usr/bin/env bash
# recce7's whole test suite. Installs what the tests use when it is missing (Debian packages:
# python3-venv, procps, telnet, curl, nmap, p0f, redis-tools, mariadb-client, chromium, prometheus, npm, docker-compose, hydra, openssh-client, sshpass, postgresql; a Python virtualenv with the
# hpfeeds3 broker and client, pytest, geoip2 and paramiko; the nightly toolchain and cargo-fuzz; @grafana/schema and
# typescript from npm, pinned in tests/grafana-schema), then runs formatting, clippy, every
# unit and behaviour test, and a short fuzzing run. Exits non-zero on any failure.
#
#   ./scripts/test-all.sh
#
# Environment: RECCE7_VENV (default .venv) for the virtualenv; RECCE7_FUZZ_SECS (default 30,
# 0 to skip locally; CI=true never skips) for the fuzzing run.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

VENV="${RECCE7_VENV:-$PWD/.venv}"
FUZZ_SECS="${RECCE7_FUZZ_SECS:-30}"
if [ "${CI:-}" = "true" ] && [ "$FUZZ_SECS" = 0 ]; then
  echo "test-all: CI=true: the fuzzing run is not skipped" >&2
  FUZZ_SECS=30
fi

step() { printf '\n== %s\n' "$*"; }

SCRIPT=test-all
. scripts/lib/apt.sh
. scripts/lib/venv.sh

step "tools"
command -v python3 >/dev/null || apt_install python3 python3-venv
# Real clients and servers the tests use: Debian's telnet, curl and nmap (the sensor),
# chromium (the dashboard), prometheus (the metrics and Grafana panels), node and npm
# (@grafana/schema and tsc for the dashboards); iproute2 and util-linux's unshare and nsenter
# (recce7 up, which binds fixed ports, runs in a network namespace of its own); systemd-analyze
# (the shipped units are verified and their hardening scored, offline); docker-compose
# (deploy-scripts/docker/compose.yaml is validated, scripts/compose-check.sh); python3-seccomp
# (tests/unit_sandbox.rs runs the roles under their units' system call filters); redis-tools'
# redis-cli and the mariadb client (the service pack's Redis and MySQL plug-ins); procps' kill
# (SIGHUP reloads, and the sensor unit's ExecReload), absent from minimal Debian images; p0f
# (its /etc/p0f/p0f.fp and `p0f -i lo` are the packet capture's golden comparison) and
# util-linux's setpriv (the capture test drops CAP_NET_RAW); hydra (tests/credentials.rs brute-forces
# telnet, and tests/ssh.rs SSH, through the credential policy); OpenSSH's client and sshpass (tests/ssh.rs).
missing=()
for pair in redis-cli:redis-tools mariadb:mariadb-client docker-compose:docker-compose telnet:telnet ssh:openssh-client sshpass:sshpass curl:curl nmap:nmap chromium:chromium prometheus:prometheus npm:npm ip:iproute2 unshare:util-linux nsenter:util-linux setpriv:util-linux p0f:p0f systemd-analyze:systemd hydra:hydra; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
done
# PostgreSQL's server programs and psql: testkit's throwaway clusters (testkit/src/postgres.rs,
# the central store on PostgreSQL).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
command -v psql >/dev/null || missing+=(postgresql-client)
# kill is also a shell builtin: look for the program.
[ -x /usr/bin/kill ] || [ -x /bin/kill ] || missing+=(procps)
# libseccomp for Debian's Python: the units' system call sandbox, applied without systemd.
/usr/bin/python3 -c 'import seccomp' 2>/dev/null || missing+=(python3-seccomp)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing ${missing[*]}"
  apt_install "${missing[@]}"
fi
# The 1,000-session shutdown test holds about 2,000 sockets.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
ensure_hpfeeds_venv
# pytest and geoip2 for the MHN server kit's tests (deploy-scripts/mhn/tests).
ensure_mhn_kit_venv
# paramiko for the SSH plug-in's tests (tests/ssh.rs): a second SSH client beside OpenSSH's.
"$VENV/bin/python" -c 'import paramiko' 2>/dev/null \
  || "$VENV/bin/pip" install -q --disable-pip-version-check 'paramiko==5.1.0'
# The pinned npm packages, installed once (the test runs the same script).
bash tests/grafana-schema/check.sh >/dev/null

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --locked --features ssh -- -D warnings
# The sensor-only build (docs/install.md: no `server` feature) must keep building, lint-clean.
cargo clippy -p recce7 --locked --no-default-features --features ssh -- -D warnings

step "cargo doc (every intra-doc link resolves)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked --quiet --features ssh

step "cargo test"
test_log="$(mktemp)"
trap 'rm -f "$test_log"' EXIT
# With the SSH plug-in (a cargo feature until the static binaries have room for it).
cargo test --workspace --locked --features ssh 2>&1 | tee "$test_log"

step "MHN server kit: mnemosyne normalizer and geoloc processor on real events (pytest)"
RECCE7_BIN="$PWD/target/debug/recce7" "$VENV/bin/python" -m pytest -q deploy-scripts/mhn/tests

step "compose: deploy-scripts/docker/compose.yaml validated and its services run together"
./scripts/compose-check.sh target/debug/recce7

if [ "$FUZZ_SECS" != 0 ]; then
  if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal \
      || { echo "test-all: fuzzing needs a nightly toolchain: rustup toolchain install nightly" >&2; exit 1; }
  fi
  command -v cargo-fuzz >/dev/null || cargo install -q cargo-fuzz --locked
  # The SSH server starts from a real client's first bytes (its version line and KEXINIT).
  mkdir -p fuzz/corpus/ssh_server
  cp sensor/src/plugins/ssh/testdata/openssh-9.2p1-kexinit.bin fuzz/corpus/ssh_server/
  for target in wire_decode telnet_decode http_parse payload_parse rules_conversation capture_packet ssh_server; do
    step "fuzz: $target for ${FUZZ_SECS}s"
    (cd fuzz && cargo +nightly fuzz run "$target" -- -max_total_time="$FUZZ_SECS" -rss_limit_mb=1024 2>&1 | tail -n 3)
  done
fi

step "all tests passed"
awk '/^test result:/ { p += $4; f += $6 } END { printf "tests: %d passed, %d failed\n", p, f }' "$test_log"
