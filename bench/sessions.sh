#!/usr/bin/env bash
# SFTP session memory: the server's RSS with N idle OpenSSH sessions and
# during N concurrent OpenSSH uploads (busy sessions), against OpenSSH's
# sshd (internal-sftp) with the same clients in the same run.
#   idle: N `sftp` clients connected and waiting; RSS above the server at
#     rest, per session.
#   busy: N `sftp` clients each putting a file of $MIB MiB at once; the
#     peak RSS of the server while they run, and whether every file
#     arrived whole (sha256).
# For sshd the figure is the PSS summed over its processes (two per session).
# Usage: bench/sessions.sh   (needs openssh-client, openssh-server; as root
#        for N=500: ulimit -n is raised)
# Env: N=500 MIB=8 BENCH_DIR=/var/tmp ONLY=depot|openssh
set -euo pipefail
cd "$(dirname "$0")/.."
n=${N:-500} mib=${MIB:-8} only=${ONLY:-}
ulimit -n 65536 2>/dev/null || true
command -v sftp >/dev/null && test -x /usr/sbin/sshd || { echo "needs openssh-client and openssh-server"; exit 1; }
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}")
spid=
cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh
go build -o "$work/depot" .
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
dport=$(free_port) oport=$(free_port)
# MaxStartups: sshd refuses most of 500 parallel logins by default.
DEPOT_SFTP_MAX_CONNECTIONS=$((n + 50)) DEPOT_SFTP_MAX_CONNECTIONS_PER_USER=$((n + 50)) \
	DEPOT_SFTP_MAX_UNAUTHENTICATED_PER_IP=$n start_depot "$work/depot" "$work/data" "$dport"
curl -fsS --user "$key:x" -d "{\"user\":{\"username\":\"bench\",\"ssh_keys\":[\"$(cat "$work/key.pub")\"]}}" "$url/admin/users" >/dev/null

mkdir -p "$work/sshd/home"
ssh-keygen -q -t ed25519 -N '' -f "$work/sshd/host"
cp "$work/key.pub" "$work/sshd/authorized_keys"
cat >"$work/sshd/config" <<EOF
Port $oport
ListenAddress 127.0.0.1
HostKey $work/sshd/host
AuthorizedKeysFile $work/sshd/authorized_keys
PasswordAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
MaxStartups $((n + 50))
MaxSessions 10
PidFile $work/sshd/pid
StrictModes no
UsePAM no
EOF
mkdir -p /run/sshd # its privilege separation directory
/usr/sbin/sshd -D -f "$work/sshd/config" -E "$work/sshd/log" &
spid=$!
until (echo >/dev/tcp/127.0.0.1/$oport) 2>/dev/null; do sleep 0.1; done

sftp_to() { # server, then sftp options; batch on stdin
	local port=$dport user=bench
	[ "$1" = openssh ] && port=$oport user=$(id -un)
	shift
	sftp -q -b - -i "$work/key" -P "$port" -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
		-o LogLevel=ERROR -c aes128-gcm@openssh.com "$@" "$user@127.0.0.1"
}
dir_of() { [ "$1" = openssh ] && echo "$work/sshd/home" || echo "/"; }
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
# rss_kib server: Depot's resident memory; for sshd, which forks two
# processes per connection that share most of their pages, the PSS summed
# over all of them (summing RSS would count the shared pages once each).
rss_kib() {
	if [ "$1" = depot ]; then
		awk '/^VmRSS/{print $2}' /proc/$pid/status
	else
		local p
		for p in $spid $(descendants $spid); do
			awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || true
		done | awk '{s+=$1} END{print s+0}'
	fi
}
fds() { ls /proc/$pid/fd | wc -l; }

head -c "${mib}M" /dev/urandom >"$work/src.bin"
want=$(sha256sum <"$work/src.bin" | cut -d' ' -f1)
echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3); $n sessions, $mib MiB per upload"
for name in depot openssh; do
	[ -n "$only" ] && [ "$only" != $name ] && continue
	sleep 1
	base=$(rss_kib $name)
	# Idle: each client waits on a pipe that stays open until killed.
	idlers=()
	for ((i = 0; i < n; i++)); do
		(sleep 3600 | sftp_to $name >/dev/null 2>&1) &
		idlers+=($!)
	done
	sleep $((5 + n / 50))
	idle=$(rss_kib $name)
	[ $name = depot ] && idle_fds=$(fds)
	{ pkill -P "$(echo "${idlers[@]}" | tr ' ' ,)" sleep || true; wait "${idlers[@]}" || true; } 2>/dev/null
	sleep 2
	# Busy: every client uploads at once.
	ups=()
	for ((i = 0; i < n; i++)); do
		sftp_to $name <<<"put $work/src.bin $(dir_of $name)/c$i.bin" >"$work/put$i.log" 2>&1 &
		ups+=($!)
	done
	peak=0 failed=0
	alive() { local p; for p in "${ups[@]}"; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
	while alive; do
		now=$(rss_kib $name)
		((now > peak)) && peak=$now
		sleep 0.5
	done
	for p in "${ups[@]}"; do wait "$p" || failed=$((failed + 1)); done
	after=$(rss_kib $name)
	bad=0
	if [ $name = depot ]; then
		for ((i = 0; i < n; i++)); do
			[ "$(sha256sum <"$work/data/files/users/bench/c$i.bin" 2>/dev/null | cut -d' ' -f1)" = "$want" ] || bad=$((bad + 1))
		done
		rm -f "$work"/data/files/users/bench/c*.bin
	else
		for ((i = 0; i < n; i++)); do
			[ "$(sha256sum <"$work/sshd/home/c$i.bin" 2>/dev/null | cut -d' ' -f1)" = "$want" ] || bad=$((bad + 1))
		done
		rm -f "$work"/sshd/home/c*.bin
	fi
	printf '%-7s at rest %5d MiB; %d idle: %5d MiB (%4d KiB per session%s); %d busy: peak %5d MiB (%5d KiB per session), after %5d MiB; %d failed, %d not intact\n' \
		$name $((base / 1024)) "$n" $((idle / 1024)) $(((idle - base) / n)) "${idle_fds:+, $idle_fds fds}" "$n" $((peak / 1024)) $(((peak - base) / n)) $((after / 1024)) $failed $bad
	idle_fds=
done
