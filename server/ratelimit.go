package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/mft"
)

// verifiedTTL is how long a credential that verified keeps its own
// rate-limit allowance without verifying again.
const verifiedTTL = 10 * time.Minute

// maxVerified bounds the credentials remembered as verified.
const maxVerified = 100_000

// verifiedKeys remembers the hashes of credentials that verified lately
// (API keys, temporary keys, dropzone tokens), sparing the lookup. Only
// those get a rate-limit allowance of their own: a made-up credential is
// charged to its address, so sending a new one per request buys nothing.
type verifiedKeys struct {
	mu   sync.Mutex
	keys map[string]time.Time // hash → when it verified
}

func (v *verifiedKeys) add(hash string, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil || len(v.keys) >= maxVerified {
		v.keys = map[string]time.Time{}
	}
	v.keys[hash] = now
}

func (v *verifiedKeys) has(hash string, now time.Time) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	at, ok := v.keys[hash]
	return ok && now.Sub(at) < verifiedTTL
}

// knownCredential reports whether key is an API key, a temporary key or a
// dropzone token, reading only.
func (s *Server) knownCredential(c echo.Context, key string) bool {
	ctx := c.Request().Context()
	if s.Auth != nil && s.Auth.KnownKey(ctx, key) {
		return true
	}
	if s.Dropzones != nil {
		_, err := s.Dropzones.Store.FindDropzoneByToken(ctx, auth.HashKey(key))
		return err == nil
	}
	return false
}

// rateLimit answers 429 with Retry-After when a caller exceeds its
// allowance: a credential that verified lately has its own, any other
// request (none, or one that never verified) is charged to its address.
func (s *Server) rateLimit(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Path() == "/healthz" {
			return next(c)
		}
		if p := c.Path(); (p == "/as2" || p == "/as2/mdn") && s.AS2Settings.Limiter != nil {
			// The AS2 routes' own allowance per sender address.
			if ok, wait := s.AS2Settings.Limiter.Allow("as2:" + clientIP(c).String()); !ok {
				c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
				return mft.Errorf(mft.ERATELIMIT, "Too many AS2 messages; retry after %d seconds.", int(wait.Seconds()))
			}
			return next(c)
		}
		caller := "ip:" + clientIP(c).String()
		if key, ok := credentials(c.Request()); ok {
			h := auth.HashKey(key)
			if s.verifiedKeys.has(h, time.Now()) || s.knownCredential(c, key) {
				s.verifiedKeys.add(h, time.Now())
				caller = "key:" + h
			}
		}
		if ok, wait := s.Limiter.Allow(caller); !ok {
			c.Response().Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())))
			return mft.Errorf(mft.ERATELIMIT, "Too many requests; retry after %d seconds.", int(wait.Seconds()))
		}
		return next(c)
	}
}
