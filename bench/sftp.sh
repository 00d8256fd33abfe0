#!/usr/bin/env bash
# SFTP throughput on loopback: OpenSSH's sftp client uploading and
# downloading a file (default 1 GiB) to Depot's SFTP daemon and to
# OpenSSH's own sshd (internal-sftp) on the same disk, in one run, with the
# client's default settings (each server's cipher choice shows).
# Usage: bench/sftp.sh [size_mib]   (needs openssh-client, openssh-server)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
command -v sftp >/dev/null && test -x /usr/sbin/sshd || { echo "needs openssh-client and openssh-server"; exit 1; }
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}")
trap 'kill $pid $spid 2>/dev/null; wait $pid $spid 2>/dev/null; rm -rf "$work"' EXIT
spid=
. bench/lib.sh
go build -o "$work/depot" .
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
dport=$(free_port) oport=$(free_port)
start_depot "$work/depot" "$work/data" "$dport"
curl -fsS --user "$key:x" -d "{\"user\":{\"username\":\"bench\",\"ssh_keys\":[\"$(cat "$work/key.pub")\"]}}" \
	"$url/admin/users" >/dev/null

# OpenSSH's sshd as the peer, serving $work/openssh as the current user.
mkdir -p /run/sshd "$work/openssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh_host_ed25519_key"
cp "$work/key.pub" "$work/authorized_keys"
cat >"$work/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $oport
HostKey $work/ssh_host_ed25519_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
spid=$!
sleep 0.5

head -c "${size_mib}M" /dev/urandom >"$work/src.bin"
opts=(-i "$work/key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=error)
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc -l; }
run() { # run NAME PORT USER REMOTE_DIR
	local name=$1 port=$2 user=$3 dir=$4
	printf 'put %s %s/big.bin\n' "$work/src.bin" "$dir" >"$work/put"
	printf 'get %s/big.bin %s\n' "$dir" "$work/down.bin" >"$work/get"
	echo "$name-up $(secs sftp -b "$work/put" -P "$port" "${opts[@]}" "$user@127.0.0.1")"
	rm -f "$work/down.bin"
	echo "$name-down $(secs sftp -b "$work/get" -P "$port" "${opts[@]}" "$user@127.0.0.1")"
	cmp "$work/src.bin" "$work/down.bin"
}
for i in 1 2 3; do
	run depot "$dport" bench /
	run openssh "$oport" "$(id -un)" "$work/openssh"
done >"$work/times"
cipher() { sftp -vv -b /dev/null -P "$1" "${opts[@]}" -o LogLevel=debug1 "$2@127.0.0.1" 2>&1 | sed -n 's/.*client->server cipher: \([^ ]*\) MAC: \([^ ]*\).*/\1 \2/p' | head -1; }
best() { awk -v k="$1" '$1==k{print $2}' "$work/times" | sort -g | head -1; }
echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3), $(ssh -V 2>&1)"
echo "== ${size_mib} MiB, best of 3; depot cipher: $(cipher "$dport" bench); openssh cipher: $(cipher "$oport" "$(id -un)")"
for dir in up down; do
	d=$(best "depot-$dir") o=$(best "openssh-$dir")
	printf '%-5s depot %6.0f MiB/s (%.2fs)  openssh %6.0f MiB/s (%.2fs)  depot/openssh %.2f\n' "$dir" \
		"$(echo "$size_mib / $d" | bc -l)" "$d" "$(echo "$size_mib / $o" | bc -l)" "$o" "$(echo "$o / $d" | bc -l)"
done
