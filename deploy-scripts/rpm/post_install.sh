# recce7's %post: the system user and its state directory; on a first install the sensor and the
# report service are enabled and started (where systemd runs). No network.
getent group recce7 >/dev/null || groupadd -r recce7
getent passwd recce7 >/dev/null || useradd -r -g recce7 -d /var/lib/recce7 -s /sbin/nologin -c "recce7 honeypot" recce7
install -d -o recce7 -g recce7 -m 0750 /var/lib/recce7
if [ "$1" -eq 1 ] && [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
  systemctl enable --now recce7-sensor.service recce7-reportd.service >/dev/null 2>&1 || true
fi
