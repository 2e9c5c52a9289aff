# recce7's %post: the system user and its state directory (with the geoip folder the sensor's
# config names); on a first install the sensor, the report service and the monthly GeoIP update
# timer are enabled and started (where systemd runs; the timer's first download runs soon after,
# as its own service). No network here.
getent group recce7 >/dev/null || groupadd -r recce7
getent passwd recce7 >/dev/null || useradd -r -g recce7 -d /var/lib/recce7 -s /sbin/nologin -c "recce7 honeypot" recce7
install -d -o recce7 -g recce7 -m 0750 /var/lib/recce7
install -d -o recce7 -g recce7 -m 0750 /var/lib/recce7/geoip
# The configs hold hpfeeds secrets and deploy keys: readable by root and the services' group only
# (files still as packaged, group root; a user's own choice of group is kept).
for conf in /etc/recce7/*.toml; do
  if [ -f "$conf" ] && [ "$(stat -c %G "$conf")" = root ]; then
    chgrp recce7 "$conf" && chmod 0640 "$conf"
  fi
done
if [ "$1" -eq 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  systemctl enable --now recce7-sensor.service recce7-reportd.service recce7-geoip-update.timer >/dev/null 2>&1 || true
fi
