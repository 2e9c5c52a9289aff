# Sourced by test-all.sh and compose-check.sh (after scripts/lib/apt.sh): makes sure VENV is a
# Python virtualenv with the hpfeeds3 broker and client the tests run against, pinned, and
# exports RECCE7_VENV for the tests.
HPFEEDS_PIN='hpfeeds[broker]==3.1.0'
ensure_hpfeeds_venv() {
  if ! "$VENV/bin/python" -c 'import importlib.metadata as m, sys; sys.exit(m.version("hpfeeds") != "3.1.0")' 2>/dev/null \
     || [ ! -x "$VENV/bin/hpfeeds-broker" ]; then
    echo "installing $HPFEEDS_PIN into $VENV"
    python3 -m venv "$VENV" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$VENV"; }
    "$VENV/bin/pip" install -q --disable-pip-version-check "$HPFEEDS_PIN"
  fi
  export RECCE7_VENV="$VENV"
  "$VENV/bin/hpfeeds-broker" --help >/dev/null
}

# The MHN server kit's tests (deploy-scripts/mhn/tests) add pytest, and geoip2: MHN's geoloc
# hands its processors a geoip2 Reader, so the recce7 processor is tested with the real one.
MHN_KIT_TEST_PINS=('pytest==9.2.0' 'geoip2==5.3.0')
ensure_mhn_kit_venv() {
  ensure_hpfeeds_venv
  if ! "$VENV/bin/python" - "${MHN_KIT_TEST_PINS[@]}" <<'PY' 2>/dev/null; then
import importlib.metadata as m, sys
sys.exit(any(m.version(name) != version for name, version in (pin.split("==") for pin in sys.argv[1:])))
PY
    echo "installing ${MHN_KIT_TEST_PINS[*]} into $VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check "${MHN_KIT_TEST_PINS[@]}"
  fi
  "$VENV/bin/python" -m pytest --version >/dev/null
}
