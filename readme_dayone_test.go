package main

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"depot/app"
	"depot/internal/apptest"
	"depot/internal/contract"
	"depot/internal/testpeer"
	"depot/internal/testtool"
	"depot/server"
)

// dayOne returns the sh block of the README's "Day one".
func dayOne(t *testing.T) string {
	t.Helper()
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "## Day one\n")
	section, _, _ := strings.Cut(rest, "\n## ")
	_, rest, ok2 := strings.Cut(section, "```sh\n")
	script, _, ok3 := strings.Cut(rest, "\n```")
	if !ok || !ok2 || !ok3 {
		t.Fatal("README.md has no sh block in its Day one")
	}
	return script
}

// Day one's partner, as written: the administrator's block runs with the
// partner's acme.asc beside it (every curl must answer 2xx); the partner
// then puts invoice.csv into outbound/ with OpenSSH's sftp and their key,
// and what stays is invoice.csv.pgp, which their gpg decrypts to the file.
func TestREADME_DayOne(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "jq", "ssh-keygen", "sftp"} {
		testtool.Path(t, tool)
	}
	data := t.TempDir()
	a := apptest.Start(t, apptest.Config(data), func(a *app.App) { a.HTTP.Wrap = contract.Check(t, server.OpenAPI()) })
	home, public := testpeer.GPG(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "acme.asc"), []byte(public), 0o600); err != nil {
		t.Fatal(err)
	}
	script := "set -euo pipefail\ncurl() { command curl --fail-with-body \"$@\"; }\n" + dayOne(t)
	cmd := exec.Command("bash", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "KEY="+apptest.AdminKey, "D="+a.HTTP.URL())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("Day one's block stopped: %v\n%s", err, out)
	}

	// The partner's put, with the key the block made.
	invoice := "invoice,amount\n1001,250.00\n"
	os.WriteFile(filepath.Join(dir, "invoice.csv"), []byte(invoice), 0o600)
	os.WriteFile(filepath.Join(dir, "batch"), []byte("put invoice.csv outbound/\n"), 0o600)
	put := exec.Command(testtool.Path(t, "sftp"), "-b", "batch", "-P", strconv.Itoa(a.SFTP.ListenAddr().(*net.TCPAddr).Port), "-i", "acme_ed25519",
		"-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=accept-new", "-o", "UserKnownHostsFile="+filepath.Join(dir, "known_hosts"),
		"acme@127.0.0.1")
	put.Dir = dir
	if out, err := put.CombinedOutput(); err != nil {
		t.Fatalf("the partner's sftp put: %v\n%s", err, out)
	}
	outbound := filepath.Join(data, "files", "users", "acme", "outbound")
	for {
		if _, err := os.Stat(filepath.Join(outbound, "invoice.csv")); os.IsNotExist(err) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := testpeer.GPGDecrypt(t, home, filepath.Join(outbound, "invoice.csv.pgp")); string(got) != invoice {
		t.Fatalf("invoice.csv.pgp decrypts to %q", got)
	}
	if entries, _ := os.ReadDir(outbound); len(entries) != 1 {
		t.Fatalf("outbound/ holds %d entries, want only invoice.csv.pgp", len(entries))
	}
}
