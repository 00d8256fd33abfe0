// Package e2e tests Depot through the whole application, as its clients
// see it: app.Open on a real data directory with real listeners, the HTTP
// API and the web client driven over loopback, every request and answer
// checked against the OpenAPI contract. The packages below test
// themselves without it.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/app"
	"depot/auth"
	"depot/config"
	"depot/files"
	"depot/internal/apptest"
	"depot/internal/contract"
	"depot/server"
	"depot/store"

	"github.com/jackc/pgx/v5"
)

const adminKey = apptest.AdminKey

// testServer is a real server on 127.0.0.1:0 over a real data directory,
// built by the one wiring (app.Open).
type testServer struct {
	*server.Server
	app      *app.App
	db       *store.DB
	path     string // the bbolt file
	dataDir  string
	defender *auth.Defender
	files    *files.Service
	audit    *store.AuditLog
}

// option changes the app before it starts.
type option func(*app.App)

// MustOpenServer starts a server with an administrator whose key is
// adminKey, and stops it when the test ends.
func MustOpenServer(tb testing.TB, opts ...option) *testServer {
	tb.Helper()
	return openServerAt(tb, tb.TempDir(), opts...)
}

// openServerAt starts a server on the data directory dir, which may hold
// the data of an earlier one.
func openServerAt(tb testing.TB, dir string, opts ...option) *testServer {
	tb.Helper()
	return openServerLogged(tb, dir, nil, opts...)
}

// openServerLogged is openServerAt with the server's log going to logger.
func openServerLogged(tb testing.TB, dir string, logger *slog.Logger, opts ...option) *testServer {
	tb.Helper()
	return openServerConfigured(tb, dir, logger, nil, opts...)
}

// openServerConfigured is openServerLogged with settings changed by
// configure (when not nil) before the app is built.
func openServerConfigured(tb testing.TB, dir string, logger *slog.Logger, configure func(*config.Config), opts ...option) *testServer {
	tb.Helper()
	cfg := apptest.Config(dir)
	cfg.HTTP.MaxJSONBytes = 64 << 10
	cfg.SFTP.PublicHost = "sftp.example.com"
	cfg.Defender.MaxFailures, cfg.Defender.Window, cfg.Defender.BanTime = 5, config.Duration(time.Minute), config.Duration(time.Hour)
	if configure != nil {
		configure(cfg)
	}
	wrap := contract.Check(tb, server.OpenAPI())
	edits := []func(*app.App){func(a *app.App) { a.HTTP.Wrap = wrap }}
	for _, o := range opts {
		edits = append(edits, o)
	}
	a := apptest.StartLogged(tb, cfg, logger, edits...)
	return &testServer{Server: a.HTTP, app: a, db: a.DB, path: filepath.Join(dir, "depot.db"), dataDir: dir,
		defender: a.Defender, files: a.Files, audit: a.AuditLog}
}

// rawDB returns every byte the database holds, for tests that a secret
// is not stored in clear: the bbolt file, or on PostgreSQL every column of
// every row of every table.
func (ts *testServer) rawDB(tb testing.TB) string {
	tb.Helper()
	if ts.app.Config.Database.Driver != "postgres" {
		data, err := os.ReadFile(ts.path)
		if err != nil {
			tb.Fatal(err)
		}
		return holdsTheAdmin(tb, string(data))
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ts.app.Config.Database.DSN)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
	if err != nil {
		tb.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || len(tables) < 10 {
		tb.Fatalf("tables %v, %v", tables, err)
	}
	var all strings.Builder
	for _, table := range tables {
		rows, err := conn.Query(ctx, "SELECT * FROM "+pgx.Identifier{table}.Sanitize())
		if err != nil {
			tb.Fatal(err)
		}
		for rows.Next() {
			values, err := rows.Values()
			if err != nil {
				tb.Fatal(err)
			}
			for _, v := range values {
				if b, ok := v.([]byte); ok {
					all.Write(b)
				} else {
					fmt.Fprint(&all, v)
				}
				all.WriteByte('\n')
			}
		}
		if err := rows.Err(); err != nil {
			tb.Fatal(err)
		}
	}
	return holdsTheAdmin(tb, all.String())
}

// holdsTheAdmin returns raw if it holds the first administrator's email,
// so that a test of what raw lacks cannot pass on an empty read.
func holdsTheAdmin(tb testing.TB, raw string) string {
	tb.Helper()
	if !strings.Contains(raw, "admin@localhost") {
		tb.Fatalf("the raw database (%d bytes) does not hold admin@localhost: it was not read", len(raw))
	}
	return raw
}

// close stops the server and closes its data directory.
func (ts *testServer) close() { apptest.Close(ts.app) }

// response is what a client saw.
type response struct {
	status int
	header http.Header
	body   string
}

// json decodes the body into v or fails the test.
func (r response) json(tb testing.TB, v any) {
	tb.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		tb.Fatalf("decode %q: %v", r.body, err)
	}
}

// errors returns the messages of an {"errors":[…]} body.
func (r response) errors(tb testing.TB) []string {
	tb.Helper()
	var e struct{ Errors []string }
	r.json(tb, &e)
	if len(e.Errors) == 0 || e.Errors[0] == "" {
		tb.Fatalf("error response without a message: %q", r.body)
	}
	return e.Errors
}

// do sends a request with key as the basic-auth user (none if empty).
func (ts *testServer) do(tb testing.TB, method, path, key, body string) response {
	tb.Helper()
	return ts.doWith(tb, method, path, body, func(r *http.Request) {
		if key != "" {
			r.SetBasicAuth(key, "x")
		}
	})
}

func (ts *testServer) doWith(tb testing.TB, method, path, body string, edit func(*http.Request)) response {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	return exchange(tb, http.DefaultClient, method, ts.URL()+path, rd, "application/json", edit)
}

// exchange sends one request through client (with contentType when set,
// then edit) and reads the whole answer.
func exchange(tb testing.TB, client *http.Client, method, url string, body io.Reader, contentType string, edit func(*http.Request)) response {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if edit != nil {
		edit(req)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(data)}
}

// want fails the test unless the response has the status.
func want(tb testing.TB, r response, status int) {
	tb.Helper()
	if r.status != status {
		tb.Fatalf("status = %d, want %d; body %s", r.status, status, r.body)
	}
}

func TestHealthz(t *testing.T) {
	ts := MustOpenServer(t)
	r := ts.do(t, "GET", "/healthz", "", "")
	want(t, r, 200)
	if !strings.Contains(r.body, `"status":"ok"`) {
		t.Fatalf("body %s", r.body)
	}
	// Load balancers probe with HEAD (it was 405).
	if r := ts.do(t, "HEAD", "/healthz", "", ""); r.status != 200 || r.body != "" {
		t.Fatalf("HEAD /healthz: %d %q", r.status, r.body)
	}
}

func TestUnknownRoute(t *testing.T) {
	ts := MustOpenServer(t)
	r := ts.do(t, "GET", "/nope", adminKey, "")
	want(t, r, 404)
	if msg := r.errors(t)[0]; !strings.Contains(msg, "/nope") {
		t.Fatalf("message %q does not name the path", msg)
	}
}
