#!/usr/bin/env bash
# Builds recce7 as one static, stripped binary per board, into target/<triple>/release/recce7:
#
#   x86_64-unknown-linux-musl      PCs, servers, containers (linux/amd64)
#   arm-unknown-linux-musleabihf   ARMv6 hard float: Pi Zero, Pi 1, every 32-bit Raspberry Pi OS
#   aarch64-unknown-linux-musl     64-bit Pi OS on Pi 3/4/5 and Zero 2 W (linux/arm64)
#
#   ./scripts/build-release.sh                  # all three
#   ./scripts/build-release.sh --check          # all three, then run each (under qemu-user for ARM)
#   ./scripts/build-release.sh [--check] arm-unknown-linux-musleabihf ...   # only these
#   ./scripts/build-release.sh --sensor-only [--check] [targets]   # target/<triple>/release/recce7-sensor
#
# --sensor-only builds the sensor-only binary (cargo features: SSH, without `server`): every
# sensor plug-in, `check-config`, `geoip`, `hpfeeds` and `registration`, no report service,
# normalizer or registrar. It is smaller and so is its idle sensor (docs/install.md). It is
# written as recce7-sensor; the full binary's path is left without a binary until it is built.
#
# The recipe (docs/install.md): rustup's nightly toolchain with `rust-src` builds std for the target
# (-Zbuild-std), and zig (PyPI `ziglang`) is the C compiler (SQLite) and the linker, through a
# wrapper that drops the gcc flags cc-rs and rustc add. What is missing is installed: the nightly
# toolchain and rust-src with rustup, zig into a virtualenv under target/release-tools/, and for
# --check Debian's qemu-user-static and curl. Each binary must stay within 6 MB.
#
# --check runs each binary (x86_64 natively, ARMv6 under `qemu-arm-static -cpu arm1176`, aarch64
# under `qemu-aarch64-static`): --version, check-config on the shipped sensor config and on the
# service pack (its rules and Lua scripts), then a sensor on loopback ports with one telnet
# session (curl's telnet client logs in and runs a command), one HTTP request, a line to a rules
# instance and one to a Lua script, stopped with SIGTERM, and the database it wrote is checked.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_BYTES=$((6 * 1024 * 1024))
ZIG_PIN="ziglang==0.17.1"
TOOLS="$PWD/target/release-tools"
ALL=(x86_64-unknown-linux-musl arm-unknown-linux-musleabihf aarch64-unknown-linux-musl)

fail() { echo "build-release: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }

check=0
sensor_only=0
targets=()
for arg in "$@"; do
  case "$arg" in
    --check) check=1 ;;
    --sensor-only) sensor_only=1 ;;
    -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
    x86_64-unknown-linux-musl|arm-unknown-linux-musleabihf|aarch64-unknown-linux-musl) targets+=("$arg") ;;
    *) fail "unknown target or option '$arg' (known: ${ALL[*]}, --check)" ;;
  esac
done
[ "${#targets[@]}" -gt 0 ] || targets=("${ALL[@]}")
features=()
BIN_NAME=recce7
if [ "$sensor_only" = 1 ]; then
  features=(--no-default-features --features ssh)
  BIN_NAME=recce7-sensor
fi

SCRIPT=build-release
. scripts/lib/apt.sh

# The toolchain: nightly with the standard library's source.
command -v rustup >/dev/null || fail "needs rustup (the nightly toolchain builds std for each target)"
if ! rustc +nightly --version >/dev/null 2>&1; then
  echo "installing the nightly toolchain"
  rustup toolchain install nightly --profile minimal
fi
sysroot="$(rustc +nightly --print sysroot)"
if [ ! -d "$sysroot/lib/rustlib/src/rust/library" ]; then
  echo "installing rust-src for nightly"
  rustup component add rust-src --toolchain nightly
fi

# zig: RECCE7_ZIG_PYTHON names a Python that has ziglang; otherwise a virtualenv of our own.
PY="${RECCE7_ZIG_PYTHON:-$TOOLS/zig-venv/bin/python}"
if ! "$PY" -m ziglang version >/dev/null 2>&1; then
  [ -z "${RECCE7_ZIG_PYTHON:-}" ] || fail "RECCE7_ZIG_PYTHON=$PY has no ziglang: $PY -m pip install $ZIG_PIN"
  echo "installing $ZIG_PIN into $TOOLS/zig-venv"
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -m venv "$TOOLS/zig-venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$TOOLS/zig-venv"; }
  "$TOOLS/zig-venv/bin/pip" install -q --disable-pip-version-check "$ZIG_PIN"
fi
export ZIG_GLOBAL_CACHE_DIR="$TOOLS/zig-cache"

# The zig target and CPU for a Rust target.
zig_target() {
  case "$1" in
    x86_64-unknown-linux-musl) echo "x86_64-linux-musl" ;;
    arm-unknown-linux-musleabihf) echo "arm-linux-musleabihf -mcpu=arm1176jzf_s" ;;
    aarch64-unknown-linux-musl) echo "aarch64-linux-musl" ;;
  esac
}

# No unwind tables, in Rust (force-unwind-tables=no) or C (zig cc): with panic = "abort" nothing
# unwinds, and the tables were 0.65 MB of the x86_64 binary (6 MB budget; docs/BENCHMARKS.md).
# A panic still prints its message; its backtrace shows fewer frames.
# The standard library is built with `optimize_for_size` (its smaller sort and formatting code)
# and without backtrace symbolization (the binary is stripped: there are no names to print).
build() {
  local target="$1" env_name wrapper
  env_name="$(echo "$target" | tr 'a-z-' 'A-Z_')"
  wrapper="$TOOLS/zigcc-$target"
  mkdir -p "$TOOLS"
  # zig cc knows the target from -target; drop the flags cc-rs and rustc add for gcc.
  cat > "$wrapper" <<EOF
#!/bin/sh
for a do
  shift
  case "\$a" in --target=*|-march=*|-mfpu=*|-mfloat-abi=*|-mcpu=*) continue ;; esac
  set -- "\$@" "\$a"
done
exec "$PY" -m ziglang cc -target $(zig_target "$target") -fno-asynchronous-unwind-tables -fno-unwind-tables "\$@"
EOF
  chmod +x "$wrapper"
  say "build $target"
  env "CC_${target//-/_}=$wrapper" \
      "CARGO_TARGET_${env_name}_LINKER=$wrapper" \
      "CARGO_TARGET_${env_name}_RUSTFLAGS=-C link-self-contained=no -C force-unwind-tables=no" \
      cargo +nightly build --release --locked -p recce7 -Zbuild-std=std,panic_abort \
        -Zbuild-std-features=optimize_for_size --target "$target" "${features[@]}"
  if [ "$BIN_NAME" != recce7 ]; then
    mv "target/$target/release/recce7" "target/$target/release/$BIN_NAME"
  fi
}

# How to run a binary of the target on this machine.
runner() {
  case "$1" in
    x86_64-unknown-linux-musl) echo "" ;;
    arm-unknown-linux-musleabihf) echo "qemu-arm-static -cpu arm1176" ;;
    aarch64-unknown-linux-musl) echo "qemu-aarch64-static" ;;
  esac
}

. scripts/lib/sensor_check.sh

smoke() {
  local target="$1" bin="$PWD/target/$1/release/$BIN_NAME" run dir
  run="$(runner "$target")"
  say "check $target"
  $run "$bin" --version
  $run "$bin" check-config configs/sensor.toml | head -n 1
  $run "$bin" check-config configs/service-pack.toml | head -n 1
  dir="$(mktemp -d)"
  # shellcheck disable=SC2086 # $run is the emulator and its options, or nothing
  sensor_check "$target" "$dir" "$dir" $run "$bin"
  rm -rf "$dir"
}

if [ "$check" = 1 ]; then
  need=()
  command -v curl >/dev/null || need+=(curl)
  for t in "${targets[@]}"; do
    case "$t" in
      arm-*) command -v qemu-arm-static >/dev/null || need+=(qemu-user-static) ;;
      aarch64-*) command -v qemu-aarch64-static >/dev/null || need+=(qemu-user-static) ;;
    esac
  done
  if [ "${#need[@]}" -gt 0 ]; then
    echo "installing ${need[*]}"
    apt_install $(printf '%s\n' "${need[@]}" | sort -u)
  fi
fi

for t in "${targets[@]}"; do build "$t"; done

say "sizes"
too_big=0
for t in "${targets[@]}"; do
  bin="target/$t/release/$BIN_NAME"
  bytes="$(stat -c %s "$bin")"
  printf '%-32s %10s bytes  %s\n' "$t" "$bytes" "$(file -b "$bin" 2>/dev/null | cut -d, -f1-2,4- || true)"
  [ "$bytes" -le "$MAX_BYTES" ] || { echo "build-release: $t is over 6 MB" >&2; too_big=1; }
done
[ "$too_big" = 0 ] || exit 1
if command -v readelf >/dev/null && [ -f "target/arm-unknown-linux-musleabihf/release/$BIN_NAME" ]; then
  readelf -A "target/arm-unknown-linux-musleabihf/release/$BIN_NAME" | grep -E "Tag_CPU_name|Tag_CPU_arch:|Tag_FP_arch" || true
fi

if [ "$check" = 1 ]; then
  for t in "${targets[@]}"; do smoke "$t"; done
  say "all release binaries checked"
fi
