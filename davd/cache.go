package davd

import (
	"crypto/sha256"
	"sync"
	"time"

	"golang.org/x/net/webdav"

	"depot/mft"
)

// loginTTL is how long a verified password spares the next requests the
// password hash (argon2id costs tens of milliseconds, and WebDAV clients
// send every request with the password).
const loginTTL = 5 * time.Minute

// maxCachedLogins bounds the cache; when it is full it starts again.
const maxCachedLogins = 10000

// loginCache remembers passwords verified lately, keyed by a hash of the
// login, the password and the account's password hash: a new password
// (or a reset) misses at once. Whether the account may log in (active,
// addresses, protocols) is still checked on every request.
type loginCache struct {
	mu sync.Mutex
	m  map[[32]byte]time.Time
}

func loginKey(login, password string, u *mft.User) [32]byte {
	return sha256.Sum256([]byte(login + "\x00" + password + "\x00" + u.ID + "\x00" + u.PasswordHash))
}

func (c *loginCache) valid(login, password string, u *mft.User) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	exp, ok := c.m[loginKey(login, password, u)]
	return ok && time.Now().Before(exp)
}

func (c *loginCache) add(login, password string, u *mft.User) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= maxCachedLogins {
		c.m = map[[32]byte]time.Time{}
	}
	c.m[loginKey(login, password, u)] = time.Now().Add(loginTTL)
}

// Lock bounds: a lock lasts at most maxLockTime (an "Infinite" timeout
// included), and a user holds at most maxLocks at once.
const (
	maxLockTime = time.Hour
	maxLocks    = 1000
)

// lockSystems keeps each user's locks apart: paths are relative to each
// user's own tree.
type lockSystems struct {
	mu sync.Mutex
	m  map[string]*boundedLocks
}

func (l *lockSystems) of(user string) *boundedLocks {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[string]*boundedLocks{}
	}
	ls := l.m[user]
	if ls == nil {
		ls = &boundedLocks{LockSystem: webdav.NewMemLS(), tokens: map[string]time.Time{}}
		l.m[user] = ls
	}
	return ls
}

// boundedLocks is a memory lock system with a bound on locks and their
// time.
type boundedLocks struct {
	webdav.LockSystem
	mu     sync.Mutex
	tokens map[string]time.Time // held, until
}

func clampLock(d time.Duration) time.Duration {
	if d <= 0 || d > maxLockTime {
		return maxLockTime
	}
	return d
}

func (b *boundedLocks) Create(now time.Time, ld webdav.LockDetails) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for t, until := range b.tokens {
		if !now.Before(until) {
			delete(b.tokens, t)
		}
	}
	if len(b.tokens) >= maxLocks {
		return "", errTooManyLocks
	}
	ld.Duration = clampLock(ld.Duration)
	token, err := b.LockSystem.Create(now, ld)
	if err == nil {
		b.tokens[token] = now.Add(ld.Duration)
	}
	return token, err
}

func (b *boundedLocks) Refresh(now time.Time, token string, d time.Duration) (webdav.LockDetails, error) {
	d = clampLock(d)
	ld, err := b.LockSystem.Refresh(now, token, d)
	if err == nil {
		b.mu.Lock()
		b.tokens[token] = now.Add(d)
		b.mu.Unlock()
	}
	return ld, err
}

func (b *boundedLocks) Unlock(now time.Time, token string) error {
	err := b.LockSystem.Unlock(now, token)
	b.mu.Lock()
	delete(b.tokens, token)
	b.mu.Unlock()
	return err
}

var errTooManyLocks = mft.Errorf(mft.EUNAVAILABLE, "Too many WebDAV locks held (limit %d); unlock some first.", maxLocks)

// requestLocks is a user's locks for one request: a refusal of Depot's
// (too many locks) is kept for the answer.
type requestLocks struct {
	*boundedLocks
	st *request
}

func (r requestLocks) Create(now time.Time, ld webdav.LockDetails) (string, error) {
	token, err := r.boundedLocks.Create(now, ld)
	return token, r.st.fail(ld.Root, err)
}
