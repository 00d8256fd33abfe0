package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type linkBody struct {
	Link struct {
		ID           string `json:"id"`
		URL          string `json:"url"`
		Path         string `json:"path"`
		Folder       bool   `json:"folder"`
		HasPassword  bool   `json:"has_password"`
		MaxDownloads int    `json:"max_downloads"`
		Downloads    int    `json:"downloads"`
		AllowUpload  bool   `json:"allow_upload"`
	} `json:"link"`
}

func (ts *testServer) createLink(tb testing.TB, key, body string) linkBody {
	tb.Helper()
	r := ts.do(tb, "POST", "/api/links", key, body)
	want(tb, r, 201)
	var l linkBody
	r.json(tb, &l)
	return l
}

// get fetches a public URL, with a password as basic auth if set.
func (ts *testServer) get(tb testing.TB, path, password string) response {
	tb.Helper()
	return ts.doWith(tb, "GET", path, "", func(r *http.Request) {
		if password != "" {
			r.SetBasicAuth("link", password)
		}
	})
}

func TestLinks_PasswordExpiryAndPermissions(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"sharer@example.com","name":"Sam Sharer"}}`).User
	other := ts.createUser(t, `{"user":{"email":"other@example.com"}}`).User
	want(t, ts.do(t, "PUT", "/api/files/content?path=/report.pdf", u.APIKey, "the report"), 201)
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/pack"}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/pack/a.txt", u.APIKey, "file a"), 201)

	l := ts.createLink(t, u.APIKey, `{"link":{"path":"/report.pdf","password":"open-sesame","max_downloads":5}}`).Link
	if len(l.ID) < 20 || l.URL != ts.URL()+"/s/"+l.ID || !l.HasPassword || l.Folder {
		t.Fatalf("link %+v", l)
	}
	// Refusals.
	for _, body := range []string{
		`{"link":{}}`, `{"link":{"path":"/nope.pdf"}}`, `{"link":{"path":"/report.pdf","max_downloads":-1}}`,
		`{"link":{"path":"/report.pdf","expires_at":"2001-01-01T00:00:00Z"}}`, `{"link":{"path":"/report.pdf","password":"short"}}`,
		`{"link":{"path":"/report.pdf","allow_upload":true}}`, `{"link":{"path":"/../../etc/passwd"}}`,
	} {
		r := ts.do(t, "POST", "/api/links", u.APIKey, body)
		if r.status < 400 || r.status >= 500 {
			t.Fatalf("%s: %d %s", body, r.status, r.body)
		}
	}
	// Another user cannot share what they cannot reach (no share permission on it).
	r := ts.do(t, "POST", "/api/links", other.APIKey, `{"link":{"path":"/../`+u.ID+`/report.pdf"}}`)
	if r.status < 400 {
		t.Fatalf("a user shared another's file: %s", r.body)
	}

	// The page asks for the password; downloads need it.
	r = ts.get(t, "/s/"+l.ID, "")
	want(t, r, 200)
	if !strings.Contains(r.body, "report.pdf") || !strings.Contains(r.body, `name="password"`) || !strings.Contains(r.body, "Sam Sharer") {
		t.Fatalf("page: %s", r.body)
	}
	want(t, ts.get(t, "/s/"+l.ID+"/download", ""), 401)
	want(t, ts.get(t, "/s/"+l.ID+"/download", "wrong-password"), 401)
	r = ts.get(t, "/s/"+l.ID+"/download", "open-sesame")
	want(t, r, 200)
	if r.body != "the report" {
		t.Fatalf("download %q", r.body)
	}
	// The browser's form post works the same, and a wrong password shows the page again.
	form := func(pw string) response {
		return ts.doWith(t, "POST", "/s/"+l.ID+"/download", url.Values{"password": {pw}}.Encode(), func(r *http.Request) {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		})
	}
	if r := form("open-sesame"); r.status != 200 || r.body != "the report" {
		t.Fatalf("form download: %d %q", r.status, r.body)
	}
	if r := form("nope-nope"); r.status != 401 || !strings.Contains(r.body, "not right") {
		t.Fatalf("wrong form password: %d %s", r.status, r.body)
	}

	// A folder link lists its files and serves ?file=.
	fl := ts.createLink(t, u.APIKey, `{"link":{"path":"/pack","expires_at":"`+time.Now().Add(time.Hour).UTC().Format(time.RFC3339)+`"}}`).Link
	r = ts.get(t, "/s/"+fl.ID, "")
	if !strings.Contains(r.body, "a.txt") {
		t.Fatalf("folder page: %s", r.body)
	}
	r = ts.get(t, "/s/"+fl.ID+"/download?file=a.txt", "")
	want(t, r, 200)
	if r.body != "file a" {
		t.Fatalf("folder download %q", r.body)
	}
	for _, f := range []string{"", "../report.pdf", "..", "sub/x", "missing.txt"} {
		if r := ts.get(t, "/s/"+fl.ID+"/download?file="+url.QueryEscape(f), ""); r.status == 200 {
			t.Fatalf("file %q served", f)
		}
	}
	// Expiry: 410 for the page and downloads.
	ts.app.Links.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	want(t, ts.get(t, "/s/"+fl.ID, ""), 410)
	want(t, ts.get(t, "/s/"+fl.ID+"/download?file=a.txt", ""), 410)
	ts.app.Links.Now = time.Now

	// Lists, deletion.
	r = ts.do(t, "GET", "/api/links", u.APIKey, "")
	var mine []linkBody
	r.json(t, &mine)
	if len(mine) != 2 || mine[0].Link.Downloads+mine[1].Link.Downloads != 3 {
		t.Fatalf("my links: %s", r.body)
	}
	r = ts.do(t, "GET", "/api/links", other.APIKey, "")
	if strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("other's links: %s", r.body)
	}
	want(t, ts.do(t, "GET", "/admin/links", adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/links", u.APIKey, ""), 403)
	want(t, ts.do(t, "DELETE", "/api/links/"+l.ID, other.APIKey, ""), 404)
	want(t, ts.do(t, "DELETE", "/api/links/"+l.ID, u.APIKey, ""), 200)
	want(t, ts.get(t, "/s/"+l.ID, ""), 404)
	want(t, ts.get(t, "/s/not-a-link", ""), 404)
}

// Concurrent downloads never exceed max_downloads.
func TestLinks_ConcurrentDownloadLimit(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"sharer@example.com"}}`).User
	want(t, ts.do(t, "PUT", "/api/files/content?path=/hot.bin", u.APIKey, strings.Repeat("h", 64<<10)), 201)
	l := ts.createLink(t, u.APIKey, `{"link":{"path":"/hot.bin","max_downloads":7}}`).Link
	var ok, gone atomic.Int32
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			r := ts.get(t, "/s/"+l.ID+"/download", "")
			switch {
			case r.status == 200 && len(r.body) == 64<<10:
				ok.Add(1)
			case r.status == 410:
				gone.Add(1)
			default:
				t.Errorf("download: %d", r.status)
			}
		})
	}
	wg.Wait()
	if ok.Load() != 7 || gone.Load() != 33 {
		t.Fatalf("%d downloads and %d refusals, want 7 and 33", ok.Load(), gone.Load())
	}
	want(t, ts.get(t, "/s/"+l.ID, ""), 410)
	ts.audit.Flush()
	r := ts.do(t, "GET", "/admin/audit?event=link.downloaded", adminKey, "")
	if n := strings.Count(r.body, `"link.downloaded"`); n != 7 {
		t.Fatalf("%d link.downloaded events, want 7", n)
	}
	r = ts.do(t, "GET", "/admin/audit?event=file.downloaded", adminKey, "")
	if n := strings.Count(r.body, `"file.downloaded"`); n != 7 {
		t.Fatalf("%d file.downloaded events, want 7 (refused downloads are not recorded)", n)
	}
}

// An upload link takes files into its folder as its creator, with the
// password; it does not serve downloads.
func TestLinks_Upload(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"collector@example.com","quota_mb":1}}`).User
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/inbox"}`), 201)
	l := ts.createLink(t, u.APIKey, `{"link":{"path":"/inbox","allow_upload":true,"password":"drop-it-here"}}`).Link
	up := func(q, body, pw string) response {
		return ts.doWith(t, "POST", "/s/"+l.ID+"/upload?"+q, body, func(r *http.Request) {
			if pw != "" {
				r.SetBasicAuth("link", pw)
			}
		})
	}
	want(t, up("filename=a.txt", "x", ""), 401)
	want(t, up("filename=../a.txt", "x", "drop-it-here"), 400)
	want(t, up("filename=b.txt&chunk=1&chunks=2", "second", "drop-it-here"), 202)
	r := up("filename=b.txt&chunk=0&chunks=2", "first-", "drop-it-here")
	want(t, r, 201)
	want(t, up("filename=b.txt", "again", "drop-it-here"), 409) // never replaces
	want(t, up("filename=big.bin", strings.Repeat("q", 2<<20), "drop-it-here"), 507)
	r = ts.do(t, "GET", "/api/files/content?path=/inbox/b.txt", u.APIKey, "")
	if r.body != "first-second" {
		t.Fatalf("uploaded %q", r.body)
	}
	want(t, ts.get(t, "/s/"+l.ID+"/download?file=b.txt", "drop-it-here"), 403)
	r = ts.get(t, "/s/"+l.ID, "")
	if !strings.Contains(r.body, `data-mode="link"`) || !strings.Contains(r.body, "filedrop.js") {
		t.Fatalf("upload page: %s", r.body)
	}
}

// An upload link on a mounted folder uploads through the mount.
func TestLinks_UploadIntoMount(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"teamlead@example.com"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/partners"}`), 201)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:`+u.ID+`","path":"/shared/partners",
		"permissions":["list","upload","download","share"],"mount":"partners"}}`), 201)
	l := ts.createLink(t, u.APIKey, `{"link":{"path":"/partners","allow_upload":true}}`).Link
	if l.Path != "/shared/partners" {
		t.Fatalf("link path %q", l.Path)
	}
	r := ts.doWith(t, "POST", "/s/"+l.ID+"/upload?filename=drop.txt", "via the mount", nil)
	want(t, r, 201)
	r = ts.do(t, "GET", "/api/files/content?path=/shared/partners/drop.txt", adminKey, "")
	if r.status != 200 || r.body != "via the mount" {
		t.Fatalf("uploaded: %d %q", r.status, r.body)
	}
	dl := ts.createLink(t, u.APIKey, `{"link":{"path":"/partners"}}`).Link
	if r := ts.get(t, "/s/"+dl.ID+"/download?file=drop.txt", ""); r.status != 200 || r.body != "via the mount" {
		t.Fatalf("download through the mount: %d %q", r.status, r.body)
	}
	// Without the permission any more, the links stop taking and serving files.
	r = ts.do(t, "GET", "/admin/permissions", adminKey, "")
	var perms []struct{ Permission struct{ ID string } }
	r.json(t, &perms)
	for _, p := range perms {
		want(t, ts.do(t, "DELETE", "/admin/permissions/"+p.Permission.ID, adminKey, ""), 200)
	}
	if r := ts.doWith(t, "POST", "/s/"+l.ID+"/upload?filename=late.txt", "x", nil); r.status < 400 || r.status >= 500 {
		t.Fatalf("upload after the permission went: %d %s", r.status, r.body)
	}
	want(t, ts.get(t, "/s/"+dl.ID, ""), 410)
	if r := ts.get(t, "/s/"+dl.ID+"/download?file=drop.txt", ""); r.status < 400 || r.status >= 500 {
		t.Fatalf("download after the permission went: %d %s", r.status, r.body)
	}
}
