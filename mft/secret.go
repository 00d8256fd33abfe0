package mft

import (
	"net/url"
	"strings"
)

// Hidden shows that a secret is set (SecretMarker) without showing it.
func Hidden(v string) string {
	if v == "" {
		return ""
	}
	return SecretMarker
}

// HiddenURL shows a URL with the password of its user:pass@ replaced by
// SecretMarker, like other secrets.
func HiddenURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, ok := u.User.Password(); !ok {
		return raw
	}
	u.User = url.User(u.User.Username())
	user := u.User.String()
	return strings.Replace(u.String(), "://"+user+"@", "://"+user+":"+SecretMarker+"@", 1)
}

// KeepURLSecret gives a URL sent back with the SecretMarker password (as
// HiddenURL showed it) the password of the URL it replaces.
func KeepURLSecret(raw, prev string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if pw, ok := u.User.Password(); !ok || pw != SecretMarker {
		return raw
	}
	p, err := url.Parse(prev)
	if err != nil || p.User == nil {
		return raw
	}
	if old, ok := p.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), old)
	}
	return u.String()
}
