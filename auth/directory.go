package auth

import (
	"context"
	"net/netip"

	"depot/ldapauth"
	"depot/mft"
)

// Directory is a company directory (LDAP) that checks passwords and
// keeps Depot's accounts of its people.
type Directory interface {
	// Authenticate returns the person of login and password:
	// EUNAUTHORIZED for nobody or a wrong password, EUNAVAILABLE when the
	// directory cannot be asked.
	Authenticate(ctx context.Context, login, password string) (*ldapauth.Entry, error)
	// Account makes or updates the account of e (existing, when there is
	// one) and returns it.
	Account(ctx context.Context, e *ldapauth.Entry, existing *mft.User) (*mft.User, error)
}

// directoryLogin checks a password with the directory. A wrong password
// counts toward a ban; a directory that cannot be asked does not (the
// caller is told so, and local accounts still sign in).
func (a *Authenticator) directoryLogin(ctx context.Context, end func(bool), login, password, code string, ask func() (string, error), ip netip.Addr, protocol string, existing *mft.User) (*mft.User, error) {
	e, err := a.Directory.Authenticate(ctx, login, password)
	switch mft.ErrorCode(err) {
	case "":
	case mft.EUNAUTHORIZED:
		a.fail(end, login, ip, protocol, "wrong password or unknown user (directory)")
		return nil, errInvalid("email, username or password")
	default:
		a.audit(mft.EventUserLoginFailed, login, ip, protocol, mft.StatusError, mft.ErrorMessage(err))
		return nil, err
	}
	u, err := a.Directory.Account(ctx, e, existing)
	if err != nil {
		a.audit(mft.EventUserLoginFailed, login, ip, protocol, mft.StatusDenied, mft.ErrorMessage(err))
		return nil, err
	}
	return a.admit(ctx, end, u, code, ask, ip, protocol)
}
