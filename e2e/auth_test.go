package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"depot/app"
	"depot/auth"
	"depot/mft"
)

func TestAuth_Unauthorized(t *testing.T) {
	ts := MustOpenServer(t)
	for name, key := range map[string]string{"no key": "", "wrong key": "not-a-real-key-at-all-0000"} {
		t.Run(name, func(t *testing.T) {
			r := ts.do(t, "GET", "/admin/users", key, "")
			want(t, r, 401)
			if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Basic") {
				t.Fatalf("WWW-Authenticate = %q", r.header.Get("WWW-Authenticate"))
			}
			r.errors(t)
		})
	}
}

func TestAuth_AdminOnly(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"plain@example.com"}}`)
	r := ts.do(t, "GET", "/admin/users", u.User.APIKey, "")
	want(t, r, 403)
	if msg := r.errors(t)[0]; !strings.Contains(msg, "administrator") {
		t.Fatalf("message %q", msg)
	}
	want(t, ts.do(t, "POST", "/admin/users", u.User.APIKey, `{"user":{"email":"x@example.com"}}`), 403)
	want(t, ts.do(t, "GET", "/admin/users/x-example-com", adminKey, ""), 404)
	want(t, ts.do(t, "GET", "/account", u.User.APIKey, ""), 200)
}

// Inactive, expired, address-restricted and API-less accounts are refused
// with 403 and a reason; their keys are valid, so the defender is not fed.
func TestAuth_AccountRestrictions(t *testing.T) {
	ts := MustOpenServer(t)
	for name, tc := range map[string]struct{ body, msg string }{
		"inactive":    {`{"user":{"email":"a@example.com","active":false}}`, "disabled"},
		"expired":     {`{"user":{"email":"b@example.com","expires_at":"2020-01-01T00:00:00Z"}}`, "expired"},
		"ip":          {`{"user":{"email":"c@example.com","allowed_ips":["192.0.2.0/24"]}}`, "127.0.0.1"},
		"sftp only":   {`{"user":{"email":"d@example.com","protocols":["sftp"]}}`, "api"},
		"ip allowed":  {`{"user":{"email":"e@example.com","allowed_ips":["127.0.0.0/8"]}}`, ""},
		"not expired": {`{"user":{"email":"f@example.com","expires_at":"2999-01-01T00:00:00Z"}}`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			u := ts.createUser(t, tc.body)
			r := ts.do(t, "GET", "/account", u.User.APIKey, "")
			if tc.msg == "" {
				want(t, r, 200)
				return
			}
			want(t, r, 403)
			if msg := r.errors(t)[0]; !strings.Contains(msg, tc.msg) {
				t.Fatalf("message %q does not mention %q", msg, tc.msg)
			}
		})
	}
	if bans := ts.defender.Bans(); len(bans) != 0 {
		t.Fatalf("refused valid keys led to bans: %v", bans)
	}
}

func TestLogin(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"joe@example.com","username":"joe","password":"correct-horse"}}`)

	t.Run("OK", func(t *testing.T) {
		for _, body := range []string{
			`{"user":{"email":"joe@example.com","password":"correct-horse"}}`,
			`{"user":{"username":"JOE","password":"correct-horse"}}`,
		} {
			r := ts.do(t, "POST", "/api/login", "", body)
			want(t, r, 200)
			var got struct {
				User struct {
					APIKey    string `json:"api_key"`
					ExpiresAt string `json:"expires_at"`
				} `json:"user"`
			}
			r.json(t, &got)
			if got.User.APIKey == "" || got.User.ExpiresAt == "" {
				t.Fatalf("login answered %s", r.body)
			}
			want(t, ts.do(t, "GET", "/account", got.User.APIKey, ""), 200)
		}
		r := ts.do(t, "GET", "/admin/users/joe-example-com", adminKey, "")
		if !strings.Contains(r.body, `"last_login_ip":"127.0.0.1"`) {
			t.Fatalf("last login not recorded: %s", r.body)
		}
	})
	t.Run("Errors", func(t *testing.T) {
		for body, status := range map[string]int{
			`{"user":{"email":"joe@example.com","password":"wrong-horse"}}`: 401,
			`{"user":{"email":"nobody@example.com","password":"x"}}`:        401,
			`{"user":{"email":"joe@example.com"}}`:                          422,
			`{"user":{"email":"joe@example.com","pass":"x"}}`:               422,
			`{"user":{"email":`: 400,
		} {
			r := ts.do(t, "POST", "/api/login", "", body)
			want(t, r, status)
			r.errors(t)
		}
		ts.defender.Unban(context.Background(), loopback)
	})
}

// Failed logins past the limit ban the address over every endpoint until
// an administrator lifts the ban.
func TestDefender_BansAfterFailures(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"joe@example.com","password":"correct-horse"}}`)
	for i := range 4 {
		want(t, ts.do(t, "GET", "/account", fmt.Sprintf("wrong-key-%d-xxxxxxxxxxxx", i), ""), 401)
	}
	// The fifth failure (the limit) is answered, and bans.
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"joe@example.com","password":"nope-nope"}}`), 401)
	r := ts.do(t, "POST", "/api/login", "", `{"user":{"email":"joe@example.com","password":"correct-horse"}}`)
	want(t, r, 403)
	if msg := r.errors(t)[0]; !strings.Contains(msg, "banned") {
		t.Fatalf("message %q", msg)
	}
	// Even the right admin key is refused from a banned address.
	want(t, ts.do(t, "GET", "/admin/bans", adminKey, ""), 403)

	// Lift it (as the test harness: the admin is banned too), then list and
	// lift through the API.
	bans := ts.defender.Bans()
	if len(bans) != 1 || bans[0].IP != "127.0.0.1" {
		t.Fatalf("bans = %v", bans)
	}
	ts.defender.Unban(context.Background(), loopback)
	for range 6 {
		ts.defender.Fail(otherIP)
	}
	r = ts.do(t, "GET", "/admin/bans", adminKey, "")
	want(t, r, 200)
	if !strings.Contains(r.body, `"ip":"192.0.2.9"`) {
		t.Fatalf("ban list %s", r.body)
	}
	want(t, ts.do(t, "DELETE", "/admin/bans/192.0.2.9", adminKey, ""), 200)
	want(t, ts.do(t, "DELETE", "/admin/bans/192.0.2.9", adminKey, ""), 404)
	want(t, ts.do(t, "DELETE", "/admin/bans/not-an-ip", adminKey, ""), 422)
	if len(ts.defender.Bans()) != 0 {
		t.Fatal("ban not lifted")
	}
}

// X-Forwarded-For from an untrusted peer is ignored: a banned client cannot
// escape by claiming another address.
func TestClientIP_IgnoresUntrustedForwardedFor(t *testing.T) {
	ts := MustOpenServer(t)
	for range 6 {
		ts.defender.Fail(loopback)
	}
	r := ts.doWith(t, "GET", "/account", "", func(r *http.Request) {
		r.SetBasicAuth(adminKey, "x")
		r.Header.Set("X-Forwarded-For", "203.0.113.5")
	})
	want(t, r, 403)
}

func TestClientIP_TrustedProxy(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.TrustedProxies = []netipPrefix{mustPrefix("127.0.0.1/32")} })
	u := ts.createUser(t, `{"user":{"email":"p@example.com","allowed_ips":["203.0.113.0/24"]}}`)
	r := ts.doWith(t, "GET", "/account", "", func(r *http.Request) {
		r.SetBasicAuth(u.User.APIKey, "x")
		r.Header.Set("X-Forwarded-For", "203.0.113.5")
	})
	want(t, r, 200)
	want(t, ts.do(t, "GET", "/account", u.User.APIKey, ""), 403)
}

func TestRateLimit(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.Limiter = auth.NewRateLimiter(0.001, 3) })
	for range 3 {
		want(t, ts.do(t, "GET", "/admin/users", adminKey, ""), 200)
	}
	r := ts.do(t, "GET", "/admin/users", adminKey, "")
	want(t, r, 429)
	if r.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	r.errors(t)
	// Another caller (no key: limited by IP) has its own allowance.
	want(t, ts.do(t, "GET", "/admin/users", "", ""), 401)
}

// A made-up credential earns no allowance of its own: requests with a new
// one each time are charged to the address, on routes that never verify
// it (minting filedrop upload keys) as on those that do. Found by
// hardening II: 683 filedrop keys a second with no 429, the database
// growing from 64 KiB to 48 MiB in a minute.
func TestRateLimit_MadeUpCredentials(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.Limiter = auth.NewRateLimiter(0.001, 5) })
	u := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"Drop","owner":"`+u.ID+`"}}`), 201)
	statuses := map[int]int{}
	for i := range 20 {
		r := ts.doWith(t, "GET", "/filedrop/drop", "", func(r *http.Request) {
			r.Header.Set("Accept", "application/json")
			r.SetBasicAuth(fmt.Sprintf("made-up-%d", i), "x")
		})
		statuses[r.status]++
	}
	for i := range 5 {
		statuses[ts.do(t, "GET", "/admin/users", fmt.Sprintf("NOTAKEY%033d", i), "").status]++
	}
	if statuses[429] != 20 {
		t.Errorf("25 requests with made-up credentials from one address: %v, want at most 5 answered", statuses)
	}
	// A key that verifies has its own allowance still.
	want(t, ts.do(t, "GET", "/admin/users", adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/api/files?path=/", u.APIKey, ""), 200)
}

// 100 parallel wrong passwords from one address get at most max_failures
// (5 here) answers that reveal anything; the rest are refused as banned.
// Found by the hardening review: 98 of 100 got a 401.
func TestDefender_ParallelLogins(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"joe@example.com","password":"correct-horse"}}`)
	var mu sync.Mutex
	statuses := map[int]int{}
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			r := ts.do(t, "POST", "/api/login", "", `{"user":{"email":"joe@example.com","password":"wrong-horse"}}`)
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[401] > 5 || statuses[401]+statuses[403] != 100 {
		t.Fatalf("answers %v: want at most 5 of 401, the rest 403", statuses)
	}
	ts.audit.Flush()
	list, _, err := ts.Audit.FindEvents(t.Context(), mft.AuditFilter{Event: mft.EventUserLoginFailed, Page: mft.Page{Limit: 1000}})
	if err != nil || len(list) > 5 {
		t.Fatalf("%d user.login_failed events (%v), want at most 5", len(list), err)
	}
	if bans := ts.defender.Bans(); len(bans) != 1 || bans[0].Failures != 5 {
		t.Fatalf("bans %+v", bans)
	}
}
