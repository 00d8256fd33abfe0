#!/bin/sh
# After the files are unpacked: the depot system user, the data directory
# it owns, and on a first installation the first administrator, whose API
# key goes to /etc/depot/admin-key (root only), never to a log.
set -e

install -d -m 0750 /var/lib/depot
if ! getent group depot >/dev/null; then
	addgroup --system depot >/dev/null
fi
if ! getent passwd depot >/dev/null; then
	adduser --system --ingroup depot --home /var/lib/depot --no-create-home \
		--shell /usr/sbin/nologin --gecos "Depot managed file transfer" depot >/dev/null
fi

chown depot:depot /var/lib/depot
chown root:depot /etc/depot /etc/depot/depot.toml
chmod 0750 /etc/depot
chmod 0640 /etc/depot/depot.toml

if [ ! -e /var/lib/depot/depot.db ]; then
	# As the depot user, so that everything it creates is its own; the key
	# comes back through a folder only the depot user and root can enter.
	handoff=$(mktemp -d)
	trap 'rm -rf "$handoff"' EXIT
	chown depot "$handoff"
	runuser -u depot -- /usr/bin/depot init --config /etc/depot/depot.toml \
		--admin-key-file "$handoff/admin-key" >/dev/null
	install -o root -g root -m 0600 "$handoff/admin-key" /etc/depot/admin-key
	echo "Depot: the first administrator's API key is in /etc/depot/admin-key (root only)."
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload >/dev/null || true
	if [ "$1" = "configure" ] && [ -z "$2" ]; then
		systemctl enable depot.service >/dev/null || true
		systemctl start depot.service || true
	else
		systemctl try-restart depot.service || true
	fi
fi
