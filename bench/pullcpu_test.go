package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
)

// BenchmarkPullCPU pulls one file (BENCH_MIB, default 1024) from sshd
// with Depot's download action, with OpenSSH's sftp get and with rclone
// copyto (its sftp backend), taking turns, BENCH_ROUNDS times (5), and
// reports with each median the CPU seconds spent during the pull: by
// Depot's process or the client, and by
// everything else (sshd and the kernel's threads; from /proc/stat). It
// shows where the time of a pull goes on this machine, where sshd shares
// the two cores with the client. Files follow TMPDIR (/dev/shm takes the
// disk out).
// Run: go test -run '^$' -bench PullCPU -benchtime 1x ./bench
func BenchmarkPullCPU(b *testing.B) {
	mib, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_ROUNDS", 5)
	ctx := context.Background()
	a, work := transferApp(b, "depot-pullcpu-")
	sshd := testpeer.StartSSHD(b)
	randomFile(b, filepath.Join(sshd.Dir, "peer.bin"), mib)
	keyFile := filepath.Join(work, "id")
	os.WriteFile(keyFile, []byte(sshd.PrivateKey), 0o600)
	c := sshdConnection(sshd)
	if err := a.Connections.Create(ctx, c); err != nil {
		b.Fatal(err)
	}
	admin := apptest.Actor(&mft.User{ID: "bench", Role: mft.RoleAdmin, Home: "/", Active: true})
	var dWall, dOwn, dOther, oWall, oOwn, oOther, rWall, rOwn, rOther []float64
	for r := range rounds {
		depot := func() {
			dst := fmt.Sprintf("/pulled-%d", r)
			all, own := busySeconds(), ownCPU()
			dWall = append(dWall, runStep(b, a, mft.Action{Type: "download", Connection: c.ID, Pattern: "peer.bin", To: dst}, ""))
			all, own = busySeconds()-all, ownCPU()-own
			dOwn, dOther = append(dOwn, own), append(dOther, all-own)
			a.Files.Remove(ctx, admin, dst, true)
		}
		client := func(name string, wall, own, other *[]float64, argv func(out string) []string) func() {
			return func() {
				out := filepath.Join(work, "got.bin")
				args := argv(out)
				cmd := exec.Command(args[0], args[1:]...)
				all, start := busySeconds(), time.Now()
				if out, err := cmd.CombinedOutput(); err != nil {
					b.Fatalf("%s: %v\n%s", name, err, out)
				}
				*wall = append(*wall, time.Since(start).Seconds())
				all = busySeconds() - all
				o := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
				*own, *other = append(*own, o), append(*other, all-o)
				os.Remove(out)
			}
		}
		openssh := client("sftp get", &oWall, &oOwn, &oOther, func(out string) []string {
			return sftpBatch(sshd, keyFile, "get "+sshd.Dir+"/peer.bin "+out)
		})
		rcl := client("rclone", &rWall, &rOwn, &rOther, func(out string) []string {
			return []string{"rclone", "copyto", "-q", "--sftp-host", "127.0.0.1", "--sftp-port", strconv.Itoa(sshd.Port),
				"--sftp-user", sshd.User, "--sftp-key-file", keyFile, "--sftp-disable-hashcheck", "--sftp-set-modtime=false",
				":sftp:" + sshd.Dir + "/peer.bin", out}
		})
		steps := []func(){depot, openssh, rcl}
		for range r % len(steps) { // each takes its turn first
			steps = append(steps[1:], steps[0])
		}
		for _, step := range steps {
			syscall.Sync()
			step()
		}
	}
	m := float64(mib)
	fmt.Printf("| puller | MiB/s (s) | its CPU s | sshd and the rest, CPU s |\n|---|---|---|---|\n")
	fmt.Printf("| Depot download | %s | %.2f | %.2f |\n", rate(m, median(dWall)), median(dOwn), median(dOther))
	fmt.Printf("| OpenSSH sftp get | %s | %.2f | %.2f |\n", rate(m, median(oWall)), median(oOwn), median(oOther))
	fmt.Printf("| rclone copyto | %s | %.2f | %.2f |\n", rate(m, median(rWall)), median(rOwn), median(rOther))
	fmt.Printf("ratio to sftp get %.2f×, to rclone %.2f×\n", median(oWall)/median(dWall), median(rWall)/median(dWall))
}

// busySeconds is the CPU time the machine has spent so far, all cores,
// not idle (from /proc/stat).
func busySeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	fields := strings.Fields(strings.SplitN(string(data), "\n", 2)[0])[1:]
	var ticks float64
	for i, v := range fields {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		ticks += n
	}
	return ticks / 100 // USER_HZ
}

// ownCPU is the CPU time this process has used so far.
func ownCPU() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}
