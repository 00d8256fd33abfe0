package main

import (
	"bytes"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"depot/internal/testtool"
)

// TestEndToEnd_InitWritesTheAdminKeyToAFile: `depot init --admin-key-file`
// puts the first administrator's key in a file only its owner reads, and
// not on standard output; the key works.
func TestEndToEnd_InitWritesTheAdminKeyToAFile(t *testing.T) {
	bin, err := buildDepot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	initWith := func(keyFile string) ([]byte, error) {
		cmd := exec.Command(bin, "init", "--admin-key-file", keyFile)
		cmd.Env = append(os.Environ(), "DEPOT_DATA_DIR="+dir)
		return cmd.CombinedOutput()
	}
	// A key file that cannot be written stops init before the
	// administrator exists: no key is lost, and a second try works.
	bad := filepath.Join(t.TempDir(), "missing", "admin-key")
	if out, err := initWith(bad); err == nil || !strings.Contains(string(out), bad) {
		t.Fatalf("init with an unwritable key file: %v\n%s", err, out)
	}
	keyFile := filepath.Join(t.TempDir(), "admin-key")
	out, err := initWith(keyFile)
	if err != nil {
		t.Fatalf("depot init: %v\n%s", err, out)
	}
	st, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	b, _ := os.ReadFile(keyFile)
	key := strings.TrimSpace(string(b))
	if len(key) < 20 || strings.Contains(string(out), key) {
		t.Fatalf("key %q; init said:\n%s", key, out)
	}
	if !strings.Contains(string(out), keyFile) {
		t.Errorf("init does not say where the key is:\n%s", out)
	}
	p := startDepot(t, dir, "DEPOT_ADMIN_API_KEY=") // the key from the file, not the tests'
	if code, body := curl(t, "-u", key+":", p.url+"/account"); code != 200 || !strings.Contains(body, `"role":"admin"`) {
		t.Errorf("GET /account with the key from the file: %d %s", code, body)
	}
}

// TestPackage_Deb builds the .deb with scripts/package.sh (nfpm), installs
// it on this machine with dpkg, runs the installed binary as the depot
// user on the installed configuration, upgrades it, removes it and purges
// it, checking at each step what an administrator would.
func TestPackage_Deb(t *testing.T) {
	dpkg := testtool.Path(t, "dpkg")
	analyze := testtool.Path(t, "systemd-analyze")
	if os.Geteuid() != 0 {
		if os.Getenv(testtool.RequireEnv) == "1" {
			t.Fatal("installing a package needs root")
		}
		t.Skip("skipping: installing a package needs root")
	}
	if exec.Command(dpkg, "-s", "depot").Run() == nil {
		t.Fatal("a depot package is already installed here; this test installs and purges its own (dpkg --purge depot)")
	}
	t.Cleanup(func() { exec.Command(dpkg, "--purge", "depot").Run() })
	run := func(name string, args ...string) string {
		t.Helper()
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	pkg := func(version string) string {
		t.Helper()
		cmd := exec.Command("scripts/package.sh", t.TempDir())
		cmd.Env = append(os.Environ(), "VERSION="+version)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("scripts/package.sh: %v\n%s", err, stderr.String())
		}
		return strings.TrimSpace(string(out))
	}

	// Install.
	out := run(dpkg, "-i", pkg("1.0.0"))
	key := strings.TrimSpace(readFile(t, "/etc/depot/admin-key"))
	if len(key) < 20 || strings.Contains(out, key) {
		t.Fatalf("admin key %q; dpkg said:\n%s", key, out)
	}
	wantMode(t, "/etc/depot/admin-key", 0o600, "root")
	wantMode(t, "/etc/depot/depot.toml", 0o640, "root")
	wantMode(t, "/var/lib/depot", 0o750, "depot")
	wantMode(t, "/var/lib/depot/depot.db", 0o600, "depot")
	if out := run(analyze, "verify", "/usr/lib/systemd/system/depot.service"); strings.TrimSpace(out) != "" {
		t.Errorf("systemd-analyze verify: %s", out)
	}
	u, err := user.Lookup("depot")
	if err != nil {
		t.Fatal(err)
	}
	if out := asDepot(t, u, "/usr/bin/depot", "version"); !strings.HasPrefix(out, "depot 1.0.0 ") {
		t.Errorf("depot version as the depot user: %q", out)
	}

	// It serves as the depot user on the installed configuration, with the
	// key from /etc/depot/admin-key.
	serveAndUpload(t, u, key, "before-upgrade.txt")

	// An upgrade keeps the data and an edited configuration.
	conf := readFile(t, "/etc/depot/depot.toml") + "\n# edited by the administrator\n"
	if err := os.WriteFile("/etc/depot/depot.toml", []byte(conf), 0o640); err != nil {
		t.Fatal(err)
	}
	run(dpkg, "-i", "--force-confold", pkg("1.0.1"))
	if got := readFile(t, "/etc/depot/depot.toml"); got != conf {
		t.Errorf("the upgrade changed the edited configuration:\n%s", got)
	}
	if got := strings.TrimSpace(readFile(t, "/etc/depot/admin-key")); got != key {
		t.Error("the upgrade replaced the administrator's key")
	}
	if out := asDepot(t, u, "/usr/bin/depot", "version"); !strings.HasPrefix(out, "depot 1.0.1 ") {
		t.Errorf("after the upgrade: %q", out)
	}
	serveAndUpload(t, u, key, "after-upgrade.txt") // the data and the key of before
	if _, err := os.Stat("/var/lib/depot/files/before-upgrade.txt"); err != nil {
		t.Errorf("the file uploaded before the upgrade: %v", err)
	}

	// Remove keeps the data, the configuration and the user; purge does not.
	run(dpkg, "-r", "depot")
	for _, f := range []string{"/var/lib/depot/depot.db", "/etc/depot/depot.toml", "/var/lib/depot/files/after-upgrade.txt"} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("after dpkg -r: %v", err)
		}
	}
	if _, err := os.Stat("/usr/bin/depot"); err == nil {
		t.Error("dpkg -r left /usr/bin/depot")
	}
	if _, err := user.Lookup("depot"); err != nil {
		t.Errorf("dpkg -r removed the depot user: %v", err)
	}
	run(dpkg, "--purge", "depot")
	for _, f := range []string{"/var/lib/depot", "/etc/depot"} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("dpkg --purge left %s", f)
		}
	}
	if _, err := user.Lookup("depot"); err == nil {
		t.Error("dpkg --purge left the depot user")
	}
}

// serveAndUpload runs the installed depot serve as u on the installed
// configuration (on loopback ports of the test's), uploads name with key
// and stops it.
func serveAndUpload(t *testing.T, u *user.User, key, name string) {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command("/usr/bin/depot", "serve", "--config", "/etc/depot/depot.toml")
	cmd.Env = append(os.Environ(), "DEPOT_HTTP_LISTEN="+addr, "DEPOT_SFTP_LISTEN="+freePort(t))
	cmd.Dir = "/var/lib/depot"
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: credential(t, u)}
	p := runDepot(t, cmd, "http://"+addr)
	if code, body := curl(t, "-u", key+":", "-T", "README.md", p.url+"/api/files/content?path=/"+name); code != 201 {
		t.Fatalf("upload to the installed depot: %d %s", code, body)
	}
	p.stop(t)
}

func asDepot(t *testing.T, u *user.User, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: credential(t, u)}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s as %s: %v\n%s", name, u.Username, err, out)
	}
	return string(out)
}

func credential(t *testing.T, u *user.User) *syscall.Credential {
	t.Helper()
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		t.Fatalf("user %s: uid %q gid %q", u.Username, u.Uid, u.Gid)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantMode checks a path's permission bits and owner.
func wantMode(t *testing.T, path string, mode os.FileMode, owner string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	u, err := user.LookupId(strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Uid)))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != mode || u.Username != owner {
		t.Errorf("%s: %v owned by %s, want %v owned by %s", path, st.Mode().Perm(), u.Username, mode, owner)
	}
}
