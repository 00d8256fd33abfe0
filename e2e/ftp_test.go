package e2e

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/config"
	"depot/internal/testtool"
	"depot/mft"
)

// ftpSetup is a server with FTPS on and a user who may use it.
type ftpSetup struct {
	ts       *testServer
	addr     string // explicit TLS
	implicit string
	user     userBody
	login    string
	password string
}

const ftpPassword = "ftp-pass-123456"

func startFTP(t *testing.T, configure func(*config.Config)) *ftpSetup {
	t.Helper()
	ts := openServerConfigured(t, t.TempDir(), nil, func(cfg *config.Config) {
		cfg.FTP.Enabled = true
		cfg.FTP.Listen, cfg.FTP.ImplicitListen = "127.0.0.1:0", "127.0.0.1:0"
		cfg.FTP.PassivePorts = "41000-41999"
		if configure != nil {
			configure(cfg)
		}
	})
	u := ts.createUser(t, `{"user":{"email":"partner@example.com","password":"`+ftpPassword+`","protocols":["ftp","api"]}}`)
	return &ftpSetup{ts: ts, addr: ts.app.FTP.ListenAddr().String(), implicit: ts.app.FTP.ImplicitListenAddr().String(),
		user: u, login: "partner@example.com", password: ftpPassword}
}

func (f *ftpSetup) port() string { _, p, _ := net.SplitHostPort(f.addr); return p }

// lftp runs an lftp script against the explicit-TLS port (certificate not
// verified: it is the test's self-signed one) and returns its output.
func (f *ftpSetup) lftp(t *testing.T, dir, script string) (string, error) {
	t.Helper()
	cmd := exec.Command(testtool.Path(t, "lftp"), "-u", f.login+","+f.password, "-p", f.port(), "-e",
		"set ssl:verify-certificate no; set ftp:ssl-force true; set ftp:ssl-protect-data true; set net:max-retries 1; "+script+"; quit", "127.0.0.1")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// curl runs curl with the user's credentials and returns its output.
func (f *ftpSetup) curl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(testtool.Path(t, "curl"), append([]string{"-sS", "-k", "-u", f.login + ":" + f.password}, args...)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// python runs a Python ftplib script with ftp (an FTP_TLS logged in
// with PROT P) ready, and returns its output.
func (f *ftpSetup) python(t *testing.T, script string) (string, error) {
	t.Helper()
	prelude := fmt.Sprintf(`import ftplib, ssl, io, socket, sys, time
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=ctx, timeout=60)
ftp.connect('127.0.0.1', %s)
ftp.login(%q, %q)
ftp.prot_p()
`, f.port(), f.login, f.password)
	cmd := exec.Command(testtool.Path(t, "python3"), "-c", prelude+script)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func randomFile(t *testing.T, dir, name string, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
		t.Fatal(err)
	}
	return b
}

// content is a file of the user's as the API reads it (status, body).
func (f *ftpSetup) content(t *testing.T, path string) (int, string) {
	r := f.ts.do(t, "GET", "/api/files/content?path="+path, f.user.User.APIKey, "")
	return r.status, r.body
}

func TestFTP_LftpRoundTrip(t *testing.T) {
	f := startFTP(t, nil)
	dir := t.TempDir()
	data := randomFile(t, dir, "big.bin", 20<<20)
	out, err := f.lftp(t, dir, "mkdir in; cd in; put big.bin; cls -l; get big.bin -o back.bin; mv big.bin kept.bin; cls; cd ..; mkdir gone; rmdir gone; cls")
	if err != nil {
		t.Fatalf("lftp: %v\n%s", err, out)
	}
	back, _ := os.ReadFile(filepath.Join(dir, "back.bin"))
	if !bytes.Equal(back, data) {
		t.Fatalf("20 MiB back: %d bytes, not the same (lftp said %s)", len(back), out)
	}
	if !strings.Contains(out, "kept.bin") || strings.Contains(out, "gone") {
		t.Errorf("listings: %s", out)
	}
	if st, body := f.content(t, "/in/kept.bin"); st != 200 || body != string(data) {
		t.Errorf("the API reads /in/kept.bin: %d, %d bytes", st, len(body))
	}
	var uploaded *mft.Event
	for _, ev := range f.ts.events(t) {
		if ev.Event == mft.EventFileUploaded && strings.HasSuffix(ev.Path, "/in/big.bin") {
			uploaded = ev
		}
	}
	if uploaded == nil || uploaded.Protocol != "ftp" || uploaded.Size != 20<<20 || uploaded.Actor != f.user.User.ID {
		t.Errorf("file.uploaded: %+v", uploaded)
	}
}

func TestFTP_CurlExplicitImplicitAndResume(t *testing.T) {
	f := startFTP(t, nil)
	dir := t.TempDir()
	data := randomFile(t, dir, "up.bin", 8<<20)
	src := filepath.Join(dir, "up.bin")
	if out, err := f.curl(t, "--ssl-reqd", "-T", src, "ftp://"+f.addr+"/up.bin"); err != nil {
		t.Fatalf("curl upload: %v %s", err, out)
	}
	got := filepath.Join(dir, "got.bin")
	if out, err := f.curl(t, "-o", got, "ftps://"+f.implicit+"/up.bin"); err != nil {
		t.Fatalf("curl implicit download: %v %s", err, out)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
		t.Fatal("implicit TLS download differs")
	}

	// A download broken after 3 MiB, resumed: REST, then the rest.
	os.WriteFile(got, data[:3<<20], 0o600)
	if out, err := f.curl(t, "--ssl-reqd", "-C", "-", "-o", got, "ftp://"+f.addr+"/up.bin"); err != nil {
		t.Fatalf("curl resume download: %v %s", err, out)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
		t.Fatal("resumed download differs")
	}

	// An upload that stopped after 5 MiB (published as such), resumed
	// from where the server's copy ends.
	part := filepath.Join(dir, "part.bin")
	os.WriteFile(part, data[:5<<20], 0o600)
	if out, err := f.curl(t, "--ssl-reqd", "-T", part, "ftp://"+f.addr+"/resumed.bin"); err != nil {
		t.Fatalf("curl first part: %v %s", err, out)
	}
	if out, err := f.curl(t, "--ssl-reqd", "-C", "-", "-T", src, "ftp://"+f.addr+"/resumed.bin"); err != nil {
		t.Fatalf("curl resume upload: %v %s", err, out)
	}
	if st, body := f.content(t, "/resumed.bin"); st != 200 || body != string(data) {
		t.Errorf("resumed upload: %d, %d bytes", st, len(body))
	}
	// A restart point that is not the file's end is refused, not merged.
	out, err := f.python(t, `ftp.voidcmd('TYPE I')
try:
    ftp.storbinary('STOR resumed.bin', io.BytesIO(b'x'), rest=10)
except ftplib.error_perm as e:
    print('refused', e)
`)
	if err != nil || !strings.Contains(out, "refused 554") || !strings.Contains(out, "where the file ends") {
		t.Errorf("REST 10 + STOR: %v %s", err, out)
	}
	if _, body := f.content(t, "/resumed.bin"); body != string(data) {
		t.Error("a refused restart changed the file")
	}
}

func TestFTP_PythonFtplib(t *testing.T) {
	f := startFTP(t, nil)
	out, err := f.python(t, `ftp.mkd('docs')
ftp.cwd('docs')
print(ftp.pwd())
ftp.storbinary('STOR a.txt', io.BytesIO(b'hello ftplib'))
ftp.storbinary('APPE a.txt', io.BytesIO(b', appended'))
b = io.BytesIO(); ftp.retrbinary('RETR a.txt', b.write); print(b.getvalue().decode())
print(ftp.size('a.txt'))
print(ftp.sendcmd('MDTM a.txt')[:4])
print(sorted(n for n, _ in ftp.mlsd()))
ftp.storbinary('STOR c.txt', io.BytesIO(b'replaced'))
ftp.rename('a.txt', 'b.txt')
ftp.rename('b.txt', 'c.txt')
b = io.BytesIO(); ftp.retrbinary('RETR c.txt', b.write); print(b.getvalue().decode())
print(ftp.nlst())
ftp.delete('c.txt')
ftp.cwd('..')
ftp.rmd('docs')
print(ftp.nlst())
ftp.quit()
`)
	want := "/docs\nhello ftplib, appended\n22\n213 \n['a.txt']\nhello ftplib, appended\n['c.txt']\n[]\n"
	if err != nil || out != want {
		t.Fatalf("ftplib: %v\n%q\nwant %q", err, out, want)
	}
}

// An upload whose data connection is cut (no TLS close_notify: a client
// killed, a network broken) stores nothing; ABOR during a download ends it.
func TestFTP_CutUploadAndAbort(t *testing.T) {
	f := startFTP(t, nil)
	out, err := f.python(t, `conn = ftp.transfercmd('STOR cut.bin')
conn.sendall(b'x' * 300000)
raw = socket.socket(fileno=conn.detach())
raw.shutdown(socket.SHUT_WR)
print(ftp.getmultiline())
raw.close()
print(ftp.nlst())
ftp.storbinary('STOR big.bin', io.BytesIO(b'y' * (64 << 20)))
conn = ftp.transfercmd('RETR big.bin')
conn.recv(65536)
ftp.sock.sendall(b'ABOR\r\n')
first = ftp.getmultiline()
print(first[:3], ftp.getmultiline()[:3] if first.startswith('426') else '')
conn.close()
print(ftp.voidcmd('NOOP'))
`)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "426 ") || !strings.Contains(lines[0], "close_notify") || lines[1] != "[]" ||
		lines[2] != "426 226" || !strings.HasPrefix(lines[3], "200") {
		t.Fatalf("cut upload and ABOR:\n%s", out)
	}
	if st, _ := f.content(t, "/cut.bin"); st != 404 {
		t.Errorf("the cut upload is there: %d", st)
	}
}

func TestFTP_Refusals(t *testing.T) {
	f := startFTP(t, nil)
	// Plain login while TLS is required.
	out, err := exec.Command(testtool.Path(t, "python3"), "-c", fmt.Sprintf(`import ftplib
ftp = ftplib.FTP()
ftp.connect('127.0.0.1', %s)
try:
    ftp.login(%q, %q)
except ftplib.error_perm as e:
    print(e)
`, f.port(), f.login, f.password)).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "530 This server requires TLS") {
		t.Errorf("plain login: %v %s", err, out)
	}
	// Active mode, a file too large for the account, a bad name.
	want(t, f.ts.do(t, "PATCH", "/admin/users/"+f.user.User.ID, adminKey, `{"user":{"max_file_size":1}}`), 200)
	out2, err := f.python(t, `for cmd in ['PORT 127,0,0,1,4,1', 'EPRT |1|127.0.0.1|1025|', 'RETR nope.txt', 'FOO bar']:
    try:
        print(ftp.sendcmd(cmd))
    except ftplib.all_errors as e:
        print(e)
try:
    ftp.storbinary('STOR big.bin', io.BytesIO(b'z' * (2 << 20)))
except ftplib.all_errors as e:
    print(e)
resp = ftp.sendcmd('PASV')
print(resp)
`)
	lines := strings.Split(strings.TrimSpace(out2), "\n")
	if err != nil || len(lines) != 6 {
		t.Fatalf("%v\n%s", err, out2)
	}
	for i, prefix := range []string{"502 Active mode is not offered", "502 Active mode", "425 Send PASV", "502 FOO", "552 "} {
		if !strings.HasPrefix(lines[i], prefix) {
			t.Errorf("line %d: %q, want %q", i, lines[i], prefix)
		}
	}
	if !strings.Contains(lines[4], "1 MB") && !strings.Contains(lines[4], "limit") {
		t.Errorf("the refused upload does not say why: %s", lines[4])
	}
	var h1, h2, h3, h4, p1, p2 int
	if _, err := fmt.Sscanf(lines[5], "227 Entering Passive Mode (%d,%d,%d,%d,%d,%d).", &h1, &h2, &h3, &h4, &p1, &p2); err != nil {
		t.Fatalf("PASV: %q", lines[5])
	}
	if port := p1<<8 | p2; port < 41000 || port > 41999 || h1 != 127 {
		t.Errorf("passive port %d out of 41000-41999 (or host %d)", port, h1)
	}
	if st, _ := f.content(t, "/big.bin"); st != 404 {
		t.Errorf("the refused upload is there: %d", st)
	}

	// An account without ftp in its protocols.
	f.ts.createUser(t, `{"user":{"email":"web@example.com","password":"`+ftpPassword+`"}}`)
	g := *f
	g.login = "web@example.com"
	if out, err := g.python(t, ""); err == nil || !strings.Contains(out, "may not use ftp") {
		t.Errorf("a user without ftp: %v %s", err, out)
	}
}

// Wrong passwords count toward the defender: after defender.max_failures
// (5 in these tests) the address is refused before the login.
func TestFTP_WrongPasswordsBan(t *testing.T) {
	f := startFTP(t, nil)
	g := *f
	g.password = "wrong-password"
	for i := range 5 {
		if out, err := g.python(t, ""); err == nil || !strings.Contains(out, "530") {
			t.Fatalf("wrong password %d: %v %s", i, err, out)
		}
	}
	out, err := f.python(t, "")
	if err == nil || !strings.Contains(out, "421") {
		t.Fatalf("the right password after the ban: %v %s", err, out)
	}
	denied := 0
	for _, ev := range f.ts.events(t) {
		if ev.Event == mft.EventUserLoginFailed && ev.Protocol == "ftp" {
			denied++
		}
	}
	if denied < 5 {
		t.Errorf("%d failed ftp logins audited", denied)
	}
}

// A data connection from another address than the control connection's
// is closed; the client's own still works.
func TestFTP_DataConnectionFromAnotherAddress(t *testing.T) {
	f := startFTP(t, nil)
	out, err := f.python(t, `ftp.storbinary('STOR a.txt', io.BytesIO(b'secret'))
port = ftp.makepasv()[1]
thief = socket.socket()
thief.bind(('127.0.0.2', 0))
thief.connect(('127.0.0.1', port))
time.sleep(0.2)
ftp.sendcmd('TYPE I')
ftp.putcmd('RETR a.txt')
ssl_conn = None
conn = socket.create_connection(('127.0.0.1', port))
print(ftp.getresp()[:3])
conn = ftp.context.wrap_socket(conn, server_hostname='127.0.0.1')
print(conn.recv(100))
conn.unwrap(); conn.close()
print(ftp.voidresp()[:3])
thief.settimeout(5)
print(thief.recv(100))
`)
	if err != nil || out != "150\nb'secret'\n226\nb''\n" {
		t.Fatalf("%v\n%q", err, out)
	}
}

// ftpControl is a raw control connection, for what no client sends.
type ftpControl struct {
	t    *testing.T
	conn net.Conn
	r    *textproto.Reader
}

func dialFTP(t *testing.T, addr string) *ftpControl {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fc := &ftpControl{t: t, conn: c, r: textproto.NewReader(bufio.NewReader(c))}
	fc.expect(220)
	return fc
}

func (fc *ftpControl) expect(code int) string {
	fc.t.Helper()
	got, msg, err := fc.r.ReadResponse(code)
	if err != nil {
		fc.t.Fatalf("want %d, got %d %q: %v", code, got, msg, err)
	}
	return msg
}

func (fc *ftpControl) cmd(line string, code int) string {
	fc.t.Helper()
	if _, err := fc.conn.Write([]byte(line + "\r\n")); err != nil {
		fc.t.Fatal(err)
	}
	return fc.expect(code)
}

// startTLS sends AUTH TLS and goes on over TLS.
func (fc *ftpControl) startTLS() {
	fc.t.Helper()
	fc.cmd("AUTH TLS", 234)
	tc := tls.Client(fc.conn, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		fc.t.Fatal(err)
	}
	fc.conn, fc.r = tc, textproto.NewReader(bufio.NewReader(tc))
}

func TestFTP_HostileControlLines(t *testing.T) {
	f := startFTP(t, nil)
	fc := dialFTP(t, f.addr)
	fc.cmd("LIST", 530)
	if msg := fc.cmd("USER "+f.login, 530); !strings.Contains(msg, "AUTH TLS") {
		t.Errorf("USER before TLS: %q", msg)
	}
	fc.cmd("PROT P", 503)
	fc.startTLS()
	fc.cmd("PASS x", 503)
	fc.cmd("USER "+f.login, 331)
	fc.cmd("PASS "+f.password, 230)
	fc.cmd("PBSZ 0", 200)
	fc.cmd("PROT P", 200)
	for _, c := range []struct {
		line string
		code int
	}{
		{"CWD ../../etc", 550}, {"MKD a\x01b", 553}, {"RETR", 501}, {"RETR  ", 501}, {"REST abc", 501}, {"REST -1", 501},
		{"RNTO x", 503}, {"DELE /", 550}, {"RMD /", 550}, {"MKD " + strings.Repeat("n", 300), 553}, {"TYPE E", 504},
		{"MODE B", 504}, {"AUTH TLS", 503}, {"SIZE /", 550}, {"CWD /nope", 550}, {"MLSD /nope", 425},
	} {
		fc.cmd(c.line, c.code)
	}
	fc.cmd("MKD a", 257)
	if msg := fc.cmd("PWD", 257); msg != `"/" is the current folder.` {
		t.Errorf("PWD: %q", msg)
	}
	// A line without an end is cut at 8 KiB and the session closed.
	fc.conn.Write(bytes.Repeat([]byte("A"), 64<<10))
	if msg := fc.expect(500); !strings.Contains(msg, "too long") {
		t.Errorf("long line: %q", msg)
	}
	if _, err := fc.r.ReadLine(); err == nil {
		t.Error("the session goes on after a line too long")
	}
	if st, _ := f.content(t, "/a"); st == 404 {
		t.Error("the folder made before the long line is gone")
	}
}

func TestFTP_SessionLimits(t *testing.T) {
	f := startFTP(t, func(cfg *config.Config) {
		cfg.FTP.MaxConnectionsPerUser = 1
		cfg.FTP.LoginGraceTime, cfg.FTP.IdleTimeout = config.Duration(time.Second), config.Duration(time.Second)
	})
	// Off by default: a server without ftp.enabled has no FTP server.
	if MustOpenServer(t).app.FTP != nil {
		t.Error("FTPS is on without ftp.enabled")
	}
	login := func() *ftpControl {
		fc := dialFTP(t, f.addr)
		fc.startTLS()
		fc.cmd("USER "+f.login, 331)
		return fc
	}
	// Three wrong passwords close the connection.
	fc := login()
	fc.cmd("PASS wrong-1", 530)
	fc.cmd("PASS wrong-2", 530)
	fc.cmd("PASS wrong-3", 530)
	if _, err := fc.r.ReadLine(); err == nil {
		t.Error("the connection stays open after three wrong passwords")
	}
	// One session per user here; data over TLS only (PROT P).
	a := login()
	a.cmd("PASS "+f.password, 230)
	b := login()
	if msg := b.cmd("PASS "+f.password, 421); !strings.Contains(msg, "Too many connections for this account") {
		t.Errorf("second session: %q", msg)
	}
	a.cmd("PROT C", 200)
	a.cmd("EPSV", 229)
	if msg := a.cmd("RETR x", 522); !strings.Contains(msg, "PROT P") {
		t.Errorf("RETR without PROT P: %q", msg)
	}
	// A session that sends nothing for idle_timeout is closed with 421;
	// so is a connection that does not log in within login_grace_time.
	if msg := a.expect(421); !strings.Contains(msg, "No command for 1s") {
		t.Errorf("idle: %q", msg)
	}
	c := dialFTP(t, f.addr)
	if msg := c.expect(421); !strings.Contains(msg, "Not logged in within 1s") {
		t.Errorf("login grace: %q", msg)
	}
}

// TLS 1.2 and 1.3 with AEAD suites only.
func TestFTP_TLSVersionsAndSuites(t *testing.T) {
	f := startFTP(t, nil)
	try := func(cfg *tls.Config) error {
		c, err := tls.Dial("tcp", f.implicit, cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := try(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10}); err == nil {
		t.Error("TLS 1.1 accepted")
	}
	if err := try(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}}); err == nil {
		t.Error("a CBC suite accepted")
	}
	if err := try(&tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("TLS 1.2 refused: %v", err)
	}
}
