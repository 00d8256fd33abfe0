package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"depot/internal/apptest"
	"depot/store"
)

// A restart keeps users, groups and their keys.
// A restart keeps what was stored, and also signs nobody out of the web
// client and lifts no ban: sessions and bans are kept in the database.
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ts := openServerAt(t, dir)
	u := ts.createUser(t, `{"user":{"email":"keep@example.com","password":"correct-horse"}}`)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Ops"}}`), 201)
	b := newWebBrowser(ts)
	wantPage(t, b.signIn(t, "keep@example.com", "correct-horse"), 200, "Files")
	for range 6 {
		ts.defender.Fail(otherIP)
	}
	ts.close()

	ts = openServerAt(t, dir)
	want(t, ts.do(t, "GET", "/account", u.User.APIKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/groups/ops", adminKey, ""), 200)
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"keep@example.com","password":"correct-horse"}}`), 200)
	b.ts = ts // the same browser (cookies go by host, not port)
	wantPage(t, b.get(t, "/web/files"), 200, "keep@example.com")
	r := ts.do(t, "GET", "/admin/bans", adminKey, "")
	want(t, r, 200)
	if !strings.Contains(r.body, `"`+otherIP.String()+`"`) {
		t.Fatalf("the ban did not survive the restart: %s", r.body)
	}
}

func TestBackup(t *testing.T) {
	if apptest.OnPostgres() {
		t.Skip("on PostgreSQL a backup is pg_dump's work: TestPostgres_ServesAndKeeps checks the 422 that says so")
	}
	ts := MustOpenServer(t)
	ts.createUser(t, `{"user":{"email":"backed@example.com"}}`)
	r := ts.do(t, "GET", "/admin/backup", adminKey, "")
	want(t, r, 200)
	if cd := r.header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Fatalf("Content-Disposition %q", cd)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, []byte(r.body), 0o600); err != nil {
		t.Fatal(err)
	}
	db := store.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatalf("backup is not a database: %v", err)
	}
	defer db.Close()
	u, err := store.NewUserStore(db).FindUserByEmail(context.Background(), "backed@example.com")
	if err != nil || u.ID != "backed-example-com" {
		t.Fatalf("backup lacks the user: %v %v", u, err)
	}
	want(t, ts.do(t, "GET", "/admin/backup", "", ""), 401)
}
