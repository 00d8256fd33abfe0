package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"depot/internal/apptest"
	"depot/mft"
)

// BenchmarkDecompress unpacks a zip of BENCH_FILES (10,000) files of
// random bytes, BENCH_MIB (1024) MiB in all, with the decompress action
// (every file an upload through the file service: limits, SHA-256,
// events, audit) against `unzip` of the same archive to the same disk, in
// one run; medians of BENCH_ROUNDS (3). The goal: ≥ 0.8× unzip's speed.
// Uploads are not synced (unzip does not sync either).
// Run: go test -run '^$' -bench Decompress -benchtime 1x ./bench
func BenchmarkDecompress(b *testing.B) {
	n, mib, rounds := envInt("BENCH_FILES", 10000), envInt("BENCH_MIB", 1024), envInt("BENCH_ROUNDS", 3)
	ctx := context.Background()
	a, work := transferApp(b, "depot-unzipbench-")
	src := filepath.Join(work, "src")
	os.MkdirAll(src, 0o755)
	buf := make([]byte, (mib<<20)/n)
	for i := range n {
		rand.Read(buf)
		if err := os.WriteFile(filepath.Join(src, fmt.Sprintf("f%05d.bin", i)), buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	archive := filepath.Join(work, "batch.zip")
	cmd := exec.Command("zip", "-q", "-r", "-0", archive, "src") // stored: the bytes are random anyway
	cmd.Dir = work
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("zip: %v %s", err, out)
	}
	os.RemoveAll(src)
	admin := apptest.Actor(&mft.User{ID: "bench", Role: mft.RoleAdmin, Home: "/", Active: true})
	f, _ := os.Open(archive)
	if _, err := a.Files.Upload(ctx, admin, "/batch.zip", f, filesOpts()); err != nil {
		b.Fatal(err)
	}
	f.Close()
	var depot, unzip []float64
	for r := range rounds {
		out := filepath.Join(work, "unzipped")
		os.RemoveAll(out)
		unzip = append(unzip, timeCmd(b, []string{"unzip", "-q", "-o", archive, "-d", out}))
		os.RemoveAll(out)
		to := fmt.Sprintf("/round%d", r)
		depot = append(depot, runStep(b, a, mft.Action{Type: "decompress", To: to, KeepOriginal: true, MaxEntries: 2 * n}, "/batch.zip"))
		a.Files.Remove(ctx, admin, to, true)
	}
	m := float64(mib)
	b.Logf("decompress, %d files, %d MiB, medians of %d: Depot %s MiB/s (%.0f files/s), unzip %s MiB/s: %.2fx",
		n, mib, rounds, rate(m, median(depot)), float64(n)/median(depot), rate(m, median(unzip)), median(unzip)/median(depot))
}
