package auth

import (
	"net/netip"
	"slices"
	"sync"
	"time"
)

// maxTracked bounds how many addresses the defender remembers; past it the
// oldest failure records are forgotten first.
const maxTracked = 100_000

// Ban is an address refused until a time after too many failed logins.
type Ban struct {
	IP       string    `json:"ip"`
	Until    time.Time `json:"until"`
	Failures int       `json:"failures"`
	BannedAt time.Time `json:"banned_at"`
}

// Defender counts failed logins per IP across every protocol and bans an
// address that fails more than MaxFailures times within Window for BanTime.
// Its state lives in memory: a restart lifts all bans. The zero MaxFailures
// turns it off.
type Defender struct {
	MaxFailures int
	Window      time.Duration
	BanTime     time.Duration
	Now         func() time.Time
	// OnBan, when set, is called (outside the lock) for each new ban.
	OnBan func(Ban)

	mu       sync.Mutex
	failures map[netip.Addr][]time.Time
	bans     map[netip.Addr]Ban
}

// NewDefender returns a Defender with the given limits.
func NewDefender(maxFailures int, window, banTime time.Duration) *Defender {
	return &Defender{MaxFailures: maxFailures, Window: window, BanTime: banTime, Now: time.Now}
}

// Banned reports whether ip is banned now and until when.
func (d *Defender) Banned(ip netip.Addr) (time.Time, bool) {
	if d == nil || d.MaxFailures <= 0 {
		return time.Time{}, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	b, ok := d.bans[ip.Unmap()]
	if !ok {
		return time.Time{}, false
	}
	if !d.Now().Before(b.Until) {
		delete(d.bans, ip.Unmap())
		return time.Time{}, false
	}
	return b.Until, true
}

// Fail records a failed login from ip and reports whether it is now banned.
func (d *Defender) Fail(ip netip.Addr) bool {
	if d == nil || d.MaxFailures <= 0 {
		return false
	}
	ip = ip.Unmap()
	now := d.Now()
	d.mu.Lock()
	if d.failures == nil {
		d.failures = make(map[netip.Addr][]time.Time)
		d.bans = make(map[netip.Addr]Ban)
	}
	if len(d.failures) >= maxTracked {
		d.pruneLocked(now)
	}
	recent := slices.DeleteFunc(d.failures[ip], func(t time.Time) bool { return now.Sub(t) > d.Window })
	recent = append(recent, now)
	d.failures[ip] = recent
	if len(recent) <= d.MaxFailures {
		d.mu.Unlock()
		return false
	}
	ban := Ban{IP: ip.String(), Until: now.Add(d.BanTime), Failures: len(recent), BannedAt: now}
	d.bans[ip] = ban
	delete(d.failures, ip)
	d.mu.Unlock()
	if d.OnBan != nil {
		d.OnBan(ban)
	}
	return true
}

// pruneLocked forgets failures outside the window, and if that is not
// enough, every failure record.
func (d *Defender) pruneLocked(now time.Time) {
	for ip, ts := range d.failures {
		if len(ts) == 0 || now.Sub(ts[len(ts)-1]) > d.Window {
			delete(d.failures, ip)
		}
	}
	if len(d.failures) >= maxTracked {
		clear(d.failures)
	}
}

// Bans lists the bans in force, soonest to expire first.
func (d *Defender) Bans() []Ban {
	if d == nil {
		return nil
	}
	now := d.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Ban{}
	for ip, b := range d.bans {
		if !now.Before(b.Until) {
			delete(d.bans, ip)
			continue
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b Ban) int { return a.Until.Compare(b.Until) })
	return out
}

// Unban lifts the ban on ip and forgets its failures; it reports whether
// there was a ban.
func (d *Defender) Unban(ip netip.Addr) bool {
	if d == nil {
		return false
	}
	ip = ip.Unmap()
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.bans[ip]
	delete(d.bans, ip)
	delete(d.failures, ip)
	return ok
}
