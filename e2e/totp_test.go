package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"depot/config"
	"depot/internal/testtool"
)

// oathtool computes the code of secret at now+offset, independently of
// Depot's library.
func oathtool(t *testing.T, secret string, offset time.Duration) string {
	t.Helper()
	at := time.Now().Add(offset).UTC().Format("2006-01-02 15:04:05 UTC")
	out, err := exec.Command(testtool.Path(t, "oathtool"), "--totp", "-b", "-N", at, secret).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool: %v %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

var (
	secretField   = regexp.MustCompile(`id="totp-secret">([A-Z2-7]+)<`)
	recoveryField = regexp.MustCompile(`<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})</code></li>`)
	pendingField  = regexp.MustCompile(`name="pending" value="([^"]+)"`)
)

// enrolTOTP turns two-factor codes on for the signed-in b with the app's
// code of this step and returns the secret and the recovery codes.
func enrolTOTP(t *testing.T, b *webBrowser) (string, []string) {
	t.Helper()
	r := b.post(t, "/web/account/totp", url.Values{})
	m := secretField.FindStringSubmatch(r.body)
	if r.status != 200 || m == nil || !strings.Contains(r.body, `src="data:image/png;base64,`) {
		t.Fatalf("set-up page: %d %s", r.status, r.body)
	}
	secret := m[1]
	want(t, b.post(t, "/web/account/totp/confirm", url.Values{"code": {"000000"}}), http.StatusSeeOther)
	wantPage(t, b.get(t, "/web/account"), 200, "That code is not right")
	r = b.post(t, "/web/account/totp/confirm", url.Values{"code": {oathtool(t, secret, 0)}})
	var codes []string
	for _, m := range recoveryField.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, m[1])
	}
	if r.status != 200 || len(codes) != 10 {
		t.Fatalf("confirmed: %d, %d recovery codes\n%s", r.status, len(codes), r.body)
	}
	return secret, codes
}

// With two-factor codes on, every password login asks for a code: the
// API ("passcode"), the web client (a second step), SFTP (keyboard-
// interactive asks after the password; a password-only login is
// refused), WebDAV (refused: the API key instead). Codes are accepted
// once, ±1 step; recovery codes once each. An administrator turns them
// off.
func TestTOTP_EveryLoginAsksForTheCode(t *testing.T) {
	// Wrong codes are tried here: more than the default 5 before a ban.
	dir := t.TempDir()
	ts := openServerConfigured(t, dir, nil, func(cfg *config.Config) { cfg.Defender.MaxFailures = 50 })
	u := ts.createUser(t, `{"user":{"username":"joe","password":"correct-horse","protocols":["sftp","api","web","webdav"]}}`)
	b := newWebBrowser(ts)
	b.signIn(t, "joe", "correct-horse")
	secret, recovery := enrolTOTP(t, b)
	wantPage(t, b.get(t, "/web/account"), 200, "10 recovery codes left")
	if strings.Contains(ts.rawDB(t), secret) {
		t.Fatal("the key is in the database in clear")
	}
	r := ts.do(t, "GET", "/admin/users/"+u.User.ID, adminKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"two_factor":true`) || strings.Contains(r.body, secret) {
		t.Fatalf("user view: %s", r.body)
	}

	// The API: no code, a 401 that says how; the next step's code (one
	// step of skew) once; it again, or the step before, refused.
	login := func(passcode string) response {
		return ts.do(t, "POST", "/api/login", "", fmt.Sprintf(`{"user":{"username":"joe","password":"correct-horse","passcode":%q}}`, passcode))
	}
	r = ts.do(t, "POST", "/api/login", "", `{"user":{"username":"joe","password":"correct-horse"}}`)
	if want(t, r, 401); !strings.Contains(r.body, `as \"passcode\"`) {
		t.Fatalf("no passcode: %s", r.body)
	}
	next := oathtool(t, secret, 30*time.Second)
	want(t, login(next), 200)
	r = login(next)
	if want(t, r, 401); !strings.Contains(r.body, "accepted once") {
		t.Fatalf("replay: %s", r.body)
	}
	want(t, login(oathtool(t, secret, -30*time.Second)), 401)
	want(t, login(oathtool(t, secret, 5*time.Minute)), 401) // too far ahead
	r = ts.do(t, "POST", "/api/login", "", `{"user":{"username":"joe","password":"wrong-horse","passcode":"123456"}}`)
	want(t, r, 401)

	// The web client: a second step; a recovery code works once.
	w := newWebBrowser(ts)
	r = w.signIn(t, "joe", "correct-horse")
	p, c := pendingField.FindStringSubmatch(r.body), csrfField.FindStringSubmatch(r.body)
	if r.status != 200 || p == nil || c == nil || !strings.Contains(r.body, "Two-factor code") {
		t.Fatalf("sign-in with codes on: %d %s", r.status, r.body)
	}
	code := func(v string) response {
		return w.send(t, "POST", "/web/login/code", url.Values{"csrf": {c[1]}, "pending": {p[1]}, "code": {v}}, nil)
	}
	wantPage(t, code("999999"), 401, "Invalid two-factor code")
	r = code(strings.ToLower(recovery[0]))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/web/files" {
		t.Fatalf("recovery code: %d %s", r.status, r.body)
	}
	wantPage(t, w.get(t, "/web/files"), 200, "joe")
	wantPage(t, code(recovery[0]), 401, "expired") // that sign-in is done
	w2 := newWebBrowser(ts)
	r = w2.signIn(t, "joe", "correct-horse")
	p, c = pendingField.FindStringSubmatch(r.body), csrfField.FindStringSubmatch(r.body)
	w = w2
	wantPage(t, code(recovery[0]), 401, "Invalid two-factor code") // used up
	wantPage(t, b.get(t, "/web/account"), 200, "9 recovery codes left")

	// SFTP: keyboard-interactive asks for the code after the password; a
	// password-only login is refused.
	port := strings.TrimPrefix(ts.app.SFTP.ListenAddr().String(), "127.0.0.1:")
	out, err := sftpKeyboardInteractive(t, port, "joe", "correct-horse", strings.ReplaceAll(recovery[1], "-", "")) // the dash is optional
	if err != nil || !strings.Contains(out, "Remote working directory: /") {
		t.Fatalf("sftp keyboard-interactive with a code: %v\n%s", err, out)
	}
	out, err = sftpKeyboardInteractive(t, port, "joe", "correct-horse", "000000")
	if err == nil || strings.Contains(out, "Remote working directory") {
		t.Fatalf("sftp with a wrong code: %s", out)
	}
	cmd := exec.Command(testtool.Path(t, "sshpass"), "-e", testtool.Path(t, "sftp"), "-o", "BatchMode=no", "-b", "/dev/null", "-P", port,
		"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=password",
		"-o", "PubkeyAuthentication=no", "joe@127.0.0.1")
	cmd.Env = append(os.Environ(), "SSHPASS=correct-horse")
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("sftp with the password alone: %s", out)
	}

	// WebDAV cannot ask for a code: the password is refused, saying to use
	// the API key, which works.
	r = exchange(t, http.DefaultClient, "PROPFIND", ts.URL()+"/dav/", nil, "", func(r *http.Request) { r.SetBasicAuth("joe", "correct-horse") })
	if want(t, r, 401); !strings.Contains(r.body, "API key") {
		t.Fatalf("WebDAV with the password: %s", r.body)
	}
	r = exchange(t, http.DefaultClient, "PROPFIND", ts.URL()+"/dav/", nil, "", func(r *http.Request) { r.SetBasicAuth(u.User.APIKey, "x") })
	want(t, r, 207)

	// An administrator turns them off (a lost phone): the password alone
	// signs in again.
	want(t, ts.do(t, "DELETE", "/admin/users/"+u.User.ID+"/totp", u.User.APIKey, ""), 403)
	r = ts.do(t, "DELETE", "/admin/users/"+u.User.ID+"/totp", adminKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"two_factor":false`) {
		t.Fatalf("reset: %s", r.body)
	}
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"joe","password":"correct-horse"}}`), 200)
}

// Wrong codes count toward a ban as wrong passwords do; a right password
// without a code does not.
func TestTOTP_WrongCodesCountTowardTheBan(t *testing.T) {
	ts := MustOpenServer(t) // 5 failures ban
	ts.createUser(t, `{"user":{"username":"ann","password":"correct-horse"}}`)
	b := newWebBrowser(ts)
	b.signIn(t, "ann", "correct-horse")
	enrolTOTP(t, b) // its wrong code is the first failure
	for range 6 {
		want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"ann","password":"correct-horse"}}`), 401)
	}
	for range 4 {
		want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"ann","password":"correct-horse","passcode":"000000"}}`), 401)
	}
	r := ts.do(t, "POST", "/api/login", "", `{"user":{"username":"ann","password":"correct-horse","passcode":"000000"}}`)
	if want(t, r, 403); !strings.Contains(r.body, "banned") {
		t.Fatalf("after five wrong codes: %s", r.body)
	}
}

// sftpKeyboardInteractive runs OpenSSH's sftp in a terminal (Python's pty)
// and types the password and then the code at their prompts.
func sftpKeyboardInteractive(t *testing.T, port, user, password, code string) (string, error) {
	t.Helper()
	return sftpInTerminal(t, port, user, password, "", code)
}

// sftpInTerminal runs OpenSSH's sftp in a terminal (Python's pty): with
// key (a private key file) it logs in with it first, else it types
// password at its prompt; then code at the code's prompt, then pwd.
func sftpInTerminal(t *testing.T, port, user, password, key, code string) (string, error) {
	t.Helper()
	script := `import os, pty, sys
port, user, password, key, code, sftp = sys.argv[1:7]
auth = ['-o', 'PreferredAuthentications=keyboard-interactive', '-o', 'PubkeyAuthentication=no']
if key:
    auth = ['-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'PreferredAuthentications=publickey,keyboard-interactive']
pid, fd = pty.fork()
if pid == 0:
    os.execv(sftp, ['sftp', '-o', 'BatchMode=no', '-b', '-', '-P', port, '-o', 'StrictHostKeyChecking=no',
        '-o', 'UserKnownHostsFile=/dev/null'] + auth + ['-o', 'NumberOfPasswordPrompts=1', user + '@127.0.0.1'])
buf = b''
def until(s):
    global buf
    while s not in buf:
        try:
            d = os.read(fd, 1024)
        except OSError:
            d = b''
        if not d:
            print(buf.decode(errors='replace')); sys.exit(3)
        buf += d
if not key:
    until(b'Password:'); os.write(fd, password.encode() + b'\n')
until(b'Two-factor code:'); os.write(fd, code.encode() + b'\n')
os.write(fd, b'pwd\n')
os.write(fd, bytes([4]))
while True:
    try:
        d = os.read(fd, 1024)
    except OSError:
        break
    if not d:
        break
    buf += d
_, status = os.waitpid(pid, 0)
print(buf.decode(errors='replace'))
sys.exit(os.waitstatus_to_exitcode(status))
`
	f := filepath.Join(t.TempDir(), "ki.py")
	os.WriteFile(f, []byte(script), 0o600)
	out, err := exec.Command(testtool.Path(t, "python3"), f, port, user, password, key, code, testtool.Path(t, "sftp")).CombinedOutput()
	return string(out), err
}

// FTPS cannot ask for a code: an account with two-factor codes is refused
// at PASS, saying what to use instead.
func TestTOTP_FTPSRefusesThePasswordAlone(t *testing.T) {
	f := startFTP(t, nil)
	f.ts.createUser(t, `{"user":{"username":"kim","password":"correct-horse","protocols":["ftp","web"]}}`)
	b := newWebBrowser(f.ts)
	b.signIn(t, "kim", "correct-horse")
	enrolTOTP(t, b)
	out, _ := exec.Command(testtool.Path(t, "python3"), "-c", fmt.Sprintf(`import ftplib, ssl
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ftp = ftplib.FTP_TLS(context=ctx, timeout=30)
ftp.connect('127.0.0.1', %s)
try:
    ftp.login('kim', 'correct-horse')
    print('logged in')
except ftplib.error_perm as e:
    print(e)
`, f.port())).CombinedOutput()
	if !strings.HasPrefix(string(out), "530 ") || !strings.Contains(string(out), "cannot ask for it") {
		t.Fatalf("FTPS login of an account with codes: %s", out)
	}
}

// Administrators can require codes for a group's members or for every
// administrator: without codes set up, a password login is refused (403,
// saying to sign in to the web client), and the web sign-in sets them up
// before the session starts. Keys are not asked for codes.
func TestTOTP_RequiredByPolicy(t *testing.T) {
	ts := MustOpenServer(t)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Secure","require_two_factor":true}}`), 201)
	sam := ts.createUser(t, `{"user":{"username":"sam","password":"correct-horse","groups":["secure"]}}`)
	r := ts.do(t, "POST", "/api/login", "", `{"user":{"username":"sam","password":"correct-horse"}}`)
	if want(t, r, 403); !strings.Contains(r.body, "requires two-factor codes") {
		t.Fatalf("required, not set up: %s", r.body)
	}
	want(t, ts.do(t, "GET", "/api/files?path=/", sam.User.APIKey, ""), 200)

	b := newWebBrowser(ts)
	setup := func() (string, url.Values) {
		r := b.signIn(t, "sam", "correct-horse")
		m, p, c := secretField.FindStringSubmatch(r.body), pendingField.FindStringSubmatch(r.body), csrfField.FindStringSubmatch(r.body)
		if r.status != 200 || m == nil || p == nil || c == nil || !strings.Contains(r.body, "requires two-factor codes") {
			t.Fatalf("sign-in of a member of a group that requires codes: %d %s", r.status, r.body)
		}
		return m[1], url.Values{"csrf": {c[1]}, "pending": {p[1]}}
	}
	_, form := setup()
	form.Set("code", "000000")
	wantPage(t, b.send(t, "POST", "/web/login/enrol", form, nil), 401, "Sign in again")
	secret, form := setup()
	form.Set("code", oathtool(t, secret, 0))
	r = b.send(t, "POST", "/web/login/enrol", form, nil)
	if r.status != 200 || len(recoveryField.FindAllStringSubmatch(r.body, -1)) != 10 {
		t.Fatalf("set-up at sign-in: %d %s", r.status, r.body)
	}
	wantPage(t, b.get(t, "/web/files"), 200, "sam")
	r = ts.do(t, "POST", "/api/login", "", fmt.Sprintf(`{"user":{"username":"sam","password":"correct-horse","passcode":%q}}`, oathtool(t, secret, 30*time.Second)))
	want(t, r, 200)

	// Every administrator.
	ts.createUser(t, `{"user":{"username":"boss","password":"correct-horse","role":"admin"}}`)
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"boss","password":"correct-horse"}}`), 200)
	r = ts.do(t, "PATCH", "/admin/settings", adminKey, `{"settings":{"require_two_factor_for_admins":true}}`)
	if want(t, r, 200); !strings.Contains(r.body, `"require_two_factor_for_admins":true`) || !strings.Contains(r.body, `"allow_bucket_deletion":true`) { // the default, kept
		t.Fatalf("settings: %s", r.body)
	}
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"boss","password":"correct-horse"}}`), 403)
	want(t, ts.do(t, "GET", "/admin/users", adminKey, ""), 200)
}

// With sftp.require_second_factor_with_keys, an account with codes is
// asked for one after its SSH key (publickey, then keyboard-interactive);
// without the setting the key alone signs in.
func TestTOTP_CodeAfterTheKey(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command(testtool.Path(t, "ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-f", keyFile).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v %s", err, out)
	}
	pub, _ := os.ReadFile(keyFile + ".pub")
	for _, withKeys := range []bool{true, false} {
		ts := openServerConfigured(t, t.TempDir(), nil, func(cfg *config.Config) { cfg.SFTP.RequireSecondFactorWithKeys = withKeys })
		ts.createUser(t, fmt.Sprintf(`{"user":{"username":"kay","password":"correct-horse","ssh_keys":[%q]}}`, strings.TrimSpace(string(pub))))
		b := newWebBrowser(ts)
		b.signIn(t, "kay", "correct-horse")
		_, recovery := enrolTOTP(t, b)
		port := strings.TrimPrefix(ts.app.SFTP.ListenAddr().String(), "127.0.0.1:")
		cmd := exec.Command(testtool.Path(t, "sftp"), "-b", "-", "-P", port, "-i", keyFile, "-o", "IdentitiesOnly=yes",
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications=publickey", "kay@127.0.0.1")
		cmd.Stdin = strings.NewReader("pwd\n")
		out, err := cmd.CombinedOutput()
		if withKeys == (err == nil) {
			t.Fatalf("the key alone, require_second_factor_with_keys %v: %v\n%s", withKeys, err, out)
		}
		if !withKeys {
			continue
		}
		if out, err := sftpInTerminal(t, port, "kay", "", keyFile, "000000"); err == nil || strings.Contains(out, "Remote working directory") {
			t.Fatalf("key and a wrong code: %s", out)
		}
		out2, err := sftpInTerminal(t, port, "kay", "", keyFile, recovery[0])
		if err != nil || !strings.Contains(out2, "Remote working directory: /") {
			t.Fatalf("key and a recovery code: %v\n%s", err, out2)
		}
		if n := value(t, ts.scrape(t, adminKey), "depot_login_methods_total", map[string]string{"method": "publickey+totp"}); n != 1 {
			t.Errorf("depot_login_methods_total{method=publickey+totp} %v, want 1", n)
		}
	}
}
