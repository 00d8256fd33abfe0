#!/bin/sh
# Before the files go (remove, or the old package's side of an upgrade):
# stop the service on remove; an upgrade restarts it in postinstall.
set -e
if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
	systemctl stop depot.service >/dev/null || true
	systemctl disable depot.service >/dev/null || true
fi
