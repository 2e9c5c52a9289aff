#!/bin/bash
# Deploys a recce7 sensor and registers it with an MHN server, a CHN server or `recce7 registrar`,
# in the style of MHN's deploy scripts (deploy_<honeypot>.sh <server_url> <deploy_key>):
#
#   deploy_recce7.sh <server_url> <deploy_key> [options]
#   echo "$DEPLOY_KEY" | deploy_recce7.sh <server_url> - [options]   # the key kept out of `ps`
#
#   1. installs recce7's package for this machine's architecture (.deb through apt, .rpm through
#      dnf or yum), from --package, or by default from <server_url>/static/recce7/ (where an MHN
#      server serves the files put into its static/recce7/ directory: docs/mhn.md);
#   2. registers with POST <server_url>/api/sensor/ (name, hostname, honeypot "recce7",
#      deploy_key), unless an earlier run did (the answer is kept in <etc>/registration.json);
#   3. writes the answer's hpfeeds identifier and secret, and the broker's host and port, into the
#      [hpfeeds] table of <etc>/sensor.toml (`recce7 registration apply`);
#   4. enables and restarts recce7-sensor with systemd.
#
# Options:
#   --name NAME          the sensor's name at the server (default: <hostname>-recce7)
#   --package FILE|URL   the package to install (default: <server_url>/static/recce7/recce7_<arch>.deb or .rpm)
#   --broker-host HOST   where the sensor publishes (default: the answer's broker_host, else the server's host)
#   --broker-port PORT   (default: the answer's broker_port, else 10000, as MHN's scripts assume)
#   --no-install         use the recce7 already installed
#   --no-start           leave the service alone (containers, tests)
#   --insecure-http-ok   allow an http:// server URL that is not on loopback (the deploy key and
#                        the secret then cross the network in clear)
#
# Environment: RECCE7_ETC (default /etc/recce7), the configuration directory.
# Exit status 0 when the sensor is registered and configured; otherwise 1 with the reason.
set -euo pipefail
umask 077

die() { echo "deploy_recce7: $*" >&2; exit 1; }
# A reader that goes away (`deploy_recce7.sh ... | head -n 1`) must not stop a deployment halfway:
# what is said to it is lost, the work goes on.
trap '' PIPE
say() { echo "deploy_recce7: $*" 2>/dev/null || true; }

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

server_url="" deploy_key="" name="" package="" broker_host="" broker_port=""
install=1 start=1 insecure=0
positional=()
while [ $# -gt 0 ]; do
  case "$1" in
    --name) [ $# -ge 2 ] || die "--name needs a value"; name="$2"; shift 2 ;;
    --package) [ $# -ge 2 ] || die "--package needs a value"; package="$2"; shift 2 ;;
    --broker-host) [ $# -ge 2 ] || die "--broker-host needs a value"; broker_host="$2"; shift 2 ;;
    --broker-port) [ $# -ge 2 ] || die "--broker-port needs a value"; broker_port="$2"; shift 2 ;;
    --no-install) install=0; shift ;;
    --no-start) start=0; shift ;;
    --insecure-http-ok) insecure=1; shift ;;
    -h|--help) usage ;;
    --*) die "unknown option $1 (--help lists them)" ;;
    *) positional+=("$1"); shift ;;
  esac
done
[ "${#positional[@]}" -eq 2 ] || usage
server_url="${positional[0]%/}" deploy_key="${positional[1]}"
# "-": the key from standard input's first line, so that other users do not see it in `ps`.
if [ "$deploy_key" = "-" ]; then
  IFS= read -r deploy_key || true
fi
etc="${RECCE7_ETC:-/etc/recce7}"
state="$etc/registration.json"

# The server: http(s)://host[:port][/path], nothing a shell or curl would read otherwise.
url_re='^https?://[][A-Za-z0-9.:_-]+(/[A-Za-z0-9._~/-]*)?$'
loopback_re='^http://(127\.[0-9.]+|localhost|\[::1\])(:[0-9]+)?(/|$)'
[[ "$server_url" =~ $url_re ]] \
  || die "'$server_url' is not a server URL (http://host[:port] or https://host[:port])"
if [[ "$server_url" == http://* ]] && [ "$insecure" = 0 ] \
   && ! [[ "$server_url" =~ $loopback_re ]]; then
  die "$server_url is plain HTTP: the deploy key and the sensor's secret would cross the network in clear; use https://, or --insecure-http-ok on a network you trust"
fi
[ -n "$deploy_key" ] || die "the deploy key is empty"
[[ "$deploy_key" =~ ^[[:graph:]]+$ ]] || die "the deploy key has spaces or control characters"
[ -z "$broker_port" ] || [[ "$broker_port" =~ ^[0-9]{1,5}$ ]] || die "--broker-port must be a port number"
[ -z "$broker_host" ] || [[ "$broker_host" =~ ^[A-Za-z0-9.:-]+$ ]] || die "--broker-host must be a host name or address"
host="$(hostname)"
[ -n "$name" ] || name="$host-recce7"
[[ "$name" =~ ^[A-Za-z0-9._-]{1,64}$ ]] || die "the name '$name' must be 1 to 64 letters, digits, '.', '_' or '-' (give one with --name)"
[[ "$host" =~ ^[A-Za-z0-9._-]{1,253}$ ]] || die "this machine's hostname '$host' is not a plain host name"
command -v curl >/dev/null || die "curl is missing: apt-get install curl (or dnf install curl)"
if [ "$start" = 1 ] && [ ! -d /run/systemd/system ]; then
  die "no systemd here: run with --no-start, then start the sensor yourself (recce7 sensor --config $etc/sensor.toml)"
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# curl's options for every request: bounded in time and size, never to another protocol.
curl_opts=(--silent --show-error --proto '=https,http' --connect-timeout 10 --max-time 120)

# 1. The package.
if [ "$install" = 1 ]; then
  [ "$(id -u)" = 0 ] || die "installing needs root (or --no-install with recce7 installed)"
  if command -v dpkg >/dev/null && command -v apt-get >/dev/null; then
    kind=deb arch="$(dpkg --print-architecture)"
  elif command -v rpm >/dev/null; then
    kind=rpm arch="$(uname -m)"
  else
    die "neither apt nor rpm here: install recce7 by hand (docs/install.md) and run again with --no-install"
  fi
  case "$kind:$arch" in
    deb:amd64|deb:arm64|deb:armhf|rpm:x86_64|rpm:aarch64) ;;
    *) die "no recce7 package for $kind/$arch: build one with scripts/package.sh (docs/install.md)" ;;
  esac
  [ -n "$package" ] || package="$server_url/static/recce7/recce7_$arch.$kind"
  file="$work/recce7.$kind"
  if [[ "$package" =~ ^https?:// ]]; then
    say "downloading $package"
    curl "${curl_opts[@]}" --fail --location --max-filesize 67108864 -o "$file" "$package" \
      || die "cannot download the package $package (give another with --package FILE|URL)"
  else
    [ -f "$package" ] || die "no package file $package"
    cp "$package" "$file"
  fi
  chmod 0644 "$file"
  say "installing $package"
  if [ "$kind" = deb ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$file" >/dev/null \
      || die "apt-get could not install $package"
  elif command -v dnf >/dev/null; then
    dnf install -y -q "$file" >/dev/null || die "dnf could not install $package"
  else
    yum install -y -q "$file" >/dev/null || die "yum could not install $package"
  fi
fi
command -v recce7 >/dev/null || die "recce7 is not installed (run without --no-install, or install it first)"
[ -f "$etc/sensor.toml" ] || die "no sensor config at $etc/sensor.toml (RECCE7_ETC names another directory)"

# 2. The registration, once.
status=200
if [ -s "$state" ]; then
  say "already registered ($state): not registering again"
  cp "$state" "$work/answer.json"
else
  # The JSON body, with every value checked above to need no escaping but the deploy key's.
  key_json="$(printf '%s' "$deploy_key" | sed 's/\\/\\\\/g; s/"/\\"/g')"
  printf '{"name": "%s", "hostname": "%s", "honeypot": "recce7", "deploy_key": "%s"}' \
    "$name" "$host" "$key_json" >"$work/request.json"
  say "registering $name with $server_url"
  status="$(curl "${curl_opts[@]}" --max-filesize 1048576 -o "$work/answer.json" -w '%{http_code}' \
    -H 'Content-Type: application/json' --data-binary "@$work/request.json" \
    "$server_url/api/sensor/")" || die "cannot reach $server_url (is the server up, and the URL right?)"
  [ -f "$work/answer.json" ] || : >"$work/answer.json"
  # Kept at once: the server knows the sensor now, and a second run must not register again
  # even when configuring fails below.
  if [[ "$status" =~ ^2 ]]; then
    cp "$work/answer.json" "$state.tmp" && chmod 0600 "$state.tmp" && mv "$state.tmp" "$state"
  fi
fi

# 3. The sensor's config (fails with the server's error text when it refused).
apply=(recce7 registration apply --answer "$work/answer.json" --status "$status"
       --config "$etc/sensor.toml" --server-url "$server_url")
[ -z "$broker_host" ] || apply+=(--broker-host "$broker_host")
[ -z "$broker_port" ] || apply+=(--broker-port "$broker_port")
"${apply[@]}" || die "the sensor was not configured"
# It holds the secret now (apply took read access from others): the sensor's group reads it.
if getent group recce7 >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  chgrp recce7 "$etc/sensor.toml" && chmod 0640 "$etc/sensor.toml"
fi
recce7 check-config "$etc/sensor.toml" >/dev/null || die "recce7 check-config $etc/sensor.toml failed"

# 4. The service.
if [ "$start" = 1 ]; then
  systemctl enable recce7-sensor >/dev/null 2>&1 || die "systemctl enable recce7-sensor failed"
  systemctl restart recce7-sensor || die "systemctl restart recce7-sensor failed: journalctl -u recce7-sensor"
  say "recce7-sensor is running"
fi
say "done: $name publishes to the broker named in $etc/sensor.toml ([hpfeeds])"
