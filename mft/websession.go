package mft

import (
	"context"
	"crypto/subtle"
	"time"
)

// WebSession is one signed-in browser, stored by the hash of its cookie
// (never the cookie) so that every node sharing the database knows it.
type WebSession struct {
	UserID string `json:"user_id"`
	// CSRF is the token every state-changing request must repeat.
	CSRF string `json:"csrf"`
	// PasswordMark is a digest of the password hash at sign-in: a changed
	// password ends the session.
	PasswordMark string `json:"password_mark"`
	// Generation is the user's SessionGeneration at sign-in.
	Generation int64     `json:"generation"`
	Created    time.Time `json:"created"`
	Seen       time.Time `json:"seen"`
	// SSOSubject and SSOSession are the provider's subject and session
	// of a single sign-on, which its back-channel logout names.
	SSOSubject string `json:"sso_subject,omitempty"`
	SSOSession string `json:"sso_session,omitempty"`
	// Notice and Failure are what the last action said, shown once by
	// the next page.
	Notice  string `json:"notice,omitempty"`
	Failure string `json:"failure,omitempty"`
}

// CSRFMatches compares a request's token with the session's in constant
// time.
func (s WebSession) CSRFMatches(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

// WebSessionStore keeps web sessions by key, the hash of the cookie.
type WebSessionStore interface {
	// CreateWebSession stores s under key. Past max sessions it first
	// removes those ended says have ended, then the one unseen longest.
	CreateWebSession(ctx context.Context, key string, s *WebSession, max int, ended func(*WebSession) bool) error
	// FindWebSession returns ENOTFOUND for an unknown key.
	FindWebSession(ctx context.Context, key string) (*WebSession, error)
	// UpdateWebSession changes the session under key with fn; ENOTFOUND
	// when it has ended meanwhile (on any node), and then nothing is
	// stored.
	UpdateWebSession(ctx context.Context, key string, fn func(*WebSession)) (*WebSession, error)
	DeleteWebSession(ctx context.Context, key string) error
	// DeleteUserWebSessions ends every session of a user.
	DeleteUserWebSessions(ctx context.Context, userID string) error
	// DeleteWebSessions ends the sessions that match, and says how many.
	DeleteWebSessions(ctx context.Context, match func(*WebSession) bool) (int, error)
	// WebSessionUsers returns the users of the sessions that match, each
	// once (a scan: for rare questions, such as a provider's logout).
	WebSessionUsers(ctx context.Context, match func(*WebSession) bool) ([]string, error)
	CountWebSessions(ctx context.Context) (int, error)
}

// Ban is an address refused until a time after too many failed logins.
type Ban struct {
	IP       string    `json:"ip"`
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
	BannedAt time.Time `json:"banned_at"`
}

// BanStore keeps the defender's bans, so that an address banned by one
// node is refused by every node, and a restart lifts none.
type BanStore interface {
	// PutBan stores b, replacing a ban of the same address, and forgets
	// the address's failures.
	PutBan(ctx context.Context, b Ban) error
	// DeleteBansBefore forgets the bans that run out at or before t (the
	// sweep's work: a defender ignores them meanwhile), and says how many.
	DeleteBansBefore(ctx context.Context, t time.Time) (int, error)
	// DeleteBan lifts the ban of ip and forgets its failures, reporting
	// whether there was a ban.
	DeleteBan(ctx context.Context, ip string) (bool, error)
	// Bans returns the stored bans, those run out among them.
	Bans(ctx context.Context) ([]Ban, error)
}

// FailureStore counts failed sign-ins per address for all the nodes
// sharing a database, so that guesses spread over the nodes count
// toward one ban.
type FailureStore interface {
	// AddFailure records a failure of ip at t and returns how many ip has
	// had since t-window, this one among them.
	AddFailure(ctx context.Context, ip string, t time.Time, window time.Duration) (int, error)
	// DeleteFailuresBefore forgets the addresses whose last failure was
	// before t, and says how many.
	DeleteFailuresBefore(ctx context.Context, t time.Time) (int, error)
}
