#!/usr/bin/env bash
# Cross-builds recce7 for the Raspberry Pi Zero / Pi 1 (ARMv6, hard float) as one static,
# stripped binary: target/arm-unknown-linux-musleabihf/release/recce7.
#
#   ./scripts/build-pi.sh            # build
#   ./scripts/build-pi.sh --check    # build, then run it under qemu-arm (arm1176) as a smoke test
#
# Needs, on Debian: rustc-web cargo-web rust-web-src (a Rust that can build std for the target;
# rustup cannot add targets here), and zig as C compiler and linker (PyPI `ziglang`, found in
# the Python named by RECCE7_ZIG_PYTHON, default python3). --check also needs qemu-user-static.
# The recipe is the one verified in docs/pi.md.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${RECCE7_ZIG_PYTHON:-python3}"
TARGET=arm-unknown-linux-musleabihf
TOOLS="$PWD/target/pi-toolchain"
fail() { echo "build-pi: $*" >&2; exit 1; }

[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] \
  || fail "needs Debian's Rust: apt-get install -y rustc-web cargo-web rust-web-src"
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
# Debian's cargo must use Debian's rustc (rustup's has no rust-src for build-std).
RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo build --release --locked -p recce7 \
  -Zbuild-std=std,panic_abort --target "$TARGET"

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
  kill -TERM "$pid"; wait "$pid" || fail "the ARM binary did not exit cleanly"
  tail -n 1 "$dir/up.log"
fi
