# Shared by the bench scripts (source it): a free port, and a Depot started
# on loopback with rate limiting off and the admin key $key.
key=bench-admin-key-0123456789
pid=

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_depot BIN DATA_DIR [SFTP_PORT]: starts BIN serve, waits until it
# answers, and sets $pid and $url.
start_depot() {
	local port sftp_port=${3:-$(free_port)}
	port=$(free_port)
	url=http://127.0.0.1:$port
	DEPOT_DATA_DIR=$2 DEPOT_HTTP_LISTEN=127.0.0.1:$port DEPOT_SFTP_LISTEN=127.0.0.1:$sftp_port \
		DEPOT_ADMIN_API_KEY=$key DEPOT_HTTP_RATE_LIMIT=0 DEPOT_LOG_LEVEL=warn "$1" serve >/dev/null 2>&1 &
	pid=$!
	until curl -fs "$url/healthz" >/dev/null; do sleep 0.1; done
}

# bench_base sets $base, where a script's files go: BENCH_DIR (default
# /var/tmp), or with BENCH_FS=ext4 (as root) a fresh ext4 in an image file
# there (BENCH_FS_SIZE, default 16G), inode tables initialized, on a
# loop device with direct I/O, mounted without discard;
# bench_base_cleanup unmounts and removes it.
img= mnt= dev=
bench_base() {
	base=${BENCH_DIR:-/var/tmp}
	if [ "${BENCH_FS:-}" = ext4 ]; then
		img=$(mktemp -p "$base" depot-bench.XXXXXX.img)
		# The image grows with every block the filesystem ever touches (it
		# does not discard), so it is kept to what a run needs; 48G once
		# filled this VM's disk and the run died read-only.
		truncate -s "${BENCH_FS_SIZE:-16G}" "$img"
		# Direct I/O: a buffered loop device copies every block it writes
		# into the image file's page cache as well, so that an fsync costs
		# a second copy of the data (a synced 1 GiB upload took 1.0–2.1 s
		# there; with direct I/O it took what an unsynced one did, as on a
		# disk: BENCHMARKS.md, issue 19).
		dev=$(losetup --direct-io=on -f --show "$img")
		mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0,nodiscard "$dev"
		mnt=$(mktemp -d)
		mount -o nodiscard "$dev" "$mnt"
		base=$mnt
	fi
}
bench_base_cleanup() {
	if [ -n "$mnt" ]; then umount "$mnt" && rmdir "$mnt"; fi
	if [ -n "$dev" ]; then losetup -d "$dev"; fi
	if [ -n "$img" ]; then rm -f "$img"; fi
}

# bench_cleanup (trap bench_cleanup EXIT) stops the script's servers and
# removes $work and the filesystem bench_base made.
bench_cleanup() {
	jobs -p | xargs -r kill 2>/dev/null
	wait 2>/dev/null
	[ -z "${work:-}" ] || rm -rf "$work"
	bench_base_cleanup
}
