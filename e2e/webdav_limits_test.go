package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"depot/app"
)

// A WebDAV PUT takes one of http.max_uploads slots like the API's
// uploads: beyond them it is a 503 with Retry-After, and stores nothing.
func TestWebDAV_MaxUploads(t *testing.T) {
	d := startDAV(t, func(a *app.App) { a.HTTP.MaxUploads = 1 })
	key := d.user.User.APIKey
	slow := slowUpload(t, "PUT", d.url("/slow.bin"), key)
	r := d.req(t, "PUT", "/second.csv", "a,b\n")
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "http.max_uploads") {
		t.Fatalf("a PUT beyond the slots: %d %v %s", r.status, r.header, r.body)
	}
	wantBusy(t, d.ts.put(t, key, "/third.csv", "a,b\n"), "http.max_uploads") // the API shares them
	want(t, d.req(t, "PROPFIND", "/", "", "Depth", "1"), 207)                // not an upload
	if first := slow(); first.status != 201 {
		t.Fatalf("the slow PUT: %d %s", first.status, first.body)
	}
	want(t, d.req(t, "GET", "/second.csv", ""), 404)
	want(t, d.req(t, "PUT", "/second.csv", "a,b\n"), 201)
}

// A WebDAV PUT slower than http.min_upload_rate is cut off and leaves
// nothing.
func TestWebDAV_MinUploadRate(t *testing.T) {
	d := startDAV(t, func(a *app.App) { a.HTTP.MinUploadRate, a.HTTP.MinUploadWindow = 1000, 500*time.Millisecond })
	u, _ := url.Parse(d.url("/trickle.bin"))
	u.User = url.UserPassword(d.login, d.password)
	// 40 bytes at 20 per second would complete (201) if never cut off.
	status, msg := putStream(t, u.String(), &trickle{left: 40, interval: 50 * time.Millisecond})
	if status != 400 && status != 0 {
		t.Fatalf("a trickle was accepted: %d %s", status, msg)
	}
	if status == 400 && !strings.Contains(msg, "slower than 1000 bytes per second") {
		t.Fatalf("message %s", msg)
	}
	want(t, d.req(t, "GET", "/trickle.bin", ""), 404)
	if left := d.ts.stagingFiles(t); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
	if status, msg := putStream(t, u.String(), strings.NewReader(strings.Repeat("x", 40))); status != 201 {
		t.Fatalf("a PUT at speed: %d %s", status, msg)
	}
}
