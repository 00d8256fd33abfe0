package e2e

import (
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"
)

// WebDAV keeps a files session per connection (the user's view and home
// held between requests): two users on one connection each reach only
// their own files, and a home an administrator moves away under the
// connection is seen at the next request.
func TestWebDAV_OneConnection(t *testing.T) {
	d := startDAV(t)
	ts := d.ts
	other := ts.createUser(t, `{"user":{"email":"dav2@example.com","password":"`+ftpPassword+`","protocols":["webdav","api"]}}`)
	var conns atomic.Int32
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1}}
	put := func(login, p, body string) int {
		t.Helper()
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
			if !i.Reused {
				conns.Add(1)
			}
		}}
		r := exchange(t, client, "PUT", d.url(p), strings.NewReader(body), "", func(r *http.Request) {
			r.SetBasicAuth(login, d.password)
			*r = *r.WithContext(httptrace.WithClientTrace(r.Context(), trace))
		})
		return r.status
	}
	if c := put(d.login, "/mine.txt", "first user"); c != 201 {
		t.Fatalf("first user's PUT: %d", c)
	}
	if c := put("dav2@example.com", "/theirs.txt", "second user"); c != 201 {
		t.Fatalf("second user's PUT: %d", c)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("the requests used %d connections, want 1", n)
	}
	stat := func(p string) int { return ts.do(t, "GET", "/api/files/stat?path="+p, adminKey, "").status }
	for p, want := range map[string]int{
		d.user.User.Home + "/mine.txt": 200, d.user.User.Home + "/theirs.txt": 404,
		other.User.Home + "/theirs.txt": 200, other.User.Home + "/mine.txt": 404,
	} {
		if got := stat(p); got != want {
			t.Errorf("%s: %d, want %d", p, got, want)
		}
	}

	want(t, ts.do(t, "POST", "/api/files/rename", adminKey, `{"from":"`+d.user.User.Home+`","to":"`+d.user.User.Home+`-old"}`), 200)
	if c := put(d.login, "/after.txt", "after the move"); c != 201 {
		t.Fatalf("PUT after the home was moved: %d", c)
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("the requests used %d connections, want 1", n)
	}
	if got := stat(d.user.User.Home + "/after.txt"); got != 200 {
		t.Errorf("the PUT after the move is not in the home at its path: %d", got)
	}
	if got := stat(d.user.User.Home + "-old/after.txt"); got != 404 {
		t.Errorf("the PUT after the move went to the folder moved away: %d", got)
	}
}
