#!/usr/bin/env bash
# Depot against SFTPGo (and OpenSSH's sshd for SFTP) on loopback, in one
# run, on the same disk, alternating, median of $ROUNDS (default 5):
#   - HTTP upload of a $MIB MiB file (default 1024) with curl: Depot's
#     PUT /api/files/content unsynced (data.sync_uploads=false), Depot as
#     shipped (synced), and SFTPGo's raw-body POST /api/v2/user/files/upload
#     (it does not sync); HTTP download of the same file (curl -o);
#   - SFTP, OpenSSH's client, aes128-gcm: 1,000 files of 4 KiB put in one
#     session and fetched back with get -r, and one $SFTP_MIB MiB file
#     (default 256) put and fetched.
# A sync runs before and after each upload, untimed, so that no contender's
# dirty pages are written to disk during the next one's turn. Before each
# HTTP upload the server's file from the round before is deleted, untimed:
# each upload creates a new file. The HTTP rows begin with a round that
# warms up, untimed.
#   - HTTP upload of the same file again to the same name, replacing it
#     ("replace": what a partner who sends daily.csv every night does).
# Without ONLY it runs the whole table, HTTP and SFTP.
# It prints each median and Depot's ratio to each peer (>1: Depot ahead).
# SFTPGo is not a Go module one can install: build it from its public
# source outside this repository and point SFTPGO at the binary:
#   CGO_ENABLED=0 go build -tags nosqlite,nomysql,nopgsql,nogcs,noazblob,nos3
# SFTPGO_SRC is its source tree (templates, static and openapi are copied
# from there; default: the binary's folder). Without SFTPGO the SFTPGo
# rows are skipped, with a message. SFTPGo runs twice: as shipped
# ("sftpgo", it writes uploads to their final name directly) and with
# upload_mode 1 ("sftpgo-atomic": a temporary file renamed into place, the
# guarantee Depot gives every upload).
# Usage: SFTPGO=/path/to/sftpgo bench/sftpgo.sh   (needs curl, jq, bc, sftp, sshd)
# Env: ROUNDS=5 MIB=1024 SFTP_MIB=256 ONLY=http|sftp BENCH_DIR=/var/tmp
#      BENCH_FS=ext4 (as root: the servers' files on a fresh ext4 in an image
#        file in $BENCH_DIR, on a direct-I/O loop device, without discard; this VM's root
#        filesystem is mounted with discard, and the TRIM of a deleted 1 GiB
#        file stalls the journal for whoever comes next: uploads of every
#        server then vary 1.1–2.9 s from one round to the next)
#      BENCH_RAW=1 (print every time, not only the medians)
#      DEPOT_BEFORE=<git revision> (also Depot built from that revision,
#        unsynced, as "depot-before": a change's rows against the code
#        before it, in the same run, alternating with the others)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-5} mib=${MIB:-1024} sftp_mib=${SFTP_MIB:-256} only=${ONLY:-}
. bench/lib.sh
trap bench_cleanup EXIT
bench_base
work=$(mktemp -d -p "$base")
go build -o "$work/depot" .
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
secs() { local s=$EPOCHREALTIME; "$@" >/dev/null; echo "$EPOCHREALTIME - $s" | bc -l; }
median() { sort -g | awk '{v[NR]=$1} END{print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
opts=(-i "$work/key" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=error
	-c aes128-gcm@openssh.com)

# Depot twice: unsynced, and as shipped (synced); each with user bench.
declare -A url_of sftp_of
for name in depot-nosync depot; do
	sport=$(free_port)
	if [ $name = depot-nosync ]; then
		DEPOT_DATA_SYNC_UPLOADS=false start_depot "$work/depot" "$work/data-$name" "$sport"
	else
		start_depot "$work/depot" "$work/data-$name" "$sport"
	fi
	url_of[$name]=$url sftp_of[$name]="$sport bench /"
	curl -fsS --user "$key:x" -d "{\"user\":{\"username\":\"bench\",\"ssh_keys\":[\"$(cat "$work/key.pub")\"]}}" "$url/admin/users" >/dev/null
done
http_names=(depot-nosync depot)
sftp_names=(depot-nosync)
if [ -n "${DEPOT_BEFORE:-}" ]; then
	mkdir -p "$work/before-src"
	git archive "$DEPOT_BEFORE" | tar -x -C "$work/before-src"
	(cd "$work/before-src" && go build -o "$work/depot-before" .)
	sport=$(free_port)
	DEPOT_DATA_SYNC_UPLOADS=false start_depot "$work/depot-before" "$work/data-before" "$sport"
	url_of[depot-before]=$url sftp_of[depot-before]="$sport bench /"
	curl -fsS --user "$key:x" -d "{\"user\":{\"username\":\"bench\",\"ssh_keys\":[\"$(cat "$work/key.pub")\"]}}" "$url/admin/users" >/dev/null
	http_names+=(depot-before)
	sftp_names+=(depot-before)
fi

# SFTPGo: bolt provider, one user with the key and a password for its
# HTTP token. Twice: as shipped (upload_mode 0, it writes the final file
# directly) and with upload_mode 1 (atomic: a temporary file renamed into
# place at the end, Depot's guarantee); each a name in the tables.
declare -A gport_of gtok_of
start_sftpgo() { # start_sftpgo NAME UPLOAD_MODE
	local cfg=$work/$1-cfg gport gsport atok
	mkdir -p "$cfg" "$work/$1-home"
	for d in templates static openapi; do cp -r "$src/$d" "$cfg/"; done
	gport=$(free_port) gsport=$(free_port)
	env SFTPGO_DATA_PROVIDER__DRIVER=bolt SFTPGO_DATA_PROVIDER__NAME="$cfg/sftpgo.db" \
		SFTPGO_DATA_PROVIDER__CREATE_DEFAULT_ADMIN=true SFTPGO_DEFAULT_ADMIN_USERNAME=admin \
		SFTPGO_DEFAULT_ADMIN_PASSWORD=bench-admin-password SFTPGO_HTTPD__BINDINGS__0__ADDRESS=127.0.0.1 \
		SFTPGO_HTTPD__BINDINGS__0__PORT="$gport" SFTPGO_SFTPD__BINDINGS__0__ADDRESS=127.0.0.1 \
		SFTPGO_SFTPD__BINDINGS__0__PORT="$gsport" SFTPGO_LOG_LEVEL=info SFTPGO_COMMON__UPLOAD_MODE="$2" \
		sh -c '"$1" initprovider --config-dir "$2" >/dev/null 2>&1; exec "$1" serve --config-dir "$2" --log-file-path "$2/sftpgo.log" >/dev/null 2>&1' \
		sftpgo "$SFTPGO" "$cfg" &
	until curl -fs -o /dev/null "http://127.0.0.1:$gport/healthz"; do sleep 0.1; done
	atok=$(curl -fsS -u admin:bench-admin-password "http://127.0.0.1:$gport/api/v2/token" | jq -r .access_token)
	jq -n --arg k "$(cat "$work/key.pub")" --arg h "$work/$1-home" \
		'{username:"bench",password:"bench-user-password",status:1,home_dir:$h,public_keys:[$k],permissions:{"/":["*"]}}' |
		curl -fsS -H "Authorization: Bearer $atok" -H 'Content-Type: application/json' -d @- "http://127.0.0.1:$gport/api/v2/users" >/dev/null
	gport_of[$1]=$gport
	gtok_of[$1]=$(curl -fsS -u bench:bench-user-password "http://127.0.0.1:$gport/api/v2/user/token" | jq -r .access_token)
	http_names+=("$1")
	sftp_names+=("$1")
	sftp_of[$1]="$gsport bench /"
}
if [ -n "${SFTPGO:-}" ]; then
	src=${SFTPGO_SRC:-$(dirname "$SFTPGO")}
	start_sftpgo sftpgo 0
	start_sftpgo sftpgo-atomic 1
else
	echo "SFTPGO is not set: skipping SFTPGo (build it from drakkan/sftpgo, see the top of this script)"
fi

# OpenSSH's sshd for the SFTP rows.
oport=$(free_port)
mkdir -p /run/sshd "$work/openssh"
ssh-keygen -q -t ed25519 -N '' -f "$work/ssh_host_ed25519_key"
cat >"$work/sshd_config" <<CONF
ListenAddress 127.0.0.1
Port $oport
HostKey $work/ssh_host_ed25519_key
PidFile $work/sshd.pid
AuthorizedKeysFile $work/key.pub
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -e -f "$work/sshd_config" 2>"$work/sshd.log" &
until (exec 3<>"/dev/tcp/127.0.0.1/$oport") 2>/dev/null; do sleep 0.1; done
sftp_of[openssh]="$oport $(id -un) $work/openssh"
sftp_names+=(openssh)

up() { # up NAME FILE
	case $1 in
	sftpgo*) curl -fsS -X POST -T "$2" -H "Authorization: Bearer ${gtok_of[$1]}" "http://127.0.0.1:${gport_of[$1]}/api/v2/user/files/upload?path=big.bin" ;;
	*) curl -fsS --user "$key:x" -T "$2" "${url_of[$1]}/api/files/content?path=/big.bin" ;;
	esac
}
down() { # down NAME FILE
	case $1 in
	sftpgo*) curl -fsS -o "$2" -H "Authorization: Bearer ${gtok_of[$1]}" "http://127.0.0.1:${gport_of[$1]}/api/v2/user/files?path=big.bin" ;;
	*) curl -fsS -o "$2" --user "$key:x" "${url_of[$1]}/api/files/content?path=/big.bin" ;;
	esac
}
del() { # del NAME: delete the uploaded file, if there is one
	local code
	case $1 in
	sftpgo*) code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer ${gtok_of[$1]}" "http://127.0.0.1:${gport_of[$1]}/api/v2/user/files?path=big.bin") ;;
	*) code=$(curl -sS -o /dev/null -w '%{http_code}' -X DELETE --user "$key:x" "${url_of[$1]}/api/files?path=/big.bin") ;;
	esac
	case $code in 2?? | 404) ;; *) echo "$1: deleting big.bin answered $code" >&2; exit 1 ;; esac
}
sftp_to() { # sftp_to NAME : batch from stdin
	local port user dir
	read -r port user dir <<<"${sftp_of[$1]}"
	sftp -q -b - -P "$port" "${opts[@]}" "$user@127.0.0.1"
}
# turn I NAMES…: the names, starting at the I-th (round I's order). Who
# goes first after the sync meets the writeback of the loop image's file
# on the root disk; the turn spreads that over every contender.
turn() { local i=$1; shift; local n=$#; for ((k = 0; k < n; k++)); do echo "${@:$(((i + k) % n + 1)):1}"; done; }
dir_of() { local p u d; read -r p u d <<<"${sftp_of[$1]}"; echo "$d"; }
report() { # report UNIT AMOUNT KEY NAMES… : medians and ratios of Depot (first name(s)) to the peers
	local unit=$1 amount=$2 k=$3
	shift 3
	local n m line
	for n in "$@"; do
		m=$(awk -v n="$n" -v k="$k" '$1==n&&$2==k{print $3}' "$work/t" | median)
		[ -n "$m" ] || continue
		printf '   %-13s %-9s %8.0f %s (%.3fs)\n' "$n" "$k" "$(echo "$amount / $m" | bc -l)" "$unit" "$m"
		echo "$n $m" >>"$work/m.$k"
	done
	for n in depot-nosync depot; do
		local dm pm p
		dm=$(awk -v n=$n '$1==n{print $2}' "$work/m.$k")
		[ -n "$dm" ] || continue
		for p in sftpgo sftpgo-atomic openssh depot-before; do
			pm=$(awk -v n=$p '$1==n{print $2}' "$work/m.$k")
			[ -n "$pm" ] && printf '   ratio %s/%s %s: %.2fx\n' "$n" "$p" "$k" "$(echo "$pm / $dm" | bc -l)"
		done
	done
	rm -f "$work/m.$k"
}
echo "== $(date -u +%F), $(nproc) cores, $(go version | cut -d' ' -f3), $("${SFTPGO:-true}" --version 2>/dev/null | head -1 || true), files on $(df --output=source,fstype "$work" | tail -1 | tr -s ' ')"

if [ "$only" != sftp ]; then
	head -c "${mib}M" /dev/urandom >"$work/src.bin"
	# Round -1 warms up, untimed: the first 1 GiB writes after a pause
	# meet memory the VM gave back (2–4 s for every server).
	for ((i = -1; i < rounds; i++)); do
		[ $i -ge 0 ] && t=$work/t || t=/dev/null
		for n in $(turn $((i < 0 ? 0 : i)) "${http_names[@]}"); do
			# Every upload starts alike: its server's file of the round
			# before and the last download deleted, untimed. (Depot keeps
			# the old file until the new one is complete, so replacing it
			# needs 1 GiB more memory than SFTPGo's overwrite, which
			# truncates first; on this VM memory left free for seconds is
			# handed back to the host and slow to touch again, and that
			# decided the row, not the servers.)
			del $n
			rm -f "$work/down.bin"
			sync # what the one before left dirty is not written during this one
			echo "$n up $(secs up $n "$work/src.bin")" >>"$t"
			sync
			rm -f "$work/down.bin"
			echo "$n down $(secs down $n "$work/down.bin")" >>"$t"
			cmp -s "$work/src.bin" "$work/down.bin" || { echo "$n: the download differs"; exit 1; }
			# The same name again: what a partner who sends daily.csv
			# every night does (the old file is replaced, atomically for
			# Depot and sftpgo-atomic).
			rm -f "$work/down.bin"
			sync
			echo "$n replace $(secs up $n "$work/src.bin")" >>"$t"
			sync
		done
	done
	echo "-- HTTP, one $mib MiB file, curl, median of $rounds"
	report MiB/s "$mib" up "${http_names[@]}"
	report MiB/s "$mib" replace "${http_names[@]}"
	report MiB/s "$mib" down "${http_names[@]}"
	[ -z "${BENCH_RAW:-}" ] || cat "$work/t"
	rm -f "$work/t" "$work/src.bin" "$work/down.bin"
fi

if [ "$only" != http ]; then
	mkdir -p "$work/small"
	for ((i = 0; i < 1000; i++)); do head -c 4096 /dev/urandom >"$work/small/f$i"; done
	head -c "${sftp_mib}M" /dev/urandom >"$work/src.bin"
	for ((i = 0; i < rounds; i++)); do
		for n in $(turn $i "${sftp_names[@]}"); do
			d=$(dir_of $n)
			{
				echo "-mkdir $d/small$i"
				for f in "$work"/small/*; do echo "put $f $d/small$i/"; done
			} >"$work/batch"
			echo "$n smallput $(secs sftp_to $n <"$work/batch")" >>"$work/t"
			rm -rf "$work/got"
			echo "$n smallget $(secs sftp_to $n <<<"get -r $d/small$i $work/got")" >>"$work/t"
			[ "$(ls "$work/got" | wc -l)" = 1000 ] || { echo "$n: get -r fetched $(ls "$work/got" | wc -l) files"; exit 1; }
			sync
			echo "$n bigput $(secs sftp_to $n <<<"put $work/src.bin $d/big$i.bin")" >>"$work/t"
			sync
			rm -f "$work/down.bin"
			echo "$n bigget $(secs sftp_to $n <<<"get $d/big$i.bin $work/down.bin")" >>"$work/t"
			cmp -s "$work/src.bin" "$work/down.bin" || { echo "$n: the SFTP download differs"; exit 1; }
			sftp_to $n <<<"rm $d/big$i.bin" >/dev/null
		done
	done
	echo "-- SFTP (OpenSSH client, aes128-gcm), median of $rounds; depot-nosync is Depot as shipped for SFTP"
	report files/s 1000 smallput "${sftp_names[@]}"
	report files/s 1000 smallget "${sftp_names[@]}"
	report MiB/s "$sftp_mib" bigput "${sftp_names[@]}"
	report MiB/s "$sftp_mib" bigget "${sftp_names[@]}"
fi
