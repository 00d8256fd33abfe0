#!/usr/bin/env bash
# Soak: SESSIONS SFTP sessions and HTTP_CLIENTS HTTP clients upload random
# files, download them back and compare them, for DURATION against one
# Depot on loopback (bench/soak). Reports every error, and the server's
# RSS, goroutines (pprof on DEPOT_DEBUG_LISTEN) and open files at rest
# before, the peak during, and after
# the load (once its connections are closed and the runtime has had
# SETTLE seconds to return memory).
# Usage: bench/soak.sh
# Env: SESSIONS=100 HTTP_CLIENTS=16 DURATION=60s SIZE=262144 SETTLE=10 BENCH_DIR=/var/tmp
set -euo pipefail
cd "$(dirname "$0")/.."
sessions=${SESSIONS:-100} clients=${HTTP_CLIENTS:-16} duration=${DURATION:-60s} size=${SIZE:-262144} settle=${SETTLE:-10}
ulimit -n 65536 2>/dev/null || true
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}")
trap 'kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
. bench/lib.sh
go build -o "$work/depot" .
go build -o "$work/soak" ./bench/soak
ssh-keygen -q -t ed25519 -N '' -f "$work/key"
sport=$(free_port) dport=$(free_port)
DEPOT_DEBUG_LISTEN=127.0.0.1:$dport DEPOT_SFTP_MAX_CONNECTIONS=$((sessions + 50)) DEPOT_SFTP_MAX_CONNECTIONS_PER_USER=$((sessions + 50)) \
	start_depot "$work/depot" "$work/data" "$sport"
ukey=$(curl -fsS --user "$key:x" -d "{\"user\":{\"username\":\"soak\",\"ssh_keys\":[\"$(cat "$work/key.pub")\"]}}" "$url/admin/users" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["user"]["api_key"])')

goroutines() { curl -fsS "http://127.0.0.1:$dport/debug/pprof/goroutine?debug=1" | awk 'NR==1{print $NF}'; }
stat() { # rss_kib goroutines fds
	echo "$(awk '/^VmRSS/{print $2}' /proc/$pid/status) $(goroutines) $(ls /proc/$pid/fd | wc -l)"
}
show() { printf '%-7s RSS %5d MiB, %5d goroutines, %5d open files\n' "$1" $(($2 / 1024)) "$3" "$4"; }
echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3); $sessions SFTP sessions + $clients HTTP clients for $duration, files up to $size bytes"
read -r rss thr fd <<<"$(stat)"
show before "$rss" "$thr" "$fd"
"$work/soak" -url "$url" -key "$ukey" -sftp "127.0.0.1:$sport" -user soak -identity "$work/key" \
	-sessions "$sessions" -http "$clients" -size "$size" -duration "$duration" >"$work/soak.out" 2>&1 &
spid=$!
prss=0 pthr=0 pfd=0 # peaks of RSS, goroutines, open files
while kill -0 $spid 2>/dev/null; do
	read -r rss thr fd <<<"$(stat)"
	((rss > prss)) && prss=$rss
	((thr > pthr)) && pthr=$thr
	((fd > pfd)) && pfd=$fd
	sleep 1
done
status=0
wait $spid || status=$?
show peak "$prss" "$pthr" "$pfd"
sleep "$settle"
read -r rss thr fd <<<"$(stat)"
show after "$rss" "$thr" "$fd"
cat "$work/soak.out"
exit $status
