package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"depot/internal/testpeer"
	"depot/internal/testtool"
	"depot/store"
)

const e2eAdminKey = "e2e-admin-key-0123456789abcdef"

// buildDir holds the binary buildDepot compiled; TestMain removes it.
var buildDir string

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopPostgres()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// buildDepot compiles the binary once per test run.
var buildDepot = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "depot-e2e-")
	if err != nil {
		return "", err
	}
	buildDir = dir
	bin := filepath.Join(dir, "depot")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// depotProcess is a running `depot serve`.
type depotProcess struct {
	cmd  *exec.Cmd
	url  string
	sftp string // its SFTP address, when startDepot chose it
	done chan error

	mu     sync.Mutex
	stdout strings.Builder
	stderr testtool.Buffer
}

// output returns what the process printed on standard output so far.
func (p *depotProcess) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func startDepot(t *testing.T, dataDir string, extraEnv ...string) *depotProcess {
	t.Helper()
	bin, err := buildDepot()
	if err != nil {
		t.Fatal(err)
	}
	addr, sftp := freePort(t), freePort(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(),
		"DEPOT_DATA_DIR="+dataDir,
		"DEPOT_HTTP_LISTEN="+addr,
		"DEPOT_SFTP_LISTEN="+sftp,
		"DEPOT_HTTP_PUBLIC_URL=http://"+addr,
		"DEPOT_ADMIN_API_KEY="+e2eAdminKey,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	p := runDepot(t, cmd, "http://"+addr)
	p.sftp = sftp
	return p
}

// runDepot starts cmd, a depot serve, and returns once it says it is
// serving on url; the test's end stops it.
func runDepot(t *testing.T, cmd *exec.Cmd, url string) *depotProcess {
	t.Helper()
	p := &depotProcess{cmd: cmd, url: url, done: make(chan error, 1)}
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	cmd.Stderr = &p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pr)
		once := sync.Once{}
		for sc.Scan() {
			p.mu.Lock()
			p.stdout.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if strings.Contains(sc.Text(), "is serving") {
				once.Do(func() { close(ready) })
			}
		}
	}()
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	select {
	case <-ready:
	case err := <-p.done:
		t.Fatalf("depot serve exited before serving: %v\n%s%s", err, p.output(), p.stderr.String())
	}
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *depotProcess) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if err := <-p.done; err != nil {
		t.Errorf("depot serve did not exit cleanly on SIGTERM: %v", err)
	}
}

// curl runs the real curl and returns the HTTP status and body.
func curl(t *testing.T, args ...string) (int, string) {
	t.Helper()
	bin := testtool.Path(t, "curl")
	args = append([]string{"-sS", "-w", "\n%{http_code}"}, args...)
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		t.Fatalf("curl %v: %v", args, err)
	}
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndex(s, "\n")
	var code int
	fmt.Sscan(s[i+1:], &code)
	if i < 0 {
		return code, ""
	}
	return code, s[:i]
}

func TestEndToEnd_CurlWalkthrough(t *testing.T) {
	testtool.Path(t, "curl")
	data := t.TempDir()
	p := startDepot(t, data)
	if !strings.Contains(p.output(), "admin@localhost") || strings.Contains(p.output(), e2eAdminKey) {
		t.Fatalf("first start output should name the admin but not echo the env key:\n%s", p.output())
	}
	admin := e2eAdminKey + ":x"

	// Create a user, exactly as the README shows.
	code, body := curl(t, "--user", admin, "-H", "Content-Type: application/json",
		"-d", `{"user":{"email":"joe@example.com","name":"Joe User","password":"correct-horse"}}`, p.url+"/admin/users")
	if code != 201 {
		t.Fatalf("create user: %d %s", code, body)
	}
	var created struct {
		User struct {
			ID     string `json:"id"`
			APIKey string `json:"api_key"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(body), &created); err != nil || created.User.APIKey == "" {
		t.Fatalf("create answer %s (%v)", body, err)
	}
	code, body = curl(t, "--user", admin, p.url+"/admin/users")
	if code != 200 || !strings.Contains(body, `"id":"joe-example-com"`) {
		t.Fatalf("list users: %d %s", code, body)
	}
	code, body = curl(t, "-H", "Authorization: Bearer "+created.User.APIKey, p.url+"/account")
	if code != 200 || !strings.Contains(body, `"email":"joe@example.com"`) {
		t.Fatalf("account with bearer key: %d %s", code, body)
	}
	code, _ = curl(t, "--user", created.User.APIKey+":x", p.url+"/admin/users")
	if code != 403 {
		t.Fatalf("user key on /admin: %d, want 403", code)
	}
	code, body = curl(t, "--user", admin, "-X", "POST", p.url+"/admin/users/joe-example-com/api_key")
	if code != 200 {
		t.Fatalf("regenerate: %d %s", code, body)
	}
	code, _ = curl(t, "--user", created.User.APIKey+":x", p.url+"/account")
	if code != 401 {
		t.Fatalf("old key after regenerate: %d, want 401", code)
	}
	code, body = curl(t, "-H", "Content-Type: application/json",
		"-d", `{"user":{"email":"joe@example.com","password":"correct-horse"}}`, p.url+"/api/login")
	if code != 200 || !strings.Contains(body, `"expires_at"`) {
		t.Fatalf("login: %d %s", code, body)
	}
	code, body = curl(t, "--user", admin, "-d", `{"group":{"name":"Partners"}}`, p.url+"/admin/groups")
	if code != 201 {
		t.Fatalf("create group: %d %s", code, body)
	}

	// Upload and download a file with curl, as the README shows.
	src := filepath.Join(t.TempDir(), "report.csv")
	os.WriteFile(src, []byte("a,b\n1,2\n"), 0o600)
	code, body = curl(t, "--user", admin, "-T", src, p.url+"/api/files/content?path=/report.csv")
	if code != 201 || !strings.Contains(body, `"sha256":"`) {
		t.Fatalf("upload: %d %s", code, body)
	}
	code, body = curl(t, "--user", admin, p.url+"/api/files/content?path=/report.csv")
	if code != 200 || body != "a,b\n1,2\n" {
		t.Fatalf("download: %d %q", code, body)
	}

	// A backup of the running server opens as a bbolt file with the users.
	out := filepath.Join(t.TempDir(), "backup.db")
	bin, _ := buildDepot()
	cmd := exec.Command(bin, "backup", "--out", out, "--url", p.url)
	cmd.Env = append(os.Environ(), "DEPOT_DATA_DIR="+data, "DEPOT_API_KEY="+e2eAdminKey)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("depot backup of a running server: %v\n%s", err, msg)
	}
	assertBackupHasUser(t, out, "joe-example-com")

	// SIGTERM shuts down cleanly; a restart keeps users, groups and keys,
	// and a stopped server's file is backed up directly.
	p.stop(t)
	out2 := filepath.Join(t.TempDir(), "offline.db")
	cmd = exec.Command(bin, "backup", "--out", out2)
	cmd.Env = append(os.Environ(), "DEPOT_DATA_DIR="+data)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("depot backup of a stopped server: %v\n%s", err, msg)
	}
	assertBackupHasUser(t, out2, "joe-example-com")

	p = startDepot(t, data)
	if strings.Contains(p.output(), "Created administrator") {
		t.Fatal("second start created the administrator again")
	}
	code, body = curl(t, "--user", admin, p.url+"/admin/groups/partners")
	if code != 200 {
		t.Fatalf("group after restart: %d %s", code, body)
	}
}

func assertBackupHasUser(t *testing.T, path, id string) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatalf("backup %s does not open as bbolt: %v", path, err)
	}
	defer db.Close()
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("Users"))
		if b == nil || b.Get([]byte(id)) == nil {
			return fmt.Errorf("user %s missing", id)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A random admin key is printed once on first start and works.
func TestEndToEnd_GeneratedAdminKey(t *testing.T) {
	testtool.Path(t, "curl")
	bin, err := buildDepot()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	cmd := exec.Command(bin, "init")
	cmd.Env = append(os.Environ(), "DEPOT_DATA_DIR="+data)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("depot init: %v\n%s", err, out)
	}
	var key string
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 1 && len(f[0]) >= 20 {
			key = f[0]
		}
	}
	if key == "" {
		t.Fatalf("init printed no key:\n%s", out)
	}
	for _, f := range []string{"depot.db", "secret.key", "files", "tmp"} {
		if _, err := os.Stat(filepath.Join(data, f)); err != nil {
			t.Errorf("init did not create %s: %v", f, err)
		}
	}
	p := startDepot(t, data, "DEPOT_ADMIN_API_KEY=")
	if code, body := curl(t, "--user", key+":x", p.url+"/admin/users"); code != 200 {
		t.Fatalf("printed key: %d %s", code, body)
	}
}

// depot config warns about a DEPOT_ variable that names no setting, as
// serve does (found by the first-hour review: it said nothing).
func TestCLI_ConfigWarnsOfUnknownVariables(t *testing.T) {
	environ = func() []string { return []string{"DEPOT_HTTP_LISTN=:9", "DEPOT_HTTP_LISTEN=:8081"} }
	defer func() { environ = os.Environ }()
	var stdout, stderr strings.Builder
	if err := run(context.Background(), []string{"config"}, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stderr.String(), "DEPOT_HTTP_LISTN names no setting") || strings.Contains(stderr.String(), "DEPOT_HTTP_LISTEN ") {
		t.Errorf("stderr: %q", stderr.String())
	}
	if !strings.Contains(stdout.String(), `listen = ":8081"  # DEPOT_HTTP_LISTEN`) {
		t.Errorf("stdout: %s", stdout.String())
	}
}

// Each command's --help says how it is called and what it does, above
// its flags (they were flags alone).
func TestCLI_CommandHelp(t *testing.T) {
	for args, want := range map[string]string{
		"admin reset-key --help": "Usage: depot admin reset-key [--config FILE] EMAIL\n\nGive a user (a lost administrator) a new API key,",
		"serve --help":           "Usage: depot serve [--config FILE]\n\nRun the API, SFTP and web servers.",
		"backup -h":              "Usage: depot backup --out FILE [--config FILE] [--url URL]",
	} {
		var stdout, stderr strings.Builder
		if err := run(context.Background(), strings.Fields(args), strings.NewReader(""), &stdout, &stderr); err != nil {
			t.Fatalf("%s: %v", args, err)
		}
		if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(stdout.String(), "-config") {
			t.Errorf("%s:\n%s", args, stdout.String())
		}
	}
}

func TestCLI_Errors(t *testing.T) {
	ctx := context.Background()
	var stdout, stderr strings.Builder
	for name, tc := range map[string]struct {
		args []string
		env  []string
		want string
	}{
		"unknown command": {[]string{"frobnicate"}, nil, "unknown command"},
		"bad env":         {[]string{"serve"}, []string{"DEPOT_HTTP_LISTEN=nonsense"}, "http.listen"},
		"missing config":  {[]string{"serve", "--config", "/nonexistent/depot.toml"}, nil, "depot.toml"},
		"backup no out":   {[]string{"backup"}, nil, "--out"},
		"migrate no to":   {[]string{"migrate"}, nil, "--to postgres://… is required"},
		"migrate twice": {[]string{"migrate", "--to", "postgres://127.0.0.1:1/depot"}, []string{"DEPOT_DATABASE_DRIVER=postgres",
			"DEPOT_DATABASE_DSN=postgres://127.0.0.1:1/depot"}, "already PostgreSQL"},
		"backup postgres": {[]string{"backup", "--out", os.DevNull}, []string{"DEPOT_DATABASE_DRIVER=postgres",
			"DEPOT_DATABASE_DSN=postgres://127.0.0.1:1/depot"}, "back it up with pg_dump"},
		"stray argument":  {[]string{"serve", "extra-arg"}, nil, `takes no arguments, only flags: "extra-arg"`},
		"init argument":   {[]string{"init", "data"}, nil, "takes no arguments"},
		"fsck argument":   {[]string{"fsck", "x"}, nil, "takes no arguments"},
		"config argument": {[]string{"config", "x"}, nil, "takes no arguments"},
		"two logins":      {[]string{"admin", "reset-key", "a@example.com", "b@example.com"}, nil, `"b@example.com" is one too many`},
		"no login":        {[]string{"admin", "set-password"}, nil, "needs EMAIL"},
		"version x":       {[]string{"version", "x"}, nil, "takes no arguments"},
	} {
		t.Run(name, func(t *testing.T) {
			environ = func() []string { return tc.env }
			defer func() { environ = os.Environ }()
			err := run(ctx, tc.args, strings.NewReader(""), &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// A stray argument is refused before anything is made: no second data
	// directory, no second administrator (found by the first-hour review:
	// depot serve extra-arg made ./data and printed a new key).
	data := filepath.Join(t.TempDir(), "data")
	environ = func() []string { return []string{"DEPOT_DATA_DIR=" + data} }
	err := run(ctx, []string{"serve", "extra-arg"}, strings.NewReader(""), &stdout, &stderr)
	environ = os.Environ
	if _, serr := os.Stat(data); err == nil || !os.IsNotExist(serr) || strings.Contains(stdout.String(), "Created administrator") {
		t.Fatalf("serve extra-arg: %v; data directory: %v; output %q", err, serr, stdout.String())
	}
	stdout.Reset()
	if err := run(ctx, []string{"version"}, strings.NewReader(""), &stdout, &stderr); err != nil || !strings.HasPrefix(stdout.String(), "depot ") ||
		!strings.Contains(stdout.String(), fmt.Sprintf("\ndatabase schema %d\n", store.SchemaVersion)) {
		t.Fatalf("version: %q %v", stdout.String(), err)
	}
}

// On a machine with the package's Depot installed, `depot serve` on the
// built-in data directory refuses to make a second Depot in the current
// folder, and makes nothing; `depot init` makes one on purpose, and then
// serve goes on. A data directory given by DEPOT_DATA_DIR or --config is
// never refused.
func TestServe_RefusesASecondDepot(t *testing.T) {
	installed := filepath.Join(t.TempDir(), "depot.toml")
	os.WriteFile(installed, []byte("[data]\ndir = \"/var/lib/depot\"\n"), 0o600)
	installedConfig = installed
	defer func() { installedConfig = "/etc/depot/depot.toml" }()
	here := t.TempDir()
	t.Chdir(here)
	environ = func() []string { return []string{"DEPOT_HTTP_LISTEN=127.0.0.1:0", "DEPOT_SFTP_LISTEN=127.0.0.1:0"} }
	defer func() { environ = os.Environ }()

	var stdout, stderr bytes.Buffer
	err := run(context.Background(), []string{"serve"}, strings.NewReader(""), &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "second Depot") || !strings.Contains(err.Error(), installed) || !strings.Contains(err.Error(), "depot init") {
		t.Fatalf("serve beside an installed Depot: %v", err)
	}
	if _, serr := os.Stat(filepath.Join(here, "data")); !os.IsNotExist(serr) || strings.Contains(stdout.String(), "Created administrator") {
		t.Fatalf("the refused start made something: %v %q", serr, stdout.String())
	}
	if err := run(context.Background(), []string{"init"}, strings.NewReader(""), &stdout, &stderr); err != nil {
		t.Fatalf("init: %v", err)
	}
	// Past the check, a cancelled start ends at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := run(ctx, []string{"serve"}, strings.NewReader(""), &stdout, &stderr); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve after init: %v", err)
	}
	given := filepath.Join(t.TempDir(), "other")
	environ = func() []string {
		return []string{"DEPOT_DATA_DIR=" + given, "DEPOT_HTTP_LISTEN=127.0.0.1:0", "DEPOT_SFTP_LISTEN=127.0.0.1:0"}
	}
	if err := run(ctx, []string{"serve"}, strings.NewReader(""), &stdout, &stderr); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("serve on a given data.dir: %v", err)
	}
	if _, err := os.Stat(filepath.Join(given, "depot.db")); err != nil {
		t.Fatalf("the given data directory was not made: %v", err)
	}
}
