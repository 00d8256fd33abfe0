#!/usr/bin/env bash
# SFTP on loopback: OpenSSH's sftp client against Depot's SFTP daemon and
# against OpenSSH's own sshd (internal-sftp) on the same disk, in one run.
#   throughput: put and get of 256 MiB and 1 GiB files (Depot as shipped,
#     and with sftp.sync_uploads = true), with the client's
#     default request size and with -B 32768, with the same cipher on both
#     sides (aes128-gcm@openssh.com) and with the client's default cipher
#     list; Depot and sshd alternate, median of $ROUNDS (default 3).
#   small files: 1,000 files of 4 KiB put in one session (files/s): as
#     shipped (neither server syncs), with put -f (both sync each file,
#     fsync@openssh.com) and with sftp.sync_uploads = true.
#   memory: PSS of the server with 100 idle sessions and during 20
#     concurrent uploads of $RSS_MIB MiB (default 1024).
# Usage: bench/sftp.sh            (needs openssh-client, openssh-server, bc)
# Env: ROUNDS=3 SIZES="256 1024" REQUESTS="default 32768"
#      CIPHERS="aes128-gcm@openssh.com default" RSS_MIB=1024 ONLY=throughput|small|memory
#      BENCH_DIR=/var/tmp (where the servers' files go)
#      BENCH_FS=ext4 (as root: a fresh ext4 filesystem, inode tables
#        initialized, in an image file in $BENCH_DIR, loop-mounted; on this
#        VM's root filesystem the first use of an inode costs up to 800 µs
#        of kernel time, and which server meets fresh inodes decides the
#        small-file result; see BENCHMARKS.md)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-3} sizes=${SIZES:-256 1024} rss_mib=${RSS_MIB:-1024} only=${ONLY:-}
requests=${REQUESTS:-default 32768} ciphers=${CIPHERS:-aes128-gcm@openssh.com default}
command -v sftp >/dev/null && test -x /usr/sbin/sshd || { echo "needs openssh-client and openssh-server"; exit 1; }
. bench/lib.sh
trap bench_cleanup EXIT
bench_base
work=$(mktemp -d -p "$base")
spid=
go build -o "$work/depot" .
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
dport=$(free_port) oport=$(free_port)
add_user() { curl -fsS --user "$key:x" -d "{\"user\":{\"username\":\"bench\",\"ssh_keys\":[\"$(cat "$work/key.pub")\"]}}" \
	"$url/admin/users" >/dev/null; }
# A second Depot that syncs every upload (sftp.sync_uploads = true).
nport=$(free_port)
DEPOT_SFTP_SYNC_UPLOADS=true start_depot "$work/depot" "$work/data-sync" "$nport"
add_user
start_depot "$work/depot" "$work/data" "$dport"
add_user

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
MaxStartups 200
MaxSessions 200
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
spid=$!
until (exec 3<>"/dev/tcp/127.0.0.1/$oport") 2>/dev/null; do sleep 0.1; done

# server NAME → "port user remote_dir"
declare -A server=([depot]="$dport bench /" [depot-sync]="$nport bench /" [openssh]="$oport $(id -un) $work/openssh")
opts=(-i "$work/key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null)
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc -l; }
sftp_to() { # sftp_to NAME [sftp options…] : batch from stdin
	local port user dir name=$1
	shift
	read -r port user dir <<<"${server[$name]}"
	sftp -q -b - -P "$port" "${opts[@]}" -o LogLevel=error "$@" "$user@127.0.0.1"
}
dir_of() { local p u d; read -r p u d <<<"${server[$1]}"; echo "$d"; }
median() { sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
negotiated() { # cipher and MAC the client picks with NAME for the given options
	local port user dir
	read -r port user dir <<<"${server[$1]}"
	shift
	sftp -b /dev/null -P "$port" "${opts[@]}" -o LogLevel=debug1 "$@" "$user@127.0.0.1" 2>&1 |
		sed -n 's/.*client->server cipher: \([^ ]*\) MAC: \([^ ]*\).*/\1 (MAC \2)/p' | head -1
}
echo "== $(date -u +%F), $(nproc) cores, $(go version | cut -d" " -f3), client $(ssh -V 2>&1 | cut -d, -f1), files on $(df --output=source,fstype "$work" | tail -1 | tr -s " ")"

throughput() {
	local size name ciph bs i d t
	for size in $sizes; do
		head -c "${size}M" /dev/urandom >"$work/src.bin"
		for ciph in $ciphers; do
			for bs in $requests; do
				local args=()
				[ "$ciph" = default ] || args+=(-c "$ciph")
				[ "$bs" = default ] || args+=(-B "$bs")
				for ((i = 0; i < rounds; i++)); do
					for name in depot depot-sync openssh; do
						d=$(dir_of $name)
						t=$(secs sftp_to $name "${args[@]}" <<<"put $work/src.bin $d/big.bin")
						echo "$name up $t" >>"$work/t"
						rm -f "$work/down.bin"
						t=$(secs sftp_to $name "${args[@]}" <<<"get $d/big.bin $work/down.bin")
						echo "$name down $t" >>"$work/t"
						cmp -s "$work/src.bin" "$work/down.bin" || { echo "$name: download differs"; exit 1; }
					done
				done
				local label="cipher $ciph"
				[ "$ciph" = default ] && label="default ciphers: depot $(negotiated depot), openssh $(negotiated openssh)"
				echo "-- $size MiB, request size $bs, $label"
				for dir in up down; do
					local dm om
					om=$(awk -v k=$dir '$1=="openssh"&&$2==k{print $3}' "$work/t" | median)
					for name in depot depot-sync; do
						dm=$(awk -v n=$name -v k=$dir '$1==n&&$2==k{print $3}' "$work/t" | median)
						printf '   %-4s %-12s %5.0f MiB/s (%.2fs)  openssh %5.0f MiB/s (%.2fs)  depot/openssh %.2f\n' $dir $name \
							"$(echo "$size / $dm" | bc -l)" "$dm" "$(echo "$size / $om" | bc -l)" "$om" "$(echo "$om / $dm" | bc -l)"
					done
				done
				rm -f "$work/t"
			done
		done
	done
	rm -f "$work/src.bin" "$work/down.bin"
}

small() {
	local run label name peer put i t d
	mkdir -p "$work/small"
	for ((i = 0; i < 1000; i++)); do head -c 4096 /dev/urandom >"$work/small/f$i"; done
	# run = "label server put-command"
	local runs=("depot depot put" "openssh openssh put" "depot-f depot put -f" "openssh-f openssh put -f" "depot-sync depot-sync put")
	for ((i = 0; i < rounds; i++)); do
		for run in "${runs[@]}"; do
			read -r label name put <<<"$run"
			d=$(dir_of $name)
			{
				echo "-mkdir $d/small$label$i"
				for f in "$work"/small/*; do echo "$put $f $d/small$label$i/"; done
			} >"$work/batch"
			t=$(secs sftp_to $name -c aes128-gcm@openssh.com <"$work/batch")
			echo "$label $t" >>"$work/t"
		done
	done
	echo "-- 1,000 files of 4 KiB in one session (cipher aes128-gcm), median of $rounds"
	local dm om
	for run in "depot openssh as shipped (no sync)" "depot-f openssh-f put -f (fsync@openssh.com)" "depot-sync openssh sftp.sync_uploads=true vs no sync"; do
		read -r name peer label <<<"$run"
		dm=$(awk -v k=$name '$1==k{print $2}' "$work/t" | median)
		om=$(awk -v k=$peer '$1==k{print $2}' "$work/t" | median)
		printf '   %-40s depot %5.0f files/s (%.2fs)  openssh %5.0f files/s (%.2fs)  depot/openssh %.2f\n' "$label" \
			"$(echo "1000 / $dm" | bc -l)" "$dm" "$(echo "1000 / $om" | bc -l)" "$om" "$(echo "$om / $dm" | bc -l)"
	done
	rm -f "$work/t"
}

# pss_kib NAME: proportional set size of the server, all its processes (sshd
# forks two per connection), in KiB.
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
pss_kib() {
	local root=$pid p
	[ "$1" = openssh ] && root=$spid
	for p in $root $(descendants $root); do
		awk '/^Pss:/{print $2}' /proc/$p/smaps_rollup 2>/dev/null || true
	done | awk '{s+=$1} END{print s+0}'
}
any_alive() { local p; for p; do kill -0 "$p" 2>/dev/null && return 0; done; return 1; }
memory() {
	local name i peak now
	echo "-- memory (PSS of all server processes)"
	for name in depot openssh; do
		local base idle
		base=$(pss_kib $name)
		for ((i = 0; i < 100; i++)); do
			(sleep 20 | sftp_to $name >/dev/null 2>&1) &
		done
		sleep 8
		idle=$(pss_kib $name)
		sleep 14
		head -c "${rss_mib}M" /dev/urandom >"$work/src.bin"
		peak=0
		local ups=()
		for ((i = 0; i < 20; i++)); do
			sftp_to $name -c aes128-gcm@openssh.com <<<"put $work/src.bin $(dir_of $name)/c$i.bin" >/dev/null &
			ups+=($!)
		done
		while any_alive "${ups[@]}"; do
			now=$(pss_kib $name)
			((now > peak)) && peak=$now
			sleep 0.5
		done
		printf '   %-7s at rest %4d MiB, 100 idle sessions %4d MiB, 20 concurrent %d MiB uploads peak %4d MiB\n' \
			$name $((base / 1024)) $((idle / 1024)) "$rss_mib" $((peak / 1024))
		rm -f "$work/src.bin"
		sftp_to $name <<<"rm $(dir_of $name)/c*.bin" >/dev/null
	done
}

case $only in
'') throughput; small; memory ;;
*) $only ;;
esac
