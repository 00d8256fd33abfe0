package mft

import "context"

// TOTP is a user's second factor: RFC 6238 codes from an authenticator
// app, and one-time recovery codes.
type TOTP struct {
	// Secret is the confirmed key, sealed; "" until the first code is
	// confirmed.
	Secret string `json:"secret,omitempty"`
	// Pending is a key being enrolled, sealed, until a code confirms it.
	Pending string `json:"pending,omitempty"`
	// LastStep is the time step of the last code accepted: a code is
	// accepted once.
	LastStep int64 `json:"last_step,omitempty"`
	// Recovery are the SHA-256 hashes of the unused recovery codes.
	Recovery []string `json:"recovery,omitempty"`
}

// HasTOTP reports whether the user's logins need a second factor.
func (u *User) HasTOTP() bool { return u.TOTP != nil && u.TOTP.Secret != "" }

// TOTPStore keeps users' second factors.
type TOTPStore interface {
	// SetTOTP replaces the user's second factor; nil removes it.
	SetTOTP(ctx context.Context, id string, t *TOTP) error
	// UseTOTP accepts a code once: the time step of a TOTP code, which
	// must come after the last one accepted, or (step 0) the hash of a
	// recovery code, which is then used up. Returns EUNAUTHORIZED when
	// the code was accepted before, ENOTFOUND for the user.
	UseTOTP(ctx context.Context, id string, step int64, recoveryHash string) error
}
