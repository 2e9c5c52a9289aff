#!/usr/bin/env bash
# Cross-builds recce7 for the Raspberry Pi Zero / Pi 1 (ARMv6, hard float) as one static,
# stripped binary: target/arm-unknown-linux-musleabihf/release/recce7.
#
#   ./scripts/build-pi.sh            # build
#   ./scripts/build-pi.sh --check    # build, then run it under qemu-arm (arm1176) as a smoke test
#
# The build is scripts/build-release.sh's (it installs the nightly toolchain, rust-src and zig
# when they are missing); --check also runs its sensor check under qemu-arm, then `recce7 up`
# (sensor, report service and map) on the ARM binary.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET=arm-unknown-linux-musleabihf
fail() { echo "build-pi: $*" >&2; exit 1; }

./scripts/build-release.sh "$@" "$TARGET"

BIN="target/$TARGET/release/recce7"
if [ "${1:-}" = "--check" ]; then
  dir="$(mktemp -d)"
  trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
  (cd "$dir" && exec qemu-arm-static -cpu arm1176 "$OLDPWD/$BIN" up >"$dir/up.log" 2>&1) &
  pid=$!
  for _ in $(seq 1 100); do grep -q "listening on" "$dir/up.log" 2>/dev/null && break; sleep 0.2; done
  curl -s -o /dev/null -w "HTTP under qemu-arm: %{http_code}\n" http://127.0.0.1:8080/
  # The report service `up` starts: the API, the map drawn on the ARM binary (timed), metrics.
  curl -s -o /dev/null -w "report API under qemu-arm: %{http_code}\n" http://127.0.0.1:8880/v1/analytics/ports
  curl -s -o /dev/null -w "map (SVG) under qemu-arm: %{http_code} in %{time_total} s\n" "http://127.0.0.1:8880/v1/worldmap?days=1"
  curl -s -o /dev/null -w "map (PNG) under qemu-arm: %{http_code} in %{time_total} s\n" "http://127.0.0.1:8880/v1/worldmap?days=1&format=png"
  curl -s -o /dev/null -w "sensor metrics under qemu-arm: %{http_code}\n" http://127.0.0.1:9108/metrics
  kill -TERM "$pid"; wait "$pid" || fail "the ARM binary did not exit cleanly"
  tail -n 1 "$dir/up.log"
fi
