package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"depot/mft"
)

// maxWebSessions bounds the browser sessions kept at once; a new one past
// it pushes out the session idle the longest.
const maxWebSessions = 50_000

// WebSession is one signed-in browser (mft.WebSession).
type WebSession = mft.WebSession

// WebSessions keeps the web client's server-side sessions in the
// database (Store), by the hash of the cookie: a browser signed in through
// one node is signed in on all, a restart signs nobody out, and signing
// out ends the session everywhere.
type WebSessions struct {
	Store mft.WebSessionStore
	// TTL is how long a session lasts from sign-in; Idle ends one unused
	// that long. Now is the clock (time.Now when nil).
	TTL, Idle time.Duration
	Now       func() time.Time
}

// seenEvery is how stale a session's last use may be before a request
// writes it again: an idle session ends up to that much later.
const seenEvery = time.Minute

func (w *WebSessions) now() time.Time {
	if w.Now != nil {
		return w.Now()
	}
	return time.Now()
}

// PasswordMark returns what a session remembers of a password hash.
func PasswordMark(hash string) string {
	sum := sha256.Sum256([]byte("depot-web-session\x00" + hash))
	return hex.EncodeToString(sum[:8])
}

// Start opens a session for u and returns its cookie value.
func (w *WebSessions) Start(ctx context.Context, u *mft.User) (cookie string, s WebSession, err error) {
	return w.start(ctx, u, "", "")
}

// StartSSO is Start for a single sign-on: the session names the
// provider's subject and session, so that the provider's back-channel
// logout ends it on whichever node it arrives (EndSSO).
func (w *WebSessions) StartSSO(ctx context.Context, u *mft.User, subject, session string) (cookie string, s WebSession, err error) {
	return w.start(ctx, u, subject, session)
}

func (w *WebSessions) start(ctx context.Context, u *mft.User, subject, session string) (cookie string, s WebSession, err error) {
	cookie = rand.Text() + rand.Text()
	now := w.now().UTC()
	s = WebSession{UserID: u.ID, CSRF: rand.Text(), PasswordMark: PasswordMark(u.PasswordHash), Generation: u.SessionGeneration,
		Created: now, Seen: now, SSOSubject: subject, SSOSession: session}
	ended := func(s *WebSession) bool { return w.expired(s, now) }
	if err := w.Store.CreateWebSession(ctx, HashKey(cookie), &s, maxWebSessions, ended); err != nil {
		return "", WebSession{}, err
	}
	return cookie, s, nil
}

// Find returns the live session of a cookie and marks it used. It
// returns EUNAUTHORIZED when there is none or it has ended.
func (w *WebSessions) Find(ctx context.Context, cookie string) (WebSession, error) {
	now := w.now().UTC()
	key := HashKey(cookie)
	s, err := w.Store.FindWebSession(ctx, key)
	switch {
	case mft.ErrorCode(err) == mft.ENOTFOUND:
		return WebSession{}, ended()
	case err != nil:
		return WebSession{}, err
	case w.expired(s, now):
		if err := w.Store.DeleteWebSession(ctx, key); err != nil {
			return WebSession{}, err
		}
		return WebSession{}, ended()
	case now.Sub(s.Seen) >= seenEvery:
		s, err = w.Store.UpdateWebSession(ctx, key, func(s *WebSession) { s.Seen = now })
		if mft.ErrorCode(err) == mft.ENOTFOUND {
			return WebSession{}, ended() // signed out meanwhile
		} else if err != nil {
			return WebSession{}, err
		}
	}
	return *s, nil
}

func ended() error { return mft.Errorf(mft.EUNAUTHORIZED, "Your session has ended; sign in again.") }

// Flash keeps what an action said for the next page of the session.
func (w *WebSessions) Flash(ctx context.Context, cookie, notice, failure string) error {
	_, err := w.Store.UpdateWebSession(ctx, HashKey(cookie), func(s *WebSession) { s.Notice, s.Failure = notice, failure })
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		return nil // ended meanwhile: nobody to tell
	}
	return err
}

// TakeFlash returns and forgets what the last action said.
func (w *WebSessions) TakeFlash(ctx context.Context, cookie string) (notice, failure string) {
	s, err := w.Store.FindWebSession(ctx, HashKey(cookie))
	if err != nil || (s.Notice == "" && s.Failure == "") {
		return "", "" // nothing said (the common case costs no write)
	}
	s, err = w.Store.UpdateWebSession(ctx, HashKey(cookie), func(s *WebSession) {
		notice, failure = s.Notice, s.Failure
		s.Notice, s.Failure = "", ""
	})
	if err != nil {
		return "", ""
	}
	return notice, failure
}

// End removes the session of a cookie, if any.
func (w *WebSessions) End(ctx context.Context, cookie string) error {
	return w.Store.DeleteWebSession(ctx, HashKey(cookie))
}

// EndUser removes every session of a user (a password change ends them
// all, the one that changed it included).
func (w *WebSessions) EndUser(ctx context.Context, userID string) error {
	return w.Store.DeleteUserWebSessions(ctx, userID)
}

// EndSSO ends, for a provider's back-channel logout, every session of
// the users signed in through its session or its subject, and returns
// those users.
func (w *WebSessions) EndSSO(ctx context.Context, subject, session string) ([]string, error) {
	users, err := w.Store.WebSessionUsers(ctx, func(s *WebSession) bool {
		return session != "" && s.SSOSession == session || subject != "" && s.SSOSubject == subject
	})
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if err := w.EndUser(ctx, u); err != nil {
			return nil, err
		}
	}
	return users, nil
}

// Sweep deletes the sessions that have ended (past TTL or idle), which
// are otherwise only found ended when their cookie comes back, and says
// how many.
func (w *WebSessions) Sweep(ctx context.Context) (int, error) {
	now := w.now().UTC()
	return w.Store.DeleteWebSessions(ctx, func(s *WebSession) bool { return w.expired(s, now) })
}

// Len returns the number of sessions kept.
func (w *WebSessions) Len(ctx context.Context) (int, error) { return w.Store.CountWebSessions(ctx) }

func (w *WebSessions) expired(s *WebSession, now time.Time) bool {
	return (w.TTL > 0 && now.Sub(s.Created) >= w.TTL) || (w.Idle > 0 && now.Sub(s.Seen) >= w.Idle)
}
