// Package ldapauth checks passwords against a company directory (OpenLDAP,
// Active Directory) with go-ldap: it searches for the login as the
// configured account, then binds as the entry found with the password.
// It knows nothing of Depot's accounts; auth provisions them.
package ldapauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"depot/config"
	"depot/mft"
)

// Entry is a person the directory knows.
type Entry struct {
	DN     string
	Login  string // the login attribute (uid, sAMAccountName)
	Email  string
	Name   string
	Groups []string // distinguished names
}

// Directory is a configured directory.
type Directory struct {
	cfg config.LDAP
	tls *tls.Config
	u   *url.URL
}

// New checks cfg's CA file and returns the directory.
func New(cfg config.LDAP) (*Directory, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("ldap.url: %w", err)
	}
	tc := &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ldap.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ldap.ca_file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	return &Directory{cfg: cfg, tls: tc, u: u}, nil
}

// unavailable is the answer when the directory cannot be asked: the
// login is not the caller's fault and is not counted against them.
func unavailable(err error) error {
	return mft.Errorf(mft.EUNAVAILABLE, "The company directory cannot be reached (%s); try again later, or sign in with a local account.", short(err))
}

func short(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// errWrong is a wrong password, or nobody of that login.
var errWrong = mft.Errorf(mft.EUNAUTHORIZED, "Invalid email, username or password.")

// Authenticate checks login and password against the directory: the
// entry, EUNAUTHORIZED (nobody of that login, or a wrong or empty
// password) or EUNAVAILABLE (the directory cannot be reached, or refuses
// Depot's own account).
func (d *Directory) Authenticate(ctx context.Context, login, password string) (*Entry, error) {
	if password == "" || login == "" {
		return nil, errWrong // an empty password is an unauthenticated bind: it would "succeed"
	}
	conn, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	e, err := d.find(conn, login)
	if err != nil {
		return nil, err
	}
	if err := conn.Bind(e.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return nil, errWrong
		}
		return nil, unavailable(err)
	}
	return e, nil
}

// Lookup returns the entry of login, as Authenticate finds it, without a
// password: ENOTFOUND when the directory no longer has it (removed, or
// disabled where the filter leaves disabled people out).
func (d *Directory) Lookup(ctx context.Context, login string) (*Entry, error) {
	conn, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	e, err := d.find(conn, login)
	if mft.ErrorCode(err) == mft.EUNAUTHORIZED {
		return nil, mft.Errorf(mft.ENOTFOUND, "The directory has no %s.", login)
	}
	return e, err
}

// connect dials the directory, starts TLS and binds as Depot's account.
func (d *Directory) connect(ctx context.Context) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout.D()}
	conn, err := ldap.DialURL(d.cfg.URL, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(d.tls))
	if err != nil {
		return nil, unavailable(err)
	}
	conn.SetTimeout(d.cfg.Timeout.D())
	if d.u.Scheme == "ldap" {
		if err := conn.StartTLS(d.tls); err != nil {
			conn.Close()
			return nil, unavailable(err)
		}
	}
	if d.cfg.BindDN != "" {
		if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
			conn.Close()
			return nil, unavailable(fmt.Errorf("the directory refused ldap.bind_dn: %w", err))
		}
	}
	return conn, nil
}

// find searches for the one entry of login.
func (d *Directory) find(conn *ldap.Conn, login string) (*Entry, error) {
	filter := strings.ReplaceAll(d.cfg.UserFilter, "{login}", ldap.EscapeFilter(login))
	c := d.cfg
	req := ldap.NewSearchRequest(c.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, int(c.Timeout.D().Seconds()+1), false,
		filter, []string{c.LoginAttribute, c.EmailAttribute, c.NameAttribute, c.GroupAttribute}, nil)
	res, err := conn.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, unavailable(err)
	}
	if res == nil || len(res.Entries) != 1 { // none, or the login is ambiguous
		return nil, errWrong
	}
	le := res.Entries[0]
	return &Entry{DN: le.DN, Login: le.GetAttributeValue(c.LoginAttribute), Email: le.GetAttributeValue(c.EmailAttribute),
		Name: le.GetAttributeValue(c.NameAttribute), Groups: le.GetAttributeValues(c.GroupAttribute)}, nil
}
