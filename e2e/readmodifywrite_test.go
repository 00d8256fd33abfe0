package e2e

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// rmwCase is one resource of the read-modify-write round trips.
type rmwCase struct {
	name       string // the resource's envelope name
	collection string // where it is created ("" for a singleton at path)
	path       string // the singleton's path
	create     string // the create body
	field      string // a field to change …
	put, patch any    // … by a whole-object PUT, then a one-field PATCH
	readOnly   string // a field the server owns
	wrong      any    // and a value it does not have
}

// Every resource: GET, change one field, PUT the whole object back, and a
// GET shows that change and nothing else; a PATCH of one field changes
// that field alone (for automations too, whose PUT replaces the whole);
// a read-only field sent changed is a 422 naming it, and nothing changes.
func TestReadModifyWrite_EveryResource(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"owner@example.com"}}`)
	hook := "http://127.0.0.1:9/hook"
	for _, tc := range []rmwCase{
		{name: "user", collection: "/admin/users", create: `{"user":{"email":"rmw@example.com","password":"correct horse battery"}}`,
			field: "name", put: "Ruth M. Wood", patch: "Ruth Wood", readOnly: "has_password", wrong: false},
		{name: "group", collection: "/admin/groups", create: `{"group":{"name":"Finance"}}`,
			field: "description", put: "Money", patch: "More money", readOnly: "id", wrong: "other"},
		{name: "permission", collection: "/admin/permissions", create: `{"permission":{"subject":"user:owner-example-com","path":"/shared/rmw","permissions":["list"]}}`,
			field: "permissions", put: []any{"download", "list"}, patch: []any{"list", "upload"}, readOnly: "path", wrong: "/shared/other"},
		{name: "folder", collection: "/admin/folders", create: `{"folder":{"path":"/shared/rmw","max_file_size":100}}`,
			field: "retention_days", put: float64(7), patch: float64(30), readOnly: "path", wrong: "/shared/other"},
		{name: "bucket", collection: "/admin/buckets", create: `{"bucket":{"name":"Acme"}}`,
			field: "name", put: "Acme Corp", patch: "Acme Inc", readOnly: "host", wrong: "elsewhere.example.com"},
		{name: "dropzone", collection: "/admin/dropzones", create: `{"gb":1,"days":90}`,
			field: "name", put: "Invoices", patch: "Invoices 2027", readOnly: "used_bytes", wrong: float64(5)},
		{name: "filedrop", collection: "/admin/filedrops", create: `{"filedrop":{"name":"rmw","title":"x","owner":"owner-example-com","password":"open-sesame"}}`,
			field: "title", put: "Returns", patch: "Returns 2027", readOnly: "url", wrong: "http://elsewhere/filedrop/rmw"},
		{name: "webhook", collection: "/admin/webhooks", create: `{"webhook":{"url":"` + hook + `","events":["file.uploaded"],"secret":"0123456789abcdef"}}`,
			field: "active", put: false, patch: true, readOnly: "has_secret", wrong: false},
		{name: "automation", collection: "/admin/automations",
			create: `{"automation":{"name":"notify","trigger":"event","events":["file.uploaded"],"actions":[{"type":"webhook","url":"` + hook + `","secret":"0123456789abcdef"}]}}`,
			field:  "name", put: "notify partners", patch: "notify all", readOnly: "created_at", wrong: "2020-01-01T00:00:00Z"},
		{name: "settings", path: "/admin/settings", field: "allow_bucket_deletion", put: false, patch: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := tc.path
			if tc.collection != "" {
				r := ts.do(t, "POST", tc.collection, adminKey, tc.create)
				want(t, r, 201)
				id := ts.field(t, r, tc.name, "id")
				path = tc.collection + "/" + id.(string)
			}
			before := ts.object(t, path, tc.name)

			sent := clone(before)
			sent[tc.field] = tc.put
			body, _ := json.Marshal(map[string]any{tc.name: sent})
			want(t, ts.do(t, "PUT", path, adminKey, string(body)), 200)
			after := ts.object(t, path, tc.name)
			sameBut(t, "PUT", before, after, tc.field, tc.put)

			body, _ = json.Marshal(map[string]any{tc.field: tc.patch})
			want(t, ts.do(t, "PATCH", path, adminKey, string(body)), 200)
			patched := ts.object(t, path, tc.name)
			sameBut(t, "PATCH", after, patched, tc.field, tc.patch)

			if tc.readOnly == "" {
				return
			}
			sent = clone(patched)
			sent[tc.field], sent[tc.readOnly] = tc.put, tc.wrong
			body, _ = json.Marshal(map[string]any{tc.name: sent})
			r := ts.do(t, "PUT", path, adminKey, string(body))
			want(t, r, 422)
			if msg := r.errors(t)[0]; !strings.HasPrefix(msg, tc.readOnly+" is read-only") {
				t.Errorf("changing %s: %q, want a message naming it", tc.readOnly, msg)
			}
			if now := ts.object(t, path, tc.name); !reflect.DeepEqual(now, patched) {
				t.Errorf("a refused PUT changed the %s:\n%v\nwas\n%v", tc.name, now, patched)
			}
			// An unknown field is still refused by name.
			sent = clone(patched)
			sent["colour"] = "red"
			body, _ = json.Marshal(map[string]any{tc.name: sent})
			r = ts.do(t, "PUT", path, adminKey, string(body))
			want(t, r, 422)
			if msg := r.errors(t)[0]; !strings.Contains(msg, "colour") {
				t.Errorf("unknown field: %q", msg)
			}
		})
	}
}

// object GETs path and returns the object in its envelope.
func (ts *testServer) object(tb testing.TB, path, name string) map[string]any {
	tb.Helper()
	r := ts.do(tb, "GET", path, adminKey, "")
	want(tb, r, 200)
	var got map[string]map[string]any
	r.json(tb, &got)
	if got[name] == nil {
		tb.Fatalf("GET %s: no %q in %s", path, name, r.body)
	}
	return got[name]
}

// field returns one field of the object an answer carries.
func (ts *testServer) field(tb testing.TB, r response, name, field string) any {
	tb.Helper()
	var got map[string]map[string]any
	r.json(tb, &got)
	return got[name][field]
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sameBut fails unless after is before with field set to v (and a new
// updated_at).
func sameBut(tb testing.TB, how string, before, after map[string]any, field string, v any) {
	tb.Helper()
	if !reflect.DeepEqual(after[field], v) {
		tb.Errorf("%s: %s = %v, want %v", how, field, after[field], v)
	}
	for k, was := range before {
		if k != field && k != "updated_at" && !reflect.DeepEqual(after[k], was) {
			tb.Errorf("%s of %s also changed %s: %v, was %v", how, field, k, after[k], was)
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			tb.Errorf("%s of %s added %s = %v", how, field, k, after[k])
		}
	}
}
