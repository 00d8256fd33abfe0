package store_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"depot/internal/testpeer"
	"depot/mft"
	"depot/store"
)

// A populated bbolt database moves to PostgreSQL whole: every record is
// found there through the same stores (indexes included), the counts are
// reported, and a second migration into the now full database is refused
// without a change.
func TestMigrateToPostgres(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "depot.db")
	src := mustOpen(t, store.NewDB(path))
	users, groups, audit := store.NewUserStore(src), store.NewGroupStore(src), store.NewAuditStore(src)
	usage := store.NewUsageStore(src)
	must(t, groups.CreateGroup(ctx, &mft.Group{ID: "ops", Name: "Ops"}))
	for i := range 300 { // more than a cursor's batch
		u := newUser(fmt.Sprintf("u%03d@example.com", i))
		u.Groups = []string{"ops"}
		must(t, users.CreateUser(ctx, u))
	}
	must(t, users.SetUserAPIKeyHash(ctx, "u007-example-com", "hash-of-u7"))
	events := make([]mft.Event, 500)
	for i := range events {
		events[i] = mft.Event{Event: mft.EventFileUploaded, Time: now, Actor: "u001-example-com", Protocol: "sftp",
			Status: "ok", Path: fmt.Sprintf("/users/u001-example-com/f%03d", i)}
	}
	must(t, audit.AppendEvents(ctx, events))
	must(t, usage.AddUsage(ctx, "/users/u001-example-com", 4096))
	must(t, usage.Flush(ctx))

	t.Run("ServerRunning", func(t *testing.T) {
		if _, err := store.MigrateToPostgres(ctx, path, testpeer.PostgresDSN(t)); err == nil ||
			!strings.Contains(err.Error(), "in use by another process") {
			t.Fatalf("migrating an open database: %v", err)
		}
	})
	must(t, src.Close())

	dsn := testpeer.PostgresDSN(t)
	copied, err := store.MigrateToPostgres(ctx, path, dsn)
	must(t, err)
	counts := map[string]int{}
	for _, c := range copied {
		counts[c.Bucket] = c.N
	}
	if counts["Users"] != 300 || counts["Users.Email"] != 300 || counts["Audit"] != 500 || counts["Groups"] != 1 {
		t.Fatalf("copied %v", copied)
	}

	dst := mustOpen(t, store.NewPostgresDB(dsn))
	pu := store.NewUserStore(dst)
	if u, err := pu.FindUserByAPIKeyHash(ctx, "hash-of-u7"); err != nil || u.ID != "u007-example-com" {
		t.Fatalf("by API key on PostgreSQL: %v, %v", u, err)
	}
	if u, err := pu.FindUserByEmail(ctx, "u299@example.com"); err != nil || u.Groups[0] != "ops" {
		t.Fatalf("by email on PostgreSQL: %v, %v", u, err)
	}
	if n, err := pu.CountUsers(ctx); err != nil || n != 300 {
		t.Fatalf("users on PostgreSQL: %d, %v", n, err)
	}
	got, _, err := store.NewAuditStore(dst).FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 1000}, Actor: "u001-example-com"})
	if err != nil || len(got) != 500 {
		t.Fatalf("audit on PostgreSQL: %d events, %v", len(got), err)
	}
	if n, err := store.NewUsageStore(dst).Usage(ctx, "/users"); err != nil || n != 4096 {
		t.Fatalf("usage on PostgreSQL: %d, %v", n, err)
	}
	twin := newUser("u000@example.com")
	twin.ID, twin.Home = "twin", mft.HomeFor("twin")
	if err := pu.CreateUser(ctx, twin); err == nil || !strings.Contains(err.Error(), "u000@example.com") {
		t.Fatalf("the email index came along: a second u000@example.com got %v", err)
	}
	must(t, dst.Close())

	if _, err := store.MigrateToPostgres(ctx, path, dsn); mft.ErrorCode(err) != mft.ECONFLICT ||
		!strings.Contains(err.Error(), "already holds Depot records") {
		t.Fatalf("a second migration: %v", err)
	}
	again := mustOpen(t, store.NewPostgresDB(dsn))
	if n, _ := store.NewUserStore(again).CountUsers(ctx); n != 300 {
		t.Fatalf("the refused migration changed the users: %d", n)
	}
}
