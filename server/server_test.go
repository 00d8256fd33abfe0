package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/auth"
	"depot/automation"
	"depot/files"
	"depot/mft"
	"depot/server"
	"depot/store"
)

const adminKey = "test-admin-key-0123456789"

// testServer is a real server on 127.0.0.1:0 over a real bbolt file.
type testServer struct {
	*server.Server
	db       *store.DB
	path     string
	dataDir  string
	defender *auth.Defender
	files    *files.Service
	audit    *store.AuditLog
	engine   *automation.Engine
}

type option func(*server.Server)

// MustOpenServer starts a server with an administrator whose key is
// adminKey, and stops it when the test ends.
func MustOpenServer(tb testing.TB, opts ...option) *testServer {
	tb.Helper()
	return openServerAt(tb, filepath.Join(tb.TempDir(), "depot.db"), true, opts...)
}

func openServerAt(tb testing.TB, path string, seed bool, opts ...option) *testServer {
	tb.Helper()
	db := store.NewDB(path)
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	users, tokens := store.NewUserService(db), store.NewTokenService(db)
	if seed {
		admin := &mft.User{ID: "admin-localhost", Email: "admin@localhost", Role: mft.RoleAdmin, Home: "/users/admin-localhost",
			APIKeyHash: auth.HashKey(adminKey), Active: true, Protocols: mft.AllProtocols}
		if err := users.CreateUser(context.Background(), admin); err != nil {
			tb.Fatal(err)
		}
	}
	defender := auth.NewDefender(5, time.Minute, time.Hour)
	dataDir := filepath.Dir(path)
	fsvc, err := files.Open(dataDir)
	if err != nil {
		tb.Fatal(err)
	}
	perms, folders := store.NewPermissionService(db), store.NewFolderService(db)
	fsvc.Permissions, fsvc.Usage, fsvc.Folders = perms, store.NewUsageService(db), folders
	auditSvc := store.NewAuditService(db)
	drops := store.NewFiledropService(db)
	buckets := store.NewBucketService(db)
	fsvc.Buckets = buckets
	auditLog := &store.AuditLog{Service: auditSvc, Interval: 10 * time.Millisecond}
	auditLog.Open()
	sealer, _ := auth.NewSealer(bytes.Repeat([]byte{1}, 32))
	autos := store.NewAutomationService(db)
	engine := &automation.Engine{Store: autos, Files: fsvc, Users: users, Sealer: sealer, Workers: 4,
		RetryBase: 10 * time.Millisecond, WebhookRetryBase: 10 * time.Millisecond}
	events := mft.MultiSink{auditLog, engine}
	engine.Events = events
	fsvc.Events = events
	s := &server.Server{
		Addr:           "127.0.0.1:0",
		MaxJSONBytes:   64 << 10,
		Users:          users,
		Groups:         store.NewGroupService(db),
		Files:          fsvc,
		Perms:          perms,
		Folders:        folders,
		Filedrops:      drops,
		Buckets:        buckets,
		Dropzones:      store.NewDropzoneService(db),
		Links:          store.NewLinkService(db),
		URLKey:         []byte("test url key"),
		Settings:       buckets,
		SFTPPublicHost: "sftp.example.com",
		Submissions:    drops,
		Events:         events,
		Automations:    autos,
		Engine:         engine,
		CheckSchedule:  automation.CheckSchedule,
		Sealer:         sealer,
		Audit:          auditSvc,
		Auth:           &auth.Authenticator{Users: users, Tokens: tokens, Defender: defender, TokenTTL: time.Hour, Now: time.Now, Events: events, Buckets: buckets},
		Defender:       defender,
		Limiter:        auth.NewRateLimiter(0, 0),
		Backup:         db.Backup,
		Ping:           db.Ping,
	}
	for _, o := range opts {
		o(s)
	}
	if err := engine.Open(context.Background()); err != nil {
		tb.Fatal(err)
	}
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	ts := &testServer{Server: s, db: db, path: path, dataDir: dataDir, defender: defender, files: fsvc, audit: auditLog, engine: engine}
	tb.Cleanup(ts.close)
	return ts
}

func (ts *testServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.Close(ctx)
	ts.engine.Close(ctx)
	ts.audit.Close()
	ts.files.Close()
	ts.db.Close()
}

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
	req, err := http.NewRequest(method, ts.URL()+path, rd)
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if edit != nil {
		edit(req)
	}
	resp, err := http.DefaultClient.Do(req)
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
}

func TestUnknownRoute(t *testing.T) {
	ts := MustOpenServer(t)
	r := ts.do(t, "GET", "/nope", adminKey, "")
	want(t, r, 404)
	if msg := r.errors(t)[0]; !strings.Contains(msg, "/nope") {
		t.Fatalf("message %q does not name the path", msg)
	}
}
