package e2e

import (
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/config"
	"depot/internal/testpeer"
	"depot/internal/testtool"
)

// ldapServer is Depot checking passwords against a real slapd (StartTLS,
// the test CA pinned), and that slapd.
func ldapServer(t *testing.T, configure func(*config.Config)) (*testServer, *testpeer.Slapd) {
	t.Helper()
	s := testpeer.StartSlapd(t)
	return ldapServerOf(t, s, configure), s
}

// ldapServerOf is Depot checking passwords against s.
func ldapServerOf(t *testing.T, s *testpeer.Slapd, configure func(*config.Config)) *testServer {
	t.Helper()
	return openServerConfigured(t, t.TempDir(), nil, func(cfg *config.Config) {
		cfg.LDAP.URL, cfg.LDAP.CAFile, cfg.LDAP.BaseDN = s.URL, s.CAFile, testpeer.LDAPBase
		cfg.LDAP.BindDN, cfg.LDAP.BindPassword = testpeer.LDAPReaderDN, testpeer.LDAPReaderPassword
		if configure != nil {
			configure(cfg)
		}
	})
}

func ldapLogin(t *testing.T, ts *testServer, login, password string) response {
	t.Helper()
	return ts.do(t, "POST", "/api/login", "", `{"user":{"username":"`+login+`","password":"`+password+`"}}`)
}

// A person of the directory signs in with the directory's password: the
// first login makes the account (source ldap, from the template), the
// directory's groups map to Depot groups through ldap_groups, and the
// account follows the directory at the next login. Someone removed from
// the directory cannot sign in any more.
func TestLDAP_LoginMakesAndFollowsTheAccount(t *testing.T) {
	ts, s := ldapServer(t, nil)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Finance","ldap_groups":["CN=finance, ou=groups,dc=example,dc=com"]}}`), 201)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Partners"}}`), 201)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Bad","ldap_groups":["finance"]}}`), 422)

	want(t, ldapLogin(t, ts, "alice", "alice-password-1"), 200)
	r := ts.do(t, "GET", "/admin/users/alice-example-com", adminKey, "")
	want(t, r, 200)
	var u struct {
		User struct {
			Email, Username, Name, Source, Role, Home string
			Groups, Protocols                         []string
			HasPassword                               bool `json:"has_password"`
		} `json:"user"`
	}
	r.json(t, &u)
	if got := u.User; got.Email != "alice@example.com" || got.Username != "alice" || got.Name != "Alice Liddell" || got.Source != "ldap" ||
		got.Role != "user" || got.Home != "/users/alice-example-com" || strings.Join(got.Groups, ",") != "finance" ||
		strings.Join(got.Protocols, ",") != "sftp,api,web" || got.HasPassword {
		t.Fatalf("the account made from the directory: %s", r.body)
	}
	// By email as well; the account is the same one.
	want(t, ldapLogin(t, ts, "alice@example.com", "alice-password-1"), 200)
	want(t, ldapLogin(t, ts, "alice", "wrong-password"), 401)
	want(t, ldapLogin(t, ts, "alice", ""), 422) // no password at all: never an anonymous bind
	want(t, ldapLogin(t, ts, "*", "alice-password-1"), 401)

	// An administrator's own group stays; the directory's follow it:
	// alice leaves finance; her name and email follow too.
	want(t, ts.do(t, "PATCH", "/admin/users/alice-example-com", adminKey, `{"user":{"groups":["finance","partners"]}}`), 200)
	s.Modify(t, "dn: cn=finance,ou=groups,dc=example,dc=com\nchangetype: modify\nreplace: member\nmember: cn=reader,dc=example,dc=com\n") // groupOfNames needs a member
	s.Modify(t, "dn: uid=alice,ou=people,dc=example,dc=com\nchangetype: modify\nreplace: cn\ncn: Alice Pleasance Liddell\n-\nreplace: mail\nmail: alice.liddell@example.com\n")
	want(t, ldapLogin(t, ts, "alice", "alice-password-1"), 200)
	r = ts.do(t, "GET", "/admin/users/alice-example-com", adminKey, "")
	r.json(t, &u)
	if strings.Join(u.User.Groups, ",") != "partners" || u.User.Name != "Alice Pleasance Liddell" || u.User.Email != "alice.liddell@example.com" {
		t.Fatalf("the account after the directory changed: %s", r.body)
	}

	// The password is the directory's: neither alice nor an administrator
	// sets one in Depot. The web client signs her in with it.
	r = ts.do(t, "PATCH", "/admin/users/alice-example-com", adminKey, `{"user":{"password":"a-depot-password"}}`)
	if want(t, r, 422); !strings.Contains(r.body, "company directory") {
		t.Fatalf("a password for a directory account: %s", r.body)
	}
	b := newWebBrowser(ts)
	b.signIn(t, "alice", "alice-password-1")
	want(t, b.post(t, "/web/account/password", url.Values{"old": {"alice-password-1"}, "new": {"another-password-2"}}), 303)
	wantPage(t, b.get(t, "/web/account"), 200, "change it there")

	s.Delete(t, "uid=alice,ou=people,dc=example,dc=com")
	r = ldapLogin(t, ts, "alice", "alice-password-1")
	if want(t, r, 401); !strings.Contains(r.body, "Invalid email, username or password") {
		t.Fatalf("removed from the directory: %s", r.body)
	}
}

// Every password login asks the directory: OpenSSH's sftp with a password
// and with keyboard-interactive (the first login makes the account), and
// curl over WebDAV.
func TestLDAP_Protocols(t *testing.T) {
	ts, _ := ldapServer(t, func(cfg *config.Config) { cfg.LDAP.Protocols = []string{"sftp", "webdav"} })
	batch := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(batch, []byte("pwd\n"), 0o600)
	_, port, _ := strings.Cut(ts.app.SFTP.ListenAddr().String(), "127.0.0.1:")
	for _, method := range []string{"password", "keyboard-interactive"} {
		cmd := exec.Command(testtool.Path(t, "sshpass"), "-e", testtool.Path(t, "sftp"), "-o", "BatchMode=no", "-b", batch, "-P", port,
			"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "PreferredAuthentications="+method,
			"-o", "PubkeyAuthentication=no", "bob@127.0.0.1")
		cmd.Env = append(os.Environ(), "SSHPASS=bob-password-12")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Remote working directory: /") {
			t.Fatalf("sftp as bob (%s): %v\n%s", method, err, out)
		}
	}
	want(t, ts.do(t, "GET", "/admin/users/bob-example-com", adminKey, ""), 200)
	// The audit log and /metrics say how they signed in.
	if err := ts.audit.Flush(); err != nil {
		t.Fatal(err)
	}
	if r := ts.do(t, "GET", "/admin/audit?event=user.login&user=bob-example-com", adminKey, ""); strings.Count(r.body, `"message":"ldap"`) != 2 {
		t.Errorf("audit of bob's logins: %s", r.body)
	}
	if n := value(t, ts.scrape(t, adminKey), "depot_login_methods_total", map[string]string{"method": "ldap"}); n != 2 {
		t.Errorf("depot_login_methods_total{method=ldap} %v, want 2", n)
	}
	out, err := exec.Command(testtool.Path(t, "curl"), "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-u", "alice:alice-password-1",
		"-X", "PROPFIND", "-H", "Depth: 0", ts.URL()+"/dav/").CombinedOutput()
	if err != nil || string(out) != "207" {
		t.Fatalf("WebDAV as alice: %v %s", err, out)
	}
}

// A directory that cannot be reached: its people are told so (503) and
// it does not count toward a ban; Depot's own accounts still sign in;
// wrong passwords still count. A certificate from another CA than the
// pinned one is a directory that cannot be reached.
func TestLDAP_DirectoryDown(t *testing.T) {
	ts, s := ldapServer(t, func(cfg *config.Config) { cfg.Defender.MaxFailures = 4 })
	ts.createUser(t, `{"user":{"email":"alice@example.com","password":"local-password-1"}}`)
	// Depot's own alice@example.com is checked by Depot; the directory's
	// alice, who would take that email, is refused until an
	// administrator sorts it out.
	r := ldapLogin(t, ts, "alice", "alice-password-1")
	if want(t, r, 403); !strings.Contains(r.body, "rename or remove") {
		t.Fatalf("a directory person with a local account's email: %s", r.body)
	}
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"alice@example.com","password":"alice-password-1"}}`), 401) // one failure
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"alice@example.com","password":"local-password-1"}}`), 200)
	want(t, ldapLogin(t, ts, "bob", "wrong-password"), 401) // two
	s.Stop()
	for range 4 {
		r := ldapLogin(t, ts, "bob", "bob-password-12")
		if want(t, r, 503); !strings.Contains(r.body, "company directory cannot be reached") {
			t.Fatalf("directory down: %s", r.body)
		}
	}
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"alice@example.com","password":"local-password-1"}}`), 200)
	s.Start(t)
	want(t, ldapLogin(t, ts, "bob", "bob-password-12"), 200)
	want(t, ldapLogin(t, ts, "bob", "wrong-password"), 401)
	want(t, ldapLogin(t, ts, "bob", "wrong-password"), 401) // the fourth failure bans
	want(t, ldapLogin(t, ts, "bob", "bob-password-12"), 403)

	other := ldapServerOf(t, s, func(cfg *config.Config) { cfg.LDAP.CAFile = s.OtherCAFile })
	r = ldapLogin(t, other, "bob", "bob-password-12")
	if want(t, r, 503); !strings.Contains(r.body, "certificate") {
		t.Fatalf("a directory whose certificate the pinned CA did not sign: %s", r.body)
	}
}

// Someone removed from the directory loses what they hold open: within
// ldap.recheck their account is disabled and their SFTP session ended.
func TestLDAP_RecheckEndsSessions(t *testing.T) {
	ts, s := ldapServer(t, func(cfg *config.Config) { cfg.LDAP.Recheck = config.Duration(time.Second) })
	conn, err := gossh.Dial("tcp", ts.app.SFTP.ListenAddr().String(), &gossh.ClientConfig{User: "alice",
		Auth: []gossh.AuthMethod{gossh.Password("alice-password-1")}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadDir("/"); err != nil {
		t.Fatal(err)
	}
	s.Delete(t, "uid=alice,ou=people,dc=example,dc=com")
	var u struct {
		User struct{ Active bool } `json:"user"`
	}
	for u.User.Active = true; u.User.Active; time.Sleep(100 * time.Millisecond) {
		ts.do(t, "GET", "/admin/users/alice-example-com", adminKey, "").json(t, &u)
	}
	for {
		if _, err := c.ReadDir("/"); err != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := ts.do(t, "GET", "/admin/sessions", adminKey, ""); strings.Contains(r.body, "alice") {
		t.Fatalf("sessions after the recheck: %s", r.body)
	}
	// bob, still in the directory, is left alone.
	want(t, ldapLogin(t, ts, "bob", "bob-password-12"), 200)
}
