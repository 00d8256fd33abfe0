package e2e

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// webBrowser is a plain HTTP client with a cookie jar, as a webBrowser signs in
// to the web client; it does not follow redirects, so tests see them.
type webBrowser struct {
	ts   *testServer
	c    *http.Client
	csrf string // the session's token, from the last page's meta tag
}

var (
	csrfMeta  = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
	csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
)

func newWebBrowser(ts *testServer) *webBrowser {
	jar, _ := cookiejar.New(nil)
	return &webBrowser{ts: ts, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// send makes a request with the webBrowser's cookies and, for forms, the
// encoded fields.
func (b *webBrowser) send(tb testing.TB, method, path string, form url.Values, edit func(*http.Request)) response {
	tb.Helper()
	var body io.Reader
	contentType := ""
	if form != nil {
		body, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	}
	r := exchange(tb, b.c, method, b.ts.URL()+path, body, contentType, edit)
	if m := csrfMeta.FindStringSubmatch(r.body); m != nil {
		b.csrf = m[1]
	}
	return r
}

func (b *webBrowser) get(tb testing.TB, path string) response {
	return b.send(tb, "GET", path, nil, nil)
}

// post sends a form with the session's CSRF token.
func (b *webBrowser) post(tb testing.TB, path string, form url.Values) response {
	tb.Helper()
	form.Set("csrf", b.csrf)
	return b.send(tb, "POST", path, form, nil)
}

// signIn signs in with a password through the sign-in form and follows
// the redirect to the files page.
func (b *webBrowser) signIn(tb testing.TB, login, password string) response {
	tb.Helper()
	page := b.get(tb, "/")
	m := csrfField.FindStringSubmatch(page.body)
	if page.status != 200 || m == nil {
		tb.Fatalf("sign-in page: %d %s", page.status, page.body)
	}
	r := b.send(tb, "POST", "/web/login", url.Values{"csrf": {m[1]}, "login": {login}, "password": {password}}, nil)
	if r.status != http.StatusSeeOther {
		return r
	}
	return b.get(tb, r.header.Get("Location"))
}

// api calls a user route with the session cookie, as the client's
// scripts do, with the CSRF token when withToken.
func (b *webBrowser) api(tb testing.TB, method, path, body string, withToken bool) response {
	tb.Helper()
	return b.send(tb, method, path, nil, func(r *http.Request) {
		if body != "" {
			r.Body = io.NopCloser(strings.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		r.Header.Set("Content-Type", "application/json")
		if withToken {
			r.Header.Set("X-CSRF-Token", b.csrf)
		}
	})
}

func wantPage(tb testing.TB, r response, status int, text string) {
	tb.Helper()
	if r.status != status || !strings.Contains(r.body, text) {
		tb.Fatalf("status %d, want %d with %q; body:\n%s", r.status, status, text, r.body)
	}
}

func TestWeb_SignInAndOut(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"pat@example.com","name":"Pat","password":"correct-horse"}}`)
	ts.createUser(t, `{"user":{"email":"sftp-only@example.com","password":"correct-horse","protocols":["sftp"]}}`)

	b := newWebBrowser(ts)
	r := b.get(t, "/")
	wantPage(t, r, 200, "Sign in to Depot")
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	wantPage(t, b.signIn(t, "pat@example.com", "wrong-password"), 401, "Invalid email, username or password")
	wantPage(t, newWebBrowser(ts).signIn(t, "sftp-only@example.com", "correct-horse"), 403, "may not use web")

	// Without the sign-in form's own token (another site posting), no session.
	forged := newWebBrowser(ts).send(t, "POST", "/web/login", url.Values{"login": {"pat@example.com"}, "password": {"correct-horse"}}, nil)
	wantPage(t, forged, 403, "sign-in form expired")

	r = b.signIn(t, "pat@example.com", "correct-horse")
	wantPage(t, r, 200, "This folder is empty.")
	if !strings.Contains(r.body, "Pat") || b.csrf == "" {
		t.Fatalf("files page without the user or the token:\n%s", r.body)
	}
	u, _ := url.Parse(ts.URL())
	var session *http.Cookie
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "depot_session" {
			session = c
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	// The jar hides the attributes; the sign-in answer carries them.
	again := newWebBrowser(ts)
	page := again.get(t, "/")
	tok := csrfField.FindStringSubmatch(page.body)[1]
	resp := again.send(t, "POST", "/web/login", url.Values{"csrf": {tok}, "login": {"pat@example.com"}, "password": {"correct-horse"}}, nil)
	setCookie := strings.Join(resp.header.Values("Set-Cookie"), "\n")
	for _, attr := range []string{"depot_session=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("Set-Cookie %q lacks %s", setCookie, attr)
		}
	}
	if got := resp.header.Get("Location"); got != "/web/files" {
		t.Errorf("after sign-in to %q", got)
	}

	// The session works on the user routes too, and says who in the audit.
	want(t, b.api(t, "GET", "/api/files", "", false), 200)
	if r := b.get(t, "/"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/web/files" {
		t.Errorf("/ when signed in: %d %q", r.status, r.header.Get("Location"))
	}

	// Sign out: the same cookie no longer works, on pages or the API, and
	// the API's 401 does not ask the webBrowser for a password.
	if r := b.post(t, "/web/logout", url.Values{}); r.status != http.StatusSeeOther {
		t.Fatalf("sign out: %d %s", r.status, r.body)
	}
	stale := newWebBrowser(ts)
	stale.c.Jar.SetCookies(u, []*http.Cookie{{Name: "depot_session", Value: session.Value}})
	r = stale.api(t, "GET", "/api/files", "", false)
	want(t, r, 401)
	if r.header.Get("WWW-Authenticate") != "" {
		t.Errorf("a session's 401 asks for basic auth: %q", r.header.Get("WWW-Authenticate"))
	}
	r = stale.get(t, "/web/files?path=/")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/?next=") {
		t.Fatalf("stale session: %d %q", r.status, r.header.Get("Location"))
	}

	// After signing in again the webBrowser goes back to where it was sent
	// away from, and never to another site.
	for next, to := range map[string]string{"/web/account": "/web/account", "//evil.example/x": "/web/files", "https://evil.example/": "/web/files"} {
		nb := newWebBrowser(ts)
		page := nb.get(t, "/?next="+url.QueryEscape(next))
		tok := csrfField.FindStringSubmatch(page.body)[1]
		r := nb.send(t, "POST", "/web/login", url.Values{"csrf": {tok}, "login": {"pat"}, "password": {"correct-horse"}, "next": {next}}, nil)
		if r.status == 401 { // pat is not a username; use the email
			r = nb.send(t, "POST", "/web/login", url.Values{"csrf": {tok}, "login": {"pat@example.com"}, "password": {"correct-horse"}, "next": {next}}, nil)
		}
		if r.header.Get("Location") != to {
			t.Errorf("next %q went to %q, want %q", next, r.header.Get("Location"), to)
		}
	}
}

func TestWeb_CSRFIsRequired(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"pat@example.com","password":"correct-horse"}}`)
	b := newWebBrowser(ts)
	wantPage(t, b.signIn(t, "pat@example.com", "correct-horse"), 200, "Upload")

	// A form without the token, or with another, is refused and changes nothing.
	for _, token := range []string{"", "AAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		r := b.send(t, "POST", "/web/files/folder", url.Values{"csrf": {token}, "path": {"/"}, "name": {"forged"}}, nil)
		wantPage(t, r, 403, "security token")
	}
	// The API with the session cookie but without X-CSRF-Token: refused.
	r := b.send(t, "PUT", "/api/files/content?path=/forged.txt", nil, func(r *http.Request) {
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader("forged")), 6
	})
	want(t, r, 403)
	want(t, b.api(t, "POST", "/api/folders", `{"path":"/forged2"}`, false), 403)
	list := b.api(t, "GET", "/api/files", "", false)
	if strings.Contains(list.body, "forged") {
		t.Fatalf("a forged request changed files: %s", list.body)
	}

	// With the token both work.
	wantPage(t, b.post(t, "/web/files/folder", url.Values{"path": {"/"}, "name": {"reports"}}), http.StatusSeeOther, "")
	r = b.send(t, "PUT", "/api/files/content?path=/reports/q1.csv", nil, func(r *http.Request) {
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader("a,b\n")), 4
		r.Header.Set("X-CSRF-Token", b.csrf)
	})
	want(t, r, 201)
	wantPage(t, b.get(t, "/web/files?path=/reports"), 200, "q1.csv")

	// Hostile form bodies: too large, or not a form.
	big := url.Values{"name": {strings.Repeat("x", 100<<10)}, "path": {"/"}}
	wantPage(t, b.post(t, "/web/files/folder", big), 413, "larger than")
	r = b.send(t, "POST", "/web/files/folder", nil, func(r *http.Request) {
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader(`{"name":"x"}`)), 12
		r.Header.Set("Content-Type", "application/json")
	})
	wantPage(t, r, 400, "application/x-www-form-urlencoded")
}

func TestWeb_SessionEndsWithTheAccount(t *testing.T) {
	ts := MustOpenServer(t)
	pat := ts.createUser(t, `{"user":{"email":"pat@example.com","password":"correct-horse"}}`).User
	b := newWebBrowser(ts)
	wantPage(t, b.signIn(t, "pat@example.com", "correct-horse"), 200, "Files")

	// Deactivated: the open session stops at the next click.
	want(t, ts.do(t, "PATCH", "/admin/users/"+pat.ID, adminKey, `{"user":{"active":false}}`), 200)
	wantPage(t, b.get(t, "/web/files"), 403, "disabled")
	want(t, ts.do(t, "PATCH", "/admin/users/"+pat.ID, adminKey, `{"user":{"active":true}}`), 200)
	r := b.get(t, "/web/files")
	if r.status != http.StatusSeeOther {
		t.Fatalf("a session ended by deactivation came back: %d", r.status)
	}

	// Deactivated and reactivated with no request between: the session
	// has ended all the same (found by hardening II: the old cookie
	// answered 200). The same for an expiry set and cleared, a bucket
	// deactivated and reactivated.
	for _, c := range [][2]string{
		{`{"user":{"active":false}}`, `{"user":{"active":true}}`},
		{`{"user":{"expires_at":"2020-01-01T00:00:00Z"}}`, `{"user":{"expires_at":null}}`},
		{`{"user":{"protocols":["sftp"]}}`, `{"user":{"protocols":["sftp","api","web"]}}`},
	} {
		wantPage(t, b.signIn(t, "pat@example.com", "correct-horse"), 200, "Files")
		want(t, ts.do(t, "PATCH", "/admin/users/"+pat.ID, adminKey, c[0]), 200)
		want(t, ts.do(t, "PATCH", "/admin/users/"+pat.ID, adminKey, c[1]), 200)
		if r := b.get(t, "/web/files"); r.status != http.StatusSeeOther {
			t.Fatalf("a session survived %s and back: %d", c[0], r.status)
		}
	}
	// An unrelated change (the name) keeps the session.
	kept := newWebBrowser(ts)
	wantPage(t, kept.signIn(t, "pat@example.com", "correct-horse"), 200, "Files")
	want(t, ts.do(t, "PATCH", "/admin/users/"+pat.ID, adminKey, `{"user":{"name":"Pat"}}`), 200)
	wantPage(t, kept.get(t, "/web/files"), 200, "Files")

	// A password changed by an administrator ends sessions too.
	wantPage(t, b.signIn(t, "pat@example.com", "correct-horse"), 200, "Files")
	want(t, ts.do(t, "PATCH", "/admin/users/"+pat.ID, adminKey, `{"user":{"password":"battery-staple"}}`), 200)
	if r := b.get(t, "/web/files"); r.status != http.StatusSeeOther {
		t.Fatalf("session survived a password change: %d", r.status)
	}

	// The user's own change: the old password is required, and every
	// session ends, this one and another webBrowser's.
	other := newWebBrowser(ts)
	wantPage(t, other.signIn(t, "pat@example.com", "battery-staple"), 200, "Files")
	wantPage(t, b.signIn(t, "pat@example.com", "battery-staple"), 200, "Files")
	r = b.post(t, "/web/account/password", url.Values{"old": {"wrong-one"}, "new": {"new-password-1"}})
	want(t, r, http.StatusSeeOther)
	wantPage(t, b.get(t, "/web/account"), 200, "The current password is not right.")
	b.post(t, "/web/account/password", url.Values{"old": {"battery-staple"}, "new": {"short"}})
	wantPage(t, b.get(t, "/web/account"), 200, "must have 8 to")
	r = b.post(t, "/web/account/password", url.Values{"old": {"battery-staple"}, "new": {"new-password-1"}})
	wantPage(t, r, 200, "Your password was changed")
	for _, br := range []*webBrowser{b, other} {
		if r := br.get(t, "/web/files"); r.status != http.StatusSeeOther {
			t.Fatalf("session survived the user's password change: %d", r.status)
		}
	}
	want(t, ts.do(t, "POST", "/api/login", "", `{"email":"pat@example.com","password":"new-password-1"}`), 200)
}

// A bucket deactivated and reactivated with no request between ends its
// users' web sessions for good.
func TestWeb_SessionEndsWithTheBucket(t *testing.T) {
	ts := MustOpenServer(t)
	bk := ts.createBucket(t, `{"bucket":{"name":"Acme"}}`).Bucket
	want(t, ts.do(t, "POST", "/admin/buckets/"+bk.ID+"/users", adminKey, `{"user":{"username":"acme-pat","password":"correct-horse"}}`), 201)
	b := newWebBrowser(ts)
	wantPage(t, b.signIn(t, "acme-pat", "correct-horse"), 200, "Files")
	want(t, ts.do(t, "PUT", "/admin/buckets/"+bk.ID, adminKey, `{"bucket":{"active":false}}`), 200)
	want(t, ts.do(t, "PUT", "/admin/buckets/"+bk.ID, adminKey, `{"bucket":{"active":true}}`), 200)
	if r := b.get(t, "/web/files"); r.status != http.StatusSeeOther {
		t.Fatalf("a session survived its bucket's deactivation: %d", r.status)
	}
	wantPage(t, b.signIn(t, "acme-pat", "correct-horse"), 200, "Files")
}
