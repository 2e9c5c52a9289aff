#!/usr/bin/env bash
# Builds recce7's packages into target/packages/, from the static binaries of
# scripts/build-release.sh:
#
#   recce7_<version>-1_amd64.deb    x86_64-unknown-linux-musl
#   recce7_<version>-1_armhf.deb    arm-unknown-linux-musleabihf (ARMv6: installs on a Pi Zero's
#                                   Raspberry Pi OS, and on every later 32-bit Pi)
#   recce7_<version>-1_arm64.deb    aarch64-unknown-linux-musl
#   recce7-<version>-1.x86_64.rpm   x86_64-unknown-linux-musl (RHEL family)
#   recce7-<version>-1.aarch64.rpm  aarch64-unknown-linux-musl
#
#   ./scripts/package.sh            # build them (installs cargo-deb and cargo-generate-rpm when
#                                   # missing)
#   ./scripts/package.sh --check    # and check them: lintian on each .deb, rpm's view of each
#                                   # .rpm and an install into a throwaway --root; then, as root,
#                                   # on this machine: dpkg -i the amd64 package, its files, user,
#                                   # units and check-config, an upgrade over itself that keeps an
#                                   # edited conffile, and dpkg --purge leaving nothing behind;
#                                   # then deploy-scripts/deploy_recce7.sh installs the package
#                                   # with apt, registers with a recce7 registrar on loopback and
#                                   # configures the sensor (once), and a purge again
#
# --check changes this machine (a system user, /etc/recce7, units) until its purge step: run it
# on a build machine or in a throwaway container, not on a sensor.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=target/packages
CARGO_DEB_PIN=3.8.0
CARGO_GENERATE_RPM_PIN=0.21.1
RPM_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
TARGETS=(x86_64-unknown-linux-musl arm-unknown-linux-musleabihf aarch64-unknown-linux-musl)
fail() { echo "package: $*" >&2; exit 1; }
say() { printf '\n== %s\n' "$*"; }

check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) fail "unknown option '$1' (known: --check)" ;;
esac

SCRIPT=package
. scripts/lib/apt.sh

if ! cargo deb --version >/dev/null 2>&1; then
  echo "installing cargo-deb $CARGO_DEB_PIN"
  cargo install --locked cargo-deb --version "$CARGO_DEB_PIN"
fi

if ! cargo generate-rpm --version >/dev/null 2>&1; then
  echo "installing cargo-generate-rpm $CARGO_GENERATE_RPM_PIN"
  cargo install --locked cargo-generate-rpm --version "$CARGO_GENERATE_RPM_PIN"
fi

./scripts/build-release.sh "${TARGETS[@]}"

say "packages"
mkdir -p "$OUT"
# On a sensor, the report service reads the sensor's own database (the shipped reportd.toml
# names the normalizer's central store).
sed 's/^database = "central.sqlite"/database = "recce7.sqlite"/' configs/reportd.toml >"$OUT/reportd.toml"
grep -q '^database = "recce7.sqlite"' "$OUT/reportd.toml" || fail "configs/reportd.toml has no database line to set"
# The packages' sensor and geoloc read the database recce7-geoip-update.timer keeps current in
# the state directory (waited for until the first download; docs/geoip.md).
geoip='geoip = "/var/lib/recce7/geoip/dbip-city-lite.mmdb"'
sed "s|^# geoip = \[.*\]\$|$geoip|" configs/sensor.toml >"$OUT/sensor.toml"
sed "s|^geoip = \[.*\]\$|$geoip|" configs/geoloc.toml >"$OUT/geoloc.toml"
for f in sensor geoloc; do grep -qx "$geoip" "$OUT/$f.toml" || fail "configs/$f.toml has no geoip line to set"; done
for t in "${TARGETS[@]}"; do
  cargo deb --no-build --no-strip --target "$t" --output "$OUT/" | tail -n 1
done
for t in "${RPM_TARGETS[@]}"; do
  cargo generate-rpm --target "$t" --output "$OUT/"
done
ls -l "$OUT"/*.deb "$OUT"/*.rpm

[ "$check" = 1 ] || exit 0

say "lintian"
command -v lintian >/dev/null || apt_install lintian
for deb in "$OUT"/*.deb; do
  lintian --fail-on error --suppress-tags statically-linked-binary "$deb"
  echo "lintian: $(basename "$deb"): no errors"
done

say "rpm"
command -v rpm >/dev/null || apt_install rpm
for pkg in "$OUT"/*.rpm; do
  name="$(basename "$pkg")"
  files="$(rpm -qlp "$pkg" 2>/dev/null)"
  for f in /usr/bin/recce7 /etc/recce7/sensor.toml /etc/recce7/reportd.toml \
           /usr/lib/systemd/system/recce7-sensor.service /usr/lib/systemd/system/recce7-reportd.service; do
    grep -qx "$f" <<<"$files" || fail "$name lacks $f"
  done
  # Five roles' configs, the service pack and its two scripts, the credential policy's userdb.txt.
  [ "$(rpm -qp --configfiles "$pkg" 2>/dev/null | grep -c '^/etc/recce7/')" = 9 ] || fail "$name: the configs are not %config"
  rpm -qp --scripts "$pkg" 2>/dev/null | grep -q 'useradd -r' || fail "$name: no user created on install"
  echo "rpm: $name: $(rpm -qp --queryformat '%{NAME} %{VERSION}-%{RELEASE} %{ARCH}' "$pkg" 2>/dev/null), files, %config and scripts as expected"
done
root="$(mktemp -d)"
rpm --root "$root" --initdb
rpm --root "$root" -i --nodeps --noscripts "$OUT"/recce7-*.x86_64.rpm
# The packaged sensor.toml names the GeoIP file in the state directory (%post creates it).
mkdir -p "$root/var/lib/recce7/geoip"
sed "s|/var/lib/recce7/|$root/var/lib/recce7/|" "$root/etc/recce7/sensor.toml" >"$root/sensor.toml"
"$root/usr/bin/recce7" check-config "$root/sensor.toml" | head -n 1
rpm --root "$root" -e --noscripts recce7
[ ! -e "$root/usr/bin/recce7" ] && [ ! -e "$root/usr/lib/systemd/system/recce7-sensor.service" ] \
  || fail "rpm -e left the package's files in $root"
rm -rf "$root"
echo "rpm: the x86_64 package installs into a throwaway --root and erases cleanly"

[ "$(id -u)" = 0 ] || fail "--check installs the package: run it as root (in a throwaway machine)"
[ "$(dpkg --print-architecture)" = amd64 ] || fail "--check installs the amd64 package: run it on amd64"
if dpkg -s recce7 >/dev/null 2>&1; then fail "recce7 is installed on this machine already: purge it first"; fi
deb="$(ls "$OUT"/recce7_*_amd64.deb)"

say "install"
dpkg -i "$deb" >/dev/null
trap 'dpkg --purge recce7 >/dev/null 2>&1 || true' EXIT
/usr/bin/recce7 --version
getent passwd recce7 >/dev/null || fail "no system user recce7"
[ "$(stat -c %U:%a /var/lib/recce7)" = "recce7:750" ] || fail "/var/lib/recce7: $(stat -c %U:%a /var/lib/recce7)"
for role in sensor reportd normalizer geoloc registrar; do
  [ -f "/etc/recce7/$role.toml" ] || fail "no /etc/recce7/$role.toml"
  # They hold hpfeeds secrets and deploy keys: root and the services' group only.
  [ "$(stat -c %U:%G:%a "/etc/recce7/$role.toml")" = root:recce7:640 ] \
    || fail "/etc/recce7/$role.toml is $(stat -c %U:%G:%a "/etc/recce7/$role.toml"), not root:recce7:640"
  [ -f "/lib/systemd/system/recce7-$role.service" ] || fail "no unit for $role"
  grep -qx "/etc/recce7/$role.toml" /var/lib/dpkg/info/recce7.conffiles || fail "$role.toml is not a conffile"
done
for role in sensor reportd; do
  [ -L "/etc/systemd/system/multi-user.target.wants/recce7-$role.service" ] || fail "recce7-$role is not enabled"
done
for role in normalizer geoloc registrar; do
  [ ! -e "/etc/systemd/system/multi-user.target.wants/recce7-$role.service" ] || fail "recce7-$role is enabled"
done
[ -L /etc/systemd/system/timers.target.wants/recce7-geoip-update.timer ] || fail "recce7-geoip-update.timer is not enabled"
[ "$(stat -c %U:%a /var/lib/recce7/geoip)" = "recce7:750" ] || fail "/var/lib/recce7/geoip: $(stat -c %U:%a /var/lib/recce7/geoip)"
systemd-analyze verify /lib/systemd/system/recce7-*.service /lib/systemd/system/recce7-*.timer
# What the sensor's unit runs before it starts, as the unit runs it.
(cd /var/lib/recce7 && runuser -u recce7 -- /usr/bin/recce7 check-config /etc/recce7/sensor.toml)
# The service pack (docs/plugins.md) finds its scripts beside it and passes as the service user.
# userdb.txt: the credential policy's Cowrie-format rules, for `userdb = "userdb.txt"`.
for f in service-pack.toml scripts/redis.lua scripts/mysql.lua userdb.txt; do
  grep -qx "/etc/recce7/$f" /var/lib/dpkg/info/recce7.conffiles || fail "$f is not a conffile"
done
(cd /var/lib/recce7 && runuser -u recce7 -- /usr/bin/recce7 check-config /etc/recce7/service-pack.toml)
echo "install: files, user, state directory, conffiles, units enabled (sensor, reportd) and verified"

say "upgrade over itself, with an edited conffile"
echo "# edited by the administrator" >>/etc/recce7/sensor.toml
dpkg -i "$deb" >/dev/null
grep -q "edited by the administrator" /etc/recce7/sensor.toml || fail "the edited conffile was replaced"
echo "upgrade: the administrator's edit was kept"

say "purge"
trap - EXIT
dpkg --purge recce7 >/dev/null
for path in /usr/bin/recce7 /etc/recce7 /var/lib/recce7 /lib/systemd/system/recce7-sensor.service \
            /etc/systemd/system/multi-user.target.wants/recce7-sensor.service \
            /etc/systemd/system/multi-user.target.wants/recce7-reportd.service \
            /etc/systemd/system/timers.target.wants/recce7-geoip-update.timer; do
  [ ! -e "$path" ] || fail "left after purge: $path"
done
! getent passwd recce7 >/dev/null || fail "the user recce7 is left after purge"
echo "purge: nothing left"

say "deploy: deploy_recce7.sh installs the package and registers with recce7 registrar"
bin="target/x86_64-unknown-linux-musl/release/recce7"
regdir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
key="package-check-deploy-key-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf '[registrar]\nlisten = "127.0.0.1:%s"\ndeploy_key = "%s"\nbroker_auth_db = "%s/sqlite.db"\nbroker_host = "127.0.0.1"\n' \
  "$port" "$key" "$regdir" >"$regdir/registrar.toml"
"$bin" registrar --config "$regdir/registrar.toml" >"$regdir/registrar.log" 2>&1 &
regpid=$!
trap 'kill "$regpid" 2>/dev/null || true; dpkg --purge recce7 >/dev/null 2>&1 || true; rm -rf "$regdir"' EXIT
for _ in $(seq 1 50); do grep -q "recce7 registrar:" "$regdir/registrar.log" && break; sleep 0.2; done
# No systemd runs here as PID 1: --no-start (the script would refuse to go on without it).
./deploy-scripts/deploy_recce7.sh "http://127.0.0.1:$port" "$key" --package "$deb" --no-start
dpkg -s recce7 >/dev/null 2>&1 || fail "deploy_recce7.sh did not install the package"
[ "$(stat -c %U:%a /etc/recce7/registration.json)" = "root:600" ] || fail "registration.json: $(stat -c %U:%a /etc/recce7/registration.json)"
[ "$(stat -c %U:%G:%a /etc/recce7/sensor.toml)" = root:recce7:640 ] || fail "sensor.toml: $(stat -c %U:%G:%a /etc/recce7/sensor.toml)"
ident="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["identifier"])' /etc/recce7/registration.json)"
grep -qx "ident = \"$ident\"" /etc/recce7/sensor.toml || fail "sensor.toml does not publish as $ident"
(cd /var/lib/recce7 && runuser -u recce7 -- /usr/bin/recce7 check-config /etc/recce7/sensor.toml)
second="$(./deploy-scripts/deploy_recce7.sh "http://127.0.0.1:$port" "$key" --package "$deb" --no-start)"
grep -q "already registered" <<<"$second" || fail "a second run registered again: $second"
kill "$regpid"
trap - EXIT
dpkg --purge recce7 >/dev/null
rm -rf "$regdir"
[ ! -e /etc/recce7 ] || fail "left after purge: /etc/recce7"
echo "deploy: installed, registered as $ident, configured, not registered twice; purged"
say "packages checked"
