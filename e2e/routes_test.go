package e2e

import (
	"strings"
	"testing"
)

// A wrong method on a known path answers 405 with the methods it takes in
// Allow, for every route family, with or without credentials; an unknown
// path is still 404.
func TestWrongMethod405(t *testing.T) {
	ts := MustOpenServer(t)
	for _, tc := range []struct{ method, path, allow string }{
		{"POST", "/healthz", "GET"},
		{"GET", "/api/login", "POST"},
		{"PATCH", "/admin/users", "GET, POST"},
		{"POST", "/admin/users/x", "DELETE"},
		{"POST", "/admin/groups/x", "PATCH"},
		{"DELETE", "/admin/permissions", "POST"},
		{"PUT", "/admin/folders", "GET"},
		{"POST", "/admin/buckets/x", "PATCH"},
		{"POST", "/admin/settings", "PATCH"},
		{"POST", "/admin/filedrops/Partner-Drop", "PUT"},
		{"POST", "/admin/dropzones/x", "DELETE"},
		{"POST", "/admin/automations/x", "PATCH"},
		{"GET", "/admin/automations/x/run", "POST"},
		{"POST", "/admin/webhooks/x", "PUT"},
		{"POST", "/admin/audit", "GET"},
		{"GET", "/admin/bans/1.2.3.4", "DELETE"},
		{"POST", "/api/files", "DELETE"},
		{"POST", "/api/files/content", "PUT"},
		{"PUT", "/api/links", "POST"},
		{"DELETE", "/api/messages", "GET"},
		{"DELETE", "/filedrop/x", "POST"},
		{"PUT", "/api/dropzones/x/files", "POST"},
		{"DELETE", "/s/x", "GET"},
		{"GET", "/api/automations/x/trigger", "POST"},
	} {
		for _, key := range []string{adminKey, ""} {
			r := ts.do(t, tc.method, tc.path, key, "")
			if r.status != 405 {
				t.Errorf("%s %s (key %q): %d %s, want 405", tc.method, tc.path, key, r.status, r.body)
				continue
			}
			if allow := r.header.Get("Allow"); !strings.Contains(allow, tc.allow) || strings.Contains(allow, tc.method+",") {
				t.Errorf("%s %s: Allow %q, want it to list %s and not %s", tc.method, tc.path, allow, tc.allow, tc.method)
			}
			if msg := r.errors(t)[0]; !strings.Contains(msg, tc.path) || !strings.Contains(msg, tc.method) {
				t.Errorf("%s %s: message %q does not name the path and method", tc.method, tc.path, msg)
			}
		}
	}
	want(t, ts.do(t, "GET", "/admin/nope", adminKey, ""), 404)
	want(t, ts.do(t, "GET", "/api/nope", "", ""), 404)
}
