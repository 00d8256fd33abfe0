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
func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	ts := openServerAt(t, dir)
	u := ts.createUser(t, `{"user":{"email":"keep@example.com","password":"correct-horse"}}`)
	want(t, ts.do(t, "POST", "/admin/groups", adminKey, `{"group":{"name":"Ops"}}`), 201)
	ts.close()

	ts = openServerAt(t, dir)
	want(t, ts.do(t, "GET", "/account", u.User.APIKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/groups/ops", adminKey, ""), 200)
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"keep@example.com","password":"correct-horse"}}`), 200)
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
