package auth

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"time"

	"depot/mft"
)

// maxTracked bounds how many addresses the defender remembers; past it the
// oldest failure records are forgotten first.
const maxTracked = 100_000

// Ban is an address refused until a time after too many failed logins.
type Ban = mft.Ban

// Defender counts failed logins per IP across every protocol and bans an
// address for BanTime once it has failed MaxFailures times within Window.
// A login reserves its attempt before the credentials are checked
// (Attempt, then Done), so that parallel guesses from one address get no
// more answers than sequential ones: at most MaxFailures. Failures are
// counted in memory, and in Failures too when nodes share a database, so
// that guesses spread over the nodes count toward one ban; bans are kept
// in Store too (when set), so that every node sharing it refuses a banned
// address and a restart lifts no ban. The zero MaxFailures turns it off.
type Defender struct {
	MaxFailures int
	Window      time.Duration
	BanTime     time.Duration
	Now         func() time.Time
	// OnBan, when set, is called (outside the lock) for each new ban.
	OnBan func(Ban)
	// Store keeps the bans for other nodes and the next start (nil:
	// memory only); Logger hears when it fails, and the ban then holds
	// on this node only.
	Store  mft.BanStore
	Logger *slog.Logger
	// Failures counts failures with the other nodes' (nil: this node's
	// only). An address is banned when either count reaches MaxFailures;
	// the attempts in progress stay bounded per node.
	Failures mft.FailureStore

	mu       sync.Mutex
	failures map[netip.Addr][]time.Time
	bans     map[netip.Addr]Ban
	// pending counts the attempts being checked per address; changed
	// is closed and replaced whenever one ends, waking those waiting.
	pending map[netip.Addr]int
	changed chan struct{}
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

// Attempt reserves a login attempt from ip before its credentials are
// checked. An address may have at most MaxFailures recent failures and
// attempts in progress together; past that, Attempt waits for one in
// progress to end (and ctx), since it may succeed. It reports false when
// ip is banned or ctx ends first. Each true answer must be followed by
// exactly one Done.
func (d *Defender) Attempt(ctx context.Context, ip netip.Addr) bool {
	if d == nil || d.MaxFailures <= 0 {
		return true
	}
	ip = ip.Unmap()
	for {
		d.mu.Lock()
		d.initLocked()
		now := d.Now()
		if b, ok := d.bans[ip]; ok && now.Before(b.Until) {
			d.mu.Unlock()
			return false
		}
		if len(d.recentLocked(ip, now))+d.pending[ip] < d.MaxFailures {
			d.pending[ip]++
			d.mu.Unlock()
			return true
		}
		wake := d.changed
		d.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return false
		}
	}
}

// Done ends an attempt reserved by Attempt; a failed one counts toward a
// ban, as Fail. It reports whether ip is now banned.
func (d *Defender) Done(ip netip.Addr, failed bool) bool {
	if d == nil || d.MaxFailures <= 0 {
		return false
	}
	ip = ip.Unmap()
	d.mu.Lock()
	if d.pending[ip] <= 1 {
		delete(d.pending, ip)
	} else {
		d.pending[ip]--
	}
	close(d.changed)
	d.changed = make(chan struct{})
	if !failed {
		d.mu.Unlock()
		return false
	}
	return d.failLocked(ip)
}

// Fail records a failed login from ip that was not reserved with Attempt
// (such as a wrong dropzone token) and reports whether ip is now banned.
func (d *Defender) Fail(ip netip.Addr) bool {
	if d == nil || d.MaxFailures <= 0 {
		return false
	}
	d.mu.Lock()
	return d.failLocked(ip.Unmap())
}

func (d *Defender) initLocked() {
	if d.failures == nil {
		d.failures = make(map[netip.Addr][]time.Time)
		d.bans = make(map[netip.Addr]Ban)
		d.pending = make(map[netip.Addr]int)
		d.changed = make(chan struct{})
	}
}

// recentLocked returns ip's failures within the window, forgetting older
// ones.
func (d *Defender) recentLocked(ip netip.Addr, now time.Time) []time.Time {
	recent := slices.DeleteFunc(d.failures[ip], func(t time.Time) bool { return now.Sub(t) > d.Window })
	if len(recent) == 0 {
		delete(d.failures, ip)
	} else {
		d.failures[ip] = recent
	}
	return recent
}

// failLocked records a failure and bans ip at the limit; it unlocks d.
func (d *Defender) failLocked(ip netip.Addr) bool {
	now := d.Now()
	d.initLocked()
	if len(d.failures) >= maxTracked {
		d.pruneLocked(now)
	}
	recent := append(d.recentLocked(ip, now), now)
	d.failures[ip] = recent
	n := len(recent)
	if d.Failures != nil && n < d.MaxFailures {
		d.mu.Unlock()
		shared, err := d.Failures.AddFailure(context.Background(), ip.String(), now, d.Window)
		if err != nil && d.Logger != nil {
			d.Logger.Error("failed sign-in not counted with the other nodes", "ip", ip.String(), "err", err)
		}
		n = max(n, shared)
		d.mu.Lock()
		if b, ok := d.bans[ip]; ok && now.Before(b.Until) { // banned meanwhile
			d.mu.Unlock()
			return true
		}
	}
	if n < d.MaxFailures {
		d.mu.Unlock()
		return false
	}
	ban := Ban{IP: ip.String(), Until: now.Add(d.BanTime), Failures: n, BannedAt: now}
	d.bans[ip] = ban
	delete(d.failures, ip)
	close(d.changed) // those waiting see the ban
	d.changed = make(chan struct{})
	d.mu.Unlock()
	if d.Store != nil {
		if err := d.Store.PutBan(context.Background(), ban); err != nil && d.Logger != nil {
			d.Logger.Error("ban not stored: it holds on this node only", "ip", ban.IP, "err", err)
		}
		d.mu.Lock()
		d.bans[ip] = ban // again: a Load meanwhile read the bans before this one was stored
		d.mu.Unlock()
	}
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

// Unban lifts the ban on ip, on every node, and forgets its failures; it
// reports whether there was a ban.
func (d *Defender) Unban(ctx context.Context, ip netip.Addr) (bool, error) {
	if d == nil {
		return false, nil
	}
	ip = ip.Unmap()
	d.mu.Lock()
	_, ok := d.bans[ip]
	delete(d.bans, ip)
	delete(d.failures, ip)
	d.mu.Unlock()
	if d.Store == nil {
		return ok, nil
	}
	stored, err := d.Store.DeleteBan(ctx, ip.String())
	return ok || stored, err
}

// Sweep forgets the stored bans that ran out and the stored failures
// older than the window, and says how many records went.
func (d *Defender) Sweep(ctx context.Context) (int, error) {
	if d == nil || d.Store == nil {
		return 0, nil
	}
	now := d.Now()
	n, err := d.Store.DeleteBansBefore(ctx, now)
	if err != nil || d.Failures == nil {
		return n, err
	}
	m, err := d.Failures.DeleteFailuresBefore(ctx, now.Add(-d.Window))
	return n + m, err
}

// Load reads the bans from Store, in place of those it knew: at start,
// and whenever another node banned or lifted a ban.
func (d *Defender) Load(ctx context.Context) error {
	if d == nil || d.Store == nil {
		return nil
	}
	list, err := d.Store.Bans(ctx)
	if err != nil {
		return err
	}
	now := d.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.initLocked()
	clear(d.bans)
	for _, b := range list {
		ip, err := netip.ParseAddr(b.IP)
		if err == nil && now.Before(b.Until) {
			d.bans[ip.Unmap()] = b
			delete(d.failures, ip.Unmap()) // counted toward this ban
		}
	}
	close(d.changed) // those waiting see a ban
	d.changed = make(chan struct{})
	return nil
}
