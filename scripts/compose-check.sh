#!/usr/bin/env bash
# Checks deploy-scripts/docker/compose.yaml: the compose tool (Debian's docker-compose) validates
# it with `config` (and refuses it without GRAFANA_ADMIN_PASSWORD), then tests/compose/stack.py
# runs its services as the file describes them, with the real hpfeeds3 broker and Prometheus,
# and checks a telnet session reaching reportd's API through the broker and the normalizer.
# This machine cannot run containers, so the services run in a private mount and network
# namespace chrooted into a copy-on-write overlay of this machine's root: nothing is left behind.
# As root (the test command runs it; CI runs as root).
#
#   ./scripts/compose-check.sh [RECCE7_BINARY]   # default: target/debug/recce7, built if missing
set -euo pipefail
cd "$(dirname "$0")/.."
SCRIPT=compose-check
. scripts/lib/apt.sh
. scripts/lib/venv.sh
fail() { echo "compose-check: $*" >&2; exit 1; }
VENV="${RECCE7_VENV:-$PWD/.venv}"
COMPOSE=deploy-scripts/docker/compose.yaml

[ "$(id -u)" = 0 ] || fail "run it as root: it mounts an overlay in a namespace of its own"
missing=()
for pair in docker-compose:docker-compose prometheus:prometheus unshare:util-linux setpriv:util-linux ip:iproute2; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair##*:}")
done
python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
[ "${#missing[@]}" -eq 0 ] || { echo "installing ${missing[*]}"; apt_install "${missing[@]}"; }
ensure_hpfeeds_venv

bin="${1:-target/debug/recce7}"
if [ -z "${1:-}" ]; then cargo build -q --locked --bin recce7; fi
[ -x "$bin" ] || fail "no recce7 binary at $bin"
bin="$(realpath "$bin")"

work="$(mktemp -d)"
trap 'umount -R "$work/ovl" 2>/dev/null || true; rm -rf "$work"' EXIT
head -c 24 /dev/urandom | base64 | tr '+/=' '-_.' >"$work/reportd.token"
mkdir "$work/geoip"
cp geoloc/testdata/dbip-city-ipv4-test.mmdb "$work/geoip/dbip-city-ipv4.mmdb"
cp geoloc/testdata/dbip-city-ipv6-test.mmdb "$work/geoip/dbip-city-ipv6.mmdb"

echo "== docker-compose config"
if out="$(env -u GRAFANA_ADMIN_PASSWORD RECCE7_REPORT_TOKEN_FILE="$work/reportd.token" \
          docker-compose -f "$COMPOSE" config 2>&1)"; then
  fail "the compose file is accepted without GRAFANA_ADMIN_PASSWORD"
fi
grep -q "set GRAFANA_ADMIN_PASSWORD" <<<"$out" || fail "no clear message without GRAFANA_ADMIN_PASSWORD: $out"
RECCE7_REPORT_TOKEN_FILE="$work/reportd.token" RECCE7_GEOIP_DIR="$work/geoip" GRAFANA_ADMIN_PASSWORD=check \
  docker-compose -f "$COMPOSE" config >"$work/compose.yaml"
python3 -c 'import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], "w"))' \
  "$work/compose.yaml" "$work/compose.json"
echo "valid: $(python3 -c 'import json, sys; print(", ".join(sorted(json.load(open(sys.argv[1]))["services"])))' "$work/compose.json")"
promtool check config deploy-scripts/docker/compose/prometheus.yml >/dev/null 2>&1 \
  || grep -q "reportd_token" <(promtool check config deploy-scripts/docker/compose/prometheus.yml 2>&1) \
  || fail "promtool rejects deploy-scripts/docker/compose/prometheus.yml"

echo "== the services, run as compose.yaml describes them"
mkdir "$work/ovl"
chmod 0755 "$work"
# --pid: when the orchestrator ends, however it ends, every service it started ends with it.
unshare --mount --net --pid --fork --mount-proc --kill-child --propagation private bash -euo pipefail -c '
  work="$1"; shift
  mount -t tmpfs compose-check "$work/ovl"
  mkdir "$work/ovl/upper" "$work/ovl/work" "$work/ovl/root"
  mount -t overlay compose-check -o "lowerdir=/,upperdir=$work/ovl/upper,workdir=$work/ovl/work" "$work/ovl/root"
  for m in proc sys dev; do
    mount --rbind "/$m" "$work/ovl/root/$m"
  done
  # /run and /tmp: empty, as in a container.
  mount -t tmpfs run "$work/ovl/root/run"; mount -t tmpfs tmp "$work/ovl/root/tmp"
  mkdir -p "$work/ovl/root$work"; mount --rbind "$work" "$work/ovl/root$work"
  exec chroot "$work/ovl/root" python3 "$PWD/tests/compose/stack.py" "$@"
' compose-check "$work" "$work/compose.json" "$bin" "$VENV"
echo "compose-check: passed"
