package e2e

import (
	"strings"
	"testing"
)

// Every refusal over HTTP names paths as the caller sees them (/partners,
// /archive), never the storage folders behind them (/shared/…).
func TestRefusals_NameClientPaths(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"joe@example.com","quota_mb":1}}`)
	key := u.User.APIKey
	for _, f := range []string{"/shared/partners", "/shared/archive"} {
		want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"`+f+`"}`), 201)
	}
	want(t, ts.do(t, "POST", "/admin/folders", adminKey, `{"folder":{"path":"/shared/partners","allowed_extensions":["csv"]}}`), 201)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:joe-example-com","path":"/shared/partners",
		"permissions":["list","upload"],"mount":"/partners"}}`), 201)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:joe-example-com","path":"/shared/archive",
		"permissions":["list","download"],"mount":"archive"}}`), 201)
	want(t, ts.put(t, key, "/nov.csv", "a,b\n"), 201)

	for _, tc := range []struct {
		r      response
		status int
		msg    string
	}{
		{ts.put(t, key, "/partners/nov.pdf", "%PDF"), 422, "/partners only accepts files ending in .csv."},
		{ts.put(t, key, "/archive/nov.csv", "a,b\n"), 403, "You do not have upload permission on /archive/nov.csv."},
		{ts.do(t, "POST", "/api/folders", key, `{"path":"/archive/2026"}`), 403, "You do not have mkdir permission on /archive/2026."},
		{ts.do(t, "POST", "/api/files/rename", key, `{"from":"/nov.csv","to":"/archive/nov.csv"}`), 403, "You do not have rename permission on /archive/nov.csv."},
		{ts.do(t, "DELETE", "/api/files?path=/partners", key, ""), 403, "/partners"},
		{ts.put(t, key, "/big.csv", strings.Repeat("x", 2<<20)), 507, "does not fit in the quota"},
	} {
		if tc.r.status != tc.status {
			t.Errorf("status %d, want %d: %s", tc.r.status, tc.status, tc.r.body)
			continue
		}
		msg := tc.r.errors(t)[0]
		if !strings.Contains(msg, tc.msg) || strings.Contains(msg, "/shared") || strings.Contains(msg, "/users/") {
			t.Errorf("message %q, want it to say %q and name no storage path", msg, tc.msg)
		}
	}
}
