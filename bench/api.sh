#!/usr/bin/env bash
# Admin API throughput on loopback: user creation (serial vs 16 concurrent
# clients, which bbolt's Batch lets share fsyncs) and GET /admin/users with
# 1,000 users (wrk), against /healthz on the same server as the floor of the
# HTTP stack. Usage: bench/api.sh   (needs wrk: apt-get install wrk)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "bench/api.sh needs wrk (apt-get install wrk)"; exit 1; }

work=$(mktemp -d)
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/depot" .
go build -o "$work/createusers" ./bench/createusers
. bench/lib.sh
start_depot "$work/depot" "$work/data"

echo "== machine: $(nproc) cores, $(go version | cut -d' ' -f3), disk $(df -h "$work" | awk 'NR==2{print $1}')"
echo "== user creation"
"$work/createusers" -url "$url" -key "$key" -n 200 -c 1 -prefix serial
"$work/createusers" -url "$url" -key "$key" -n 800 -c 16 -prefix batched
echo "== GET /admin/users (1,001 users)"
auth="Authorization: Basic $(printf '%s:x' "$key" | base64 -w0)"
for path in "/healthz" "/admin/users?limit=100" "/admin/users?limit=1000"; do
	printf '%-26s ' "$path"
	wrk -t2 -c16 -d10s -H "$auth" "$url$path" | awk '/Requests\/sec/{r=$2} /Latency/{l=$2} END{printf "%s req/s, mean latency %s\n", r, l}'
done
