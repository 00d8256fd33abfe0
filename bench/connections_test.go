package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"depot/app"
	"depot/files"
	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
)

// BenchmarkConnections pushes and pulls one file (BENCH_MIB, default
// 1024) with Depot's upload and download actions against real peers on
// loopback, and the same file with each peer's usual client in the same
// run: OpenSSH's sftp (aes128-gcm) to sshd, curl to vsftpd, rclone to
// VersityGW; then 1,000 files of 4 KiB pulled in one run from sshd
// against sftp's get -r and rclone copy. Both sides pull the same file and push to the
// same name, which is deleted before each step. Medians of BENCH_ROUNDS
// (3); BENCH_RAW=1 prints each round. Neither side syncs
// (data.sync_uploads off): equal durability. BENCH_PEERS=vsftpd,…
// measures those peers alone. Files go to TMPDIR (a fresh ext4 without
// discard gives steadier numbers, see bench_base in lib.sh).
// BENCH_ONLY=small runs the small files alone.
// Run: go test -run '^$' -bench Connections -benchtime 1x ./bench
func BenchmarkConnections(b *testing.B) {
	mib, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_ROUNDS", 3)
	ctx := context.Background()
	a, work := transferApp(b, "depot-connbench-")
	sshd, ftpd, s3 := testpeer.StartSSHD(b), testpeer.StartVSFTPD(b, testpeer.FTPPlain), testpeer.StartVersityGW(b)

	src := randomFile(b, filepath.Join(work, "src.bin"), mib)
	admin := apptest.Actor(&mft.User{ID: "bench", Role: mft.RoleAdmin, Home: "/", Active: true})
	in, _ := os.Open(src)
	if _, err := a.Files.Upload(ctx, admin, "/big.bin", in, filesOpts()); err != nil {
		b.Fatal(err)
	}
	in.Close()

	keyFile := filepath.Join(work, "id")
	os.WriteFile(keyFile, []byte(sshd.PrivateKey), 0o600)
	ftpURL := func(name string) string {
		return fmt.Sprintf("ftp://%s:%s@127.0.0.1:%d/%s", testpeer.FTPUser, testpeer.FTPPassword, ftpd.Port, name)
	}
	// Each peer keeps its files in a local folder (dir): pulls read
	// source.bin there, pushes write pushed.bin.
	conns := []struct {
		c    *mft.Connection
		dir  string
		push func(name string) []string
		pull func(dst string) []string
	}{
		{c: sshdConnection(sshd), dir: sshd.Dir,
			push: func(name string) []string { return sftpBatch(sshd, keyFile, "put "+src+" "+sshd.Dir+"/"+name) },
			pull: func(dst string) []string { return sftpBatch(sshd, keyFile, "get "+sshd.Dir+"/source.bin "+dst) }},
		{c: &mft.Connection{Name: "vsftpd", Type: mft.ConnFTP, Host: "127.0.0.1", Port: ftpd.Port, Username: testpeer.FTPUser,
			Password: testpeer.FTPPassword, BasePath: ftpd.Dir}, dir: ftpd.Dir,
			push: func(name string) []string { return []string{"curl", "-s", "-T", src, ftpURL(name)} },
			pull: func(dst string) []string { return []string{"curl", "-s", "-o", dst, ftpURL("source.bin")} }},
		{c: &mft.Connection{Name: "versitygw", Type: mft.ConnS3, Endpoint: s3.Endpoint, Region: "us-east-1", Bucket: testpeer.S3Bucket,
			PathStyle: true, AccessKey: testpeer.S3AccessKey, SecretKey: testpeer.S3SecretKey}, dir: filepath.Join(s3.Dir, testpeer.S3Bucket),
			push: func(name string) []string { return rclone(s3, src, ":s3:"+testpeer.S3Bucket+"/"+name) },
			pull: func(dst string) []string { return rclone(s3, ":s3:"+testpeer.S3Bucket+"/source.bin", dst) }},
	}
	fmt.Printf("== %d MiB, median of %d, MiB/s (seconds)\n", mib, rounds)
	fmt.Printf("| peer | Depot upload | peer client put | ratio | Depot download | peer client get | ratio |\n|---|---|---|---|---|---|---|\n")
	for _, p := range conns {
		if err := a.Connections.Create(ctx, p.c); err != nil {
			b.Fatal(err)
		}
		if only := os.Getenv("BENCH_PEERS"); os.Getenv("BENCH_ONLY") == "small" || only != "" && !strings.Contains(only, p.c.Name) {
			continue
		}
		timeCmd(b, p.push("source.bin"))
		pushed := filepath.Join(p.dir, "pushed.bin")
		var dPush, cPush, dPull, cPull []float64
		out := filepath.Join(work, "got.bin")
		// clean deletes what any step wrote, so that every step starts
		// alike: the step before's file just deleted, its memory free.
		// (Writing a file needs memory; on this VM memory left free for
		// seconds is handed back to the host and slow to touch again,
		// and which step met that decided the rows.)
		clean := func() {
			os.Remove(pushed)
			os.Remove(out)
			a.Files.Remove(ctx, admin, "/pulled", true)
		}
		for r := range rounds {
			steps := []func(){
				func() {
					dPush = append(dPush, runStep(b, a, mft.Action{Type: "upload", Connection: p.c.ID, To: "/pushed.bin", KeepOriginal: true}, "/big.bin"))
				},
				func() { cPush = append(cPush, timeCmd(b, p.push("pushed.bin"))) },
				func() {
					dPull = append(dPull, runStep(b, a, mft.Action{Type: "download", Connection: p.c.ID, Pattern: "source.bin", To: "/pulled"}, ""))
					if fi, err := a.Files.Stat(ctx, admin, "/pulled/source.bin"); err != nil || fi.Size != int64(mib)<<20 {
						b.Fatalf("Depot's download left %+v, %v", fi, err)
					}
				},
				func() {
					cPull = append(cPull, timeCmd(b, p.pull(out)))
					if fi, err := os.Stat(out); err != nil || fi.Size() != int64(mib)<<20 {
						b.Fatalf("%s's client left %v, %v", p.c.Name, fi, err)
					}
				},
			}
			if r%2 == 1 { // who goes first alternates
				steps[0], steps[1], steps[2], steps[3] = steps[1], steps[0], steps[3], steps[2]
			}
			for _, step := range steps {
				clean()
				// Untimed: the step before leaves up to 1 GiB of dirty
				// pages, whose writeback would otherwise run (and take
				// CPU on 2 cores) in this step's time.
				syscall.Sync()
				step()
			}
		}
		clean()
		if os.Getenv("BENCH_RAW") != "" {
			fmt.Printf("seconds per round: Depot upload %.2f, put %.2f, Depot download %.2f, get %.2f\n", dPush, cPush, dPull, cPull)
		}
		m := float64(mib)
		fmt.Printf("| %s | %s | %s | %.2f× | %s | %s | %.2f× |\n", p.c.Name, rate(m, median(dPush)), rate(m, median(cPush)),
			median(cPush)/median(dPush), rate(m, median(dPull)), rate(m, median(cPull)), median(cPull)/median(dPull))
	}

	// 1,000 files of 4 KiB in one pull.
	small := filepath.Join(sshd.Dir, "small")
	smallFiles(b, small, 1000)
	var dSmall, cSmall, rSmall []float64
	for r := range rounds {
		dSmall = append(dSmall, runStep(b, a, mft.Action{Type: "download", Connection: conns[0].c.ID, From: "/small", To: fmt.Sprintf("/small-%d", r)}, ""))
		dst := filepath.Join(work, fmt.Sprintf("small-%d", r))
		cSmall = append(cSmall, timeCmd(b, sftpBatch(sshd, keyFile, "get -r "+small+" "+dst)))
		// rclone as shipped: four files at a time, as Depot's download
		// fetches eight.
		rSmall = append(rSmall, timeCmd(b, []string{"rclone", "copy", "-q", "--sftp-host", "127.0.0.1", "--sftp-port", strconv.Itoa(sshd.Port),
			"--sftp-user", sshd.User, "--sftp-key-file", keyFile, "--sftp-disable-hashcheck", ":sftp:" + small, dst + "-rclone"}))
	}
	fmt.Printf("\n1,000 × 4 KiB pulled from sshd in one run: Depot download %.0f files/s (%.2fs), sftp get -r %.0f files/s (%.2fs), ratio %.2f×; rclone copy %.0f files/s (%.2fs), ratio %.2f×\n",
		1000/median(dSmall), median(dSmall), 1000/median(cSmall), median(cSmall), median(cSmall)/median(dSmall),
		1000/median(rSmall), median(rSmall), median(rSmall)/median(dSmall))
}

func filesOpts() files.UploadOptions { return files.UploadOptions{Size: -1} }

// transferApp starts Depot for a transfer benchmark in a new folder below
// TMPDIR: uploads are not synced (the peers' clients do not sync either)
// and the runtime is tuned as depot serve tunes it.
func transferApp(b *testing.B, prefix string) (*app.App, string) {
	work, err := os.MkdirTemp("", prefix)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(work) })
	cfg := apptest.Config(filepath.Join(work, "data"))
	cfg.Data.SyncUploads = false
	old := debug.SetGCPercent(100)
	app.TuneRuntime(cfg.Runtime)
	b.Cleanup(func() { debug.SetGCPercent(old) })
	return apptest.Start(b, cfg), work
}

// sshdConnection is a connection to the sshd peer's folder.
func sshdConnection(sshd *testpeer.SSHD) *mft.Connection {
	return &mft.Connection{Name: "sshd", Type: mft.ConnSFTP, Host: "127.0.0.1", Port: sshd.Port, Username: sshd.User,
		PrivateKey: sshd.PrivateKey, HostKey: sshd.HostKey, BasePath: sshd.Dir}
}

// runStep runs one action as a manual automation and returns the seconds
// its step took, as the run recorded them.
func runStep(b *testing.B, a *app.App, act mft.Action, file string) float64 {
	ctx := context.Background()
	au := &mft.Automation{Name: "bench", Enabled: true, Trigger: mft.TriggerManual, Actions: []mft.Action{act}, Retry: mft.Retry{Attempts: 1}}
	if err := au.Validate(func(string, string) error { return nil }); err != nil {
		b.Fatal(err)
	}
	if err := a.Automations.CreateAutomation(ctx, au); err != nil {
		b.Fatal(err)
	}
	r, err := a.Engine.RunNow(ctx, au, file)
	if err != nil {
		b.Fatal(err)
	}
	for {
		got, err := a.Automations.FindRun(ctx, r.ID)
		if err != nil {
			b.Fatal(err)
		}
		switch got.Status {
		case mft.RunSucceeded:
			return float64(got.Steps[0].DurationMS) / 1000
		case mft.RunFailed:
			b.Fatalf("%s: %s", act.Type, got.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func sftpBatch(s *testpeer.SSHD, key, cmd string) []string {
	return []string{"sh", "-c", fmt.Sprintf("echo %q | sftp -q -b - -i %s -P %d -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "+
		"-o Ciphers=aes128-gcm@openssh.com %s@127.0.0.1", cmd, key, s.Port, s.User)}
}

func rclone(g *testpeer.VersityGW, from, to string) []string {
	// env -u: rclone 1.60 cannot take a custom CA bundle (nor needs one
	// for http://).
	return []string{"env", "-u", "AWS_CA_BUNDLE", "rclone", "copyto", "-q", "--ignore-times", "--s3-chunk-size", "16M", "--s3-upload-concurrency", "4", "--s3-provider", "Other", "--s3-endpoint", g.Endpoint, "--s3-access-key-id", testpeer.S3AccessKey,
		"--s3-secret-access-key", testpeer.S3SecretKey, "--s3-force-path-style", from, to}
}

func timeCmd(b *testing.B, argv []string) float64 { return timeCmdIn(b, "", argv) }

// timeCmdIn runs argv in folder dir and returns the seconds it took.
func timeCmdIn(b *testing.B, dir string, argv []string) float64 {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("%.300s: %v\n%.2000s", strings.Join(argv, " "), err, out) // a curl glob of 1,000 names is long
	}
	return time.Since(start).Seconds()
}

// randomFile writes mib MiB of random bytes to name and returns name.
func randomFile(b *testing.B, name string, mib int) string {
	f, err := os.Create(name)
	if err == nil {
		_, err = io.CopyN(f, rand.Reader, int64(mib)<<20)
		err = errors.Join(err, f.Close())
	}
	if err != nil {
		b.Fatal(err)
	}
	return name
}

// smallFiles writes n files of 4 KiB of random bytes, f0000.bin and on, to
// a new folder dir and returns their paths.
func smallFiles(b *testing.B, dir string, n int) []string {
	if err := os.Mkdir(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 4096)
	paths := make([]string, n)
	for i := range n {
		rand.Read(buf)
		paths[i] = filepath.Join(dir, fmt.Sprintf("f%04d.bin", i))
		if err := os.WriteFile(paths[i], buf, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	return paths
}

// envInt reads a whole number from the environment, def when unset.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func rate(mib, secs float64) string { return fmt.Sprintf("%.0f (%.2fs)", mib/secs, secs) }
