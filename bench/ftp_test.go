package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"depot/app"
	"depot/auth"
	"depot/config"
	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
)

// BenchmarkFTPSAndWebDAV measures Depot's FTPS and WebDAV against peers
// in one run, rounds alternating, medians of BENCH_ROUNDS (3):
//   - FTPS with lftp (TLS 1.2, AES-128-GCM for every server, data
//     protected): a BENCH_MIB (1024) MiB put and get, and BENCH_SMALL
//     (1000) files of 4 KiB put in one session (mirror -R), against
//     vsftpd (TLS required for logins and data) and SFTPGo's FTPS;
//   - WebDAV: the same file copied up and down with rclone, and the small
//     files PUT by curl over one connection, against SFTPGo's WebDAV.
//
// SFTPGo is the binary in $SFTPGO (see bench/sftpgo.sh for how to build
// it); without it its rows are left out, with a message. Nothing is synced
// to disk (data.sync_uploads and ftp.sync_uploads off; vsftpd and SFTPGo
// do not sync); SFTPGo runs as shipped (upload_mode 0: it writes the final
// file directly, where Depot publishes a complete upload atomically).
// Run: SFTPGO=/path/to/sftpgo go test -run '^$' -bench FTPSAndWebDAV -benchtime 1x ./bench
func BenchmarkFTPSAndWebDAV(b *testing.B) {
	mib, small, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_SMALL", 1000), envInt("BENCH_ROUNDS", 3)
	work, err := os.MkdirTemp("", "depot-ftpbench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(work) })
	cfg := apptest.Config(filepath.Join(work, "data"))
	cfg.Data.SyncUploads, cfg.FTP.Enabled = false, true
	cfg.HTTP.MinUploadRate = config.Default().HTTP.MinUploadRate // as shipped (tests turn it off)
	cfg.FTP.Listen, cfg.FTP.PassivePorts = "127.0.0.1:0", "42000-42999"
	old := debug.SetGCPercent(100)
	app.TuneRuntime(cfg.Runtime)
	b.Cleanup(func() { debug.SetGCPercent(old) })
	// The audit log written as shipped (tests write it every 10 ms).
	a := apptest.Start(b, cfg, func(a *app.App) { a.AuditLog.Interval = 0 })
	const password = "bench-password-123"
	hash, err := auth.HashPassword(password)
	if err != nil {
		b.Fatal(err)
	}
	u := &mft.User{ID: "bench", Username: "bench", Role: mft.RoleUser, Home: "/users/bench", Active: true,
		Protocols: []string{mft.ProtocolFTP, mft.ProtocolWebDAV}, PasswordHash: hash}
	if err := a.Users.CreateUser(context.Background(), u); err != nil {
		b.Fatal(err)
	}
	v := testpeer.StartVSFTPD(b, testpeer.FTPExplicit)
	g := startSFTPGo(b, work, password, v.CertFile, v.KeyFile, [2]int{43000, 43999})

	src := randomFile(b, filepath.Join(work, "big.bin"), mib)
	smallDir := filepath.Join(work, "small")
	smallFiles(b, smallDir, small)
	m := float64(mib)

	type ftpServer struct{ name, port, user, pass, clean string }
	depotHome := filepath.Join(work, "data", "files", "users", "bench")
	depotPort := a.FTP.ListenAddr().String()[strings.LastIndex(a.FTP.ListenAddr().String(), ":")+1:]
	servers := []ftpServer{
		{"depot", depotPort, "bench", password, depotHome},
		{"vsftpd", fmt.Sprint(v.Port), testpeer.FTPUser, testpeer.FTPPassword, v.Dir},
	}
	if g != nil {
		servers = append(servers, ftpServer{"sftpgo", g.FTPPort, "bench", password, g.Home})
	}
	lftp := func(s ftpServer, script string) []string {
		return []string{"lftp", "-u", s.user + "," + s.pass, "-p", s.port, "-e",
			"set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true; set xfer:clobber on; " +
				"set ssl:priority NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM; " + script + "; quit", "127.0.0.1"}
	}
	put, get, many := timings{}, timings{}, timings{}
	for r := range rounds {
		for k := range servers {
			s := servers[(r+k)%len(servers)]
			put.add(s.name, timeCmd(b, lftp(s, "put "+src+" -o big.bin")))
			get.add(s.name, timeCmd(b, lftp(s, "get big.bin -o /dev/null")))
			many.add(s.name, timeCmd(b, lftp(s, "mirror -R "+smallDir+" small"+fmt.Sprint(r))))
			os.RemoveAll(filepath.Join(s.clean, "big.bin"))
		}
	}
	b.Logf("FTPS with lftp, TLS 1.2 AES-128-GCM, %d MiB and %d × 4 KiB, medians of %d (ratio: Depot ÷ peer in rate)", mib, small, rounds)
	put.report(b, "put MiB/s", m)
	get.report(b, "get MiB/s", m)
	many.report(b, fmt.Sprintf("%d × 4 KiB put, files/s", small), float64(small))

	// WebDAV: Depot's /dav/ and SFTPGo's. rclone for the large file;
	// for the small files curl, one connection: rclone 1.60 paces its
	// WebDAV calls at 10 ms each (3–4 calls a file), which made every
	// server 30 files/s.
	obscured, _ := exec.Command("rclone", "obscure", password).Output()
	type davServer struct{ name, url, clean string }
	davs := []davServer{{"depot", a.HTTP.PublicURL + "/dav/", depotHome}}
	if g != nil {
		davs = append(davs, davServer{"sftpgo", g.DavURL, g.Home})
	}
	remote := func(d davServer) string {
		return fmt.Sprintf(":webdav,url='%s',vendor=other,user=bench,pass='%s':", d.url, strings.TrimSpace(string(obscured)))
	}
	names, _ := filepath.Glob(filepath.Join(smallDir, "*.bin"))
	for i := range names {
		names[i] = filepath.Base(names[i])
	}
	glob := "{" + strings.Join(names, ",") + "}"
	curl := func(d davServer, args ...string) []string {
		return append([]string{"curl", "-fsS", "-o", "/dev/null", "-u", "bench:" + password}, args...)
	}
	dput, dget, dmany := timings{}, timings{}, timings{}
	for r := range rounds {
		for k := range davs {
			d := davs[(r+k)%len(davs)]
			dput.add(d.name, timeCmd(b, []string{"rclone", "copyto", "-q", "--config", "/dev/null", src, remote(d) + "big.bin"}))
			dget.add(d.name, timeCmd(b, []string{"rclone", "cat", "-q", "--config", "/dev/null", remote(d) + "big.bin", "--discard"}))
			dir := fmt.Sprintf("%sdsmall%d/", d.url, r)
			timeCmd(b, curl(d, "-X", "MKCOL", dir))
			cmd := curl(d, "-T", glob, dir)
			dmany.add(d.name, timeCmdIn(b, smallDir, cmd))
			os.RemoveAll(filepath.Join(d.clean, "big.bin"))
		}
	}
	b.Logf("WebDAV, %d MiB with rclone, %d × 4 KiB PUT by curl over one connection, medians of %d (ratio: Depot ÷ peer in rate)", mib, small, rounds)
	dput.report(b, "up MiB/s", m)
	dget.report(b, "down MiB/s", m)
	dmany.report(b, fmt.Sprintf("%d × 4 KiB up, files/s", small), float64(small))
}

// timings are the seconds each server took, by name.
type timings map[string][]float64

func (t timings) add(name string, secs float64) { t[name] = append(t[name], secs) }

// report logs the rate of amount (MiB or files) of each server's median
// and Depot's ratio to each peer.
func (t timings) report(b *testing.B, what string, amount float64) {
	line := fmt.Sprintf("  %s: depot %s", what, rate(amount, median(t["depot"])))
	for _, n := range []string{"vsftpd", "sftpgo"} {
		if s, ok := t[n]; ok {
			line += fmt.Sprintf(", %s %s: %.2fx", n, rate(amount, median(s)), median(s)/median(t["depot"]))
		}
	}
	b.Log(line)
}

// freeLoopbackPort is a loopback port nobody listens on now.
func freeLoopbackPort(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
}

// waitTCP waits until something listens at addr.
func waitTCP(b *testing.B, addr string) {
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}
