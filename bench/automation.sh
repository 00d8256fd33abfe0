#!/usr/bin/env bash
# Automations on loopback:
#  - event-to-webhook latency: 1,000 small uploads at 100/s through the HTTP
#    API, each firing file.uploaded to a webhook receiver (bench/webhooklat);
#  - pgp_encrypt throughput: a 1 GiB file encrypted by an automation
#    (the step's duration) against `gpg --encrypt` of the same file to the
#    same key, and `cp` of it as the disk's floor, median of 3.
# Usage: bench/automation.sh [size_mib]   (needs curl, gpg)
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}")
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; gpgconf --homedir "$work/gpg" --kill all 2>/dev/null; rm -rf "$work"' EXIT
. bench/lib.sh
go build -o "$work/depot" .
go build -o "$work/webhooklat" ./bench/webhooklat
start_depot "$work/depot" "$work/data"
echo "== $(date -u +%F), $(nproc) cores, $(go version | cut -d' ' -f3), $(gpg --version | head -1)"
"$work/webhooklat" -url "$url" -key "$key" -rate 100 -seconds 10

mkdir -m 700 "$work/gpg"
g() { gpg --homedir "$work/gpg" --batch --pinentry-mode loopback --passphrase '' "$@"; }
g --quick-gen-key 'Bench <bench@example.com>' default default never 2>/dev/null
pub=$(g --armor --export bench@example.com | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))')
admin=(--user "$key:x")
curl -fsS "${admin[@]}" -d "{\"automation\":{\"name\":\"enc\",\"trigger\":\"event\",\"events\":[\"file.uploaded\"],
	\"conditions\":[{\"type\":\"name\",\"pattern\":\"*.bin\"}],\"actions\":[{\"type\":\"pgp_encrypt\",\"public_key\":$pub}]}}" \
	"$url/admin/automations" >/tmp/au.json
au=$(python3 -c 'import json; print(json.load(open("/tmp/au.json"))["automation"]["id"])')
head -c "${size_mib}M" /dev/urandom >"$work/src.bin"
median() { sort -g | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }
for i in 1 2 3; do
	s=$EPOCHREALTIME; cp "$work/src.bin" "$work/cp.bin"; echo "cp $(echo "$EPOCHREALTIME - $s" | bc -l)"; rm -f "$work/cp.bin"
	s=$EPOCHREALTIME; g --trust-model always --compress-algo none -r bench@example.com -o "$work/gpg.pgp" --encrypt "$work/src.bin"
	echo "gpg $(echo "$EPOCHREALTIME - $s" | bc -l)"; rm -f "$work/gpg.pgp"
	curl -fsS "${admin[@]}" -T "$work/src.bin" "$url/api/files/content?path=/big$i.bin" >/dev/null
	while :; do
		st=$(curl -fsS "${admin[@]}" "$url/admin/automations/$au/runs?limit=1" | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]["run"]; print(r["status"], r["steps"][0]["duration_ms"] if r["steps"] else 0)')
		case $st in succeeded*) echo "depot $(echo "${st#* } / 1000" | bc -l)"; break ;; failed*) echo "run failed"; exit 1 ;; esac
		sleep 0.2
	done
	curl -fsS "${admin[@]}" -X DELETE "$url/api/files?path=/big$i.bin.pgp" >/dev/null
done >"$work/t"
for k in cp gpg depot; do
	m=$(awk -v k=$k '$1==k{print $2}' "$work/t" | median)
	printf '%-6s %6.0f MiB/s (%.2fs)\n' $k "$(echo "$size_mib / $m" | bc -l)" "$m"
done
d=$(awk '$1=="depot"{print $2}' "$work/t" | median) o=$(awk '$1=="gpg"{print $2}' "$work/t" | median)
printf 'pgp_encrypt / gpg --encrypt throughput: %.2f\n' "$(echo "$o / $d" | bc -l)"
