package e2e

import (
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"depot/app"
	"depot/config"
	"depot/internal/apptest"
	"depot/internal/testpeer"
)

// The e2e tests that need PostgreSQL share one cluster, stopped here.
func TestMain(m *testing.M) { testpeer.PostgresMain(m) }

// postgresBehind returns a new PostgreSQL database's DSN reached through a
// relay the test can take down, and the relay.
func postgresBehind(t *testing.T) (string, *testpeer.Cutter) {
	t.Helper()
	dsn, err := url.Parse(testpeer.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(dsn.Port())
	network := testpeer.Relay(t, port)
	dsn.Host = "127.0.0.1:" + strconv.Itoa(network.Port)
	return dsn.String(), network
}

// A Depot whose metadata is on PostgreSQL: a partner uploads by SFTP and
// the file is downloaded over HTTP, audited; everything is still there
// after a restart; without its database the node says so on /healthz
// (503) and recovers by itself; a second node on the database is refused,
// and a node with another secret.key too; the backup endpoint points to
// pg_dump.
func TestPostgres_ServesAndKeeps(t *testing.T) {
	dsn, network := postgresBehind(t)
	dir := t.TempDir()
	onPostgres := func(c *config.Config) { c.Database.Driver, c.Database.DSN = "postgres", dsn }
	ts := openServerConfigured(t, dir, nil, onPostgres)
	if _, err := os.Stat(filepath.Join(dir, "depot.db")); !os.IsNotExist(err) {
		t.Fatalf("a bbolt file was made beside PostgreSQL: %v", err)
	}

	partner := ts.mountUser(t, "acme", 0)
	if out, err := ts.openssh(t, partner, "put /etc/hostname invoice.txt"); err != nil {
		t.Fatalf("sftp put: %v\n%s", err, out)
	}
	want := func(ts *testServer) {
		t.Helper()
		host, _ := os.ReadFile("/etc/hostname")
		r := ts.do(t, "GET", "/api/files/content?path=/invoice.txt", partner.apiKey, "")
		if r.status != 200 || r.body != string(host) {
			t.Fatalf("download: %d %q", r.status, r.body)
		}
	}
	want(ts)
	for { // the audit log writes in batches
		r := ts.do(t, "GET", "/admin/audit?event=file.uploaded", adminKey, "")
		if r.status != 200 {
			t.Fatalf("audit: %d %s", r.status, r.body)
		} else if strings.Contains(r.body, "/invoice.txt") {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}

	second := apptest.Config(t.TempDir())
	onPostgres(second)
	refused(t, second, "another depot node is using this database")

	fams := ts.scrape(t, adminKey)
	if value(t, fams, "depot_db_size_bytes", nil) <= 0 || value(t, fams, "depot_db_commits_total", nil) <= 0 {
		t.Fatal("the PostgreSQL database's size or commits are not reported")
	}

	r := ts.do(t, "GET", "/admin/backup", adminKey, "")
	if r.status != 422 || !strings.Contains(r.body, "pg_dump") {
		t.Fatalf("backup: %d %s", r.status, r.body)
	}

	network.Down()
	r = ts.do(t, "GET", "/admin/users", adminKey, "")
	if r.status != 503 || r.errors(t)[0] != "The database cannot be reached; try again shortly." {
		t.Fatalf("a request without the database: %d %s", r.status, r.body)
	}
	r = ts.do(t, "GET", "/healthz", "", "")
	if r.status != 503 || !strings.Contains(r.body, "The database cannot be reached") || strings.Contains(r.body, "127.0.0.1") {
		t.Fatalf("healthz without the database: %d %s", r.status, r.body)
	}
	network.Up(t)
	for ts.do(t, "GET", "/healthz", "", "").status != 200 {
		time.Sleep(10 * time.Millisecond)
	}

	ts.close()
	// Another node's data directory has its own secret.key: refused, as
	// the sealed secrets would not open with it; with the first node's
	// key it starts.
	other := apptest.Config(t.TempDir())
	onPostgres(other)
	refused(t, other, "same data.dir/secret.key")
	key, err := os.ReadFile(filepath.Join(dir, "secret.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other.Data.Dir, "secret.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	apptest.Close(apptest.Open(t, other))

	ts = openServerConfigured(t, dir, nil, onPostgres)
	want(ts)
	if r := ts.do(t, "GET", "/admin/users/"+partner.id, adminKey, ""); r.status != 200 || !strings.Contains(r.body, `"username":"acme"`) {
		t.Fatalf("the partner after a restart: %d %s", r.status, r.body)
	}
}

// refused opens a node on cfg and wants it refused with a message
// containing want.
func refused(t *testing.T, cfg *config.Config, want string) {
	t.Helper()
	a, err := app.Open(context.Background(), cfg, nil, io.Discard)
	if err == nil {
		apptest.Close(a)
		t.Fatalf("a node opened the database; want it refused with %q", want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("node refused with %v; want %q", err, want)
	}
}
