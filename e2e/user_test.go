package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
)

type userBody struct {
	User struct {
		ID          string   `json:"id"`
		Email       string   `json:"email"`
		Name        string   `json:"name"`
		Role        string   `json:"role"`
		Groups      []string `json:"groups"`
		Home        string   `json:"home"`
		APIKey      string   `json:"api_key"`
		HasPassword bool     `json:"has_password"`
		QuotaMB     int64    `json:"quota_mb"`
		Protocols   []string `json:"protocols"`
		Active      bool     `json:"active"`
		ExpiresAt   *string  `json:"expires_at"`
		SSHKeys     []string `json:"ssh_keys"`
	} `json:"user"`
}

// createUser creates a user through the API and returns the response body.
func (ts *testServer) createUser(tb testing.TB, body string) userBody {
	tb.Helper()
	r := ts.do(tb, "POST", "/admin/users", adminKey, body)
	want(tb, r, 201)
	var u userBody
	r.json(tb, &u)
	return u
}

func TestUsers_CRUD(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"Joe.User@Company.com","name":"Joe","password":"s3cret-pass","quota_mb":100}}`)
	if u.User.ID != "joe-user-company-com" || u.User.Home != "/users/joe-user-company-com" || u.User.Role != "user" ||
		!u.User.Active || !u.User.HasPassword || len(u.User.Protocols) != 3 || u.User.QuotaMB != 100 {
		t.Fatalf("created %+v", u.User)
	}
	if len(u.User.APIKey) < 20 {
		t.Fatalf("create did not return the API key: %+v", u.User)
	}

	t.Run("KeyWorks", func(t *testing.T) {
		r := ts.do(t, "GET", "/account", u.User.APIKey, "")
		want(t, r, 200)
		var me userBody
		r.json(t, &me)
		if me.User.ID != u.User.ID || me.User.APIKey != "" {
			t.Fatalf("/account = %+v", me.User)
		}
	})
	t.Run("Bearer", func(t *testing.T) {
		r := ts.doWith(t, "GET", "/account", "", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+u.User.APIKey) })
		want(t, r, 200)
	})
	t.Run("View", func(t *testing.T) {
		r := ts.do(t, "GET", "/admin/users/joe-user-company-com", adminKey, "")
		want(t, r, 200)
		for _, secret := range []string{u.User.APIKey, "s3cret-pass", "argon2", "password_hash", "api_key"} {
			if strings.Contains(r.body, secret) {
				t.Fatalf("view reveals %q: %s", secret, r.body)
			}
		}
	})
	t.Run("List", func(t *testing.T) {
		r := ts.do(t, "GET", "/admin/users", adminKey, "")
		want(t, r, 200)
		var list []userBody
		r.json(t, &list)
		if len(list) != 2 || list[0].User.ID != "admin-localhost" || list[1].User.ID != u.User.ID {
			t.Fatalf("list = %+v", list)
		}
		if strings.Contains(r.body, "argon2") || strings.Contains(r.body, "hash") {
			t.Fatalf("list reveals hashes: %s", r.body)
		}
	})
	t.Run("UpdatePartial", func(t *testing.T) {
		r := ts.do(t, "PUT", "/admin/users/joe-user-company-com", adminKey, `{"user":{"name":"Joseph","expires_at":"2030-01-02T03:04:05Z"}}`)
		want(t, r, 200)
		var got userBody
		r.json(t, &got)
		if got.User.Name != "Joseph" || got.User.QuotaMB != 100 || !got.User.HasPassword || got.User.ExpiresAt == nil || *got.User.ExpiresAt != "2030-01-02T03:04:05Z" {
			t.Fatalf("after partial update: %+v", got.User)
		}
		// Bare objects are accepted too, and null clears a time.
		r = ts.do(t, "PUT", "/admin/users/joe-user-company-com", adminKey, `{"expires_at":null}`)
		want(t, r, 200)
		r.json(t, &got)
		if got.User.ExpiresAt != nil || got.User.Name != "Joseph" {
			t.Fatalf("after clearing expiry: %+v", got.User)
		}
	})
	t.Run("RegenerateKey", func(t *testing.T) {
		r := ts.do(t, "POST", "/admin/users/joe-user-company-com/api_key", adminKey, "")
		want(t, r, 200)
		var got userBody
		r.json(t, &got)
		if got.User.APIKey == "" || got.User.APIKey == u.User.APIKey {
			t.Fatalf("regenerate returned %q", got.User.APIKey)
		}
		want(t, ts.do(t, "GET", "/account", u.User.APIKey, ""), 401)
		want(t, ts.do(t, "GET", "/account", got.User.APIKey, ""), 200)
		want(t, ts.do(t, "POST", "/admin/users/nobody/api_key", adminKey, ""), 404)
	})
	t.Run("Delete", func(t *testing.T) {
		r := ts.do(t, "DELETE", "/admin/users/joe-user-company-com", adminKey, "")
		want(t, r, 200)
		if r.body != "" {
			t.Fatalf("delete body %q, want blank", r.body)
		}
		want(t, ts.do(t, "GET", "/admin/users/joe-user-company-com", adminKey, ""), 404)
		want(t, ts.do(t, "DELETE", "/admin/users/joe-user-company-com", adminKey, ""), 404)
	})
}

func TestUsers_Username(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"username":"Partner_ACME","role":"user","protocols":["sftp"]}`)
	if u.User.ID != "partner-acme" || len(u.User.Protocols) != 1 {
		t.Fatalf("created %+v", u.User)
	}
	// The same slug again is a duplicate.
	r := ts.do(t, "POST", "/admin/users", adminKey, `{"user":{"username":"partner-acme"}}`)
	want(t, r, 422)
}

// Every validation failure is a 422 naming the problem, and changes nothing.
func TestUsers_Errors(t *testing.T) {
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"taken@example.com"}}`)
	for name, tc := range map[string]struct {
		method, path, body string
		status             int
		msg                string
	}{
		"malformed json":   {"POST", "/admin/users", `{"user":`, 400, "Malformed JSON"},
		"not an object":    {"POST", "/admin/users", `[1,2]`, 400, "JSON object"},
		"empty body":       {"POST", "/admin/users", ``, 400, "empty"},
		"envelope not obj": {"POST", "/admin/users", `{"user":"x"}`, 400, "object"},
		"unknown field":    {"POST", "/admin/users", `{"user":{"email":"a@example.com","admin":true}}`, 422, `"admin"`},
		"wrong type":       {"POST", "/admin/users", `{"user":{"email":"a@example.com","quota_mb":"lots"}}`, 422, "quota_mb"},
		"wrong list type":  {"POST", "/admin/users", `{"user":{"email":"a@example.com","groups":"ops"}}`, 422, "groups"},
		"missing email":    {"POST", "/admin/users", `{"user":{"name":"No One"}}`, 422, "email or username"},
		"bad email":        {"POST", "/admin/users", `{"user":{"email":"joe at example"}}`, 422, "email"},
		"duplicate":        {"POST", "/admin/users", `{"user":{"email":"TAKEN@example.com"}}`, 422, "already"},
		"bad role":         {"POST", "/admin/users", `{"user":{"email":"a@example.com","role":"root"}}`, 422, "role"},
		"short password":   {"POST", "/admin/users", `{"user":{"email":"a@example.com","password":"short"}}`, 422, "password"},
		"bad ssh key":      {"POST", "/admin/users", `{"user":{"email":"a@example.com","ssh_keys":["ssh-rsa AAAA"]}}`, 422, "ssh_keys[0]"},
		"bad cidr":         {"POST", "/admin/users", `{"user":{"email":"a@example.com","allowed_ips":["10.0.0.0/40"]}}`, 422, "allowed_ips"},
		"unknown group":    {"POST", "/admin/users", `{"user":{"email":"a@example.com","groups":["ghosts"]}}`, 422, "ghosts"},
		"bad protocol":     {"POST", "/admin/users", `{"user":{"email":"a@example.com","protocols":["telnet"]}}`, 422, "telnet"},
		"hostile home":     {"POST", "/admin/users", `{"user":{"email":"a@example.com","home":"/users/../../etc"}}`, 422, "home"},
		"nul home":         {"POST", "/admin/users", `{"user":{"email":"a@example.com","home":"/users/a\u0000"}}`, 422, "home"},
		"bad time":         {"POST", "/admin/users", `{"user":{"email":"a@example.com","expires_at":"tomorrow"}}`, 422, "RFC 3339"},
		"too large":        {"POST", "/admin/users", `{"user":{"email":"a@example.com","name":"` + strings.Repeat("x", 70<<10) + `"}}`, 413, "larger"},
		"update unknown":   {"PUT", "/admin/users/nobody", `{"user":{"name":"x"}}`, 404, "not found"},
		"update bad":       {"PUT", "/admin/users/taken-example-com", `{"user":{"email":"x"}}`, 422, "email"},
		"self demote":      {"PUT", "/admin/users/admin-localhost", `{"user":{"role":"user"}}`, 422, "own"},
		"self disable":     {"PUT", "/admin/users/admin-localhost", `{"user":{"active":false}}`, 422, "own"},
		"self delete":      {"DELETE", "/admin/users/admin-localhost", ``, 422, "own"},
		"bad limit":        {"GET", "/admin/users?limit=abc", ``, 400, "limit"},
		"limit too big":    {"GET", "/admin/users?limit=5000", ``, 400, "limit"},
	} {
		t.Run(name, func(t *testing.T) {
			before := ts.do(t, "GET", "/admin/users?limit=1000", adminKey, "").body
			r := ts.do(t, tc.method, tc.path, adminKey, tc.body)
			want(t, r, tc.status)
			if msg := r.errors(t)[0]; !strings.Contains(msg, tc.msg) {
				t.Fatalf("message %q does not mention %q", msg, tc.msg)
			}
			if after := ts.do(t, "GET", "/admin/users?limit=1000", adminKey, "").body; after != before {
				t.Fatalf("a refused request changed the users:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func TestUsers_Pagination(t *testing.T) {
	ts := MustOpenServer(t)
	for i := range 5 {
		ts.createUser(t, fmt.Sprintf(`{"user":{"email":"u%d@example.com"}}`, i))
	}
	var ids []string
	path := "/admin/users?limit=2"
	for path != "" {
		r := ts.do(t, "GET", path, adminKey, "")
		want(t, r, 200)
		var list []userBody
		r.json(t, &list)
		for _, u := range list {
			ids = append(ids, u.User.ID)
		}
		path = ""
		if link := r.header.Get("Link"); link != "" {
			if !strings.HasSuffix(link, `>; rel="next"`) || !strings.HasPrefix(link, "<"+ts.URL()) {
				t.Fatalf("Link header %q", link)
			}
			path = strings.TrimPrefix(strings.TrimSuffix(link, `>; rel="next"`), "<"+ts.URL())
		}
	}
	if got := strings.Join(ids, ","); got != "admin-localhost,u0-example-com,u1-example-com,u2-example-com,u3-example-com,u4-example-com" {
		t.Fatalf("paged ids %s", got)
	}
}
