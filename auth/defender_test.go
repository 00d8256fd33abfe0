package auth_test

import (
	"net/netip"
	"testing"
	"time"

	"depot/auth"
)

func TestDefender(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	d := auth.NewDefender(3, time.Minute, 10*time.Minute)
	d.Now = func() time.Time { return clock }
	var bans []auth.Ban
	d.OnBan = func(b auth.Ban) { bans = append(bans, b) }
	ip := netip.MustParseAddr("192.0.2.7")
	other := netip.MustParseAddr("192.0.2.8")

	for i := range 3 {
		if d.Fail(ip) {
			t.Fatalf("banned after %d failures, limit is 3", i+1)
		}
	}
	if _, banned := d.Banned(ip); banned {
		t.Fatal("banned at the limit")
	}
	if !d.Fail(ip) {
		t.Fatal("not banned past the limit")
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
		for range 3 {
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
		if !d.Unban(ip) {
			t.Fatal("Unban found no ban")
		}
		if _, banned := d.Banned(ip); banned {
			t.Fatal("still banned after Unban")
		}
		if d.Unban(ip) {
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
