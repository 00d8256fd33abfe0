package bench

import (
	"context"
	"net/netip"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"depot/auth"
	"depot/internal/apptest"
	"depot/internal/testpeer"
	"depot/ldapauth"
	"depot/mft"
)

// BenchmarkLDAPLogin measures a password login checked by the company
// directory (slapd on loopback, StartTLS: connect, search as the reader,
// bind as the person) against one Depot checks itself (argon2id), and
// against the directory's own part alone (ldapauth's search and bind
// without Depot's account work): BENCH_LOGINS (200) logins each, one at a
// time (median and p99 latency) and from 8 goroutines at once (logins/s).
// Run: go test -run '^$' -bench LDAPLogin -benchtime 1x ./bench
func BenchmarkLDAPLogin(b *testing.B) {
	n := envInt("BENCH_LOGINS", 200)
	s := testpeer.StartSlapd(b)
	cfg := apptest.Config(filepath.Join(b.TempDir(), "data"))
	cfg.LDAP.URL, cfg.LDAP.CAFile, cfg.LDAP.BaseDN = s.URL, s.CAFile, testpeer.LDAPBase
	cfg.LDAP.BindDN, cfg.LDAP.BindPassword = testpeer.LDAPReaderDN, testpeer.LDAPReaderPassword
	a := apptest.Start(b, cfg)
	ctx := context.Background()
	hash, _ := auth.HashPassword("local-password-1")
	if err := a.Users.CreateUser(ctx, &mft.User{ID: "local", Username: "local", Role: mft.RoleUser, Home: "/users/local", Active: true,
		Protocols: []string{mft.ProtocolAPI}, PasswordHash: hash}); err != nil {
		b.Fatal(err)
	}
	dir, err := ldapauth.New(cfg.LDAP)
	if err != nil {
		b.Fatal(err)
	}
	kinds := []struct {
		name  string
		login func(ip netip.Addr) error
	}{
		{"local (argon2id)", func(ip netip.Addr) error {
			_, err := a.Auth.Login(ctx, "local", "local-password-1", ip, mft.ProtocolAPI)
			return err
		}},
		{"directory (Depot login)", func(ip netip.Addr) error {
			_, err := a.Auth.Login(ctx, "bob", "bob-password-12", ip, mft.ProtocolAPI)
			return err
		}},
		{"directory alone (search+bind)", func(netip.Addr) error {
			_, err := dir.Authenticate(ctx, "bob", "bob-password-12")
			return err
		}},
	}
	b.Logf("%d logins of each kind, slapd on loopback over StartTLS", n)
	for _, k := range kinds {
		lat := make([]float64, n)
		ip := netip.MustParseAddr("10.0.0.1")
		for i := range n {
			start := time.Now()
			if err := k.login(ip); err != nil {
				b.Fatalf("%s: %v", k.name, err)
			}
			lat[i] = time.Since(start).Seconds()
		}
		p99 := percentile(lat, 0.99)
		var wg sync.WaitGroup
		start := time.Now()
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ip := netip.AddrFrom4([4]byte{10, 0, 1, byte(g + 1)})
				for range n / 8 {
					if err := k.login(ip); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		rate := float64(n/8*8) / time.Since(start).Seconds()
		b.Logf("  %-30s median %6.2f ms, p99 %6.2f ms; 8 at once: %5.0f logins/s", k.name, median(lat)*1000, p99*1000, rate)
	}
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}
