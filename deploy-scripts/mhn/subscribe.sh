#!/bin/sh
# Adds recce7.events to the subscribe lists of hpfeeds idents in MHN's or CHN's MongoDB
# (subscribe.js says how), with mongosh or MHN's older mongo shell.
#
#   subscribe.sh [IDENT ...]        default: mnemosyne geoloc
#
# Environment: MONGO_URL (default mongodb://127.0.0.1:27017/hpfeeds; CHN: the mongodb container's
# address), RECCE7_CHANNEL (default recce7.events). Restart each consumer afterwards so that it
# subscribes again (README.md).
set -eu

channel="${RECCE7_CHANNEL:-recce7.events}"
url="${MONGO_URL:-mongodb://127.0.0.1:27017/hpfeeds}"
[ "$#" -gt 0 ] || set -- mnemosyne geoloc

# Names go into a line of JavaScript: letters, digits, '.', '_' and '-' only, so nothing in them
# can be code.
valid_name() {
  case "$1" in
    '' | *[!A-Za-z0-9._-]*) return 1 ;;
  esac
  [ "${#1}" -le 255 ]
}
valid_name "$channel" || { echo "subscribe.sh: channel '$channel': letters, digits, '.', '_' and '-' only" >&2; exit 2; }
list=""
for ident in "$@"; do
  valid_name "$ident" || { echo "subscribe.sh: ident '$ident': letters, digits, '.', '_' and '-' only" >&2; exit 2; }
  list="$list${list:+, }'$ident'"
done

if command -v mongosh >/dev/null 2>&1; then
  shell=mongosh
elif command -v mongo >/dev/null 2>&1; then
  shell=mongo
else
  echo "subscribe.sh: no MongoDB shell (mongosh or mongo) on PATH; run it where MongoDB runs (CHN: docker-compose exec mongodb)" >&2
  exit 1
fi

exec "$shell" --quiet "$url" --eval "var channel = '$channel'; var idents = [$list];" "$(dirname "$0")/subscribe.js"
