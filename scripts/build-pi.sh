#!/usr/bin/env bash
# Cross-builds recce7 for the Raspberry Pi Zero / Pi 1 (ARMv6, hard float) as one static,
# stripped binary: target/arm-unknown-linux-musleabihf/release/recce7.
#
#   ./scripts/build-pi.sh            # build
#   ./scripts/build-pi.sh --check    # build, then run it under qemu-arm (arm1176) as a smoke test
#
# Needs the nightly toolchain with its standard library source, to build std for the target
# (`rustup component add rust-src --toolchain nightly`; no prebuilt target is needed), and zig as
# C compiler and linker (PyPI `ziglang`, found in the Python named by RECCE7_ZIG_PYTHON, default
# python3). --check also needs qemu-user-static. Debian 12's own rustc-web (1.85) is too old:
# rusqlite 0.43 needs Rust 1.89.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${RECCE7_ZIG_PYTHON:-python3}"
TARGET=arm-unknown-linux-musleabihf
TOOLS="$PWD/target/pi-toolchain"
fail() { echo "build-pi: $*" >&2; exit 1; }

sysroot="$(rustc +nightly --print sysroot 2>/dev/null)" \
  || fail "needs the nightly toolchain: rustup toolchain install nightly"
[ -d "$sysroot/lib/rustlib/src/rust/library" ] \
  || fail "needs the standard library source: rustup component add rust-src --toolchain nightly"
"$PY" -m ziglang version >/dev/null 2>&1 \
  || fail "needs zig: $PY -m pip install ziglang (or set RECCE7_ZIG_PYTHON to a Python that has it)"

mkdir -p "$TOOLS"
# zig cc knows the target from -target; drop the flags cc-rs and rustc add for gcc.
cat > "$TOOLS/zigcc" <<EOF
#!/bin/sh
for a do
  shift
  case "\$a" in --target=*|-march=*|-mfpu=*|-mfloat-abi=*|-mcpu=*) continue ;; esac
  set -- "\$@" "\$a"
done
exec "$PY" -m ziglang cc -target arm-linux-musleabihf -mcpu=arm1176jzf_s "\$@"
EOF
chmod +x "$TOOLS/zigcc"

export CC_arm_unknown_linux_musleabihf="$TOOLS/zigcc"
export CARGO_TARGET_ARM_UNKNOWN_LINUX_MUSLEABIHF_LINKER="$TOOLS/zigcc"
export CARGO_TARGET_ARM_UNKNOWN_LINUX_MUSLEABIHF_RUSTFLAGS="-C link-self-contained=no"
export ZIG_GLOBAL_CACHE_DIR="$TOOLS/zig-cache"
cargo +nightly build --release --locked -p recce7 -Zbuild-std=std,panic_abort --target "$TARGET"

BIN="target/$TARGET/release/recce7"
ls -l "$BIN"
if command -v readelf >/dev/null; then
  readelf -A "$BIN" | grep -E "Tag_CPU_name|Tag_CPU_arch:|Tag_FP_arch" || true
fi

if [ "${1:-}" = "--check" ]; then
  command -v qemu-arm-static >/dev/null || fail "--check needs qemu-user-static"
  qemu-arm-static -cpu arm1176 "$BIN" check-config configs/sensor.toml
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
