package e2e

import (
	"depot/app"
	"depot/mft"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// jsonEndpoint is one JSON endpoint with a body it accepts.
type jsonEndpoint struct {
	method, path, key string
	// body is a valid request; {n} is replaced by a number unique to each
	// request, so that names and emails do not collide.
	body string
}

// hostileValues replace one field at a time: null, wrong types, empty
// and extreme values.
var hostileValues = []any{nil, "", 0, -1, 1e300, -9223372036854775808, true, []any{}, map[string]any{}, []any{nil},
	"\x00", strings.Repeat("x", 5000), "../../etc/passwd", "\u202egpj.exe"}

// variants returns body with each field, at every depth, replaced by each
// hostile value, and with each field removed.
func variants(body string) []string {
	var root any
	if err := json.Unmarshal([]byte(body), &root); err != nil {
		panic(body + ": " + err.Error())
	}
	var out []string
	var walk func(node any, set func(any), del func())
	emit := func() {
		b, _ := json.Marshal(root)
		out = append(out, string(b))
	}
	walk = func(node any, set func(any), del func()) {
		if set != nil {
			for _, v := range hostileValues {
				set(v)
				emit()
			}
			set(node)
		}
		if del != nil {
			del()
			emit()
			set(node)
		}
		switch n := node.(type) {
		case map[string]any:
			for k, v := range n {
				walk(v, func(x any) { n[k] = x }, func() { delete(n, k) })
			}
		case []any:
			for i, v := range n {
				walk(v, func(x any) { n[i] = x }, nil)
			}
		}
	}
	walk(root, nil, nil)
	return out
}

// Every JSON endpoint answers 4xx with a message, never 500, to null,
// wrong types, empty and extreme values in every field, and to missing
// fields. Found by the hardening review: "expires_at":null on a link was a
// nil-pointer panic.
func TestHostileJSON(t *testing.T) {
	// Wrong passwords and tokens are part of the walk: no bans here.
	ts := MustOpenServer(t, func(a *app.App) { a.Auth.Defender = nil })
	joe := ts.createUser(t, `{"user":{"email":"joe@example.com","password":"correct-horse"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", joe.APIKey, `{"path":"/in"}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/in/a.txt", joe.APIKey, "a"), 201)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Partners"}}`), 201)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared"}`), 201)
	var perm struct{ Permission struct{ ID string } }
	r := ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"group:partners","path":"/shared","permissions":["list"]}}`)
	want(t, r, 201)
	r.json(t, &perm)
	var folder struct{ Folder struct{ ID string } }
	r = ts.do(t, "POST", "/admin/folders", adminKey, `{"folder":{"path":"/shared","max_file_size":5}}`)
	want(t, r, 201)
	r.json(t, &folder)
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"Drop","owner":"`+joe.ID+`"}}`), 201)
	auto := ts.createAutomation(t, `{"automation":{"name":"a","trigger":"manual","actions":[{"type":"copy","to":"/archive/"}]}}`)
	var hook struct{ Webhook struct{ ID string } }
	r = ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"http://127.0.0.1:9/hook","events":["*"]}}`)
	want(t, r, 201)
	r.json(t, &hook)
	bucket := ts.createBucket(t, `{"bucket":{"name":"Acme"}}`).Bucket
	d := ts.createDropzone(t, adminKey, `{"dropzone":{"name":"dz","gb":1,"days":30}}`).Dropzone
	_, drop := ts.openFiledrop(t, "drop", "")
	// A connection to a port nothing listens on: a mount on it is refused
	// (422) after every field is checked.
	var conn struct{ Connection struct{ ID string } }
	r = ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"ftp","type":"ftp","host":"127.0.0.1","port":9,"username":"u","password":"p"}}`)
	want(t, r, 201)
	r.json(t, &conn)

	endpoints := []jsonEndpoint{
		{"POST", "/api/login", "", `{"user":{"email":"joe@example.com","username":"joe","password":"wrong-horse-{n}"}}`},
		{"POST", "/admin/users", adminKey, `{"user":{"email":"u{n}@example.com","username":"u{n}","name":"U","password":"correct-horse","role":"user","quota_mb":10,"max_file_size":5,"expires_at":"2030-01-01T00:00:00Z","allowed_ips":["192.0.2.0/24"],"protocols":["api","sftp"],"groups":["partners"],"home":"/users/u{n}","active":true,"ssh_keys":[]}}`},
		{"PUT", "/admin/users/" + joe.ID, adminKey, `{"user":{"name":"Joe {n}","quota_mb":10,"expires_at":null,"groups":["partners"],"active":true}}`},
		{"POST", "/admin/groups", adminKey, `{"group":{"name":"G{n}","description":"d"}}`},
		{"PUT", "/admin/groups/partners", adminKey, `{"group":{"name":"Partners","description":"d{n}"}}`},
		{"POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:` + joe.ID + `","path":"/shared","permissions":["list","download"],"mount":"m{n}"}}`},
		{"PUT", "/admin/permissions/" + perm.Permission.ID, adminKey, `{"permission":{"permissions":["list"],"mount":"shared{n}"}}`},
		{"POST", "/admin/folders", adminKey, `{"folder":{"path":"/f{n}","allowed_extensions":["csv"],"blocked_extensions":["exe"],"max_file_size":5,"quota_mb":10,"retention_days":30}}`},
		{"PUT", "/admin/folders/" + folder.Folder.ID, adminKey, `{"folder":{"allowed_extensions":["csv"],"max_file_size":5,"quota_mb":10,"retention_days":30,"blocked_extensions":["x{n}"]}}`},
		{"POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"d{n}","title":"T","description":"D","owner":"` + joe.ID + `","accepted_filetypes":"pdf,csv","invalid_extensions":"exe","expires_after":30,"max_filesize":100,"require_validation":false,"password":"a-good-password","cc":"cc@example.com","authorization":3}}`},
		{"PUT", "/admin/filedrops/drop", adminKey, `{"filedrop":{"title":"T{n}","max_filesize":100,"password":"","authorization":3}}`},
		{"POST", "/admin/automations", adminKey, `{"automation":{"name":"a{n}","enabled":true,"trigger":"event","events":["file.uploaded"],"conditions":[{"type":"name","pattern":"*.csv"}],"actions":[{"type":"move","to":"/archive/{YYYY}/"}],"retry":{"max_attempts":3}}}`},
		{"PUT", "/admin/automations/" + auto, adminKey, `{"automation":{"name":"a{n}","trigger":"schedule","schedule":"0 * * * *","timezone":"Europe/Paris","source":{"path":"/in","pattern":"*.csv"},"actions":[{"type":"copy","to":"/archive/"}]}}`},
		{"POST", "/admin/automations/" + auto + "/run", adminKey, `{"path":"/in/a.txt"}`},
		{"POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"http://127.0.0.1:9/h{n}","events":["file.uploaded"],"paths":["/in/**"],"secret":"a-long-random-secret","active":true}}`},
		{"PUT", "/admin/webhooks/" + hook.Webhook.ID, adminKey, `{"webhook":{"url":"http://127.0.0.1:9/h{n}","events":["*"],"active":false}}`},
		{"POST", "/admin/buckets", adminKey, `{"bucket":{"name":"B{n}","quota_mb":10,"active":true}}`},
		{"PUT", "/admin/buckets/" + bucket.ID, adminKey, `{"bucket":{"name":"Acme {n}","active":true,"quota_mb":10}}`},
		{"POST", "/admin/buckets/" + bucket.ID + "/users", adminKey, `{"user":{"username":"b{n}","password":"correct-horse","ssh_keys":[]}}`},
		{"PUT", "/admin/settings", adminKey, `{"settings":{"allow_bucket_deletion":true}}`},
		{"POST", "/admin/dropzones", adminKey, `{"dropzone":{"name":"z{n}","gb":1,"days":30}}`},
		{"PUT", "/admin/dropzones/" + d.ID, adminKey, `{"dropzone":{"name":"z{n}","gb":2,"days":60}}`},
		{"POST", "/api/dropzones/" + d.ID + "/files", d.Token, `{"file":{"name":"f{n}.txt","type":"text/plain","size":3}}`},
		{"POST", "/api/files/rename", joe.APIKey, `{"from":"/in/nope{n}.txt","to":"/in/b.txt"}`},
		{"POST", "/api/folders", joe.APIKey, `{"path":"/in/d{n}"}`},
		{"POST", "/api/links", joe.APIKey, `{"link":{"path":"/in","expires_at":"2030-01-01T00:00:00Z","password":"a-good-password","max_downloads":5,"allow_upload":true}}`},
		{"POST", "/filedrop/drop", drop.key, `{"message":{"from":"pat{n}@example.com","subject":"S","message":"M","attachments":["att_nope"]}}`},
		{"POST", "/admin/connections", adminKey, `{"connection":{"name":"c{n}","type":"s3","endpoint":"http://127.0.0.1:9","region":"us-east-1","bucket":"b","prefix":"p","path_style":true,"access_key":"ak","secret_key":"sk-{n}"}}`},
		{"PUT", "/admin/connections/" + conn.Connection.ID, adminKey, `{"connection":{"name":"ftp {n}","host":"127.0.0.1","port":9,"username":"u","password":"p","base_path":"/in"}}`},
		{"POST", "/admin/mounts", adminKey, `{"mount":{"path":"/shared/m{n}","connection":"` + conn.Connection.ID + `","prefix":"p{n}"}}`},
		{"POST", "/filedrop/drop/validation", drop.key, `{"validation":{"email":"pat{n}@example.com","code":"123456"}}`},
	}
	n := 0
	for _, ep := range endpoints {
		t.Run(ep.method+" "+ep.path, func(t *testing.T) {
			for _, body := range append(variants(ep.body), "null", "[]", `"x"`, "{}", `{"`+strings.SplitN(ep.body[2:], `"`, 2)[0]+`":null}`, "{") {
				n++
				body = strings.ReplaceAll(body, "{n}", fmt.Sprint(n))
				r := ts.do(t, ep.method, ep.path, ep.key, body)
				if r.status >= 500 || r.status < 200 {
					t.Fatalf("%s %s\n%s\n→ %d %s", ep.method, ep.path, body, r.status, r.body)
				}
				if r.status >= 400 {
					r.errors(t) // a message, not a bare status
				}
			}
		})
	}
	// The administrator key still works: nothing above banned or broke it.
	want(t, ts.do(t, "GET", "/admin/users/"+joe.ID, adminKey, ""), 200)
}

// Names that are not UTF-8 or carry bidirectional controls are refused
// with 400 naming the rule, on every path the API takes.
func TestHostileNames(t *testing.T) {
	ts := MustOpenServer(t)
	key := ts.createUser(t, `{"user":{"email":"names@example.com"}}`).User.APIKey
	for escaped, rule := range map[string]string{
		"/bad%FF.txt":              "not valid UTF-8",
		"/invoice%E2%80%AEfdp.exe": "bidirectional control",
	} {
		r := ts.do(t, "PUT", "/api/files/content?path="+escaped, key, "data")
		want(t, r, 400)
		if msg := r.errors(t)[0]; !strings.Contains(msg, rule) {
			t.Fatalf("upload %s: %s", escaped, msg)
		}
	}
	want(t, ts.do(t, "POST", "/api/folders", key, `{"path":"/a\u202eb"}`), 400)
	r := ts.do(t, "GET", "/api/files?path=/", key, "")
	want(t, r, 200)
	if strings.Contains(r.body, "bad") || strings.Contains(r.body, "invoice") {
		t.Fatalf("refused names were stored: %s", r.body)
	}
}

// One rule for hostile values, whatever the field (hardening II): null is
// a 422 naming the field (expires_at alone takes null, for "never"); a
// control character in any string, and a string over 1,024 bytes (4,096
// for paths and URLs, 64 KiB for descriptions, messages and keys), are
// refused naming the field and the limit; nothing is stored.
func TestHostileJSON_OneRule(t *testing.T) {
	ts := MustOpenServer(t)
	bucket := ts.createBucket(t, `{"bucket":{"name":"Acme"}}`).Bucket
	auto := ts.createAutomation(t, `{"automation":{"name":"a","trigger":"manual","actions":[{"type":"copy","to":"/archive/"}]}}`)
	joe := ts.createUser(t, `{"user":{"email":"joe@example.com"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", joe.APIKey, `{"path":"/out"}`), 201)
	long := strings.Repeat("x", 5000)
	for _, c := range []struct{ method, path, body, says string }{
		{"PUT", "/admin/buckets/" + bucket.ID, `{"bucket":{"active":null}}`, `"active" cannot be null`},
		{"PUT", "/admin/buckets/" + bucket.ID, `{"bucket":{"quota_mb":null}}`, `"quota_mb" cannot be null`},
		{"PUT", "/admin/automations/" + auto, `{"automation":{"name":"a","trigger":"manual","enabled":null,"actions":[{"type":"copy","to":"/archive/"}]}}`, `"enabled" cannot be null`},
		{"PUT", "/admin/automations/" + auto, `{"automation":{"name":"a","trigger":"manual","conditions":null,"actions":[{"type":"copy","to":"/archive/"}]}}`, `"conditions" cannot be null`},
		{"PUT", "/admin/users/" + joe.ID, `{"user":{"groups":[null]}}`, `"groups" cannot be null`},
		{"POST", "/admin/buckets", `{"bucket":{"name":"Ac\u0000me"}}`, `"name" contains a control character (U+0000)`},
		{"PUT", "/admin/automations/" + auto, `{"automation":{"name":"a\u0000","trigger":"manual","actions":[{"type":"copy","to":"/archive/"}]}}`, `"name" contains a control character`},
		{"POST", "/admin/connections", `{"connection":{"name":"c\u001b[31m","type":"ftp","host":"127.0.0.1","username":"u","password":"p"}}`, `"name" contains a control character (U+001B)`},
		{"POST", "/admin/connections", `{"connection":{"name":"c","type":"ftp","host":"` + long + `","username":"u","password":"p"}}`, `"host" is longer than 1024 bytes`},
		{"POST", "/admin/connections", `{"connection":{"name":"c","type":"ftp","host":"h","username":"` + long + `","password":"p"}}`, `"username" is longer than 1024 bytes`},
		{"POST", "/admin/webhooks", `{"webhook":{"url":"http://127.0.0.1:9/h","events":["*"],"secret":"` + long + `"}}`, `"secret" is longer than 1024 bytes`},
	} {
		before := len(ts.events(t))
		r := ts.do(t, c.method, c.path, adminKey, c.body)
		if r.status != 422 || !strings.Contains(strings.Join(r.errors(t), " "), c.says) {
			t.Errorf("%s %s %.80s: %d %s, want 422 saying %s", c.method, c.path, c.body, r.status, r.body, c.says)
		}
		if after := len(ts.events(t)); after != before {
			t.Errorf("%s %s %.80s changed something", c.method, c.path, c.body)
		}
	}
	// A path field may have 4,096 bytes; the files API's paths answer
	// 400, as the files API answers a bad path in a query.
	r := ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"c","type":"ftp","host":"h","username":"u","password":"p","base_path":"/`+strings.Repeat("p", 4100)+`"}}`)
	if r.status != 422 || !strings.Contains(r.body, `\"base_path\" is longer than 4096 bytes`) {
		t.Errorf("long base_path: %d %s", r.status, r.body)
	}
	r = ts.do(t, "POST", "/api/folders", joe.APIKey, `{"path":"/`+strings.Repeat("p", 4100)+`"}`)
	if r.status != 400 || !strings.Contains(r.body, `\"path\" is longer than 4096 bytes`) {
		t.Errorf("long folder path: %d %s", r.status, r.body)
	}
	// Descriptions and messages may have several lines.
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"T","owner":"`+joe.ID+`","description":"line one\nline two"}}`), 201)
	// The bucket is as it was.
	var b bucketBody
	ts.do(t, "GET", "/admin/buckets/"+bucket.ID, adminKey, "").json(t, &b)
	if !b.Bucket.Active || b.Bucket.Name != "Acme" {
		t.Errorf("bucket changed: %+v", b.Bucket)
	}
	// expires_at: null is "never": a link that does not expire.
	r = ts.do(t, "POST", "/api/links", joe.APIKey, `{"link":{"path":"/out","expires_at":null}}`)
	want(t, r, 201)
	if strings.Contains(r.body, `"expires_at":"`) {
		t.Errorf("link with expires_at null: %s", r.body)
	}
}

// events returns every audit event recorded so far.
func (ts *testServer) events(tb testing.TB) []*mft.Event {
	tb.Helper()
	if err := ts.audit.Flush(); err != nil {
		tb.Fatal(err)
	}
	list, _, err := ts.app.AuditStore.FindEvents(tb.Context(), mft.AuditFilter{Page: mft.Page{Limit: mft.MaxLimit}})
	if err != nil {
		tb.Fatal(err)
	}
	return list
}
