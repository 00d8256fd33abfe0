package auth

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// maxLimiters bounds how many callers the limiter tracks at once.
const maxLimiters = 100_000

// RateLimiter allows each caller (an API key or an IP address) Rate
// requests per second with bursts of Burst. A zero Rate turns it off.
type RateLimiter struct {
	Rate  float64
	Burst int

	mu       sync.Mutex
	limiters map[string]*limiterEntry
}

type limiterEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

// NewRateLimiter returns a limiter allowing perSecond requests per caller.
func NewRateLimiter(perSecond float64, burst int) *RateLimiter {
	return &RateLimiter{Rate: perSecond, Burst: burst}
}

// Allow takes one request from caller's allowance. When none is left it
// returns false and how long to wait before retrying.
func (l *RateLimiter) Allow(caller string) (bool, time.Duration) {
	if l == nil || l.Rate <= 0 {
		return true, 0
	}
	now := time.Now()
	l.mu.Lock()
	if l.limiters == nil {
		l.limiters = make(map[string]*limiterEntry)
	}
	e, ok := l.limiters[caller]
	if !ok {
		if len(l.limiters) >= maxLimiters {
			l.pruneLocked(now)
		}
		e = &limiterEntry{lim: rate.NewLimiter(rate.Limit(l.Rate), max(l.Burst, 1))}
		l.limiters[caller] = e
	}
	e.seen = now
	l.mu.Unlock()

	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, time.Duration(math.Ceil(d.Seconds())) * time.Second
	}
	return true, 0
}

// pruneLocked forgets callers that have been quiet long enough for their
// bucket to refill, and all of them if that is not enough.
func (l *RateLimiter) pruneLocked(now time.Time) {
	full := time.Duration(float64(max(l.Burst, 1))/l.Rate*float64(time.Second)) + time.Second
	for k, e := range l.limiters {
		if now.Sub(e.seen) > full {
			delete(l.limiters, k)
		}
	}
	if len(l.limiters) >= maxLimiters {
		clear(l.limiters)
	}
}
