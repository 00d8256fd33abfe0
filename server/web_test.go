package server_test

import (
	"archive/zip"
	"bytes"
	"html"
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

func TestWeb_DownloadOnlyUser(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"reader@example.com","password":"correct-horse"}}`)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/reports"}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/shared/reports/q1.csv", adminKey, "a,b\n"), 201)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:reader-example-com","path":"/shared/reports",
		"permissions":["list","download"],"mount":"reports"}}`), 201)

	b := newWebBrowser(ts)
	b.signIn(t, "reader@example.com", "correct-horse")
	r := b.get(t, "/web/files?path=/reports")
	wantPage(t, r, 200, "q1.csv")
	for _, hidden := range []string{`id="uploader"`, `id="mkdir-form"`, "Rename", "Delete", "Share"} {
		if strings.Contains(r.body, hidden) {
			t.Errorf("a download-only folder offers %s", hidden)
		}
	}
	if !strings.Contains(r.body, `href="/api/files/content?path=%2freports%2fq1.csv"`) {
		t.Errorf("no download link:\n%s", r.body)
	}
	// The server refuses what the page does not offer.
	r = b.send(t, "PUT", "/api/files/content?path=/reports/forged.csv", nil, func(r *http.Request) {
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader("x")), 1
		r.Header.Set("X-CSRF-Token", b.csrf)
	})
	want(t, r, 403)
	wantPage(t, b.post(t, "/web/files/delete", url.Values{"path": {"/reports/q1.csv"}}), http.StatusSeeOther, "")
	wantPage(t, b.get(t, "/web/files?path=/reports"), 200, "You do not have delete permission")
	want(t, ts.do(t, "GET", "/api/files/stat?path=/shared/reports/q1.csv", adminKey, ""), 200)
	// The download works with the session.
	r = b.get(t, "/api/files/content?path=/reports/q1.csv")
	if r.status != 200 || r.body != "a,b\n" {
		t.Fatalf("download: %d %q", r.status, r.body)
	}
	// The overview is for administrators only.
	wantPage(t, b.get(t, "/web/admin"), 403, "for administrators")
}

func TestWeb_ZipDownload(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"pat@example.com","password":"correct-horse"}}`)
	b := newWebBrowser(ts)
	b.signIn(t, "pat@example.com", "correct-horse")
	files := map[string]string{"/out/a.txt": "alpha\n", "/out/sub/b.txt": "beta\n", "/top.txt": "top\n"}
	for p, body := range files {
		if strings.Count(p, "/") > 1 {
			b.api(t, "POST", "/api/folders", `{"path":"`+p[:strings.LastIndex(p, "/")]+`"}`, true)
		}
		r := b.send(t, "PUT", "/api/files/content?path="+p, nil, func(r *http.Request) {
			r.Body, r.ContentLength = io.NopCloser(strings.NewReader(body)), int64(len(body))
			r.Header.Set("X-CSRF-Token", b.csrf)
		})
		want(t, r, 201)
	}
	read := func(r response) map[string]string {
		t.Helper()
		if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
			t.Fatalf("zip: %d %s %s", r.status, r.header.Get("Content-Type"), r.body)
		}
		zr, err := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(rc)
			rc.Close()
			got[f.Name] = string(data)
		}
		return got
	}
	got := read(b.get(t, "/web/files/zip?path=/out"))
	wantZip := map[string]string{"out/": "", "out/a.txt": "alpha\n", "out/sub/": "", "out/sub/b.txt": "beta\n"}
	if len(got) != len(wantZip) {
		t.Fatalf("zip of /out holds %v", got)
	}
	for k, v := range wantZip {
		if got[k] != v {
			t.Errorf("zip entry %s = %q, want %q", k, got[k], v)
		}
	}
	if d := b.get(t, "/web/files/zip?path=/out").header.Get("Content-Disposition"); !strings.Contains(d, `filename="out.zip"`) {
		t.Errorf("Content-Disposition %q", d)
	}
	got = read(b.get(t, "/web/files/zip?path=/top.txt&path=/out/a.txt"))
	if len(got) != 2 || got["top.txt"] != "top\n" || got["out/a.txt"] != "alpha\n" {
		t.Errorf("zip of a selection holds %v", got)
	}
	wantPage(t, b.get(t, "/web/files/zip?path=/missing"), 404, "")
	wantPage(t, b.get(t, "/web/files/zip?path=/../etc"), 400, "")
	wantPage(t, b.get(t, "/web/files/zip"), 400, "Choose at least one")
}

func TestWeb_AccountKeysAndAdminOverview(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"pat@example.com","password":"correct-horse","quota_mb":10}}`)
	ts.createUser(t, `{"user":{"email":"boss@example.com","password":"correct-horse","role":"admin"}}`)
	b := newWebBrowser(ts)
	b.signIn(t, "pat@example.com", "correct-horse")
	r := b.get(t, "/web/account")
	wantPage(t, r, 200, "10.0 MB")
	for _, s := range []string{"sftp.example.com", "SHA256:", "No keys yet."} {
		if !strings.Contains(r.body, s) {
			t.Errorf("account page lacks %q", s)
		}
	}
	const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHq3hV1nD8qfmUxPn7A6bKXGq8I3b2Qe8XjY7dNa0cXe pat@laptop"
	want(t, b.post(t, "/web/account/keys", url.Values{"key": {key}}), http.StatusSeeOther)
	r = b.get(t, "/web/account")
	wantPage(t, r, 200, "Key added.")
	fp := regexp.MustCompile(`name="fingerprint" value="(SHA256:[^"]+)"`).FindStringSubmatch(r.body)
	if fp == nil {
		t.Fatalf("no key listed:\n%s", r.body)
	}
	for bad, msg := range map[string]string{key: "You have this key already.", "not a key": "not a public key", "": "not a public key"} {
		b.post(t, "/web/account/keys", url.Values{"key": {bad}})
		wantPage(t, b.get(t, "/web/account"), 200, msg)
	}
	var u userBody
	r2 := ts.do(t, "GET", "/admin/users/pat-example-com", adminKey, "")
	r2.json(t, &u)
	if len(u.User.SSHKeys) != 1 || !strings.HasSuffix(u.User.SSHKeys[0], "pat@laptop") {
		t.Fatalf("keys after the bad ones: %v", u.User.SSHKeys)
	}
	b.post(t, "/web/account/keys/delete", url.Values{"fingerprint": {html.UnescapeString(fp[1])}})
	wantPage(t, b.get(t, "/web/account"), 200, "Key removed.")

	admin := newWebBrowser(ts)
	admin.signIn(t, "boss@example.com", "correct-horse")
	r = admin.get(t, "/web/admin")
	wantPage(t, r, 200, "Healthy")
	for _, s := range []string{"user.login", "user.updated", "pat-example-com"} {
		if !strings.Contains(r.body, s) {
			t.Errorf("overview lacks %q", s)
		}
	}
	r = admin.get(t, "/web/admin?event=user.updated&status=ok&since=1h")
	if strings.Contains(r.body, "<td>user.login</td>") || !strings.Contains(r.body, "<td>user.updated</td>") {
		t.Errorf("filter by event did not narrow the table:\n%s", r.body)
	}
	csvURL := regexp.MustCompile(`id="audit-csv" href="([^"]+)"|href="([^"]+)" id="audit-csv"`).FindStringSubmatch(r.body)
	if csvURL == nil {
		t.Fatalf("no CSV link:\n%s", r.body)
	}
	link := strings.ReplaceAll(csvURL[1]+csvURL[2], "&amp;", "&")
	csv := admin.get(t, link)
	if csv.status != 200 || !strings.HasPrefix(csv.body, "id,time,event") || !strings.Contains(csv.body, "user.updated") || strings.Contains(csv.body, "user.login,") {
		t.Fatalf("CSV %s: %d\n%s", link, csv.status, csv.body)
	}
}

func TestWeb_RenameMoveDelete(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"pat@example.com","password":"correct-horse"}}`)
	b := newWebBrowser(ts)
	b.signIn(t, "pat@example.com", "correct-horse")
	r := b.send(t, "PUT", "/api/files/content?path=/notes.txt", nil, func(r *http.Request) {
		r.Body, r.ContentLength = io.NopCloser(strings.NewReader("hi")), 2
		r.Header.Set("X-CSRF-Token", b.csrf)
	})
	want(t, r, 201)
	wantPage(t, b.get(t, "/web/files/rename?path=/notes.txt"), 200, `value="/notes.txt"`)
	r = b.post(t, "/web/files/rename", url.Values{"from": {"/notes.txt"}, "to": {"/renamed.txt"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/web/files?path=%2F" {
		t.Fatalf("rename: %d %q %s", r.status, r.header.Get("Location"), r.body)
	}
	wantPage(t, b.get(t, "/web/files?path=/"), 200, "notes.txt is now /renamed.txt.")
	b.post(t, "/web/files/folder", url.Values{"path": {"/"}, "name": {"archive"}})
	b.post(t, "/web/files/rename", url.Values{"from": {"/renamed.txt"}, "to": {"/archive/renamed.txt"}})
	wantPage(t, b.get(t, "/web/files?path=/archive"), 200, `data-name="renamed.txt"`)
	// A bare name renames in place; a clash says so and changes nothing.
	b.post(t, "/web/files/rename", url.Values{"from": {"/archive/renamed.txt"}, "to": {"final.txt"}})
	wantPage(t, b.get(t, "/web/files?path=/archive"), 200, `data-name="final.txt"`)
	b.post(t, "/web/files/folder", url.Values{"path": {"/"}, "name": {"archive"}})
	wantPage(t, b.get(t, "/web/files?path=/"), 200, "exists")
	for _, bad := range []string{"..", "a/b", ""} {
		b.post(t, "/web/files/folder", url.Values{"path": {"/"}, "name": {bad}})
		wantPage(t, b.get(t, "/web/files?path=/"), 200, "cannot be empty")
	}
	wantPage(t, b.get(t, "/web/files/delete?path=/archive"), 200, "everything in it will be deleted")
	b.post(t, "/web/files/delete", url.Values{"path": {"/archive"}})
	r = b.get(t, "/web/files?path=/")
	wantPage(t, r, 200, "archive deleted.")
	if strings.Contains(r.body, `data-name="archive"`) {
		t.Fatal("the deleted folder is still listed")
	}
}

func TestWeb_MessagesUploadLinksAndBans(t *testing.T) {
	ts := MustOpenServer(t)
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com","password":"correct-horse"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"inbox","title":"Inbox","owner":"`+ou.ID+`"}}`), 201)
	_, s := ts.openFiledrop(t, "inbox", "")
	var a attachmentBody
	r := s.upload(t, "filename=report.csv", "a,b\n1,2\n")
	want(t, r, 201)
	r.json(t, &a)
	want(t, s.deliver(t, `{"message":{"from":"pat@partner.example","subject":"Q3 numbers","attachments":["`+a.Attachment.ID+`"]}}`), 201)

	b := newWebBrowser(ts)
	b.signIn(t, "owner@example.com", "correct-horse")
	r = b.get(t, "/web/messages")
	wantPage(t, r, 200, "Q3 numbers")
	id := regexp.MustCompile(`href="/web/messages/([^"]+)"`).FindStringSubmatch(r.body)
	if id == nil || !strings.Contains(r.body, "pat@partner.example") {
		t.Fatalf("messages page:\n%s", r.body)
	}
	r = b.get(t, "/web/messages/"+id[1])
	wantPage(t, r, 200, "report.csv")
	file := regexp.MustCompile(`href="(/api/messages/[^"]+)"`).FindStringSubmatch(r.body)
	if file == nil || !strings.Contains(r.body, sum("a,b\n1,2\n")) {
		t.Fatalf("message page:\n%s", r.body)
	}
	if got := b.get(t, html.UnescapeString(file[1])); got.status != 200 || got.body != "a,b\n1,2\n" {
		t.Fatalf("delivered file through the session: %d %q", got.status, got.body)
	}
	wantPage(t, b.get(t, "/web/messages/msg_missing"), 404, "")

	// An upload link on a folder, listed with its tag, then revoked.
	b.post(t, "/web/files/folder", url.Values{"path": {"/"}, "name": {"incoming"}})
	r = b.post(t, "/web/share", url.Values{"path": {"/incoming"}, "upload": {"1"}, "expires": {"2099-01-31"}, "max_downloads": {"3"}})
	wantPage(t, r, 201, "Link created.")
	link := regexp.MustCompile(`id="share-url" type="text" readonly value="([^"]+)"`).FindStringSubmatch(r.body)
	if link == nil || !strings.Contains(r.body, "2099-02-01") {
		t.Fatalf("share page:\n%s", r.body)
	}
	r = b.get(t, "/web/links")
	if !strings.Contains(r.body, `<span class="tag">upload</span>`) || !strings.Contains(r.body, "0 of 3") {
		t.Fatalf("links page:\n%s", r.body)
	}
	for bad, msg := range map[string]string{"max_downloads": "whole number", "expires": "a date such as"} {
		b.post(t, "/web/share", url.Values{"path": {"/incoming"}, bad: {"soon"}})
		wantPage(t, b.get(t, "/web/share?path=/incoming"), 200, msg)
	}
	linkID := link[1][strings.LastIndex(link[1], "/")+1:]
	b.post(t, "/web/links/delete", url.Values{"id": {linkID}})
	wantPage(t, b.get(t, "/web/links"), 200, "Link revoked")
	want(t, ts.do(t, "GET", "/s/"+linkID, "", ""), 404) // revoked: gone for good

	// Wrong passwords on the sign-in form count towards a ban, as on the
	// API: the test server bans after 5.
	thief := newWebBrowser(ts)
	for range 5 {
		thief.signIn(t, "owner@example.com", "guess-guess")
	}
	r = thief.signIn(t, "owner@example.com", "correct-horse")
	if r.status != 403 && r.status != 429 || !strings.Contains(r.body, "banned") {
		t.Fatalf("after 5 failures the sign-in answered %d:\n%s", r.status, r.body)
	}
}
