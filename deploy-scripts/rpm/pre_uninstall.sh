# recce7's %preun: on the last erase (not an upgrade), stop and disable every unit.
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
  systemctl disable --now recce7-geoip-update.timer recce7-geoip-update.service recce7-sensor.service recce7-reportd.service recce7-normalizer.service recce7-geoloc.service recce7-registrar.service >/dev/null 2>&1 || true
fi
