package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"testing"

	"depot/internal/testtool"
)

// An FTPS session is listed by GET /admin/sessions beside SFTP's, with
// its upload in flight, and DELETE ends it: the upload leaves nothing.
func TestFTP_AdminSessions(t *testing.T) {
	f := startFTP(t, nil)
	cmd := exec.Command(testtool.Path(t, "python3"), "-c", fmt.Sprintf(`import ftplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=ctx, timeout=60)
ftp.connect('127.0.0.1', %s)
ftp.login(%q, %q)
ftp.prot_p()
ftp.voidcmd('TYPE I')
conn = ftp.transfercmd('STOR live.bin')
conn.sendall(b'x' * 5000)
print('sending', flush=True)
sys.stdin.readline()
try:
    for i in range(100):
        conn.sendall(b'x' * 65536)
    conn.unwrap(); conn.close()
    print(ftp.voidresp())
except Exception as e:
    print('ended:', type(e).__name__)
`, f.port(), f.login, f.password))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(stdout)
	if line, err := out.ReadString('\n'); line != "sending\n" {
		t.Fatalf("client: %q %v", line, err)
	}

	var list []struct {
		Session struct {
			ID, User, IP, Protocol string
			BytesIn                int64 `json:"bytes_in"`
			Transfers              []struct {
				Path, Direction string
				Bytes           int64
			}
		} `json:"session"`
	}
	// The 5,000 bytes sent are counted once the server has read them.
	for {
		r := f.ts.do(t, "GET", "/admin/sessions", adminKey, "")
		want(t, r, 200)
		r.json(t, &list)
		if len(list) != 1 || len(list[0].Session.Transfers) != 1 {
			t.Fatalf("sessions: %s", r.body)
		}
		if list[0].Session.Transfers[0].Bytes == 5000 {
			break
		}
	}
	s := list[0].Session
	if s.User != f.user.User.ID || s.Protocol != "ftp" || s.IP != "127.0.0.1" || s.BytesIn != 5000 ||
		s.Transfers[0].Path != "/live.bin" || s.Transfers[0].Direction != "upload" {
		t.Fatalf("session %+v", s)
	}
	if n := value(t, f.ts.scrape(t, adminKey), "depot_ftp_sessions", nil); n != 1 {
		t.Errorf("depot_ftp_sessions %v during the session, want 1", n)
	}
	want(t, f.ts.do(t, "DELETE", "/admin/sessions/"+s.ID, adminKey, ""), 200)
	io.WriteString(stdin, "go on\n")
	rest, _ := io.ReadAll(out)
	if !strings.HasPrefix(string(rest), "ended: ") {
		t.Fatalf("the ended session went on: %q", rest)
	}
	if code, body := f.content(t, "/live.bin"); code != 404 {
		t.Fatalf("the cut upload was stored: %d %q", code, body)
	}
	r := f.ts.do(t, "GET", "/admin/sessions", adminKey, "")
	if want(t, r, 200); strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("sessions after the end: %s", r.body)
	}
	want(t, f.ts.do(t, "DELETE", "/admin/sessions/"+s.ID, adminKey, ""), 404)

	// /metrics: no session now; an upload that completes is counted
	// under ftp, the one ended is not.
	if out, err := f.curl(t, "--ssl-reqd", "-T", "-", "ftp://127.0.0.1:"+f.port()+"/done.txt"); err != nil {
		t.Fatalf("curl: %v %s", err, out)
	}
	fams := f.ts.scrape(t, adminKey)
	if n := value(t, fams, "depot_ftp_sessions", nil); n != 0 {
		t.Errorf("depot_ftp_sessions %v after the end, want 0", n)
	}
	up := map[string]string{"protocol": "ftp", "direction": "upload", "status": "ok"}
	if n := value(t, fams, "depot_transfers_total", up); n != 1 {
		t.Errorf("depot_transfers_total %v ftp uploads, want 1", n)
	}
}

// The account page tells a user who may use FTPS and WebDAV where to
// connect: host, ports, certificate; the WebDAV address. Someone without
// those protocols sees neither.
func TestFTP_AccountPage(t *testing.T) {
	f := startFTP(t, nil)
	f.ts.createUser(t, `{"user":{"email":"both@example.com","password":"correct-horse","protocols":["web","ftp","webdav"]}}`)
	f.ts.createUser(t, `{"user":{"email":"web@example.com","password":"correct-horse","protocols":["web","sftp"]}}`)
	b := newWebBrowser(f.ts)
	b.signIn(t, "both@example.com", "correct-horse")
	r := b.get(t, "/web/account")
	_, implicit, _ := strings.Cut(f.implicit, "127.0.0.1:")
	fp := f.ts.app.FTPCert.Fingerprint()
	for _, s := range []string{`<h2 id="ftp-title">FTPS</h2>`, f.port() + " (explicit TLS), " + implicit + " (implicit TLS)", fp,
		`<h2 id="dav-title">WebDAV</h2>`, f.ts.app.HTTP.PublicURL + "/dav/"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("account page lacks %q", s)
		}
	}
	if strings.Contains(r.body, `id="sftp-title"`) {
		t.Error("the account page shows SFTP to a user without sftp")
	}
	b = newWebBrowser(f.ts)
	b.signIn(t, "web@example.com", "correct-horse")
	r = b.get(t, "/web/account")
	if strings.Contains(r.body, `id="ftp-title"`) || strings.Contains(r.body, `id="dav-title"`) || !strings.Contains(r.body, `id="sftp-title"`) {
		t.Errorf("account page of a user with web and sftp only:\n%s", r.body)
	}
}

// An FTPS session keeps the user's rules and home between commands, as
// SFTP's does, and sees an administrator's changes at its next command:
// the home moved away (a new one in its place), the account disabled.
func TestFTP_LiveSessionSeesChanges(t *testing.T) {
	f := startFTP(t, nil)
	ts, home := f.ts, f.user.User.Home
	fc := dialFTP(t, f.addr)
	fc.startTLS()
	fc.cmd("USER "+f.login, 331)
	fc.cmd("PASS "+f.password, 230)
	fc.cmd("MKD /before", 257)

	want(t, ts.do(t, "POST", "/api/files/rename", adminKey, `{"from":"`+home+`","to":"`+home+`-old"}`), 200)
	fc.cmd("CWD /before", 550)
	fc.cmd("MKD /after", 257)
	want(t, ts.do(t, "GET", "/api/files/stat?path="+home+"/after", adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/api/files/stat?path="+home+"-old/after", adminKey, ""), 404)

	want(t, ts.do(t, "PUT", "/admin/users/"+f.user.User.ID, adminKey, `{"user":{"active":false}}`), 200)
	if msg := fc.cmd("MKD /late", 550); !strings.Contains(msg, "disabled") {
		t.Errorf("MKD after the account was disabled: %q", msg)
	}
	want(t, ts.do(t, "GET", "/api/files/stat?path="+home+"/late", adminKey, ""), 404)
}
