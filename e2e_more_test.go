package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"depot/internal/testtool"
)

// Every upload the client was told succeeded has its file.uploaded record
// after a kill -9 right behind it. Found by the hardening review: of 249
// acknowledged uploads, only 244 records survived the 100 ms audit batch.
func TestEndToEnd_AcknowledgedUploadsAuditedAfterSIGKILL(t *testing.T) {
	data := t.TempDir()
	p := startDepot(t, data)
	userID, userKey := p.createUser(t, `{"user":{"email":"crash@example.com"}}`)

	// Eight clients upload until the process is killed after the 200th
	// acknowledgement; every 201 is remembered.
	var mu sync.Mutex
	acked := map[string]bool{}
	killed := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-killed:
					return
				default:
				}
				name := fmt.Sprintf("/w%d-%04d.txt", w, i)
				code, _ := httpDo("PUT", p.url+"/api/files/content?path="+name, userKey, []byte("acknowledged"))
				if code != 201 {
					continue // cut off by the kill
				}
				mu.Lock()
				acked["/users/"+userID+name] = true
				n := len(acked)
				mu.Unlock()
				if n >= 200 {
					once.Do(func() {
						p.cmd.Process.Kill()
						<-p.done
						close(killed)
					})
				}
			}
		})
	}
	wg.Wait()

	p = startDepot(t, data)
	code, body := httpDo("GET", p.url+"/admin/audit?event=file.uploaded&limit=1000&user="+userID, e2eAdminKey, nil)
	if code != 200 {
		t.Fatalf("audit: %d %s", code, body)
	}
	var events []struct{ Event struct{ Path string } }
	json.Unmarshal([]byte(body), &events)
	recorded := map[string]bool{}
	for _, e := range events {
		recorded[e.Event.Path] = true
	}
	mu.Lock()
	defer mu.Unlock()
	var missing []string
	for p := range acked {
		if !recorded[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 || len(acked) < 200 {
		t.Fatalf("%d of %d acknowledged uploads have no file.uploaded record after kill -9: %v", len(missing), len(acked), missing)
	}
}

// DEPOT_DEBUG_LISTEN serves pprof on a loopback address, for diagnosis
// and bench/soak.sh.
func TestEndToEnd_DebugListen(t *testing.T) {
	addr := freePort(t)
	startDepot(t, t.TempDir(), "DEPOT_DEBUG_LISTEN="+addr)
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.HasPrefix(string(b), "goroutine profile: total ") {
		t.Fatalf("pprof: %d %.100s", resp.StatusCode, b)
	}
}

// curl -O -J saves a download under its own name (filename= beside
// filename*=); a name that is not ASCII falls back to underscores there.
func TestEndToEnd_CurlSavesUnderName(t *testing.T) {
	p := startDepot(t, t.TempDir())
	admin := []string{"--user", e2eAdminKey + ":x"}
	src := filepath.Join(t.TempDir(), "src")
	os.WriteFile(src, []byte("a,b\n"), 0o600)
	for _, name := range []string{"report.csv", "Q3 résumé.csv"} {
		if code, body := curl(t, append(admin, "-T", src, p.url+"/api/files/content?path=/"+url.PathEscape(name))...); code != 201 {
			t.Fatalf("upload %s: %d %s", name, code, body)
		}
	}
	dir := t.TempDir()
	for name, saved := range map[string]string{"report.csv": "report.csv", "Q3 résumé.csv": "Q3 r_sum_.csv"} {
		cmd := exec.Command(testtool.Path(t, "curl"), append(admin, "-sS", "-O", "-J", p.url+"/api/files/content?path=/"+url.PathEscape(name))...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curl -O -J: %v\n%s", err, out)
		}
		if b, err := os.ReadFile(filepath.Join(dir, saved)); err != nil || string(b) != "a,b\n" {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("%s not saved as %q: %v (folder has %v)", name, saved, err, entries)
		}
	}
}

// A clean shutdown logs no error (it used to log "sftp server stopped …
// use of closed network connection"). A misspelled DEPOT_ variable is named in a warning at start.
func TestEndToEnd_CleanShutdownLogsNoError(t *testing.T) {
	p := startDepot(t, t.TempDir(), "DEPOT_HTTP_LISTN=:9", "DEPOT_LOG_FORMAT=json")
	if resp, err := http.Get(p.url + "/healthz"); err == nil {
		resp.Body.Close()
	}
	p.stop(t)
	log := p.stderr.String()
	// JSON durations are strings such as "1.2ms", not nanoseconds.
	if !strings.Contains(log, `"duration":"`) {
		t.Fatalf("no duration string in the JSON log:\n%s", log)
	}
	// The host keys' fingerprints are printed at start, for partners.
	if !strings.Contains(p.output(), "SFTP host key ssh-ed25519 SHA256:") {
		t.Fatalf("start-up output:\n%s", p.output())
	}
	if strings.Contains(log, `"level":"ERROR"`) || !strings.Contains(log, "stopped") {
		t.Fatalf("shutdown log:\n%s", log)
	}
	if !strings.Contains(log, "unknown environment variable") || !strings.Contains(log, "DEPOT_HTTP_LISTN") {
		t.Fatalf("no warning for DEPOT_HTTP_LISTN:\n%s", log)
	}
}

// depot <cmd> --help exits 0 with that command's flags; a bad flag is
// printed once; fsck and backup on a folder without a database say so,
// fail, and create nothing.
func TestCLI_HelpAndEmptyDataDir(t *testing.T) {
	bin, err := buildDepot()
	if err != nil {
		t.Fatal(err)
	}
	for cmd, flagName := range map[string]string{"serve": "-config", "backup": "-out", "fsck": "-config", "init": "-config"} {
		out, err := exec.Command(bin, cmd, "--help").CombinedOutput()
		if err != nil || !strings.Contains(string(out), flagName) {
			t.Fatalf("depot %s --help: %v\n%s", cmd, err, out)
		}
	}
	// The version names the Go release, and the commit when the build
	// stamped it (GOFLAGS=-buildvcs=false, as on this machine, does not).
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.Contains(string(out), "(") || !strings.Contains(string(out), "go1.") {
		t.Fatalf("depot version: %v %s", err, out)
	}
	out, err := exec.Command(bin, "fsck", "--nope").CombinedOutput()
	if err == nil || strings.Count(string(out), "--nope")+strings.Count(string(out), "-nope") != 1 {
		t.Fatalf("bad flag, want one message:\n%s", out)
	}
	for _, args := range [][]string{{"fsck"}, {"backup", "--out", filepath.Join(t.TempDir(), "b.db")}} {
		empty := t.TempDir()
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "DEPOT_DATA_DIR="+empty)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "has no database") {
			t.Fatalf("depot %v on an empty folder: %v\n%s", args, err, out)
		}
		if entries, _ := os.ReadDir(empty); len(entries) != 0 {
			t.Fatalf("depot %v created %v", args, entries)
		}
	}
}

// depot admin reset-key gives a lost administrator a new key (the old one
// stops working) and audits it; beside a running server it says to stop it.
func TestCLI_AdminResetKey(t *testing.T) {
	bin, err := buildDepot()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	p := startDepot(t, data)
	reset := func() (string, error) {
		cmd := exec.Command(bin, "admin", "reset-key", "admin@localhost")
		cmd.Env = append(os.Environ(), "DEPOT_DATA_DIR="+data)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := reset(); err == nil || !strings.Contains(out, "stop the server first") {
		t.Fatalf("reset-key beside a running server: %v\n%s", err, out)
	}
	p.stop(t)
	out, err := reset()
	if err != nil {
		t.Fatalf("reset-key: %v\n%s", err, out)
	}
	key := ""
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) == 1 && len(f[0]) >= 20 {
			key = f[0]
		}
	}
	p = startDepot(t, data)
	if code, _ := curl(t, "--user", e2eAdminKey+":x", p.url+"/admin/users"); code != 401 {
		t.Fatalf("the old key answered %d", code)
	}
	code, body := curl(t, "--user", key+":x", p.url+"/admin/audit?event=user.api_key_regenerated")
	if code != 200 || !strings.Contains(body, `"actor":"cli"`) || !strings.Contains(body, `"target":"admin-localhost"`) {
		t.Fatalf("new key: %d %s", code, body)
	}
}

// httpDo sends a request with key as the basic-auth user and returns the
// status and body; status 0 and the error when the connection failed.
func httpDo(method, url, key string, body []byte) (int, string) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	req.SetBasicAuth(key, "x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// createUser creates a user over the API as the administrator and returns
// its id and API key.
func (p *depotProcess) createUser(t *testing.T, body string) (id, key string) {
	t.Helper()
	code, resp := httpDo("POST", p.url+"/admin/users", e2eAdminKey, []byte(body))
	if code != 201 {
		t.Fatalf("create user: %d %s", code, resp)
	}
	var u struct {
		User struct {
			ID     string
			APIKey string `json:"api_key"`
		}
	}
	if err := json.Unmarshal([]byte(resp), &u); err != nil {
		t.Fatal(err)
	}
	return u.User.ID, u.User.APIKey
}

// The first administrator has no password: the first start says how to
// give it one, and depot admin set-password does so from standard input
// (never the command line), with the server stopped; the administrator
// then logs in with it, and the audit log has the change without the
// password.
func TestCLI_AdminSetPassword(t *testing.T) {
	bin, err := buildDepot()
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	p := startDepot(t, data)
	if out := p.output(); !strings.Contains(out, "depot admin set-password admin@localhost") || !strings.Contains(out, `/admin/users/admin-localhost`) {
		t.Fatalf("the first start does not say how to give the administrator a password:\n%s", out)
	}
	// It names the data directory it made, and every start the one it
	// serves from, absolute: a start in the wrong folder shows at once.
	if out := p.output(); !strings.Contains(out, "New data directory "+data+": a new Depot.") || !strings.Contains(out, "from the data directory "+data+".") {
		t.Fatalf("the start does not name its data directory:\n%s", out)
	}
	p.stop(t)
	set := func(stdin string) (string, error) {
		cmd := exec.Command(bin, "admin", "set-password", "admin@localhost")
		cmd.Env = append(os.Environ(), "DEPOT_DATA_DIR="+data)
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := set("short\n"); err == nil || !strings.Contains(out, "standard input") {
		t.Fatalf("a short password: %v\n%s", err, out)
	}
	if out, err := set("First-admin-pass-1\n"); err != nil {
		t.Fatalf("set-password: %v\n%s", err, out)
	}
	p = startDepot(t, data)
	code, body := curl(t, "-d", `{"user":{"email":"admin@localhost","password":"First-admin-pass-1"}}`, p.url+"/api/login")
	if code != 200 || !strings.Contains(body, `"id":"admin-localhost"`) {
		t.Fatalf("login with the new password: %d %s", code, body)
	}
	code, body = curl(t, "--user", e2eAdminKey+":x", p.url+"/admin/audit?event=user.updated")
	if code != 200 || !strings.Contains(body, `"actor":"cli"`) || !strings.Contains(body, `"(set)"`) || strings.Contains(body, "First-admin-pass-1") {
		t.Fatalf("audit: %d %s", code, body)
	}
}

// Partners are told the host of http.public_url unless sftp.public_host
// says otherwise: bucket hosts follow it; a start warns when the name
// partners are given reaches only this machine while SFTP listens on
// other addresses. Found by the first-hour review: bucket hosts were
// <id>.localhost behind a public_url of the company's name.
func TestServe_PartnersToldThePublicHost(t *testing.T) {
	p := startDepot(t, t.TempDir(), "DEPOT_HTTP_PUBLIC_URL=https://depot.example.test")
	code, body := curl(t, "--user", e2eAdminKey+":x", "-d", `{"bucket":{"name":"Acme"}}`, p.url+"/admin/buckets")
	if code != 201 || !strings.Contains(body, `.depot.example.test"`) {
		t.Fatalf("bucket host: %d %s", code, body)
	}
	p.waitLog(t, "sftp started", 1) // logged after the warnings
	if strings.Contains(p.stderr.String(), "which only this machine reaches") {
		t.Errorf("a warning with a public host set:\n%s", p.stderr.String())
	}
	p = startDepot(t, t.TempDir(), "DEPOT_SFTP_LISTEN=:"+strings.Split(freePort(t), ":")[1])
	p.waitLog(t, "partners are told to connect over SFTP to 127.0.0.1, which only this machine reaches", 1)
	// No public_url, the listener on every address: links name localhost.
	port := strings.Split(freePort(t), ":")[1]
	p = startDepot(t, t.TempDir(), "DEPOT_HTTP_LISTEN=:"+port, "DEPOT_HTTP_PUBLIC_URL=")
	p.waitLog(t, "http.public_url names http://localhost:"+port+", which only this machine reaches", 1)
}
