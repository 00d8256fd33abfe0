package store_test

import (
	"context"
	"crypto/sha256"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"

	"depot/internal/testpeer"
	"depot/store"
)

// The store's tests are one suite for both drivers: eachDriver runs a
// test on bbolt and on PostgreSQL (a cluster the first PostgreSQL test
// starts, stopped by TestMain).
func TestMain(m *testing.M) { testpeer.PostgresMain(m) }

// eachDriver runs fn as the subtests "bolt" and "postgres"; MustOpenDB,
// called inside fn, opens the driver of the subtest it runs under.
func eachDriver(t *testing.T, fn func(t *testing.T)) {
	t.Run("bolt", fn)
	t.Run("postgres", fn)
}

// onPostgres reports whether tb runs under eachDriver's "postgres".
func onPostgres(tb testing.TB) bool {
	parts := strings.Split(tb.Name(), "/")
	return len(parts) > 1 && parts[1] == "postgres"
}

// now is the fixed time of the test clock.
var now = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

// MustOpenDB opens a new database of the test's driver (a file in a
// temporary directory, or a new PostgreSQL database) with a fixed clock
// and closes it when the test ends.
func MustOpenDB(tb testing.TB) *store.DB {
	tb.Helper()
	if onPostgres(tb) {
		return mustOpenPostgres(tb)
	}
	return mustOpen(tb, store.NewDB(filepath.Join(tb.TempDir(), "depot.db")))
}

// mustOpenPostgres opens a new PostgreSQL database as MustOpenDB does.
func mustOpenPostgres(tb testing.TB) *store.DB {
	tb.Helper()
	return mustOpen(tb, store.NewPostgresDB(testpeer.PostgresDSN(tb)))
}

func mustOpen(tb testing.TB, db *store.DB) *store.DB {
	tb.Helper()
	db.Now = func() time.Time { return now }
	if err := db.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// reopen closes db and opens the same database again.
func reopen(tb testing.TB, db *store.DB) *store.DB {
	tb.Helper()
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
	return mustOpen(tb, &store.DB{Path: db.Path, DSN: db.DSN})
}

// putRaw writes value under key in bucket of the closed database db
// behind the store's back, as a damaged or foreign record would be.
func putRaw(tb testing.TB, db *store.DB, bucket, key, value string) {
	tb.Helper()
	if db.DSN == "" {
		bdb, err := bolt.Open(db.Path, 0o600, nil)
		must(tb, err)
		must(tb, bdb.Update(func(tx *bolt.Tx) error { return tx.Bucket([]byte(bucket)).Put([]byte(key), []byte(value)) }))
		must(tb, bdb.Close())
		return
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, db.DSN)
	must(tb, err)
	defer conn.Close(ctx)
	table := pgx.Identifier{strings.ToLower(strings.ReplaceAll(bucket, ".", "_"))}.Sanitize()
	h := sha256.Sum256([]byte(key))
	_, err = conn.Exec(ctx, "INSERT INTO "+table+" (h, k, v) VALUES ($1, $2, $3) ON CONFLICT (h) DO UPDATE SET v = EXCLUDED.v",
		h[:], []byte(key), []byte(value))
	must(tb, err)
}
