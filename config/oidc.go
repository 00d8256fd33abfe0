package config

import (
	"fmt"
	"net/url"
	"slices"
)

// OIDC signs people in to the web client with the company's OpenID
// provider (authorization code flow with PKCE): off while issuer is empty.
type OIDC struct {
	Issuer       string `toml:"issuer"`
	ClientID     string `toml:"client_id"`
	ClientSecret string `toml:"client_secret"`
	// Name is shown on the sign-in page: "Sign in with <name>".
	Name   string   `toml:"name"`
	Scopes []string `toml:"scopes"`
	// GroupsClaim names the claim with the person's groups, which groups'
	// oidc_groups match.
	GroupsClaim string `toml:"groups_claim"`
	// CreateUsers makes an account, from the template below, for a
	// verified email no account has; off: such people are refused.
	CreateUsers bool     `toml:"create_users"`
	Role        string   `toml:"role"`
	Protocols   []string `toml:"protocols"`
	QuotaMB     int64    `toml:"quota_mb"`
	// RequireForAdmins refuses administrators' password logins: they sign
	// in with the provider (API keys still work).
	RequireForAdmins bool `toml:"require_for_admins"`
}

func defaultOIDC() OIDC {
	return OIDC{Name: "single sign-on", Scopes: []string{"openid", "email", "profile"}, GroupsClaim: "groups", Role: "user",
		Protocols: []string{"sftp", "api", "web"}}
}

// Enabled reports whether the web client offers single sign-on.
func (o OIDC) Enabled() bool { return o.Issuer != "" }

func (o OIDC) validate() error {
	if !o.Enabled() {
		return nil
	}
	u, err := url.Parse(o.Issuer)
	if err != nil || u.Host == "" || (u.Scheme != "https" && !(u.Scheme == "http" && LoopbackName(u.Hostname()))) {
		return fmt.Errorf("oidc.issuer %q must be an https:// URL (http:// only on this machine)", o.Issuer)
	}
	switch {
	case o.ClientID == "" || o.ClientSecret == "":
		return fmt.Errorf("oidc.client_id and oidc.client_secret are required")
	case !slices.Contains(o.Scopes, "openid") || !slices.Contains(o.Scopes, "email"):
		return fmt.Errorf("oidc.scopes must include openid and email")
	case o.Role != "user" && o.Role != "admin":
		return fmt.Errorf("oidc.role must be user or admin")
	case o.QuotaMB < 0:
		return fmt.Errorf("oidc.quota_mb must not be negative")
	case o.Name == "" || len(o.Name) > 64:
		return fmt.Errorf("oidc.name must be 1 to 64 characters")
	}
	for _, p := range o.Protocols {
		if !slices.Contains([]string{"sftp", "api", "web", "ftp", "webdav"}, p) {
			return fmt.Errorf("oidc.protocols: unknown protocol %q", p)
		}
	}
	return nil
}
