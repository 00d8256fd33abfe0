#!/usr/bin/env bash
# WebDAV, many small files over one connection: 1,000 files of 4 KiB PUT by
# one curl (-T "{f0000,…}", one connection), into a new folder each round,
# Depot as it is here against Depot built from DEPOT_BEFORE (a git
# revision), alternating who goes first; ROUNDS rounds (6). Neither syncs.
# It prints each build's files/s, every round and the median.
# Usage: DEPOT_BEFORE=<revision> bench/davsmall.sh   (needs curl, bc)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-6}
[ -n "${DEPOT_BEFORE:-}" ] || { echo "set DEPOT_BEFORE to the revision to compare with"; exit 2; }
. bench/lib.sh
trap bench_cleanup EXIT
bench_base
work=$(mktemp -d -p "$base")
go build -o "$work/depot-now" .
mkdir -p "$work/src"
git archive "$DEPOT_BEFORE" | tar -x -C "$work/src"
(cd "$work/src" && go build -o "$work/depot-before" .)
login=bench@example.com:Correct-horse-9x
declare -A urls
for n in now before; do
	DEPOT_DATA_SYNC_UPLOADS=false start_depot "$work/depot-$n" "$work/data-$n"
	urls[$n]=$url
	curl -fsS --user "$key:x" -d '{"user":{"email":"bench@example.com","password":"Correct-horse-9x","protocols":["webdav"]}}' "$url/admin/users" >/dev/null
done
mkdir -p "$work/small"
for ((i = 0; i < 1000; i++)); do head -c 4096 /dev/urandom >"$work/small/f$(printf %04d $i)"; done
glob="$work/small/{$(cd "$work/small" && ls | paste -sd, -)}"
for ((r = 0; r < rounds; r++)); do
	order=(now before)
	[ $((r % 2)) = 1 ] && order=(before now)
	for n in "${order[@]}"; do
		dir="${urls[$n]}/dav/r$r/"
		curl -fsS -o /dev/null -u "$login" -X MKCOL "$dir"
		s=$EPOCHREALTIME
		curl -fsS -o /dev/null -u "$login" -T "$glob" "$dir"
		echo "$n $(echo "1000 / ($EPOCHREALTIME - $s)" | bc -l)"
	done
done >"$work/t"
for n in now before; do
	awk -v n=$n '$1==n{printf "%.0f\n", $2}' "$work/t" | sort -n |
		awk -v n=$n '{v[NR]=$1; all=all" "$1} END{m=(NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2); printf "%-7s files/s:%s; median %.0f\n", n, all, m}'
done
