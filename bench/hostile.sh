#!/usr/bin/env bash
# Hostile probes (issue 34, hardening II) against one Depot on loopback, on
# its defaults, with curl: how many bytes a stranger can store through chunk
# pieces and a filedrop, how many answers 200 parallel guesses of a secret
# get before the ban, and what an administrator's upload gets while 200
# slow anonymous uploads hold their slots. Prints counts of statuses.
# Usage: bench/hostile.sh   (needs curl, jq; writes about 1 GB under BENCH_DIR)
set -u
cd "$(dirname "$0")/.."
work=$(mktemp -d -p "${BENCH_DIR:-/var/tmp}")
go build -o "$work/depot" . || exit 1
cd "$work"
KEY=probe-admin-key-0123456789abcdef
D=http://127.0.0.1:18480
start() {
  DEPOT_DATA_DIR=$PWD/data DEPOT_HTTP_LISTEN=127.0.0.1:18480 DEPOT_SFTP_LISTEN=127.0.0.1:12480 DEPOT_HTTP_PUBLIC_URL=http://127.0.0.1:18480 \
    DEPOT_ADMIN_API_KEY=$KEY ./depot serve >> depot.log 2>&1 &
  PID=$!
  for i in $(seq 50); do curl -s $D/healthz >/dev/null && break; sleep 0.2; done
}
restart() { kill $PID; wait $PID 2>/dev/null; start; }   # bans live in memory
start
trap 'kill $PID; wait $PID 2>/dev/null; pkill -f "limit-rate 1" ; rm -rf "$work"' EXIT
U=$(curl -s --user $KEY:x -d '{"user":{"email":"creator@example.com","quota_mb":10}}' $D/admin/users | jq -r .user.api_key)
O=$(curl -s --user $KEY:x -d '{"user":{"email":"owner@example.com"}}' $D/admin/users | jq -r .user.id)
curl -s --user $U:x -d '{"path":"/in"}' $D/api/folders >/dev/null
L=$(curl -s --user $U:x -d '{"link":{"path":"/in","allow_upload":true}}' $D/api/links | jq -r .link.id)
curl -s --user $KEY:x -d "{\"filedrop\":{\"name\":\"drop\",\"title\":\"Drop\",\"owner\":\"$O\",\"max_filesize\":100}}" $D/admin/filedrops >/dev/null
head -c $((9<<20)) /dev/urandom > nine.bin
head -c $((100<<20)) /dev/urandom > hundred.bin

echo "== 1. chunk pieces through an upload link, creator quota 10 MB: 50 sets of chunk 0 of 2 (9 MiB), a new name each"
for i in $(seq 50); do curl -s -o /dev/null -w '%{http_code}\n' -T nine.bin "$D/s/$L/upload?filename=f$i.bin&chunk=0&chunks=2" -X POST; done | sort | uniq -c
echo "bytes in data/tmp: $(du -sb data/tmp | cut -f1)"

echo "== 2. filedrop (max_filesize 100 MB) from one address: 24 keys x 3 files of 100 MiB"
codes=""
for k in $(seq 24); do
  FK=$(curl -s -H 'Accept: application/json' $D/filedrop/drop | jq -r .filedrop.api_key)
  for f in 1 2 3; do
    codes+=$(curl -s -o /dev/null -w '%{http_code} ' -H "Authorization: Bearer $FK" -H 'Content-Type: application/octet-stream' --data-binary @hundred.bin "$D/filedrop/drop/attachments/upload?filename=f$f.bin")
  done
done
echo $codes | tr ' ' '\n' | sort | uniq -c
echo "bytes held: $(du -sb data/files/.filedrop-uploads | cut -f1)"

echo "== 3. 200 parallel wrong guesses (defender.max_failures 10)"
P=$(curl -s --user $U:x -d '{"link":{"path":"/in","password":"open-sesame-123"}}' $D/api/links | jq -r .link.id)
seq 200 | xargs -P 200 -I{} curl -s -o /dev/null -w '%{http_code}\n' --user link:wrong-{} "$D/s/$P/download" | sort | uniq -c
restart
echo "-- filedrop upload keys"
seq 200 | xargs -P 200 -I{} curl -s -o /dev/null -w '%{http_code}\n' -H "Authorization: Bearer WRONG{}KEYWRONGKEYWRONGKEY" -X POST --data x "$D/filedrop/drop/attachments/upload?filename=a.txt" | sort | uniq -c
restart
echo "-- dropzone tokens"
DZ=$(curl -s --user $KEY:x -d '{"dropzone":{"gb":1,"days":30}}' $D/admin/dropzones | jq -r .dropzone.id)
seq 200 | xargs -P 200 -I{} curl -s -o /dev/null -w '%{http_code}\n' --user WRONG{}TOKENWRONGTOKEN:x "$D/api/dropzones/$DZ" | sort | uniq -c
restart

echo "== 4. 200 slow anonymous uploads (1 byte/s) to the upload link, then the administrator's PUT"
for i in $(seq 200); do
  (head -c 100000 /dev/zero | curl -s -o /dev/null --limit-rate 1 -T - -X POST "$D/s/$L/upload?filename=slow$i.bin" &) 
done
sleep 5
for i in 1 2 3; do
  curl -s -o /dev/null -w "admin PUT: %{http_code} in %{time_total}s\n" --user $KEY:x -T nine.bin "$D/api/files/content?path=/admin-$i.bin"
  sleep 2
done
curl -s -o /dev/null -w "one more anonymous upload: %{http_code}\n" -X POST --data x "$D/s/$L/upload?filename=late.bin"
