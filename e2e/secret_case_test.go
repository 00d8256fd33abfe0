package e2e

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"depot/internal/testtool"
)

func (rc *receiver) all() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.bodies...)
}

// Every write-only field of every resource, sent under its own name and
// in other cases, never reaches the audit log (JSON and CSV), a webhook
// delivery or the server's log in clear; a name in another case is an
// unknown field (422 naming it) and changes nothing. Found by hardening
// II: {"user":{"PASSWORD":"…"}} set the password and was recorded as
// changes: {"PASSWORD":"…"}, since encoding/json matches names in any
// case and the masking compared exact names.
func TestSecrets_NeverInClearWhateverTheCase(t *testing.T) {
	var logs testtool.Buffer
	ts := openServerLogged(t, t.TempDir(), slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	hooks := newReceiver(t, 0)
	want(t, ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"`+hooks.URL+`","events":["*"]}}`), 201)
	joe := ts.createUser(t, `{"user":{"email":"joe@example.com","password":"correct-horse-1"}}`).User
	bucket := ts.createBucket(t, `{"bucket":{"name":"Acme"}}`).Bucket
	want(t, ts.do(t, "POST", "/api/folders", joe.APIKey, `{"path":"/out"}`), 201)

	// Each body has one write-only field named F, whose value is V.
	resources := []struct{ method, path, key, body string }{
		{"POST", "/admin/users", adminKey, `{"user":{"email":"u{n}@example.com",F:V}}`},
		{"PUT", "/admin/users/" + joe.ID, adminKey, `{"user":{F:V}}`},
		{"POST", "/admin/buckets/" + bucket.ID + "/users", adminKey, `{"user":{"username":"b{n}",F:V}}`},
		{"POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"d{n}","title":"T","owner":"` + joe.ID + `",F:V}}`},
		{"POST", "/api/links", joe.APIKey, `{"link":{"path":"/out",F:V}}`},
		{"POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"http://127.0.0.1:9/h{n}","events":["*"],F:V}}`},
		{"POST", "/admin/connections", adminKey, `{"connection":{"name":"c{n}","type":"ftp","host":"127.0.0.1","username":"u",F:V}}`},
		{"POST", "/admin/automations", adminKey, `{"automation":{"name":"a{n}","trigger":"manual","actions":[{"type":"webhook","url":"http://127.0.0.1:9/x",F:V}]}}`},
		{"POST", "/admin/automations", adminKey, `{"automation":{"name":"a{n}","trigger":"manual","actions":[{"type":"decrypt","private_key":"-----BEGIN PGP PRIVATE KEY BLOCK-----",F:V}]}}`},
	}
	fields := map[int][]string{0: {"password"}, 1: {"password"}, 2: {"password"}, 3: {"password"}, 4: {"password"},
		5: {"secret"}, 6: {"password", "private_key", "secret_key"}, 7: {"secret"}, 8: {"passphrase"}}
	var values []string
	n := 0
	for i, res := range resources {
		for _, field := range fields[i] {
			for _, name := range []string{strings.ToUpper(field), strings.ToUpper(field[:1]) + field[1:], field} {
				n++
				value := fmt.Sprintf("Leaked-Secret-%03d-Value", n)
				values = append(values, value)
				if i == 1 && name == field {
					// Joe's password is as it was: the requests in
					// other cases were refused whole.
					want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"joe@example.com","password":"correct-horse-1"}}`), 200)
				}
				body := strings.NewReplacer("F:V", fmt.Sprintf("%q:%q", name, value), "{n}", fmt.Sprint(n)).Replace(res.body)
				r := ts.do(t, res.method, res.path, res.key, body)
				if name != field {
					want(t, r, 422)
					if msg := strings.Join(r.errors(t), " "); !strings.Contains(msg, `"`+name+`"`) || !strings.Contains(msg, "case-sensitive") {
						t.Errorf("%s %s with %s: %s", res.method, res.path, name, r.body)
					}
				} else if r.status >= 500 {
					t.Errorf("%s %s: %d %s", res.method, res.path, r.status, r.body)
				}
				if strings.Contains(r.body, value) {
					t.Errorf("%s %s echoes the secret: %s", res.method, res.path, r.body)
				}
			}
		}
	}
	// Wait until the webhook has seen the last change (joe's update is
	// among the first; the last automation comes last).
	for !strings.Contains(strings.Join(hooks.all(), ""), "automation.created") {
		time.Sleep(20 * time.Millisecond)
	}
	places := map[string]string{
		"audit JSON": ts.do(t, "GET", "/admin/audit?limit=1000", adminKey, "").body,
		"audit CSV":  ts.do(t, "GET", "/admin/audit?format=csv&limit=1000", adminKey, "").body,
		"webhooks":   strings.Join(hooks.all(), "\n"),
		"log":        logs.String(),
	}
	if !strings.Contains(places["audit JSON"], `"(set)"`) || !strings.Contains(places["webhooks"], "user.updated") {
		t.Fatalf("the changes were not recorded: %.2000s", places["audit JSON"])
	}
	for where, text := range places {
		for _, v := range values {
			if strings.Contains(text, v) {
				t.Errorf("%s holds %s in clear", where, v)
			}
		}
	}
}
