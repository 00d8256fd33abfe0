package testpeer

import (
	"os"
	"os/exec"
	"testing"

	"depot/internal/testtool"
)

// GPG makes a GnuPG home with a fresh key pair for pgp@example.com, a
// partner's, and returns the home (for gpg --homedir) and the armored
// public key they would send.
func GPG(tb testing.TB) (home, public string) {
	tb.Helper()
	gpg := testtool.Path(tb, "gpg")
	home, err := os.MkdirTemp("", "gpg") // short: gpg-agent's socket path has a length limit
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		exec.Command("gpgconf", "--homedir", home, "--kill", "all").Run()
		os.RemoveAll(home)
	})
	run := func(args ...string) string {
		cmd := exec.Command(gpg, append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
		out, err := cmd.Output()
		if err != nil {
			msg := ""
			if ee, ok := err.(*exec.ExitError); ok {
				msg = string(ee.Stderr)
			}
			tb.Fatalf("gpg %v: %v %s", args, err, msg)
		}
		return string(out)
	}
	run("--quick-gen-key", "Depot Test <pgp@example.com>", "default", "default", "never")
	return home, run("--armor", "--export", "pgp@example.com")
}

// GPGDecrypt decrypts file with the key of home (from GPG).
func GPGDecrypt(tb testing.TB, home, file string) []byte {
	tb.Helper()
	out, err := exec.Command(testtool.Path(tb, "gpg"), "--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", "", "--decrypt", file).Output()
	if err != nil {
		tb.Fatalf("gpg --decrypt %s: %v", file, err)
	}
	return out
}
