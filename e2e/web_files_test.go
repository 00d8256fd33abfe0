package e2e

import (
	"archive/zip"
	"bytes"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

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
			if _, twice := got[f.Name]; twice {
				t.Errorf("zip holds %s twice", f.Name)
			}
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
	// A path chosen twice, or inside a folder chosen, is one entry (found
	// by hardening II: it was two).
	got = read(b.get(t, "/web/files/zip?path=/out/a.txt&path=/out/a.txt&path=/out&path=/top.txt"))
	if len(got) != 5 || got["out/a.txt"] != "alpha\n" {
		t.Errorf("zip of a selection with repeats holds %v", got)
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
	if strings.Contains(r.body, `<td class="event">user.login</td>`) || !strings.Contains(r.body, `<td class="event">user.updated</td>`) {
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

// rowOf returns the listing row of the entry named name, or "".
func rowOf(body, name string) string {
	i := strings.Index(body, `<tr data-name="`+html.EscapeString(name)+`"`)
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</tr>")
	return body[i : i+j]
}

// Each entry offers what the user may do on it, not what they may do in
// the folder shown: at joe's root, his own file offers Rename, Share and
// Delete; the folder shared with him for reading offers none of them.
func TestWeb_ActionsPerEntry(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"joe@example.com","password":"correct-horse"}}`)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/reports"}`), 201)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:joe-example-com","path":"/shared/reports",
		"permissions":["list","download"],"mount":"reports"}}`), 201)
	b := newWebBrowser(ts)
	b.signIn(t, "joe@example.com", "correct-horse")
	want(t, ts.do(t, "PUT", "/api/files/content?path=/users/joe-example-com/mine.txt", adminKey, "mine"), 201)
	r := b.get(t, "/web/files?path=/")
	mine, shared := rowOf(r.body, "mine.txt"), rowOf(r.body, "reports")
	if mine == "" || shared == "" {
		t.Fatalf("rows missing:\n%s", r.body)
	}
	for _, action := range []string{">Rename<", ">Share<", ">Delete<"} {
		if !strings.Contains(mine, action) {
			t.Errorf("joe's own file does not offer %s", action)
		}
		if strings.Contains(shared, action) {
			t.Errorf("the read-only shared folder offers %s:\n%s", action, shared)
		}
	}
	if !strings.Contains(shared, ">Zip<") {
		t.Error("the shared folder does not offer its zip download")
	}
}

// An administrator's root hides the internal folders until asked, and
// offers no Rename or Delete on a top-level folder, which the browser
// refuses too.
func TestWeb_AdministratorRoot(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"boss@example.com","password":"correct-horse","role":"admin"}}`)
	for _, p := range []string{"/.filedrop-uploads", "/dropzones", "/shared/x"} {
		want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"`+p+`"}`), 201)
	}
	b := newWebBrowser(ts)
	b.signIn(t, "boss@example.com", "correct-horse")
	r := b.get(t, "/web/files?path=/")
	if rowOf(r.body, ".filedrop-uploads") != "" || rowOf(r.body, "dropzones") != "" || !strings.Contains(r.body, `id="show-internal"`) {
		t.Fatalf("internal folders shown, or no way to show them:\n%s", r.body)
	}
	top := rowOf(r.body, "shared")
	if top == "" || strings.Contains(top, ">Delete<") || strings.Contains(top, ">Rename<") {
		t.Fatalf("top-level folder row:\n%s", top)
	}
	r = b.get(t, "/web/files?path=/&internal=1")
	if rowOf(r.body, ".filedrop-uploads") == "" || rowOf(r.body, "dropzones") == "" || !strings.Contains(r.body, `id="hide-internal"`) {
		t.Fatalf("internal folders not shown on request:\n%s", r.body)
	}
	inside := rowOf(b.get(t, "/web/files?path=/shared").body, "x")
	if !strings.Contains(inside, ">Delete<") {
		t.Fatalf("a folder below the top is not offered for deletion:\n%s", inside)
	}
	wantPage(t, b.post(t, "/web/files/delete", url.Values{"path": {"/shared"}}), http.StatusSeeOther, "")
	wantPage(t, b.get(t, "/web/files?path=/"), 200, "top-level folder")
	want(t, ts.do(t, "GET", "/api/files/stat?path=/shared/x", adminKey, ""), 200)
	wantPage(t, b.post(t, "/web/files/rename", url.Values{"from": {"/shared"}, "to": {"/elsewhere"}}), http.StatusSeeOther, "")
	want(t, ts.do(t, "GET", "/api/files/stat?path=/shared", adminKey, ""), 200)
	// The API still can, as the README says.
	want(t, ts.do(t, "DELETE", "/api/files?path=/shared&recursive=true", adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/api/files/stat?path=/shared", adminKey, ""), 404)
}
