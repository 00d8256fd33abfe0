package bench

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"depot/auth"
	"depot/files"
	"depot/internal/testpeer"
	"depot/mft"
	"depot/scan"
)

// BenchmarkScan measures uploads with clamd scanning them against the
// same uploads without scanning and against `clamdscan --stream` of the
// same file alone (the scanner's own time, the floor), in one run:
// BENCH_MIB (1024) MiB of random bytes over HTTP (curl -T) and SFTP
// (OpenSSH's sftp, aes128-gcm), then BENCH_SMALL (1000) files of 4 KiB
// over HTTP, 4 at once. Rounds alternate scanning on and off; medians of
// BENCH_ROUNDS (5). The goal: scanning adds no more than the scanner's own
// time (≤ 1.1× of max(upload, clamdscan)). Uploads are not synced.
// Run: go test -run '^$' -bench Scan -benchtime 1x ./bench
func BenchmarkScan(b *testing.B) {
	mib, small, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_SMALL", 1000), envInt("BENCH_ROUNDS", 5)
	ctx := context.Background()
	a, work := transferApp(b, "depot-scanbench-")
	c := testpeer.StartClamd(b, 4000)
	scanner, err := scan.New(scan.Config{Engine: scan.Clamd, Address: c.Address(), Timeout: 5 * time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	on := func(yes bool) {
		a.Files.Scanner = nil
		if yes {
			a.Files.Scanner = scanner
		}
	}

	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	block, _ := gossh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(work, "id")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	key := "scan-bench-key-0123456789"
	u := &mft.User{ID: "bench", Username: "bench", Role: mft.RoleUser, Home: "/users/bench", Active: true, Protocols: mft.DefaultProtocols,
		SSHKeys: []string{strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))}, APIKeyHash: auth.HashKey(key)}
	if err := a.Users.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	addr := a.SFTP.ListenAddr().String()
	port := addr[strings.LastIndex(addr, ":")+1:]
	src := randomFile(b, filepath.Join(work, "big.bin"), mib)
	curl := []string{"curl", "-sS", "-f", "-o", "/dev/null", "-u", key + ":", "-T", src, a.HTTP.PublicURL + "/api/files/content?path=/big.bin&overwrite=true"}
	sftp := []string{"sh", "-c", fmt.Sprintf("echo 'put %s /big.bin' | sftp -q -b - -i %s -P %s -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "+
		"-o Ciphers=aes128-gcm@openssh.com bench@127.0.0.1", src, keyFile, port)}
	floor := []string{"clamdscan", "--stream", "--no-summary", "-c", filepath.Join(c.Dir, "clamd.conf"), src}

	// clamd's first scans on each of its threads are slower (measured: a
	// 64 MiB stream 1.4 s the first time, 0.56 s after): warm them all.
	var warm sync.WaitGroup
	for range 4 {
		warm.Go(func() { runShell(floor) })
	}
	warm.Wait()
	var httpOn, httpOff, sftpOn, sftpOff, clam []float64
	for range rounds {
		on(true)
		httpOn = append(httpOn, timeCmd(b, curl))
		sftpOn = append(sftpOn, timeCmd(b, sftp))
		on(false)
		httpOff = append(httpOff, timeCmd(b, curl))
		sftpOff = append(sftpOff, timeCmd(b, sftp))
		clam = append(clam, timeCmd(b, floor))
	}

	body := make([]byte, 4096)
	rand.Read(body)
	smallRun := func() float64 {
		var next atomic.Int64
		var wg sync.WaitGroup
		start := time.Now()
		for range 4 {
			wg.Go(func() {
				for i := next.Add(1); i <= int64(small); i = next.Add(1) {
					req, _ := http.NewRequest("PUT", fmt.Sprintf("%s/api/files/content?path=/s%04d.bin&overwrite=true", a.HTTP.PublicURL, i), strings.NewReader(string(body)))
					req.SetBasicAuth(key, "")
					resp, err := http.DefaultClient.Do(req)
					if err != nil || resp.StatusCode != 201 {
						b.Errorf("small upload: %v %v", err, resp)
						return
					}
					resp.Body.Close()
				}
			})
		}
		wg.Wait()
		return float64(small) / time.Since(start).Seconds()
	}
	var smallOn, smallOff []float64
	for range rounds {
		on(true)
		smallOn = append(smallOn, smallRun())
		on(false)
		smallOff = append(smallOff, smallRun())
	}

	m := float64(mib)
	goal := func(with, without float64) string {
		return fmt.Sprintf("%.2fx of max(upload, clamdscan)", with/max(without, median(clam)))
	}
	b.Logf("clamd %s, %d MiB, medians of %d", strings.TrimSpace(runOut(floorVersion(c))), mib, rounds)
	b.Logf("  HTTP: scanned %s MiB/s, not scanned %s, clamdscan --stream alone %s: %s",
		rate(m, median(httpOn)), rate(m, median(httpOff)), rate(m, median(clam)), goal(median(httpOn), median(httpOff)))
	b.Logf("  SFTP: scanned %s MiB/s, not scanned %s: %s", rate(m, median(sftpOn)), rate(m, median(sftpOff)), goal(median(sftpOn), median(sftpOff)))
	b.Logf("  %d × 4 KiB over HTTP, 4 at once: scanned %.0f files/s, not scanned %.0f (%.2fx)",
		small, median(smallOn), median(smallOff), median(smallOn)/median(smallOff))
	_ = files.Verdict{}
}

func floorVersion(c *testpeer.Clamd) []string {
	return []string{"clamdscan", "-c", filepath.Join(c.Dir, "clamd.conf"), "--version"}
}

func runOut(argv []string) string {
	out, _ := runShell(argv)
	return string(out)
}
