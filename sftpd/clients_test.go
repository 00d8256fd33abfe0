package sftpd_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"depot/config"
	"depot/internal/testtool"
	"depot/sftpd"
)

// Clients other than OpenSSH's and pkg/sftp's speak to Depot's request
// loop: curl's sftp:// (libssh2) with a password, and lftp (its own SFTP
// code, which offers version 6 and speaks the server's 3) with a key.
// Debian's libssh2 1.10 has neither AES-GCM nor encrypt-then-MAC: the
// server also offers hmac-sha2-256, as README says such clients need.
func TestOtherClients(t *testing.T) {
	e := openEnv(t, func(s *sftpd.Server) { s.MACs = append(slices.Clone(config.SFTPMACs[:2]), "hmac-sha2-256") })
	p := e.addUser(t, "clients")
	local, data := randomFile(t, 700<<10)
	dir := t.TempDir()

	t.Run("curl", func(t *testing.T) {
		base := "sftp://127.0.0.1:" + e.port()
		curl := func(args ...string) string {
			t.Helper()
			cmd := exec.Command(testtool.Path(t, "curl"), append([]string{"-sS", "--fail", "--insecure", "-u", p.user.Username + ":" + password}, args...)...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("curl %v: %v\n%s", args, err, out)
			}
			return string(out)
		}
		curl("-T", local, base+"/curl.bin", "-Q", "-mkdir /made")
		if got, _ := e.stored(p.user, "curl.bin"); !bytes.Equal(got, data) {
			t.Fatalf("curl's upload stored %d bytes, want the %d sent", len(got), len(data))
		}
		back := filepath.Join(dir, "curl-back.bin")
		curl("-o", back, base+"/curl.bin")
		if got, _ := os.ReadFile(back); !bytes.Equal(got, data) {
			t.Fatalf("curl downloaded %d bytes, want %d", len(got), len(data))
		}
		curl("-Q", "rename /curl.bin /made/moved.bin", base+"/")
		list := curl(base + "/made/")
		if !strings.Contains(list, "moved.bin") || !strings.HasPrefix(list, "-rw-r--r--") {
			t.Fatalf("curl's listing of /made/:\n%s", list)
		}
		curl("-Q", "rm /made/moved.bin", "-Q", "rmdir /made", base+"/")
		if _, err := os.Stat(filepath.Join(e.dir, "files", p.user.Home, "made")); !os.IsNotExist(err) {
			t.Fatalf("/made after rm and rmdir: %v", err)
		}
	})

	t.Run("lftp", func(t *testing.T) {
		script := strings.Join([]string{
			`set sftp:connect-program "ssh -a -x -i ` + p.keyFile + ` -o IdentitiesOnly=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null"`,
			"open sftp://" + p.user.Username + ":@127.0.0.1:" + e.port(),
			"mkdir in", "cd in", "put " + local + " -o lftp.bin", "cls -l", "get lftp.bin -o " + filepath.Join(dir, "lftp-back.bin"),
			"mv lftp.bin kept.bin", "cls", "cd ..", "mkdir gone", "rmdir gone", "cls",
		}, "; ")
		out, err := exec.Command(testtool.Path(t, "lftp"), "-c", script).CombinedOutput()
		if err != nil {
			t.Fatalf("lftp: %v\n%s", err, out)
		}
		if got, _ := e.stored(p.user, "in/kept.bin"); !bytes.Equal(got, data) {
			t.Fatalf("lftp's upload stored %d bytes, want the %d sent\n%s", len(got), len(data), out)
		}
		if got, _ := os.ReadFile(filepath.Join(dir, "lftp-back.bin")); !bytes.Equal(got, data) {
			t.Fatalf("lftp downloaded %d bytes, want %d\n%s", len(got), len(data), out)
		}
		if !strings.Contains(string(out), "lftp.bin") || !strings.Contains(string(out), "kept.bin") || strings.Contains(string(out), "gone") {
			t.Fatalf("lftp's listings:\n%s", out)
		}
	})
}
