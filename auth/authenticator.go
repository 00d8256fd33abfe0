package auth

import (
	"context"
	"net/netip"
	"time"

	"depot/mft"
)

// Authenticator decides who a caller is, for every protocol: it checks API
// keys, temporary tokens and passwords, then whether the account may log in
// from this address over this protocol. Failed attempts count toward the
// Defender's bans.
type Authenticator struct {
	Users    mft.UserStore
	Tokens   mft.TokenStore
	Defender *Defender
	// TokenTTL is how long a temporary key from a password login lives.
	TokenTTL time.Duration
	Now      func() time.Time
	// Events receives user.login and user.login_failed; nil drops them.
	Events mft.EventSink
	// Buckets refuses the users of a deactivated bucket; nil: no buckets.
	Buckets mft.BucketStore
	// Sealer seals second-factor secrets at rest.
	Sealer *Sealer
	// TwoFactorRequired says whether an account without two-factor codes
	// must set them up before its password signs in; nil: never.
	TwoFactorRequired func(ctx context.Context, u *mft.User) (bool, error)
	// AdminsUseSSO, when set (the provider's name), refuses administrators'
	// password logins: they sign in with single sign-on.
	AdminsUseSSO string
	// Directory checks the passwords of people a company directory keeps
	// (accounts it made, and logins Depot does not know); nil: Depot's
	// accounts only.
	Directory Directory
}

// audit publishes a login event.
func (a *Authenticator) audit(event, actor string, ip netip.Addr, protocol, status, msg string) {
	if a.Events == nil {
		return
	}
	a.Events.Publish(mft.Event{Time: a.Now().UTC(), Event: event, Actor: actor, IP: ip.Unmap().String(),
		Protocol: protocol, Status: status, Message: msg})
}

// fail audits a failed login; end, from begin, counts it toward a ban
// (nil: count it with Defender.Fail).
func (a *Authenticator) fail(end func(bool), actor string, ip netip.Addr, protocol, msg string) {
	if len(actor) > 256 {
		actor = actor[:256]
	}
	a.audit(mft.EventUserLoginFailed, actor, ip, protocol, mft.StatusDenied, msg)
	if end != nil {
		end(true)
	} else {
		a.Defender.Fail(ip)
	}
}

// begin reserves a login attempt from ip with the defender before any
// credential is checked, so that parallel guesses are counted as they
// start; the returned end settles it (true: it failed). Returns EFORBIDDEN
// for a banned address.
func (a *Authenticator) begin(ctx context.Context, ip netip.Addr) (end func(failed bool), err error) {
	if !a.Defender.Attempt(ctx, ip) {
		if err := a.CheckBan(ip); err != nil {
			return nil, err
		}
		return nil, mft.Errorf(mft.ERATELIMIT, "Too many logins from %s are being checked at once; try again.", ip.Unmap())
	}
	done := false
	return func(failed bool) {
		if !done {
			done = true
			a.Defender.Done(ip, failed)
		}
	}, nil
}

// errInvalid is the one answer for unknown users, wrong passwords and bad
// keys, so that the response does not tell which it was.
func errInvalid(what string) error {
	return mft.Errorf(mft.EUNAUTHORIZED, "Invalid %s.", what)
}

// CheckBan returns EFORBIDDEN if ip is banned.
func (a *Authenticator) CheckBan(ip netip.Addr) error {
	if until, banned := a.Defender.Banned(ip); banned {
		return mft.Errorf(mft.EFORBIDDEN, "Your IP address %s is banned until %s after too many failed logins.",
			ip.Unmap(), until.UTC().Format(time.RFC3339))
	}
	return nil
}

// AuthenticateKey returns the user whose API key or temporary key is key.
// Returns EUNAUTHORIZED for an unknown key (counted as a failure) and
// EFORBIDDEN if the account may not log in now.
func (a *Authenticator) AuthenticateKey(ctx context.Context, key string, ip netip.Addr, protocol string) (*mft.User, error) {
	end, err := a.begin(ctx, ip)
	if err != nil {
		return nil, err
	}
	defer end(false)
	hash := HashKey(key)
	u, err := a.Users.FindUserByAPIKeyHash(ctx, hash)
	stored := ""
	if err == nil {
		stored = u.APIKeyHash
	} else if mft.ErrorCode(err) == mft.ENOTFOUND {
		var t *mft.Token
		t, err = a.Tokens.FindTokenByHash(ctx, hash)
		if err == nil {
			stored = t.Hash
			u, err = a.Users.FindUserByID(ctx, t.UserID)
		}
	}
	switch mft.ErrorCode(err) {
	case "":
	case mft.ENOTFOUND, mft.EEXPIRED:
		a.fail(end, "", ip, protocol, "invalid or expired API key")
		return nil, errInvalid("API key")
	default:
		return nil, err
	}
	if !KeyMatches(key, stored) {
		a.fail(end, "", ip, protocol, "invalid API key")
		return nil, errInvalid("API key")
	}
	if err := a.CheckUser(u, ip, protocol); err != nil {
		a.audit(mft.EventUserLoginFailed, u.ID, ip, protocol, mft.StatusDenied, mft.ErrorMessage(err))
		return nil, err
	}
	return u, nil
}

// KnownKey reports whether key is a user's API key or a live temporary
// key, without recording anything: for the rate limiter, which gives an
// allowance of its own only to a credential that verifies.
func (a *Authenticator) KnownKey(ctx context.Context, key string) bool {
	hash := HashKey(key)
	if u, err := a.Users.FindUserByAPIKeyHash(ctx, hash); err == nil {
		return KeyMatches(key, u.APIKeyHash)
	}
	t, err := a.Tokens.FindTokenByHash(ctx, hash)
	return err == nil && KeyMatches(key, t.Hash)
}

// Login checks a password for the user with that email or username.
// Returns EUNAUTHORIZED (counted as a failure) or EFORBIDDEN as above. An
// account with a second factor is refused (not counted) with a message
// saying how to give the code: LoginCode takes it.
func (a *Authenticator) Login(ctx context.Context, login, password string, ip netip.Addr, protocol string) (*mft.User, error) {
	return a.LoginCode(ctx, login, password, "", nil, ip, protocol)
}

// LoginCode is Login with the second factor of an account that has one:
// code (a TOTP or recovery code) sent with the password, or, when code is
// empty and ask is set, asked of the client after the password is found
// right (SFTP's keyboard-interactive). A wrong code counts as a wrong
// password.
func (a *Authenticator) LoginCode(ctx context.Context, login, password, code string, ask func() (string, error), ip netip.Addr, protocol string) (*mft.User, error) {
	end, err := a.begin(ctx, ip)
	if err != nil {
		return nil, err
	}
	defer end(false)
	u, err := a.FindLogin(ctx, login)
	hash := ""
	switch mft.ErrorCode(err) {
	case "":
		hash = u.PasswordHash
	case mft.ENOTFOUND:
		u = nil
	default:
		return nil, err
	}
	if a.Directory != nil && (u == nil || u.Source == mft.SourceLDAP) {
		return a.directoryLogin(ctx, end, login, password, code, ask, ip, protocol, u)
	}
	if !VerifyPassword(hash, password) || hash == "" {
		a.fail(end, login, ip, protocol, "wrong password or unknown user")
		return nil, errInvalid("email, username or password")
	}
	return a.admit(ctx, end, u, code, ask, ip, protocol)
}

// admit finishes the login of u, whose password was right: the account's
// own checks, single sign-on for administrators, the second factor, the
// audit.
func (a *Authenticator) admit(ctx context.Context, end func(bool), u *mft.User, code string, ask func() (string, error), ip netip.Addr, protocol string) (*mft.User, error) {
	if err := a.CheckUser(u, ip, protocol); err != nil {
		a.audit(mft.EventUserLoginFailed, u.ID, ip, protocol, mft.StatusDenied, mft.ErrorMessage(err))
		return nil, err
	}
	if err := a.ssoOnly(u, ip, protocol); err != nil {
		return nil, err
	}
	if err := a.secondFactor(ctx, end, u, code, ask, ip, protocol); err != nil {
		return nil, err
	}
	a.audit(mft.EventUserLogin, u.ID, ip, protocol, mft.StatusOK, methodOf(u))
	return u, nil
}

// IssueToken creates a temporary key for u that expires after TokenTTL.
func (a *Authenticator) IssueToken(ctx context.Context, u *mft.User) (string, time.Time, error) {
	key := NewKey()
	expires := a.Now().UTC().Add(a.TokenTTL).Truncate(time.Second)
	if err := a.Tokens.CreateToken(ctx, &mft.Token{Hash: HashKey(key), UserID: u.ID, ExpiresAt: expires}); err != nil {
		return "", time.Time{}, err
	}
	return key, expires, nil
}

// CheckUser returns EFORBIDDEN with the reason if u may not log in from ip
// over protocol now: inactive, expired, address or protocol not allowed.
func (a *Authenticator) CheckUser(u *mft.User, ip netip.Addr, protocol string) error {
	switch {
	case !u.Active:
		return mft.Errorf(mft.EFORBIDDEN, "This account is disabled.")
	case u.Expired(a.Now()):
		return mft.Errorf(mft.EFORBIDDEN, "This account expired on %s.", u.ExpiresAt.UTC().Format(time.RFC3339))
	case !u.AllowsIP(ip):
		return mft.Errorf(mft.EFORBIDDEN, "This account may not log in from %s.", ip.Unmap())
	case protocol != "" && !u.AllowsProtocol(protocol):
		return mft.Errorf(mft.EFORBIDDEN, "This account may not use %s.", protocol)
	}
	if u.Bucket != "" && a.Buckets != nil {
		if b, err := a.Buckets.FindBucket(context.Background(), u.Bucket); err != nil || !b.Active {
			return mft.Errorf(mft.EFORBIDDEN, "This account's bucket is deactivated.")
		}
	}
	return nil
}

// ssoOnly refuses an administrator's password login while administrators
// must use single sign-on.
func (a *Authenticator) ssoOnly(u *mft.User, ip netip.Addr, protocol string) error {
	if a.AdminsUseSSO == "" || u.Role != mft.RoleAdmin {
		return nil
	}
	a.audit(mft.EventUserLoginFailed, u.ID, ip, protocol, mft.StatusDenied, "administrators sign in with single sign-on")
	return mft.Errorf(mft.EFORBIDDEN, "Administrators sign in with %s in the web client; their passwords are not used.", a.AdminsUseSSO)
}
