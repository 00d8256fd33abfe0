package ldapauth_test

import (
	"context"
	"testing"
	"time"

	"depot/config"
	"depot/internal/testpeer"
	"depot/ldapauth"
	"depot/mft"
)

func directory(t *testing.T, s *testpeer.Slapd, edit func(*config.LDAP)) *ldapauth.Directory {
	t.Helper()
	cfg := config.Default().LDAP
	cfg.URL, cfg.CAFile, cfg.BaseDN = s.URL, s.CAFile, testpeer.LDAPBase
	cfg.BindDN, cfg.BindPassword = testpeer.LDAPReaderDN, testpeer.LDAPReaderPassword
	if edit != nil {
		edit(&cfg)
	}
	d, err := ldapauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthenticate(t *testing.T) {
	s := testpeer.StartSlapd(t)
	d := directory(t, s, nil)
	ctx := context.Background()
	e, err := d.Authenticate(ctx, "alice", "alice-password-1")
	if err != nil || e.DN != "uid=alice,ou=people,dc=example,dc=com" || e.Email != "alice@example.com" || e.Login != "alice" ||
		e.Name != "Alice Liddell" || len(e.Groups) != 1 || e.Groups[0] != "cn=finance,ou=groups,dc=example,dc=com" {
		t.Fatalf("alice: %+v %v", e, err)
	}
	for _, c := range []struct{ login, password string }{
		{"alice", "wrong"}, {"alice", ""}, {"nobody", "x"}, {"*", "alice-password-1"}, {"alice)(uid=*", "alice-password-1"}, {"", "x"},
	} {
		if _, err := d.Authenticate(ctx, c.login, c.password); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
			t.Errorf("%q/%q: %v, want EUNAUTHORIZED", c.login, c.password, err)
		}
	}
	// A filter that finds two people is a wrong login, not the first of them.
	wide := directory(t, s, func(c *config.LDAP) { c.UserFilter = "(|(uid={login})(objectClass=inetOrgPerson))" })
	if _, err := wide.Authenticate(ctx, "alice", "alice-password-1"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Errorf("ambiguous: %v", err)
	}
	if e, err := d.Lookup(ctx, "bob"); err != nil || e.Email != "bob@example.com" {
		t.Errorf("lookup bob: %+v %v", e, err)
	}
	if _, err := d.Lookup(ctx, "carol"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Errorf("lookup carol: %v", err)
	}
	// Depot's own account refused, or the directory gone: unavailable.
	bad := directory(t, s, func(c *config.LDAP) { c.BindPassword = "wrong" })
	if _, err := bad.Authenticate(ctx, "alice", "alice-password-1"); mft.ErrorCode(err) != mft.EUNAVAILABLE {
		t.Errorf("wrong bind password: %v", err)
	}
	s.Stop()
	short := directory(t, s, func(c *config.LDAP) { c.Timeout = config.Duration(500 * time.Millisecond) })
	if _, err := short.Authenticate(ctx, "alice", "alice-password-1"); mft.ErrorCode(err) != mft.EUNAVAILABLE {
		t.Errorf("directory down: %v", err)
	}
}
