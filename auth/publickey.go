package auth

import (
	"bytes"
	"context"
	"net/netip"

	"golang.org/x/crypto/ssh"

	"depot/mft"
)

// FindLogin returns the user whose email, username or (failing both) id
// is login.
func (a *Authenticator) FindLogin(ctx context.Context, login string) (*mft.User, error) {
	u, err := a.Users.FindUserByEmail(ctx, login)
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		u, err = a.Users.FindUserByUsername(ctx, login)
	}
	if mft.ErrorCode(err) == mft.ENOTFOUND && login != "" {
		u, err = a.Users.FindUserByID(ctx, login) // the id shown everywhere
	}
	return u, err
}

// CheckPublicKey returns the user login names if key is one of their
// ssh_keys and they may log in from ip over protocol. An unknown user or
// key gives EUNAUTHORIZED and is not counted toward a ban here: SSH
// clients offer every key they hold, so the caller counts one failure per
// connection that never authenticates (RecordFailure). A refused account
// is audited.
func (a *Authenticator) CheckPublicKey(ctx context.Context, login string, key ssh.PublicKey, ip netip.Addr, protocol string) (*mft.User, error) {
	if err := a.CheckBan(ip); err != nil {
		return nil, err
	}
	u, err := a.FindLogin(ctx, login)
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		return nil, errInvalid("user or key")
	} else if err != nil {
		return nil, err
	}
	offered := key.Marshal()
	known := false
	for _, line := range u.SSHKeys {
		k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		if err == nil && bytes.Equal(k.Marshal(), offered) {
			known = true
			break
		}
	}
	if !known {
		return nil, errInvalid("user or key")
	}
	if err := a.CheckUser(u, ip, protocol); err != nil {
		a.audit(mft.EventUserLoginFailed, u.ID, ip, protocol, mft.StatusDenied, mft.ErrorMessage(err))
		return nil, err
	}
	return u, nil
}

// RecordFailure counts a failed login toward a ban and audits it (an SFTP
// connection that offered only keys not accepted: no secret was guessed).
func (a *Authenticator) RecordFailure(login string, ip netip.Addr, protocol, msg string) {
	a.fail(nil, login, ip, protocol, msg)
}

// RecordRefusal audits a login refused though its credentials were right
// (a single sign-on for no account, or a disabled one); not counted.
func (a *Authenticator) RecordRefusal(login string, ip netip.Addr, protocol, msg string) {
	a.audit(mft.EventUserLoginFailed, login, ip, protocol, mft.StatusDenied, msg)
}

// Guard reserves an attempt at a secret (a link's or filedrop's
// password, a token, a code) from ip with the defender before the secret
// is checked, so that parallel guesses get no more answers than sequential
// ones. done settles it: a failed attempt counts toward a ban and is
// audited as a failed login of login. Returns EFORBIDDEN for a banned
// address and ERATELIMIT when as many attempts as a ban allows are being
// checked already.
func (a *Authenticator) Guard(ctx context.Context, ip netip.Addr) (done func(failed bool, login, protocol, msg string), err error) {
	end, err := a.begin(ctx, ip)
	if err != nil {
		return nil, err
	}
	return func(failed bool, login, protocol, msg string) {
		if failed {
			a.fail(end, login, ip, protocol, msg)
		} else {
			end(false)
		}
	}, nil
}

// RecordLogin audits a successful login by method ("password",
// "publickey").
func (a *Authenticator) RecordLogin(u *mft.User, ip netip.Addr, protocol, method string) {
	a.audit(mft.EventUserLogin, u.ID, ip, protocol, mft.StatusOK, method)
}
