# recce7's %postun: systemd forgets the units. The recorded data in /var/lib/recce7 and the user
# are kept (RPM has no purge): remove them by hand when they are no longer wanted.
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload >/dev/null 2>&1 || true
fi
