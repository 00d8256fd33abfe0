// Package apptest starts Depot for tests through the one wiring, app.Open:
// a real data directory in a temporary folder, a real bbolt file, real
// listeners on 127.0.0.1:0, and an administrator whose key is AdminKey.
package apptest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"depot/app"
	"depot/config"
	"depot/files"
	"depot/internal/coretest"
	"depot/internal/testpeer"
	"depot/mft"
)

// AdminKey is the API key of admin@localhost in every test app.
const AdminKey = coretest.AdminKey

// DatabaseEnv, set to "postgres", puts every test app that would be on
// bbolt on a new PostgreSQL database instead (testpeer's cluster; the
// package's TestMain must stop it): the suites that use apptest then run
// on PostgreSQL.
const DatabaseEnv = "DEPOT_TEST_DATABASE"

// OnPostgres reports whether DatabaseEnv puts test apps on PostgreSQL.
func OnPostgres() bool { return os.Getenv(DatabaseEnv) == "postgres" }

// dsns keeps the database of each data directory, so that an app opened
// again on the same directory (a restart) finds its data.
var dsns sync.Map

// Config returns the settings of a test app on dir: the defaults with both
// listeners on 127.0.0.1:0, AdminKey, no rate limit and no upload rate
// floor (tests that need them set them).
func Config(dir string) *config.Config {
	cfg := coretest.Config(dir)
	cfg.HTTP.RateLimit, cfg.HTTP.MinUploadRate = 0, 0
	return cfg
}

// Open opens an app on cfg (Config(tb.TempDir()) when nil) with fast
// retries and audit batches, without starting it, and closes it when the
// test ends.
func Open(tb testing.TB, cfg *config.Config) *app.App {
	tb.Helper()
	return OpenLogged(tb, cfg, nil)
}

// OpenLogged is Open with the app's log going to logger.
func OpenLogged(tb testing.TB, cfg *config.Config, logger *slog.Logger) *app.App {
	tb.Helper()
	if cfg == nil {
		cfg = Config(tb.TempDir())
	}
	if OnPostgres() && cfg.Database.Driver == "bolt" {
		dsn, _ := dsns.LoadOrStore(cfg.Data.Dir, sync.OnceValue(func() string { return testpeer.PostgresDSN(tb) }))
		cfg.Database.Driver, cfg.Database.DSN = "postgres", dsn.(func() string)()
	}
	a, err := app.Open(context.Background(), cfg, logger, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	a.Engine.RetryBase, a.Engine.WebhookRetryBase = 10*time.Millisecond, 10*time.Millisecond
	a.AuditLog.Interval = 10 * time.Millisecond
	tb.Cleanup(func() { Close(a) })
	return a
}

// Start is Open, then each edit (to change services before they serve),
// then Start.
func Start(tb testing.TB, cfg *config.Config, edit ...func(*app.App)) *app.App {
	tb.Helper()
	return StartLogged(tb, cfg, nil, edit...)
}

// StartLogged is Start with the app's log going to logger.
func StartLogged(tb testing.TB, cfg *config.Config, logger *slog.Logger, edit ...func(*app.App)) *app.App {
	tb.Helper()
	a := OpenLogged(tb, cfg, logger)
	for _, e := range edit {
		e(a)
	}
	if err := a.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return a
}

// Close stops a within five seconds; closing twice is harmless.
func Close(a *app.App) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.Close(ctx)
}

// AddUser creates an active user id with its home at /users/<id> and every
// protocol, after each edit, and returns it.
func AddUser(tb testing.TB, a *app.App, id string, edit ...func(*mft.User)) *mft.User {
	tb.Helper()
	return coretest.AddUser(tb, a.Services, id, edit...)
}

// Actor is u as the file service sees a caller over the API.
func Actor(u *mft.User) files.Actor { return coretest.Actor(u) }

// Events returns the audit log's events named event, once every event
// published so far is written.
func Events(tb testing.TB, a *app.App, event string) []*mft.Event {
	tb.Helper()
	return coretest.Events(tb, a.Services, event)
}
