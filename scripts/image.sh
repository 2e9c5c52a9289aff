#!/usr/bin/env bash
# Builds recce7's container images with podman, FROM scratch, from the static binaries of
# scripts/build-release.sh: recce7:<version>-amd64, -arm64 and -armv6 (linux/amd64, linux/arm64,
# linux/arm/v6), each holding /usr/bin/recce7, /etc/recce7/sensor.toml (its metrics on all
# addresses) and the user recce7 (65532), running `recce7 sensor` with its database in the
# volume /var/lib/recce7.
#
#   ./scripts/image.sh            # build the three images (installs podman when missing), and tag
#                                 # this machine's as recce7:latest (deploy-scripts/docker/compose.yaml)
#   CONTAINER_BUILDER=docker ./scripts/image.sh   # the same with Docker (buildx) instead
#   ./scripts/image.sh --check    # and check the amd64 one: export its filesystem, run the binary
#                                 # from it as 65532 in its root and WORKDIR (this machine
#                                 # cannot run containers), record a telnet and an HTTP session
set -euo pipefail
cd "$(dirname "$0")/.."

SCRIPT=image
. scripts/lib/apt.sh
. scripts/lib/sensor_check.sh
fail() { echo "image: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }
CTX=target/image
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) fail "unknown option '$1' (known: --check)" ;;
esac

BUILDER="${CONTAINER_BUILDER:-podman}"
case "$BUILDER" in
  podman) command -v podman >/dev/null || apt_install podman ;;
  docker) docker info >/dev/null 2>&1 || fail "CONTAINER_BUILDER=docker, but no Docker engine answers (docker info)" ;;
  *) fail "CONTAINER_BUILDER is '$BUILDER': podman or docker" ;;
esac
case "$(uname -m)" in
  x86_64) native=amd64 ;;
  aarch64|arm64) native=arm64 ;;
  arm*) native=armv6 ;;
  *) native="" ;;
esac
./scripts/build-release.sh x86_64-unknown-linux-musl aarch64-unknown-linux-musl arm-unknown-linux-musleabihf

say "context"
rm -rf "$CTX"
mkdir -p "$CTX/rootfs/etc/recce7" "$CTX/rootfs/var/lib/recce7" "$CTX/bin/amd64" "$CTX/bin/arm64" "$CTX/bin/armv6"
sed 's/^metrics_listen = "127.0.0.1:9108"/metrics_listen = "0.0.0.0:9108"/' configs/sensor.toml >"$CTX/rootfs/etc/recce7/sensor.toml"
grep -q '^metrics_listen = "0.0.0.0:9108"' "$CTX/rootfs/etc/recce7/sensor.toml" || fail "configs/sensor.toml has no metrics_listen line to set"
echo "recce7:x:65532:65532:recce7 honeypot:/var/lib/recce7:/sbin/nologin" >"$CTX/rootfs/etc/passwd"
echo "recce7:x:65532:" >"$CTX/rootfs/etc/group"
cp target/x86_64-unknown-linux-musl/release/recce7 "$CTX/bin/amd64/"
cp target/aarch64-unknown-linux-musl/release/recce7 "$CTX/bin/arm64/"
cp target/arm-unknown-linux-musleabihf/release/recce7 "$CTX/bin/armv6/"

say "images"
for platform in linux/amd64 linux/arm64 linux/arm/v6; do
  tag="recce7:$VERSION-$(echo "${platform#linux/}" | tr -d /)"
  "$BUILDER" build --quiet --platform "$platform" -t "$tag" -f deploy-scripts/docker/Dockerfile "$CTX" >/dev/null
  echo "$tag: $("$BUILDER" image inspect --format '{{.Os}}/{{.Architecture}}, {{.Size}} bytes, user {{.Config.User}}' "$tag")"
done
if [ -n "$native" ]; then
  "$BUILDER" tag "recce7:$VERSION-$native" recce7:latest
  echo "recce7:latest: recce7:$VERSION-$native (this machine's)"
fi

[ "$check" = 1 ] || exit 0

say "check recce7:$VERSION-amd64"
[ "$(id -u)" = 0 ] || fail "--check runs the image's binary in the image's root: run it as root"
dir="$(mktemp -d)"
chmod 0755 "$dir"  # the image's root, which its user must be able to enter
cid="$("$BUILDER" create "recce7:$VERSION-amd64")"
"$BUILDER" export "$cid" | tar -x -C "$dir"
"$BUILDER" rm "$cid" >/dev/null
for f in usr/bin/recce7 etc/recce7/sensor.toml etc/passwd; do [ -f "$dir/$f" ] || fail "the image lacks /$f"; done
[ "$(stat -c %u "$dir/var/lib/recce7")" = 65532 ] || fail "/var/lib/recce7 is not the user's"
[ "$(find "$dir" -type f | wc -l)" -le 4 ] || fail "the image holds more than the binary, the config and the user: $(find "$dir" -type f)"
# As the image runs it: its root, its WORKDIR and its USER (util-linux's unshare).
in_image() { unshare --root="$dir" --wd=/var/lib/recce7 --setgid 65532 --setuid 65532 /usr/bin/recce7 "$@"; }
in_image --version
in_image check-config /etc/recce7/sensor.toml | head -n 1
# The image's binary serving as its CMD would, on free loopback ports (the image's own config
# listens on fixed ones), as the image's user in its root.
sensor_check "recce7:$VERSION-amd64" "$dir/var/lib/recce7" /var/lib/recce7 \
  unshare --root="$dir" --wd=/var/lib/recce7 --setgid 65532 --setuid 65532 /usr/bin/recce7
rm -rf "$dir"
say "image checked"
