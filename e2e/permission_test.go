package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// Each permission granted alone allows exactly its operation on a mounted
// folder, and nothing else.
func TestPermissions_Matrix(t *testing.T) {
	ts := MustOpenServer(t)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared"}`), 201)
	ops := map[string]func(key string) response{
		"list":      func(k string) response { return ts.do(t, "GET", "/api/files?path=/s", k, "") },
		"download":  func(k string) response { return ts.do(t, "GET", "/api/files/content?path=/s/a.txt", k, "") },
		"upload":    func(k string) response { return ts.put(t, k, "/s/new.txt", "new", "overwrite=false") },
		"overwrite": func(k string) response { return ts.put(t, k, "/s/a.txt", "changed") },
		"delete":    func(k string) response { return ts.do(t, "DELETE", "/api/files?path=/s/b.txt", k, "") },
		"rename": func(k string) response {
			return ts.do(t, "POST", "/api/files/rename", k, `{"from":"/s/c.txt","to":"/s/d.txt"}`)
		},
		"mkdir": func(k string) response { return ts.do(t, "POST", "/api/folders", k, `{"path":"/s/dir"}`) },
	}
	for granted := range ops {
		t.Run(granted, func(t *testing.T) {
			for _, f := range []string{"a.txt", "b.txt", "c.txt"} {
				want(t, ts.put(t, adminKey, "/shared/"+f, f), 201)
			}
			ts.do(t, "DELETE", "/api/files?path=/shared/new.txt", adminKey, "")
			ts.do(t, "DELETE", "/api/files?path=/shared/d.txt", adminKey, "")
			ts.do(t, "DELETE", "/api/files?path=/shared/dir", adminKey, "")
			u := ts.createUser(t, fmt.Sprintf(`{"user":{"email":"%s@example.com"}}`, granted))
			perms := `["` + granted + `"]`
			if granted == "overwrite" {
				perms = `["upload","overwrite"]` // overwriting is an upload that replaces
			}
			r := ts.do(t, "POST", "/admin/permissions", adminKey, fmt.Sprintf(
				`{"permission":{"subject":"user:%s","path":"/shared","permissions":%s,"mount":"s"}}`, u.User.ID, perms))
			want(t, r, 201)
			for op, do := range ops {
				r := do(u.User.APIKey)
				allowed := op == granted || granted == "overwrite" && op == "upload"
				if allowed && r.status >= 300 {
					t.Errorf("granted %s: %s refused: %d %s", granted, op, r.status, r.body)
				}
				if !allowed && r.status != 403 {
					t.Errorf("granted %s: %s answered %d, want 403: %s", granted, op, r.status, r.body)
				}
			}
		})
	}
}

func TestPermissions_API(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"p@example.com"}}`)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Ops"}}`), 201)
	r := ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"group:ops","path":"/teams/ops","permissions":["list","download"],"mount":"ops"}}`)
	want(t, r, 201)
	var got struct {
		Permission struct{ ID string } `json:"permission"`
	}
	r.json(t, &got)
	if !strings.HasPrefix(got.Permission.ID, "perm_") {
		t.Fatalf("id %q", got.Permission.ID)
	}
	id := got.Permission.ID
	want(t, ts.do(t, "GET", "/admin/permissions/"+id, adminKey, ""), 200)
	r = ts.do(t, "PUT", "/admin/permissions/"+id, adminKey, `{"permission":{"permissions":["list"]}}`)
	want(t, r, 200)
	if !strings.Contains(r.body, `"permissions":["list"]`) {
		t.Fatalf("update %s", r.body)
	}
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
	}{
		"bad subject":     {"POST", "/admin/permissions", `{"subject":"everyone","path":"/x","permissions":["list"]}`, 422},
		"unknown user":    {"POST", "/admin/permissions", `{"subject":"user:ghost","path":"/x","permissions":["list"]}`, 422},
		"bad permission":  {"POST", "/admin/permissions", `{"subject":"user:p-example-com","path":"/x","permissions":["root"]}`, 422},
		"no permissions":  {"POST", "/admin/permissions", `{"subject":"user:p-example-com","path":"/x","permissions":[]}`, 422},
		"hostile path":    {"POST", "/admin/permissions", `{"subject":"user:p-example-com","path":"/x/../..","permissions":["list"]}`, 422},
		"slash in mount":  {"POST", "/admin/permissions", `{"subject":"user:p-example-com","path":"/x","permissions":["list"],"mount":"a/b"}`, 422},
		"duplicate path":  {"POST", "/admin/permissions", `{"subject":"group:ops","path":"/teams/ops","permissions":["list"]}`, 422},
		"duplicate mount": {"POST", "/admin/permissions", `{"subject":"group:ops","path":"/teams/b","permissions":["list"],"mount":"ops"}`, 422},
		"change subject":  {"PUT", "/admin/permissions/" + id, `{"subject":"group:x"}`, 422},
		"unknown id":      {"GET", "/admin/permissions/perm_nope", "", 404},
		"list":            {"GET", "/admin/permissions", "", 200},
	} {
		t.Run(name, func(t *testing.T) {
			r := ts.do(t, tc.method, tc.path, adminKey, tc.body)
			want(t, r, tc.status)
		})
	}
	want(t, ts.do(t, "DELETE", "/admin/permissions/"+id, adminKey, ""), 200)
	want(t, ts.do(t, "DELETE", "/admin/permissions/"+id, adminKey, ""), 404)
}

// An explicit rule inside the home replaces what it would inherit.
func TestPermissions_RuleInsideHomeRestricts(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"r@example.com"}}`)
	key := u.User.APIKey
	want(t, ts.do(t, "POST", "/api/folders", key, `{"path":"/archive"}`), 201)
	want(t, ts.put(t, key, "/archive/old.txt", "old"), 201)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey,
		`{"subject":"user:r-example-com","path":"/users/r-example-com/archive","permissions":["list","download"]}`), 201)
	want(t, ts.do(t, "GET", "/api/files/content?path=/archive/old.txt", key, ""), 200)
	want(t, ts.do(t, "DELETE", "/api/files?path=/archive/old.txt", key, ""), 403)
	want(t, ts.put(t, key, "/archive/new.txt", "x"), 403)
	want(t, ts.put(t, key, "/elsewhere.txt", "x"), 201)
}

// A mount given as a path (/partners) is the folder name partners; "/"
// alone names no folder and is refused.
func TestPermissions_MountWithSlash(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"m@example.com"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/partners"}`), 201)
	r := ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:`+u.ID+`","path":"/shared/partners","permissions":["list"],"mount":"/partners"}}`)
	want(t, r, 201)
	if !strings.Contains(r.body, `"mount":"partners"`) {
		t.Fatalf("created %s", r.body)
	}
	r = ts.do(t, "GET", "/api/files?path=/", u.APIKey, "")
	if !strings.Contains(r.body, `"name":"partners"`) {
		t.Fatalf("the mount is not in the tree: %s", r.body)
	}
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:`+u.ID+`","path":"/shared","permissions":["list"],"mount":"/"}}`), 422)
}
