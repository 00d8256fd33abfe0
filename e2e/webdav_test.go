package e2e

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"depot/internal/testtool"
	"depot/mft"
)

// davSetup is a server and a user who may use WebDAV.
type davSetup struct {
	ts       *testServer
	user     userBody
	login    string
	password string
}

func startDAV(t *testing.T, edit ...option) *davSetup {
	t.Helper()
	ts := MustOpenServer(t, edit...)
	u := ts.createUser(t, `{"user":{"email":"dav@example.com","password":"`+ftpPassword+`","protocols":["webdav","api"]}}`)
	return &davSetup{ts: ts, user: u, login: "dav@example.com", password: ftpPassword}
}

func (d *davSetup) url(p string) string { return d.ts.URL() + "/dav" + p }

// req sends a WebDAV request with the user's password.
func (d *davSetup) req(t *testing.T, method, p, body string, headers ...string) response {
	t.Helper()
	return exchange(t, http.DefaultClient, method, d.url(p), strings.NewReader(body), "", func(r *http.Request) {
		r.SetBasicAuth(d.login, d.password)
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
	})
}

// rclone runs rclone with a webdav remote "dav:" for the user.
func (d *davSetup) rclone(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin := testtool.Path(t, "rclone")
	obscured, err := exec.Command(bin, "obscure", d.password).Output()
	if err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(t.TempDir(), "rclone.conf")
	os.WriteFile(conf, nil, 0o600)
	cmd := exec.Command(bin, append(args, "--config", conf)...)
	cmd.Env = append(os.Environ(), "RCLONE_CONFIG_DAV_TYPE=webdav", "RCLONE_CONFIG_DAV_URL="+d.url("/"),
		"RCLONE_CONFIG_DAV_VENDOR=other", "RCLONE_CONFIG_DAV_USER="+d.login, "RCLONE_CONFIG_DAV_PASS="+strings.TrimSpace(string(obscured)))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestWebDAV_RcloneRoundTrip(t *testing.T) {
	d := startDAV(t)
	src, back := t.TempDir(), t.TempDir()
	big := randomFile(t, src, "big.bin", 20<<20)
	os.Mkdir(filepath.Join(src, "small"), 0o755)
	for i := range 30 {
		os.WriteFile(filepath.Join(src, "small", fmt.Sprintf("f%02d.txt", i)), []byte(fmt.Sprintf("file %d", i)), 0o600)
	}
	if out, err := d.rclone(t, "copy", src, "dav:in"); err != nil {
		t.Fatalf("rclone copy up: %v\n%s", err, out)
	}
	if out, err := d.rclone(t, "check", src, "dav:in"); err != nil {
		t.Fatalf("rclone check: %v\n%s", err, out)
	}
	if out, err := d.rclone(t, "copy", "dav:in", back); err != nil {
		t.Fatalf("rclone copy down: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(back, "big.bin")); !bytes.Equal(b, big) {
		t.Fatal("20 MiB back differs")
	}
	if b, _ := os.ReadFile(filepath.Join(back, "small", "f29.txt")); string(b) != "file 29" {
		t.Errorf("small file back: %q", b)
	}
	if out, err := d.rclone(t, "moveto", "dav:in/big.bin", "dav:in/moved.bin"); err != nil {
		t.Fatalf("rclone moveto: %v\n%s", err, out)
	}
	if out, err := d.rclone(t, "purge", "dav:in/small"); err != nil {
		t.Fatalf("rclone purge: %v\n%s", err, out)
	}
	out, err := d.rclone(t, "lsf", "-R", "dav:")
	if err != nil || out != "in/\nin/moved.bin\n" {
		t.Errorf("after move and purge: %v %q", err, out)
	}
	n := 0
	for _, ev := range d.ts.events(t) {
		if ev.Event == mft.EventFileUploaded && ev.Protocol == "webdav" && ev.Actor == d.user.User.ID {
			n++
		}
	}
	if n != 31 {
		t.Errorf("%d file.uploaded events over webdav, want 31", n)
	}
}

func TestWebDAV_CurlMethods(t *testing.T) {
	d := startDAV(t)
	want(t, d.req(t, "MKCOL", "/docs", ""), 201)
	want(t, d.req(t, "MKCOL", "/docs", ""), 405) // exists
	r := d.req(t, "PUT", "/docs/a.txt", "hello webdav")
	want(t, r, 201)
	if r.header.Get("ETag") == "" {
		t.Error("PUT: no ETag")
	}
	r = d.req(t, "GET", "/docs/a.txt", "", "Range", "bytes=6-")
	if r.status != 206 || r.body != "webdav" {
		t.Errorf("GET Range: %d %q", r.status, r.body)
	}
	r = d.req(t, "PROPFIND", "/docs/", "", "Depth", "1")
	if r.status != 207 || !strings.Contains(r.body, "<D:href>/dav/docs/a.txt</D:href>") || !strings.Contains(r.body, "<D:getcontentlength>12</D:getcontentlength>") ||
		!strings.Contains(r.body, "text/plain") || !strings.Contains(r.body, "quota-available-bytes") {
		t.Errorf("PROPFIND: %d %s", r.status, r.body)
	}
	want(t, d.req(t, "COPY", "/docs/a.txt", "", "Destination", d.url("/docs/b.txt")), 201)
	want(t, d.req(t, "MOVE", "/docs/b.txt", "", "Destination", d.url("/docs/a.txt"), "Overwrite", "F"), 412)
	want(t, d.req(t, "MOVE", "/docs/b.txt", "", "Destination", d.url("/docs/a.txt"), "Overwrite", "T"), 204)
	want(t, d.req(t, "GET", "/docs/b.txt", ""), 404)
	want(t, d.req(t, "DELETE", "/docs/a.txt", ""), 204)
	want(t, d.req(t, "DELETE", "/docs", ""), 204)
	want(t, d.req(t, "PROPFIND", "/docs", "", "Depth", "0"), 404)

	// An API key as the user name works as well as the password.
	r = exchange(t, http.DefaultClient, "PUT", d.url("/k.txt"), strings.NewReader("by key"), "", func(r *http.Request) { r.SetBasicAuth(d.user.User.APIKey, "x") })
	want(t, r, 201)
	if st, body := (&ftpSetup{ts: d.ts, user: d.user}).content(t, "/k.txt"); st != 200 || body != "by key" {
		t.Errorf("the API reads what WebDAV stored: %d %q", st, body)
	}
	// /metrics counts WebDAV's uploads under their protocol: a.txt, its
	// COPY (a new file, as a copy over the API is) and k.txt.
	fams := d.ts.scrape(t, adminKey)
	up := map[string]string{"protocol": "webdav", "direction": "upload", "status": "ok"}
	if n, b := value(t, fams, "depot_transfers_total", up), value(t, fams, "depot_transfer_bytes_total", up); n != 3 || b != 30 {
		t.Errorf("metrics: %v webdav uploads of %v bytes, want 3 of 30", n, b)
	}
}

// A lock held by one client refuses another's PUT with 423; the holder
// writes with its token.
func TestWebDAV_Locks(t *testing.T) {
	d := startDAV(t)
	want(t, d.req(t, "PUT", "/report.csv", "v1"), 201)
	body := `<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype><D:owner>client A</D:owner></D:lockinfo>`
	r := d.req(t, "LOCK", "/report.csv", body, "Timeout", "Infinite")
	want(t, r, 200)
	token := strings.Trim(r.header.Get("Lock-Token"), "<>")
	if token == "" || !strings.Contains(r.body, "Second-3600") {
		t.Fatalf("LOCK: token %q, body %s (an Infinite lock is held an hour)", token, r.body)
	}
	if r := d.req(t, "PUT", "/report.csv", "v2 by B"); r.status != 423 {
		t.Errorf("PUT by another client under the lock: %d %s", r.status, r.body)
	}
	want(t, d.req(t, "DELETE", "/report.csv", ""), 423)
	want(t, d.req(t, "PUT", "/report.csv", "v2 by A", "If", "(<"+token+">)"), 201)
	want(t, d.req(t, "UNLOCK", "/report.csv", "", "Lock-Token", "<"+token+">"), 204)
	want(t, d.req(t, "PUT", "/report.csv", "v3 by B"), 201)
	if r := d.req(t, "GET", "/report.csv", ""); r.body != "v3 by B" {
		t.Errorf("after unlock: %q", r.body)
	}

	// cadaver, a WebDAV client of its own, locks; curl is then refused.
	home := t.TempDir()
	port := strings.TrimPrefix(d.ts.URL(), "http://127.0.0.1:")
	os.WriteFile(filepath.Join(home, ".netrc"), []byte("machine 127.0.0.1 login "+d.login+" password "+d.password+"\n"), 0o600)
	cmd := exec.Command(testtool.Path(t, "cadaver"), "http://127.0.0.1:"+port+"/dav/")
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader("lock report.csv\ndiscover report.csv\n")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "succeeded") {
		t.Fatalf("cadaver: %v\n%s", err, out)
	}
	if r := d.req(t, "PUT", "/report.csv", "while cadaver holds it"); r.status != 423 {
		t.Errorf("PUT under cadaver's lock: %d", r.status)
	}
}

func TestWebDAV_Refusals(t *testing.T) {
	d := startDAV(t)
	// A body cut short stores nothing.
	c, err := net.Dial("tcp", strings.TrimPrefix(d.ts.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("PUT", d.url("/cut.bin"), nil)
	req.SetBasicAuth(d.login, d.password)
	fmt.Fprintf(c, "PUT /dav/cut.bin HTTP/1.1\r\nHost: x\r\nAuthorization: %s\r\nContent-Length: 1000000\r\n\r\n", req.Header.Get("Authorization"))
	c.Write(bytes.Repeat([]byte("x"), 100000))
	c.Close()
	r := d.req(t, "PROPFIND", "/", "", "Depth", "1")
	if r.status != 207 {
		t.Fatalf("PROPFIND: %d", r.status)
	}
	if r := d.req(t, "GET", "/cut.bin", ""); r.status != 404 {
		t.Errorf("a cut PUT is there: %d", r.status)
	}

	// Over the size limit: 413 before the body; over the quota: 507, both
	// with the reason, nothing stored.
	want(t, d.ts.do(t, "PATCH", "/admin/users/"+d.user.User.ID, adminKey, `{"user":{"max_file_size":1}}`), 200)
	if r := d.req(t, "PUT", "/large.bin", strings.Repeat("l", 2<<20)); r.status != 413 || !strings.Contains(r.body, "limit") {
		t.Errorf("over max_file_size: %d %q", r.status, r.body)
	}
	want(t, d.req(t, "GET", "/large.bin", ""), 404)
	want(t, d.ts.do(t, "PATCH", "/admin/users/"+d.user.User.ID, adminKey, `{"user":{"max_file_size":0}}`), 200)
	want(t, d.ts.do(t, "PATCH", "/admin/users/"+d.user.User.ID, adminKey, `{"user":{"quota_mb":1}}`), 200)
	r = d.req(t, "PUT", "/big.bin", strings.Repeat("q", 2<<20))
	if r.status != 507 || !strings.Contains(r.body, "quota") {
		t.Errorf("over quota: %d %q", r.status, r.body)
	}
	want(t, d.req(t, "GET", "/big.bin", ""), 404)
	r = d.req(t, "PROPFIND", "/", "", "Depth", "0")
	if !regexp.MustCompile(`<D:quota-available-bytes>1048576</D:quota-available-bytes>`).MatchString(r.body) ||
		!strings.Contains(r.body, "<D:quota-used-bytes>0</D:quota-used-bytes>") {
		t.Errorf("quota properties: %s", r.body)
	}

	// Hostile requests: a huge PROPFIND body, a name Windows and Depot refuse.
	r = d.req(t, "PROPFIND", "/", `<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>`+strings.Repeat("<D:x/>", 400000)+`</D:prop></D:propfind>`)
	if r.status < 400 || r.status >= 500 {
		t.Errorf("2 MiB PROPFIND body: %d", r.status)
	}
	if r := d.req(t, "PUT", "/a%01b.txt", "x"); r.status != 400 {
		t.Errorf("control character in a name: %d %s", r.status, r.body)
	}

	// A remembered password is forgotten when it changes.
	want(t, d.ts.do(t, "PATCH", "/admin/users/"+d.user.User.ID, adminKey, `{"user":{"password":"another-pass-987"}}`), 200)
	want(t, d.req(t, "PROPFIND", "/", "", "Depth", "0"), 401)
	d.password = "another-pass-987"
	want(t, d.req(t, "PROPFIND", "/", "", "Depth", "0"), 207)

	// No webdav in the user's protocols: 403 with the reason.
	d.ts.createUser(t, `{"user":{"email":"api@example.com","password":"`+ftpPassword+`"}}`)
	e := *d
	e.login, e.password = "api@example.com", ftpPassword
	if r := e.req(t, "PROPFIND", "/", "", "Depth", "0"); r.status != 403 || !strings.Contains(r.body, "may not use webdav") {
		t.Errorf("a user without webdav: %d %q", r.status, r.body)
	}
	// No credentials: 401 with a challenge; wrong passwords are counted
	// until the address is banned.
	r = exchange(t, http.DefaultClient, "PROPFIND", d.url("/"), nil, "", nil)
	if r.status != 401 || !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no credentials: %d %v", r.status, r.header)
	}
	e.login, e.password = d.login, "wrong-password"
	for range 4 { // the old password above was the first failure of five
		want(t, e.req(t, "PROPFIND", "/", "", "Depth", "0"), 401)
	}
	if r := d.req(t, "PROPFIND", "/", "", "Depth", "0"); r.status != 403 || !strings.Contains(r.body, "banned") {
		t.Errorf("the right password after 5 wrong ones: %d %s", r.status, r.body)
	}
}
