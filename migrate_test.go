package main

import (
	"context"
	"os"
	"strings"
	"testing"

	"depot/app"
	"depot/internal/apptest"
	"depot/internal/contract"
	"depot/internal/testpeer"
	"depot/server"
)

// An administrator who grows out of one file: a Depot used on bbolt is
// stopped, `depot migrate --to` copies it into PostgreSQL, and the same
// data directory started on PostgreSQL has its users and runs the
// README's walkthrough (but for its last line, the backup, which on
// PostgreSQL is pg_dump's job and answers 422).
func TestMigrate_ThenTheWalkthroughOnPostgres(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	before := apptest.Start(t, apptest.Config(data))
	partner := apptest.AddUser(t, before, "acme")
	apptest.Close(before)

	dsn := testpeer.PostgresDSN(t)
	environ = func() []string { return []string{"DEPOT_DATA_DIR=" + data} }
	defer func() { environ = os.Environ }()
	var stdout strings.Builder
	if err := run(ctx, []string{"migrate", "--to", dsn}, strings.NewReader(""), &stdout, &stdout); err != nil {
		t.Fatalf("migrate: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), "Users ") || !strings.Contains(stdout.String(), `driver = "postgres"`) {
		t.Fatalf("migrate said:\n%s", stdout.String())
	}

	cfg := apptest.Config(data)
	cfg.Database.Driver, cfg.Database.DSN = "postgres", dsn
	after := apptest.Start(t, cfg, func(a *app.App) { a.HTTP.Wrap = contract.Check(t, server.OpenAPI()) })
	if u, err := after.Users.FindUserByID(ctx, partner.ID); err != nil || u.Username != partner.Username {
		t.Fatalf("the partner on PostgreSQL: %v, %v", u, err)
	}
	const backup = "curl -s --user $KEY:x -o depot-backup.db $D/admin/backup"
	script := walkthrough(t)
	if !strings.Contains(script, backup) {
		t.Fatalf("the walkthrough has no line %q any more: update this test", backup)
	}
	runScript(t, strings.Replace(script, backup, "", 1), after.HTTP.URL())
}
