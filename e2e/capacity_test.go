package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"depot/app"
)

// wantBusy fails unless r is a 503 with Retry-After and a message that
// names the setting.
func wantBusy(tb testing.TB, r response, setting string) {
	tb.Helper()
	want(tb, r, 503)
	if r.header.Get("Retry-After") == "" {
		tb.Errorf("503 without Retry-After: %v", r.header)
	}
	if msg := r.errors(tb)[0]; !strings.Contains(msg, setting) {
		tb.Errorf("message %q does not name %s", msg, setting)
	}
}

// With http.max_uploads uploads in progress, one more on any upload route
// is a 503 with Retry-After before a byte is read, and is kept nowhere;
// once a slot is free the same upload goes through.
func TestCapacity_UploadsBeyondMaxUploads(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.MaxUploads = 1 })
	u := ts.createUser(t, `{"user":{"email":"joe@example.com"}}`)
	key := u.User.APIKey

	// The only slot: an upload whose body is still arriving.
	slow := slowUpload(t, "PUT", ts.URL()+"/api/files/content?path=/slow.bin", key)
	r := ts.put(t, key, "/second.csv", "a,b\n")
	wantBusy(t, r, "http.max_uploads")
	if got := ts.do(t, "GET", "/api/files/stat?path=/second.csv", key, ""); got.status != 404 {
		t.Fatalf("a refused upload left a file: %d %s", got.status, got.body)
	}
	// Other upload roads share the limit: a link that takes uploads.
	want(t, ts.do(t, "POST", "/api/folders", key, `{"path":"/inbox"}`), 201)
	l := ts.createLink(t, key, `{"link":{"path":"/inbox","allow_upload":true}}`)
	r = ts.doWith(t, "POST", "/s/"+l.Link.ID+"/upload?filename=x.csv", "a,b\n", nil)
	wantBusy(t, r, "http.max_uploads")
	// Requests that upload nothing are not held back.
	want(t, ts.do(t, "GET", "/api/files?path=/", key, ""), 200)

	if first := slow(); first.status != 201 {
		t.Fatalf("the slow upload: %d %s", first.status, first.body)
	}
	want(t, ts.put(t, key, "/second.csv", "a,b\n"), 201)
}

// Runs that an API call asks for wait at most automation.max_queued deep:
// beyond it POST …/run is a 503 with Retry-After and queues nothing.
func TestCapacity_AutomationQueueFull(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.Engine.Workers, a.Engine.MaxQueued = 1, 1 })
	arrived, release := make(chan struct{}, 10), make(chan struct{})
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	defer hook.Close()
	defer close(release)
	id := ts.createAutomation(t, `{"automation":{"name":"slow","trigger":"manual","actions":[{"type":"webhook","url":"`+hook.URL+`"}]}}`)
	run := "/admin/automations/" + id + "/run"

	want(t, ts.do(t, "POST", run, adminKey, ""), 202)
	<-arrived // the only worker is busy with the first run
	want(t, ts.do(t, "POST", run, adminKey, ""), 202)
	wantBusy(t, ts.do(t, "POST", run, adminKey, ""), "automation.max_queued")
	if n := len(ts.runs(t, id)); n != 2 {
		t.Fatalf("%d runs stored, want 2: the refused one is not queued", n)
	}
	release <- struct{}{}
	<-arrived // the second run took the worker; the queue is empty again
	want(t, ts.do(t, "POST", run, adminKey, ""), 202)
}

// slowUpload starts an upload whose body keeps arriving until the
// returned finish is called, once 32 MiB went in (more than any socket
// buffers: the server is reading it, in a slot); finish returns its answer.
func slowUpload(t *testing.T, method, url, key string) (finish func() response) {
	t.Helper()
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(method, url, pr)
	if key != "" {
		req.SetBasicAuth(key, "x")
	}
	done := make(chan response, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- response{}
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		done <- response{status: resp.StatusCode, body: string(body)}
	}()
	chunk := make([]byte, 8<<20)
	for range 4 {
		if _, err := pw.Write(chunk); err != nil {
			t.Fatalf("the slow upload ended early: %v %+v", err, <-done)
		}
	}
	return func() response { pw.Close(); return <-done }
}

// Uploads from public pages (filedrops, upload links, dropzone URLs) take
// at most half of http.max_uploads together: slow anonymous uploads never
// take the last slot from an administrator. Found by hardening II: 500
// filedrop uploads at 1 byte / 5 s answered an administrator's PUT with
// 503 for 66 s.
func TestCapacity_AnonymousUploadsShare(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.MaxUploads = 4 })
	key := ts.createUser(t, `{"user":{"email":"joe@example.com"}}`).User.APIKey
	want(t, ts.do(t, "POST", "/api/folders", key, `{"path":"/inbox"}`), 201)
	l := ts.createLink(t, key, `{"link":{"path":"/inbox","allow_upload":true}}`).Link
	first := slowUpload(t, "POST", ts.URL()+"/s/"+l.ID+"/upload?filename=a.bin", "")
	second := slowUpload(t, "POST", ts.URL()+"/s/"+l.ID+"/upload?filename=b.bin", "")
	wantBusy(t, ts.doWith(t, "POST", "/s/"+l.ID+"/upload?filename=c.bin", "x", nil), "half of http.max_uploads")
	// The filedrop page shares the anonymous half.
	u := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"D","owner":"`+u.ID+`"}}`), 201)
	_, s := ts.openFiledrop(t, "drop", "")
	wantBusy(t, s.upload(t, "filename=d.txt", "x"), "half of http.max_uploads")
	// Authenticated users still have their slots.
	want(t, ts.put(t, key, "/mine.csv", "a,b\n"), 201)
	want(t, ts.put(t, adminKey, "/admin.csv", "a,b\n"), 201)
	for _, f := range []func() response{first, second} {
		if r := f(); r.status != 201 {
			t.Errorf("a slow anonymous upload: %d %s", r.status, r.body)
		}
	}
	want(t, ts.doWith(t, "POST", "/s/"+l.ID+"/upload?filename=c.bin", "x", nil), 201)
}
