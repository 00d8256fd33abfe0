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
	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/mft"
)

// BenchmarkFTPSAndWebDAV measures Depot's FTPS and WebDAV against peers
// in one run, rounds alternating, medians of BENCH_ROUNDS (3):
//   - FTPS with lftp (TLS 1.2, AES-128-GCM for every server, data
//     protected): a BENCH_MIB (1024) MiB put and get, and BENCH_SMALL
//     (1000) files of 4 KiB put in one session (mirror -R), against
//     vsftpd (TLS required for logins and data);
//   - WebDAV with rclone: the same file copied up and down, and the small
//     files copied up, against rclone's own WebDAV server (rclone serve
//     webdav) on a folder.
//
// Nothing is synced to disk (data.sync_uploads and ftp.sync_uploads off;
// vsftpd and rclone do not sync). SFTPGo's FTPS and WebDAV are not in this
// run: see BENCHMARKS.md.
// Run: go test -run '^$' -bench FTPSAndWebDAV -benchtime 1x ./bench
func BenchmarkFTPSAndWebDAV(b *testing.B) {
	mib, small, rounds := envInt("BENCH_MIB", 1024), envInt("BENCH_SMALL", 1000), envInt("BENCH_ROUNDS", 3)
	work, err := os.MkdirTemp("", "depot-ftpbench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(work) })
	cfg := apptest.Config(filepath.Join(work, "data"))
	cfg.Data.SyncUploads, cfg.FTP.Enabled = false, true
	cfg.FTP.Listen, cfg.FTP.PassivePorts = "127.0.0.1:0", "42000-42999"
	old := debug.SetGCPercent(100)
	app.TuneRuntime(cfg.Runtime)
	b.Cleanup(func() { debug.SetGCPercent(old) })
	a := apptest.Start(b, cfg)
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

	src := randomFile(b, filepath.Join(work, "big.bin"), mib)
	smallDir := filepath.Join(work, "small")
	os.Mkdir(smallDir, 0o755)
	for i := range small {
		body := make([]byte, 4096)
		copy(body, fmt.Sprintf("file %d", i))
		os.WriteFile(filepath.Join(smallDir, fmt.Sprintf("f%04d.bin", i)), body, 0o600)
	}

	type ftpServer struct{ name, port, user, pass, dir, clean string }
	depotPort := a.FTP.ListenAddr().String()[strings.LastIndex(a.FTP.ListenAddr().String(), ":")+1:]
	servers := []ftpServer{
		{"depot", depotPort, "bench", password, "/", filepath.Join(work, "data", "files", "users", "bench")},
		{"vsftpd", fmt.Sprint(v.Port), testpeer.FTPUser, testpeer.FTPPassword, v.Dir, v.Dir},
	}
	lftp := func(s ftpServer, script string) []string {
		return []string{"lftp", "-u", s.user + "," + s.pass, "-p", s.port, "-e",
			"set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true; set xfer:clobber on; " +
				"set ssl:priority NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM; " + script + "; quit", "127.0.0.1"}
	}
	put, get, many := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for r := range rounds {
		for k := range servers {
			s := servers[(r+k)%len(servers)]
			put[s.name] = append(put[s.name], timeCmd(b, lftp(s, "put "+src+" -o big.bin")))
			get[s.name] = append(get[s.name], timeCmd(b, lftp(s, "get big.bin -o /dev/null")))
			many[s.name] = append(many[s.name], timeCmd(b, lftp(s, "mirror -R "+smallDir+" small"+fmt.Sprint(r))))
			os.RemoveAll(filepath.Join(s.clean, "big.bin"))
		}
	}
	m := float64(mib)
	b.Logf("FTPS with lftp, TLS 1.2 AES-128-GCM, %d MiB and %d × 4 KiB, medians of %d (ratio: Depot ÷ vsftpd in rate)", mib, small, rounds)
	b.Logf("  put MiB/s: depot %s, vsftpd %s: %.2fx", rate(m, median(put["depot"])), rate(m, median(put["vsftpd"])), median(put["vsftpd"])/median(put["depot"]))
	b.Logf("  get MiB/s: depot %s, vsftpd %s: %.2fx", rate(m, median(get["depot"])), rate(m, median(get["vsftpd"])), median(get["vsftpd"])/median(get["depot"]))
	b.Logf("  %d × 4 KiB put, files/s: depot %.0f, vsftpd %.0f: %.2fx", small, float64(small)/median(many["depot"]),
		float64(small)/median(many["vsftpd"]), median(many["vsftpd"])/median(many["depot"]))

	// WebDAV: Depot's /dav/ and rclone serve webdav, both with rclone.
	peerDir := filepath.Join(work, "davpeer")
	os.Mkdir(peerDir, 0o755)
	davPort := freeLoopbackPort(b)
	peer := exec.Command("rclone", "serve", "webdav", peerDir, "--addr", "127.0.0.1:"+davPort, "--user", "bench", "--pass", password)
	if err := peer.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { peer.Process.Kill(); peer.Wait() })
	waitTCP(b, "127.0.0.1:"+davPort)
	obscured, _ := exec.Command("rclone", "obscure", password).Output()
	remote := func(url string) string {
		return fmt.Sprintf(":webdav,url='%s',vendor=other,user=bench,pass='%s':", url, strings.TrimSpace(string(obscured)))
	}
	davs := []struct{ name, remote, clean string }{
		{"depot", remote(a.HTTP.PublicURL + "/dav/"), filepath.Join(work, "data", "files", "users", "bench")},
		{"rclone-serve", remote("http://127.0.0.1:" + davPort + "/"), peerDir},
	}
	dput, dget, dmany := map[string][]float64{}, map[string][]float64{}, map[string][]float64{}
	for r := range rounds {
		for k := range davs {
			d := davs[(r+k)%len(davs)]
			dput[d.name] = append(dput[d.name], timeCmd(b, []string{"rclone", "copyto", "-q", "--config", "/dev/null", src, d.remote + "big.bin"}))
			dget[d.name] = append(dget[d.name], timeCmd(b, []string{"rclone", "cat", "-q", "--config", "/dev/null", d.remote + "big.bin", "--discard"}))
			dmany[d.name] = append(dmany[d.name], timeCmd(b, []string{"rclone", "copy", "-q", "--config", "/dev/null", smallDir, d.remote + "dsmall" + fmt.Sprint(r)}))
			os.RemoveAll(filepath.Join(d.clean, "big.bin"))
		}
	}
	b.Logf("WebDAV with rclone (4 transfers at once for the small files, rclone's default), medians of %d (ratio: Depot ÷ rclone serve webdav in rate)", rounds)
	b.Logf("  up MiB/s: depot %s, rclone-serve %s: %.2fx", rate(m, median(dput["depot"])), rate(m, median(dput["rclone-serve"])), median(dput["rclone-serve"])/median(dput["depot"]))
	b.Logf("  down MiB/s: depot %s, rclone-serve %s: %.2fx", rate(m, median(dget["depot"])), rate(m, median(dget["rclone-serve"])), median(dget["rclone-serve"])/median(dget["depot"]))
	b.Logf("  %d × 4 KiB up, files/s: depot %.0f, rclone-serve %.0f: %.2fx", small, float64(small)/median(dmany["depot"]),
		float64(small)/median(dmany["rclone-serve"]), median(dmany["rclone-serve"])/median(dmany["depot"]))
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
