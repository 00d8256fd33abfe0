package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"depot/config"
	"depot/store"
)

// migrateTo copies the bbolt database of the configured data directory
// into the empty PostgreSQL database at dsn and says what to change in
// the configuration; depot.db is left as it was.
func migrateTo(ctx context.Context, configPath, dsn string, stdout io.Writer) error {
	if dsn == "" {
		return errors.New("migrate: --to postgres://… is required")
	}
	cfg, err := config.Load(configPath, environ())
	if err != nil {
		return err
	}
	if cfg.Database.Driver == "postgres" {
		return errors.New("migrate: this Depot's database is already PostgreSQL (database.driver); there is no bbolt file to copy")
	}
	if err := requireDB(cfg); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	path := filepath.Join(cfg.Data.Dir, "depot.db")
	copied, err := store.MigrateToPostgres(ctx, path, dsn)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	total := 0
	for _, c := range copied {
		total += c.N
		if c.N > 0 {
			fmt.Fprintf(stdout, "%-24s %d\n", c.Bucket, c.N)
		}
	}
	fmt.Fprintf(stdout, "Copied %d records from %s; each table holds as many as its bucket.\n"+
		"Now set, in the configuration (or DEPOT_DATABASE_DRIVER and DEPOT_DATABASE_DSN):\n"+
		"  [database]\n  driver = \"postgres\"\n  dsn = \"…\"   # the database you gave --to\n"+
		"and keep data.dir: it still holds the files, secret.key and the host keys. %s is left as it was.\n", total, path, path)
	return nil
}
