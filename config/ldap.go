package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// LDAP checks the passwords of a company directory's people (OpenLDAP,
// Active Directory): off while url is empty. Depot searches for the login
// as bind_dn, then binds as the entry found with the password given.
type LDAP struct {
	// URL is ldaps://host:636 (TLS) or ldap://host:389 (StartTLS, always:
	// passwords never cross in the clear).
	URL string `toml:"url"`
	// CAFile is the CA that signed the directory's certificate (PEM);
	// empty: the system's CAs.
	CAFile       string `toml:"ca_file"`
	BindDN       string `toml:"bind_dn"`
	BindPassword string `toml:"bind_password"`
	BaseDN       string `toml:"base_dn"`
	// UserFilter finds a person; {login} is the login typed, escaped.
	UserFilter string `toml:"user_filter"`
	// The attributes Depot reads: the username it gives the account, its
	// email and name, and the groups (distinguished names) the person is
	// in.
	LoginAttribute string   `toml:"login_attribute"`
	EmailAttribute string   `toml:"email_attribute"`
	NameAttribute  string   `toml:"name_attribute"`
	GroupAttribute string   `toml:"group_attribute"`
	Timeout        Duration `toml:"timeout"`
	// Recheck is how often the accounts the directory made are checked
	// against it: one it no longer has is disabled, its sessions ended.
	Recheck Duration `toml:"recheck"`
	// Role, Protocols and QuotaMB are given to an account made at its
	// first login.
	Role      string   `toml:"role"`
	Protocols []string `toml:"protocols"`
	QuotaMB   int64    `toml:"quota_mb"`
}

func defaultLDAP() LDAP {
	return LDAP{UserFilter: "(&(objectClass=person)(|(uid={login})(mail={login})))", LoginAttribute: "uid",
		EmailAttribute: "mail", NameAttribute: "cn", GroupAttribute: "memberOf", Timeout: Duration(5 * time.Second),
		Recheck: Duration(5 * time.Minute),
		Role:    "user", Protocols: []string{"sftp", "api", "web"}}
}

// Enabled reports whether logins are checked against a directory.
func (l LDAP) Enabled() bool { return l.URL != "" }

func (l LDAP) validate() error {
	if !l.Enabled() {
		return nil
	}
	u, err := url.Parse(l.URL)
	if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
		return fmt.Errorf("ldap.url %q must be ldaps://host[:port] or ldap://host[:port] (with StartTLS)", l.URL)
	}
	switch {
	case l.BaseDN == "":
		return fmt.Errorf("ldap.base_dn is required")
	case !strings.Contains(l.UserFilter, "{login}") || !strings.HasPrefix(l.UserFilter, "(") || !strings.HasSuffix(l.UserFilter, ")"):
		return fmt.Errorf("ldap.user_filter %q must be a filter in parentheses with {login} in it", l.UserFilter)
	case l.LoginAttribute == "" || l.EmailAttribute == "" || l.NameAttribute == "" || l.GroupAttribute == "":
		return fmt.Errorf("ldap.login_attribute, email_attribute, name_attribute and group_attribute must not be empty")
	case l.Timeout.D() < 100*time.Millisecond:
		return fmt.Errorf("ldap.timeout must be at least 100ms")
	case l.Recheck.D() < time.Second:
		return fmt.Errorf("ldap.recheck must be at least 1s")
	case l.Role != "user" && l.Role != "admin":
		return fmt.Errorf("ldap.role must be user or admin")
	case l.QuotaMB < 0:
		return fmt.Errorf("ldap.quota_mb must not be negative")
	}
	for _, p := range l.Protocols {
		if !slices.Contains([]string{"sftp", "api", "web", "ftp", "webdav"}, p) {
			return fmt.Errorf("ldap.protocols: unknown protocol %q", p)
		}
	}
	return nil
}
