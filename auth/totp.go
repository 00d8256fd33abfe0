package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"image/png"
	"net/netip"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"depot/mft"
)

// TOTP codes: RFC 6238's defaults, which every authenticator app reads
// from the QR code (30 s, 6 digits, SHA-1), one step of clock skew either
// way.
const (
	totpPeriod    = 30
	totpSkew      = 1
	recoveryCodes = 10
	// TOTPIssuer names Depot in authenticator apps.
	TOTPIssuer = "Depot"
)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// Enrolment is a second factor being set up: the secret as text and as
// an otpauth:// URL drawn into a QR code (PNG).
type Enrolment struct {
	Secret, URL string
	QR          []byte
}

// BeginTOTP makes a new secret for u, kept (sealed) until a code confirms
// it; an enrolment begun before is replaced, a confirmed factor stays
// until then.
func (a *Authenticator) BeginTOTP(ctx context.Context, u *mft.User) (*Enrolment, error) {
	account := u.Email
	if account == "" {
		account = u.Username
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: TOTPIssuer, AccountName: account, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return nil, err
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return nil, err
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return nil, err
	}
	t := &mft.TOTP{}
	if u.TOTP != nil {
		*t = *u.TOTP
	}
	t.Pending = a.Sealer.Seal(key.Secret())
	if err := a.Users.SetTOTP(ctx, u.ID, t); err != nil {
		return nil, err
	}
	return &Enrolment{Secret: key.Secret(), URL: key.URL(), QR: qr.Bytes()}, nil
}

// ConfirmTOTP checks a code against the secret being enrolled and makes
// it u's second factor, with new recovery codes, which it returns (only
// their hashes are kept). A wrong code counts toward a ban.
func (a *Authenticator) ConfirmTOTP(ctx context.Context, u *mft.User, ip netip.Addr, code string) ([]string, error) {
	if u.TOTP == nil || u.TOTP.Pending == "" {
		return nil, mft.Errorf(mft.ECONFLICT, "Start the set-up of two-factor codes first.")
	}
	secret, err := a.Sealer.Open(u.TOTP.Pending)
	if err != nil {
		return nil, err
	}
	done, err := a.Guard(ctx, ip)
	if err != nil {
		return nil, err
	}
	step, ok := matchTOTP(secret, code, a.Now())
	done(!ok, u.ID, mft.OriginOf(ctx).Protocol, "wrong two-factor code when setting it up")
	if !ok {
		return nil, mft.Errorf(mft.EINVALID, "That code is not right: enter the 6 digits your app shows now.")
	}
	codes, hashes := newRecoveryCodes()
	if err := a.Users.SetTOTP(ctx, u.ID, &mft.TOTP{Secret: a.Sealer.Seal(secret), LastStep: step, Recovery: hashes}); err != nil {
		return nil, err
	}
	return codes, nil
}

// ResetTOTP removes user id's second factor (an administrator's act, for
// a lost phone): the password alone signs in again until they enrol anew.
func (a *Authenticator) ResetTOTP(ctx context.Context, id string) error {
	return a.Users.SetTOTP(ctx, id, nil)
}

// errCodeNeeded is the answer to a right password for an account with a
// second factor when no code came with it: not a failure, so not counted.
type errCodeNeeded struct {
	err  error
	User *mft.User
}

func (e *errCodeNeeded) Error() string { return e.err.Error() }
func (e *errCodeNeeded) Unwrap() error { return e.err }

// CodeNeeded returns the user whose right password still needs a second
// factor, if err says so.
func CodeNeeded(err error) (*mft.User, bool) {
	var e *errCodeNeeded
	if errors.As(err, &e) {
		return e.User, true
	}
	return nil, false
}

// codeHint tells each protocol's users how to give their code.
func codeHint(protocol string) string {
	switch protocol {
	case mft.ProtocolAPI:
		return `send the 6-digit code from your authenticator app as "passcode" with your password (or a recovery code)`
	case mft.ProtocolSFTP:
		return "log in with keyboard-interactive, which asks for the code after the password (WinSCP, FileZilla and OpenSSH do)"
	case mft.ProtocolWeb:
		return "enter the code from your authenticator app"
	default:
		return "this protocol cannot ask for it: use SFTP, the web client, or (WebDAV) your API key as the user name"
	}
}

// secondFactor checks code for u, who gave a right password, asking the
// client with ask when no code came and ask is set. A wrong code counts
// toward a ban (end); a missing one is errCodeNeeded.
func (a *Authenticator) secondFactor(ctx context.Context, end func(bool), u *mft.User, code string, ask func() (string, error), ip netip.Addr, protocol string) error {
	if !u.HasTOTP() {
		return a.enrolled(ctx, u, ip, protocol)
	}
	if code == "" && ask != nil {
		var err error
		if code, err = ask(); err != nil {
			return err
		}
	}
	if code == "" {
		a.audit(mft.EventUserLoginFailed, u.ID, ip, protocol, mft.StatusDenied, "two-factor code missing")
		return &errCodeNeeded{mft.Errorf(mft.EUNAUTHORIZED, "This account uses two-factor codes: %s.", codeHint(protocol)), u}
	}
	if err := a.useCode(ctx, u, code); err != nil {
		a.fail(end, u.ID, ip, protocol, "wrong two-factor code")
		return err
	}
	return nil
}

// errEnrolNeeded is the answer to a right password for an account that
// must have two-factor codes and has none yet: it sets them up in the web
// client, where signing in does that first.
type errEnrolNeeded struct {
	err  error
	User *mft.User
}

func (e *errEnrolNeeded) Error() string { return e.err.Error() }
func (e *errEnrolNeeded) Unwrap() error { return e.err }

// EnrolNeeded returns the user whose right password must first set up
// two-factor codes, if err says so.
func EnrolNeeded(err error) (*mft.User, bool) {
	var e *errEnrolNeeded
	if errors.As(err, &e) {
		return e.User, true
	}
	return nil, false
}

// enrolled refuses u, who has no codes, when the policy requires them.
func (a *Authenticator) enrolled(ctx context.Context, u *mft.User, ip netip.Addr, protocol string) error {
	if a.TwoFactorRequired == nil {
		return nil
	}
	required, err := a.TwoFactorRequired(ctx, u)
	if err != nil || !required {
		return err
	}
	a.audit(mft.EventUserLoginFailed, u.ID, ip, protocol, mft.StatusDenied, "two-factor codes required, not set up")
	return &errEnrolNeeded{mft.Errorf(mft.EFORBIDDEN,
		"Your administrator requires two-factor codes for this account: sign in to the web client once to set them up."), u}
}

// VerifyCode is the second step of a login whose password was right
// (the web client's): the code is checked and counted as in Login, and a
// right one completes the login (audited).
func (a *Authenticator) VerifyCode(ctx context.Context, u *mft.User, code, method string, ip netip.Addr, protocol string) error {
	end, err := a.begin(ctx, ip)
	if err != nil {
		return err
	}
	defer end(false)
	if code == "" {
		return mft.Errorf(mft.EINVALID, "Enter the code from your authenticator app.")
	}
	if err := a.secondFactor(ctx, end, u, code, nil, ip, protocol); err != nil {
		return err
	}
	a.audit(mft.EventUserLogin, u.ID, ip, protocol, mft.StatusOK, method)
	return nil
}

// KeySecondFactor says whether u, whose SSH key was right, must also give
// a code (when keys need one too): true with codes set up; an account
// required to have them without any is refused.
func (a *Authenticator) KeySecondFactor(ctx context.Context, u *mft.User, ip netip.Addr, protocol string) (bool, error) {
	if u.HasTOTP() {
		return true, nil
	}
	return false, a.enrolled(ctx, u, ip, protocol)
}

// useCode accepts a TOTP code (±1 step, each step once) or a recovery
// code (each once).
func (a *Authenticator) useCode(ctx context.Context, u *mft.User, code string) error {
	wrong := mft.Errorf(mft.EUNAUTHORIZED, "Invalid two-factor code.")
	code = strings.TrimSpace(code)
	if len(code) > 64 {
		return wrong
	}
	if len(code) != 6 { // a recovery code
		sum := sha256.Sum256([]byte(strings.ToUpper(strings.ReplaceAll(code, "-", ""))))
		if err := a.Users.UseTOTP(ctx, u.ID, 0, hex.EncodeToString(sum[:])); err != nil {
			return wrong
		}
		return nil
	}
	secret, err := a.Sealer.Open(u.TOTP.Secret)
	if err != nil {
		return err
	}
	step, ok := matchTOTP(secret, code, a.Now())
	if !ok {
		return wrong
	}
	if err := a.Users.UseTOTP(ctx, u.ID, step, ""); err != nil {
		if mft.ErrorCode(err) == mft.EUNAUTHORIZED {
			return mft.Errorf(mft.EUNAUTHORIZED, "Invalid two-factor code: each code is accepted once; wait for the next one.")
		}
		return err
	}
	return nil
}

// matchTOTP returns the time step whose code is code, within the skew.
func matchTOTP(secret, code string, now time.Time) (int64, bool) {
	now0 := now.Unix() / totpPeriod
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		step := now0 + d
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totp.ValidateOpts(totpOpts))
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			return step, true
		}
	}
	return 0, false
}

// newRecoveryCodes returns recovery codes (XXXXX-XXXXX, base32) and
// their hashes.
func newRecoveryCodes() (codes, hashes []string) {
	for range recoveryCodes {
		c := rand.Text()[:10]
		sum := sha256.Sum256([]byte(c))
		codes = append(codes, c[:5]+"-"+c[5:])
		hashes = append(hashes, hex.EncodeToString(sum[:]))
	}
	return codes, hashes
}

// MethodOf is how u's password login is checked, for VerifyCode.
func MethodOf(u *mft.User) string { return methodOf(u) }

// methodOf is how u's password login is checked, as the audit log says:
// password or ldap, +totp with a second factor.
func methodOf(u *mft.User) string {
	m := "password"
	if u.Source == mft.SourceLDAP {
		m = "ldap"
	}
	if u.HasTOTP() {
		m += "+totp"
	}
	return m
}
