package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
)

// BenchmarkMountS3 measures a home on S3 (VersityGW on loopback): one
// file of BENCH_MIB (1024) and 1,000 files of 4 KiB put with OpenSSH's
// sftp (aes128-gcm) into the S3-backed home, against rclone copying the
// same files to the same server (16 MiB parts, 4 at once, as Depot), in
// one run, alternating, medians of BENCH_ROUNDS (3); then Depot's peak
// RSS while BENCH_CONC (20) sftp clients each put BENCH_CONC_MIB (1024)
// at once.
// Run: go test -run '^$' -bench MountS3 -benchtime 1x -timeout 60m ./bench
func BenchmarkMountS3(b *testing.B) {
	mib, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_ROUNDS", 3)
	ctx := context.Background()
	work, _ := os.MkdirTemp("", "depot-mountbench-")
	b.Cleanup(func() { os.RemoveAll(work) })
	cfg := apptest.Config(filepath.Join(work, "data"))
	cfg.Data.SyncUploads = false
	a := apptest.Start(b, cfg)
	g := testpeer.StartVersityGW(b)
	s3 := g.Client(b)

	conn := &mft.Connection{Name: "versitygw", Type: mft.ConnS3, Endpoint: g.Endpoint, Region: "us-east-1", Bucket: testpeer.S3Bucket,
		PathStyle: true, AccessKey: testpeer.S3AccessKey, SecretKey: testpeer.S3SecretKey}
	put := mountedUser(b, a, work, conn)
	clear := func(prefix string) {
		for obj := range s3.ListObjects(ctx, testpeer.S3Bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
			s3.RemoveObject(ctx, testpeer.S3Bucket, obj.Key, minio.RemoveObjectOptions{})
		}
	}

	src := randomFile(b, filepath.Join(work, "src.bin"), mib)
	small := filepath.Join(work, "small")
	smallFiles(b, small, 1000)
	rcloneDir := func(from, to string) []string {
		argv := rclone(g, from, to)
		for i, s := range argv {
			if s == "copyto" {
				argv[i] = "copy"
			}
		}
		return argv
	}

	// The same files in 4 folders of 250, for 4 sftp sessions at once
	// (rclone's default of 4 transfers).
	quarters := filepath.Join(work, "quarters")
	for q := range 4 {
		os.MkdirAll(filepath.Join(quarters, fmt.Sprint(q)), 0o755)
		for i := q * 250; i < (q+1)*250; i++ {
			name := fmt.Sprintf("f%04d.bin", i)
			os.Link(filepath.Join(small, name), filepath.Join(quarters, fmt.Sprint(q), name))
		}
	}
	parallelPut := func() float64 {
		start := time.Now()
		var wg sync.WaitGroup
		for q := range 4 {
			wg.Go(func() {
				argv := put(fmt.Sprintf("put -r %s/%d q%d", quarters, q, q))
				if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
					b.Errorf("sftp %d: %v\n%s", q, err, out)
				}
			})
		}
		wg.Wait()
		return time.Since(start).Seconds()
	}
	var dBig, cBig, dSmall, dSmall4, cSmall, cSmall1 []float64
	for r := range rounds {
		steps := []func(){
			func() {
				dBig = append(dBig, timeCmd(b, put("put "+src+" big.bin")))
				dSmall = append(dSmall, timeCmd(b, put("put -r "+small+" small")))
				clear("depot/")
				dSmall4 = append(dSmall4, parallelPut())
				clear("depot/")
			},
			func() {
				cBig = append(cBig, timeCmd(b, rclone(g, src, ":s3:"+testpeer.S3Bucket+"/rclone/big.bin")))
				cSmall = append(cSmall, timeCmd(b, rcloneDir(small, ":s3:"+testpeer.S3Bucket+"/rclone/small")))
				clear("rclone/")
				// One file at a time, as OpenSSH's sftp sends them.
				cSmall1 = append(cSmall1, timeCmd(b, append(rcloneDir(small, ":s3:"+testpeer.S3Bucket+"/rclone/small"), "--transfers", "1", "--checkers", "1")))
				clear("rclone/")
			},
		}
		if r%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, s := range steps {
			s()
		}
	}
	m := float64(mib)
	fmt.Printf("== S3-backed home (VersityGW), median of %d\n", rounds)
	fmt.Printf("| files | Depot: sftp put into the S3 home | rclone to the same S3 | ratio |\n|---|---|---|---|\n")
	fmt.Printf("| 1 × %d MiB | %s MiB/s | %s MiB/s | %.2f× |\n", mib, rate(m, median(dBig)), rate(m, median(cBig)), median(cBig)/median(dBig))
	fmt.Printf("| 1,000 × 4 KiB | %.0f files/s (%.2fs) | %.0f files/s (%.2fs) | %.2f× |\n", 1000/median(dSmall), median(dSmall),
		1000/median(cSmall), median(cSmall), median(cSmall)/median(dSmall))
	fmt.Printf("| 1,000 × 4 KiB, 4 sftp sessions of 250 at once against rclone's 4 transfers | %.0f files/s (%.2fs) | %.0f files/s (%.2fs) | %.2f× |\n",
		1000/median(dSmall4), median(dSmall4), 1000/median(cSmall), median(cSmall), median(cSmall)/median(dSmall4))
	fmt.Printf("| 1,000 × 4 KiB, rclone one file at a time (--transfers 1) | | %.0f files/s (%.2fs) | %.2f× |\n", 1000/median(cSmall1), median(cSmall1),
		median(cSmall1)/median(dSmall))

	// Peak memory of concurrent uploads to S3.
	concurrentPuts(b, work, put, "the S3 home")
	clear("depot/")
}

// concurrentPuts prints Depot's peak RSS while BENCH_CONC (20) sftp
// clients put BENCH_CONC_MIB (1024) each into where at once.
func concurrentPuts(b *testing.B, work string, put func(string) []string, where string) {
	conc, concMiB := envInt("BENCH_CONC", 20), envInt("BENCH_CONC_MIB", 1024)
	if conc == 0 {
		return
	}
	csrc := randomFile(b, filepath.Join(work, "conc.bin"), concMiB)
	before := peakRSS()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range conc {
		wg.Go(func() {
			argv := put(fmt.Sprintf("put %s c%02d.bin", csrc, i))
			if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
				b.Errorf("upload %d: %v\n%s", i, err, out)
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("\n%d concurrent sftp puts of %d MiB into %s: %.1fs (%.0f MiB/s in all); Depot's peak RSS %d MiB (%d MiB before)\n\n",
		conc, concMiB, where, secs, float64(conc*concMiB)/secs, peakRSS()>>20, before>>20)
}

// peakRSS is this process's peak resident set (VmHWM), in bytes: Depot
// runs inside the benchmark.
func peakRSS() int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscan(strings.TrimSuffix(strings.TrimSpace(v), " kB"), &kb)
			return kb << 10
		}
	}
	return 0
}
