package e2e

import (
	"crypto/rand"
	"crypto/rsa"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"depot/config"
	"depot/internal/testpeer"
)

// ssoServer is Depot with single sign-on at an oidc-provider (npm) that
// knows Depot's public URL: Depot's port is chosen first.
func ssoServer(t *testing.T, configure func(*config.Config)) (*testServer, *testpeer.OIDCProvider) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	op := testpeer.StartOIDC(t, "http://"+addr)
	ts := openServerConfigured(t, t.TempDir(), nil, func(cfg *config.Config) {
		cfg.HTTP.Listen, cfg.HTTP.PublicURL = addr, "http://"+addr
		cfg.OIDC.Issuer, cfg.OIDC.ClientID, cfg.OIDC.ClientSecret = op.Issuer, testpeer.OIDCClientID, testpeer.OIDCClientSecret
		cfg.OIDC.Name, cfg.OIDC.Scopes = "Example SSO", []string{"openid", "email", "profile", "groups"}
		if configure != nil {
			configure(cfg)
		}
	})
	return ts, op
}

// In headless Chromium: "Sign in with Example SSO" on Depot's sign-in
// page, the provider's own sign-in and consent pages, and back in Depot's
// files page; the provider's logout (back-channel) ends Depot's session.
// People without an account (create_users off) or without a verified
// email are refused with a page that says why.
func TestOIDC_SignInWithTheProvider(t *testing.T) {
	ts, op := ssoServer(t, nil)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Finance","oidc_groups":["finance"]}}`), 201)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Partners"}}`), 201)
	ts.createUser(t, `{"user":{"email":"alice@example.com","name":"Alice Liddell","groups":["partners"]}}`)
	ctx := chromiumTab(t, t.TempDir())
	text := func() string {
		s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
		return s
	}
	signIn := func(who string) {
		t.Helper()
		err := chromedp.Do(ctx,
			chromedp.Navigate(ts.URL()+"/"),
			chromedp.WaitVisible("#sso"),
			chromedp.Click("#sso"),
			chromedp.WaitVisible(`input[name="login"]`),
			chromedp.SendKeys(`input[name="login"]`, who),
			chromedp.SendKeys(`input[name="password"]`, "any password"),
			chromedp.Click(`button[type="submit"]`),
		)
		if err != nil {
			t.Fatalf("provider sign-in as %s: %v\n%s", who, err, text())
		}
		// The provider asks for consent once per person.
		for range 50 {
			page := text()
			if strings.Contains(page, "Authorize") || strings.Contains(page, "Continue") {
				chromedp.Do(ctx, chromedp.Click(`button[type="submit"]`))
				break
			}
			if strings.Contains(page, "Depot") {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	signIn("alice")
	if err := chromedp.Do(ctx, chromedp.WaitVisible("#file-list, main h1")); err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`))
	if loc != "/web/files" || !strings.Contains(text(), "Alice Liddell") {
		t.Fatalf("after single sign-on: %s\n%s", loc, text())
	}
	if err := ts.audit.Flush(); err != nil {
		t.Fatal(err)
	}
	if r := ts.do(t, "GET", "/admin/audit?event=user.login&user=alice-example-com", adminKey, ""); !strings.Contains(r.body, `"message":"oidc"`) {
		t.Errorf("audit of the sign-in: %s", r.body)
	}
	// The provider's groups claim made her a member of Finance; the
	// administrator's Partners stays.
	if r := ts.do(t, "GET", "/admin/users/alice-example-com", adminKey, ""); !strings.Contains(r.body, `"groups":["finance","partners"]`) {
		t.Errorf("groups after single sign-on: %s", r.body)
	}

	// The provider's logout (its end-session page) tells Depot over the
	// back channel: the session ends.
	if err := chromedp.Do(ctx, chromedp.Navigate(op.Issuer+"/session/end"), chromedp.WaitVisible(`button[value="yes"]`),
		chromedp.Click(`button[value="yes"]`)); err != nil {
		t.Fatalf("provider logout: %v\n%s", err, text())
	}
	for {
		chromedp.Do(ctx, chromedp.Navigate(ts.URL()+"/web/files"))
		if loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); loc == "/" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}

	// No account for bob (create_users is off); eve's email is not verified.
	signIn("bob")
	chromedp.Do(ctx, chromedp.WaitVisible("#page-error"))
	if page := text(); !strings.Contains(page, "No Depot account has the email bob@example.com") {
		t.Fatalf("bob: %s", page)
	}
	want(t, ts.do(t, "GET", "/admin/users/bob-example-com", adminKey, ""), 404)
}

// A logout token that the provider did not sign, and a callback that this
// browser did not start, are refused; with create_users, a first sign-on
// makes the account; with require_for_admins, an administrator's password
// no longer signs in.
func TestOIDC_Refusals(t *testing.T) {
	ts, op := ssoServer(t, func(cfg *config.Config) { cfg.OIDC.CreateUsers, cfg.OIDC.RequireForAdmins = true, true })
	other := testpeer.Sign(mustRSA(t), map[string]any{"iss": op.Issuer, "aud": testpeer.OIDCClientID, "sub": "alice",
		"iat": time.Now().Unix(), "jti": "x", "events": map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}})
	r := ts.doWith(t, "POST", "/web/oidc/backchannel-logout", "logout_token="+url.QueryEscape(other), func(r *http.Request) {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	})
	if want(t, r, 400); !strings.Contains(r.body, "logout token") {
		t.Fatalf("forged logout token: %s", r.body)
	}
	b := newWebBrowser(ts)
	r = b.get(t, "/web/oidc/callback?state=abc&code=def")
	if r.status != 403 || !strings.Contains(r.body, "not started in this browser") {
		t.Fatalf("a callback nobody started: %d %s", r.status, r.body)
	}

	ts.createUser(t, `{"user":{"username":"boss","password":"correct-horse","role":"admin"}}`)
	r = ts.do(t, "POST", "/api/login", "", `{"user":{"username":"boss","password":"correct-horse"}}`)
	if want(t, r, 403); !strings.Contains(r.body, "Administrators sign in with Example SSO") {
		t.Fatalf("an administrator's password: %s", r.body)
	}
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"boss","password":"wrong"}}`), 401)

	ctx := chromiumTab(t, t.TempDir())
	err := chromedp.Do(ctx, chromedp.Navigate(ts.URL()+"/web/oidc/login"), chromedp.WaitVisible(`input[name="login"]`),
		chromedp.SendKeys(`input[name="login"]`, "bob"), chromedp.SendKeys(`input[name="password"]`, "x"),
		chromedp.Click(`button[type="submit"]`), chromedp.WaitVisible(`button[type="submit"]`), chromedp.Click(`button[type="submit"]`))
	if err != nil {
		t.Fatal(err)
	}
	for {
		if loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.pathname`)); loc == "/web/files" {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	r = ts.do(t, "GET", "/admin/users/bob-example-com", adminKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"email":"bob@example.com"`) || !strings.Contains(r.body, `"name":"Bob Builder"`) {
		t.Fatalf("the account made at bob's first sign-on: %s", r.body)
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
