package e2e

import (
	"strings"
	"testing"
)

func TestGroups_CRUD(t *testing.T) {
	ts := MustOpenServer(t)
	r := ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Sales Team","description":"EMEA sales"}}`)
	want(t, r, 201)
	if !strings.Contains(r.body, `"id":"sales-team"`) {
		t.Fatalf("create: %s", r.body)
	}
	u := ts.createUser(t, `{"user":{"email":"m@example.com","groups":["sales-team"]}}`)
	if len(u.User.Groups) != 1 {
		t.Fatalf("member groups %v", u.User.Groups)
	}
	r = ts.do(t, "GET", "/admin/users?group=sales-team", adminKey, "")
	if !strings.Contains(r.body, "m-example-com") {
		t.Fatalf("filter by group: %s", r.body)
	}

	r = ts.do(t, "PUT", "/admin/groups/sales-team", adminKey, `{"group":{"description":"Global"}}`)
	want(t, r, 200)
	if !strings.Contains(r.body, `"name":"Sales Team"`) || !strings.Contains(r.body, `"description":"Global"`) {
		t.Fatalf("partial update: %s", r.body)
	}
	r = ts.do(t, "GET", "/admin/groups", adminKey, "")
	want(t, r, 200)
	if !strings.HasPrefix(r.body, `[{"group":{"id":"sales-team"`) {
		t.Fatalf("list: %s", r.body)
	}
	want(t, ts.do(t, "GET", "/admin/groups/sales-team", adminKey, ""), 200)

	for name, tc := range map[string]struct {
		method, path, body string
		status             int
	}{
		"duplicate":      {"POST", "/admin/groups", `{"group":{"name":"sales team"}}`, 422},
		"missing name":   {"POST", "/admin/groups", `{"group":{"description":"x"}}`, 422},
		"no letters":     {"POST", "/admin/groups", `{"group":{"name":"!!!"}}`, 422},
		"unknown field":  {"POST", "/admin/groups", `{"group":{"name":"x","members":[]}}`, 422},
		"wrong type":     {"POST", "/admin/groups", `{"group":{"name":5}}`, 422},
		"malformed":      {"POST", "/admin/groups", `{`, 400},
		"view unknown":   {"GET", "/admin/groups/nope", "", 404},
		"update unknown": {"PUT", "/admin/groups/nope", `{"group":{"name":"x"}}`, 404},
		"empty name":     {"PUT", "/admin/groups/sales-team", `{"group":{"name":""}}`, 422},
		"delete unknown": {"DELETE", "/admin/groups/nope", "", 404},
	} {
		t.Run(name, func(t *testing.T) {
			r := ts.do(t, tc.method, tc.path, adminKey, tc.body)
			want(t, r, tc.status)
			r.errors(t)
		})
	}

	want(t, ts.do(t, "DELETE", "/admin/groups/sales-team", adminKey, ""), 200)
	r = ts.do(t, "GET", "/admin/users/m-example-com", adminKey, "")
	if !strings.Contains(r.body, `"groups":[]`) {
		t.Fatalf("member still in the deleted group: %s", r.body)
	}
}
