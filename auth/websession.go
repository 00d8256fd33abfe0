package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"sync"
	"time"

	"depot/mft"
)

// maxWebSessions bounds the browser sessions kept at once; a new one past
// it pushes out the session idle the longest.
const maxWebSessions = 50_000

// WebSession is one signed-in browser. Only the hash of its cookie is
// kept; CSRF is the token every state-changing request must repeat.
type WebSession struct {
	UserID string
	CSRF   string
	// PasswordMark is a digest of the password hash at sign-in: a changed
	// password ends the session.
	PasswordMark string
	// Generation is the user's SessionGeneration at sign-in.
	Generation int64
	Created    time.Time
	Seen       time.Time
	// Notice and Failure are what the last action said, shown once by
	// the next page.
	Notice, Failure string
}

// WebSessions keeps the web client's server-side sessions in memory: a
// restart signs everyone out, and sessions are local to this node.
type WebSessions struct {
	// TTL is how long a session lasts from sign-in; Idle ends one unused
	// that long. Now is the clock (time.Now when nil).
	TTL, Idle time.Duration
	Now       func() time.Time

	mu       sync.Mutex
	sessions map[string]*WebSession // by the hash of the cookie
}

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
func (w *WebSessions) Start(u *mft.User) (cookie string, s WebSession) {
	cookie = rand.Text() + rand.Text()
	now := w.now()
	s = WebSession{UserID: u.ID, CSRF: rand.Text(), PasswordMark: PasswordMark(u.PasswordHash), Generation: u.SessionGeneration, Created: now, Seen: now}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.sessions == nil {
		w.sessions = map[string]*WebSession{}
	}
	if len(w.sessions) >= maxWebSessions {
		w.pruneLocked(now)
	}
	w.sessions[HashKey(cookie)] = &s
	return cookie, s
}

// Find returns the live session of a cookie and marks it used. It
// returns EUNAUTHORIZED when there is none or it has ended.
func (w *WebSessions) Find(cookie string) (WebSession, error) {
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.sessions[HashKey(cookie)]
	if ok && w.expired(s, now) {
		delete(w.sessions, HashKey(cookie))
		ok = false
	}
	if !ok {
		return WebSession{}, mft.Errorf(mft.EUNAUTHORIZED, "Your session has ended; sign in again.")
	}
	s.Seen = now
	return *s, nil
}

// Flash keeps what an action said for the next page of the session.
func (w *WebSessions) Flash(cookie, notice, failure string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.sessions[HashKey(cookie)]; ok {
		s.Notice, s.Failure = notice, failure
	}
}

// TakeFlash returns and forgets what the last action said.
func (w *WebSessions) TakeFlash(cookie string) (notice, failure string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if s, ok := w.sessions[HashKey(cookie)]; ok {
		notice, failure = s.Notice, s.Failure
		s.Notice, s.Failure = "", ""
	}
	return notice, failure
}

// End removes the session of a cookie, if any.
func (w *WebSessions) End(cookie string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.sessions, HashKey(cookie))
}

// EndUser removes every session of a user (a password change ends them
// all, the one that changed it included).
func (w *WebSessions) EndUser(userID string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for k, s := range w.sessions {
		if s.UserID == userID {
			delete(w.sessions, k)
		}
	}
}

// Len returns the number of sessions kept.
func (w *WebSessions) Len() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.sessions)
}

// CSRFMatches compares a request's token with the session's in constant
// time.
func (s WebSession) CSRFMatches(token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRF)) == 1
}

func (w *WebSessions) expired(s *WebSession, now time.Time) bool {
	return (w.TTL > 0 && now.Sub(s.Created) >= w.TTL) || (w.Idle > 0 && now.Sub(s.Seen) >= w.Idle)
}

// pruneLocked drops ended sessions; when none has ended, it drops the
// one idle the longest.
func (w *WebSessions) pruneLocked(now time.Time) {
	oldest, oldestKey := now, ""
	for k, s := range w.sessions {
		if w.expired(s, now) {
			delete(w.sessions, k)
			continue
		}
		if s.Seen.Before(oldest) || oldestKey == "" {
			oldest, oldestKey = s.Seen, k
		}
	}
	if len(w.sessions) >= maxWebSessions && oldestKey != "" {
		delete(w.sessions, oldestKey)
	}
}
