# Sourced by the scripts in scripts/: installs Debian packages the script needs when they are
# missing. SCRIPT names the caller in messages. As root, or through sudo as a user who may.
apt_updated=0
apt_install() {
  if ! command -v apt-get >/dev/null; then
    echo "${SCRIPT:-recce7}: need Debian packages $*, but apt-get is missing: install them by hand" >&2
    exit 1
  fi
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  if [ "$apt_updated" = 0 ]; then $sudo apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
