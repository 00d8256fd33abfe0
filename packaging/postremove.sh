#!/bin/sh
# After the files are gone. "remove" keeps the data directory, the
# configuration and the depot user, so that installing again finds
# everything; "purge" (dpkg --purge / apt purge) deletes them.
set -e
if [ "$1" = "purge" ]; then
	rm -rf /var/lib/depot
	rm -f /etc/depot/admin-key
	rmdir /etc/depot 2>/dev/null || true
	if getent passwd depot >/dev/null; then
		deluser --system depot >/dev/null 2>&1 || true
	fi
	if getent group depot >/dev/null; then
		delgroup --system depot >/dev/null 2>&1 || true
	fi
fi
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
fi
