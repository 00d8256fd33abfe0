package auth_test

import (
	"context"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"depot/auth"
	"depot/store"
)

func TestDefender(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := auth.NewDefender(3, time.Minute, 10*time.Minute)
	d.Now = func() time.Time { return clock }
	var bans []auth.Ban
	d.OnBan = func(b auth.Ban) { bans = append(bans, b) }
	ip := netip.MustParseAddr("192.0.2.7")
	other := netip.MustParseAddr("192.0.2.8")

	for i := range 2 {
		if d.Fail(ip) {
			t.Fatalf("banned after %d failures, limit is 3", i+1)
		}
	}
	if _, banned := d.Banned(ip); banned {
		t.Fatal("banned below the limit")
	}
	if !d.Fail(ip) {
		t.Fatal("not banned at the limit")
	}
	if until, banned := d.Banned(ip); !banned || !until.Equal(clock.Add(10*time.Minute)) {
		t.Fatalf("Banned = %v %v", until, banned)
	}
	if _, banned := d.Banned(other); banned {
		t.Fatal("another address is banned too")
	}
	if len(bans) != 1 || bans[0].IP != "192.0.2.7" {
		t.Fatalf("OnBan got %v", bans)
	}
	if got := d.Bans(); len(got) != 1 || got[0].IP != "192.0.2.7" {
		t.Fatalf("Bans = %v", got)
	}
	// IPv4-mapped IPv6 is the same address.
	if _, banned := d.Banned(netip.MustParseAddr("::ffff:192.0.2.7")); !banned {
		t.Fatal("the mapped form of a banned address is not banned")
	}

	t.Run("Expires", func(t *testing.T) {
		clock = clock.Add(11 * time.Minute)
		if _, banned := d.Banned(ip); banned {
			t.Fatal("ban outlived its time")
		}
		if len(d.Bans()) != 0 {
			t.Fatal("expired ban still listed")
		}
	})
	t.Run("WindowSlides", func(t *testing.T) {
		for range 2 {
			d.Fail(other)
		}
		clock = clock.Add(2 * time.Minute)
		if d.Fail(other) {
			t.Fatal("failures outside the window counted")
		}
	})
	t.Run("Unban", func(t *testing.T) {
		for range 4 {
			d.Fail(ip)
		}
		if found, err := d.Unban(context.Background(), ip); !found || err != nil {
			t.Fatal("Unban found no ban")
		}
		if _, banned := d.Banned(ip); banned {
			t.Fatal("still banned after Unban")
		}
		if found, _ := d.Unban(context.Background(), ip); found {
			t.Fatal("second Unban found a ban")
		}
	})
	t.Run("Disabled", func(t *testing.T) {
		off := auth.NewDefender(0, time.Minute, time.Minute)
		for range 100 {
			if off.Fail(ip) {
				t.Fatal("a disabled defender banned")
			}
		}
	})
}

// Attempts are counted as they start: with 3 allowed failures, 50
// parallel attempts from one address that all fail are answered at most 3
// times before the ban; the rest are refused unchecked.
func TestDefender_ParallelAttempts(t *testing.T) {
	d := auth.NewDefender(3, time.Minute, time.Hour)
	ip := netip.MustParseAddr("192.0.2.7")
	var checked, refused atomic.Int32
	var inFlight, most atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if !d.Attempt(context.Background(), ip) {
				refused.Add(1)
				return
			}
			n := inFlight.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond) // the password check
			checked.Add(1)
			inFlight.Add(-1)
			d.Done(ip, true)
		})
	}
	wg.Wait()
	if checked.Load() != 3 || refused.Load() != 47 || most.Load() > 3 {
		t.Fatalf("checked %d, refused %d, at most %d at once; want 3, 47, <= 3", checked.Load(), refused.Load(), most.Load())
	}
	if _, banned := d.Banned(ip); !banned {
		t.Fatal("not banned")
	}
}

// Successful attempts do not count: many parallel good logins from one
// address all go through, at most MaxFailures at a time.
func TestDefender_ParallelSuccesses(t *testing.T) {
	d := auth.NewDefender(3, time.Minute, time.Hour)
	ip := netip.MustParseAddr("192.0.2.8")
	var ok atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if d.Attempt(context.Background(), ip) {
				ok.Add(1)
				d.Done(ip, false)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 50 {
		t.Fatalf("%d of 50 good logins went through", ok.Load())
	}
	// One failure leaves room for two at a time; a cancelled wait says no.
	d.Attempt(context.Background(), ip)
	d.Done(ip, true)
	d.Attempt(context.Background(), ip)
	d.Attempt(context.Background(), ip)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if d.Attempt(ctx, ip) {
		t.Fatal("a third attempt went through beside one failure and two in progress")
	}
	d.Done(ip, false)
	if !d.Attempt(context.Background(), ip) {
		t.Fatal("no room after an attempt ended")
	}
}

func TestRateLimiter(t *testing.T) {
	l := auth.NewRateLimiter(1, 3)
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of a burst of 3 refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok || wait < time.Second {
		t.Fatalf("4th request: ok=%v wait=%v, want refused with a wait of at least 1s", ok, wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another caller is limited too")
	}
	if ok, _ := auth.NewRateLimiter(0, 0).Allow("a"); !ok {
		t.Fatal("a zero rate limits")
	}
}

// banStore is a BanStore on a bbolt database of the test's own.
func banStore(t *testing.T) *store.BanStore {
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return store.NewBanStore(db)
}

// A ban is kept in the store: another defender on it (another node, or
// this one after a restart) refuses the address once it has read the
// bans, and lifting the ban on either lifts it for both.
func TestDefender_BansKeptInTheStore(t *testing.T) {
	ctx := context.Background()
	bans := banStore(t)
	a, b := auth.NewDefender(3, time.Minute, time.Hour), auth.NewDefender(3, time.Minute, time.Hour)
	a.Store, b.Store = bans, bans
	ip := netip.MustParseAddr("192.0.2.7")
	for range 3 {
		a.Fail(ip)
	}
	if _, banned := b.Banned(ip); banned {
		t.Fatal("banned on b before it read the bans")
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, banned := b.Banned(ip); !banned {
		t.Fatal("a's ban does not hold on b")
	}
	if b.Attempt(ctx, ip) {
		t.Fatal("b let a banned address try")
	}
	if found, err := b.Unban(ctx, ip); !found || err != nil {
		t.Fatalf("unban on b: %v, %v", found, err)
	}
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, banned := a.Banned(ip); banned {
		t.Fatal("the ban lifted on b still holds on a")
	}
	if list, _ := bans.Bans(ctx); len(list) != 0 {
		t.Fatalf("stored bans after the lift: %v", list)
	}
}

// With failures counted in the store, guesses spread over two nodes count
// toward one ban; without, each node counts its own; a ban or its lift
// forgets the address's failures; the sweep forgets old ones.
func TestDefender_FailuresCountedAcrossNodes(t *testing.T) {
	ctx := context.Background()
	bans := banStore(t)
	node := func(shared bool) *auth.Defender {
		d := auth.NewDefender(3, time.Minute, time.Hour)
		d.Store = bans
		if shared {
			d.Failures = bans
		}
		return d
	}
	ip := netip.MustParseAddr("192.0.2.8")
	a, b := node(false), node(false)
	a.Fail(ip)
	a.Fail(ip)
	if b.Fail(ip) {
		t.Fatal("banned by b with failures counted per node")
	}
	a, b = node(true), node(true)
	if _, err := a.Unban(ctx, ip); err != nil { // forgets the failures stored meanwhile (none: not shared)
		t.Fatal(err)
	}
	a.Fail(ip)
	a.Fail(ip)
	if !b.Fail(ip) {
		t.Fatal("two failures on a and one on b did not ban")
	}
	if a.Load(ctx) != nil { // as b's NOTIFY makes it
		t.Fatal("load")
	}
	if _, banned := a.Banned(ip); !banned {
		t.Fatal("b's ban does not hold on a")
	}
	if _, err := b.Unban(ctx, ip); err != nil {
		t.Fatal(err)
	}
	if a.Load(ctx) != nil || a.Fail(ip) {
		t.Fatal("a failure after the lift banned again: the lift kept the failures")
	}
	later := time.Now().Add(2 * time.Minute)
	a.Now = func() time.Time { return later }
	if n, err := a.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("the sweep removed %d, %v; want the failures past the window", n, err)
	}
}

// When the database cannot count a failure, the node's own count still
// bans.
func TestDefender_FailuresCountedHereWithoutTheDatabase(t *testing.T) {
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	bans := store.NewBanStore(db)
	db.Close() // gone
	d := auth.NewDefender(3, time.Minute, time.Hour)
	d.Store, d.Failures = bans, bans
	ip := netip.MustParseAddr("192.0.2.9")
	if d.Fail(ip) || d.Fail(ip) {
		t.Fatal("banned before the limit")
	}
	if !d.Fail(ip) {
		t.Fatal("the third failure did not ban while the database was gone")
	}
	if _, banned := d.Banned(ip); !banned {
		t.Fatal("not banned on this node")
	}
}
