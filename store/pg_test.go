package store_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"depot/internal/testpeer"
	"depot/mft"
	"depot/store"

	"github.com/jackc/pgx/v5"
)

// A node that loses its database answers 503 and changes nothing, and
// works again by itself once the database is back, its sessions reading
// again what changes they may have missed.
func TestPostgres_LosesAndFindsTheDatabase(t *testing.T) {
	ctx := context.Background()
	dsn, err := url.Parse(testpeer.PostgresDSN(t))
	must(t, err)
	port, _ := strconv.Atoi(dsn.Port())
	network := testpeer.Relay(t, port)
	dsn.Host = "127.0.0.1:" + strconv.Itoa(network.Port)
	db := mustOpen(t, store.NewPostgresDB(dsn.String()))
	users := store.NewUserStore(db)
	must(t, users.CreateUser(ctx, newUser("before@example.com")))

	generation := db.AccessGeneration()
	network.Down()
	if err := db.Ping(ctx); mft.ErrorCode(err) != mft.EUNAVAILABLE {
		t.Fatalf("ping without the database: %v; want %s", err, mft.EUNAVAILABLE)
	}
	if _, err := users.FindUserByEmail(ctx, "before@example.com"); mft.ErrorCode(err) != mft.EUNAVAILABLE {
		t.Fatalf("find without the database: %v; want %s", err, mft.EUNAVAILABLE)
	}
	if err := users.CreateUser(ctx, newUser("during@example.com")); mft.ErrorCode(err) != mft.EUNAVAILABLE {
		t.Fatalf("create without the database: %v; want %s", err, mft.EUNAVAILABLE)
	}
	if err != nil && strings.Contains(mft.ErrorMessage(err), "127.0.0.1") {
		t.Fatalf("the answer names the database's address: %q", mft.ErrorMessage(err))
	}

	network.Up(t)
	for db.Ping(ctx) != nil { // connections broken by the outage are dropped
	}
	// Changes other processes made meanwhile went unheard: a session
	// must read again.
	for db.AccessGeneration() == generation {
		time.Sleep(time.Millisecond)
	}
	if u, err := users.FindUserByEmail(ctx, "before@example.com"); err != nil || u.Email != "before@example.com" {
		t.Fatalf("after the outage: %v, %v", u, err)
	}
	if _, err := users.FindUserByEmail(ctx, "during@example.com"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("the user refused during the outage: %v; want not found", err)
	}
}

// Until the work two nodes share goes through the database, a second
// node on the same database is refused with a message saying why.
func TestPostgres_SecondNodeRefused(t *testing.T) {
	first := mustOpenPostgres(t)
	second := store.NewPostgresDB(first.DSN)
	err := second.Open()
	if err == nil {
		second.Close()
		t.Fatal("a second node opened the database")
	}
	if !strings.Contains(err.Error(), "another depot node is using this database") {
		t.Fatalf("second node: %v", err)
	}
	must(t, first.Close())
	again := store.NewPostgresDB(first.DSN)
	must(t, again.Open()) // the first node's lock went with it
	again.Close()
}

// A change to who may reach what, committed by any process on the
// database, grows every process's access generation (so that their live
// sessions read again): this one hears another's NOTIFY, and its own
// committed changes are announced; a change that fails announces nothing.
func TestPostgres_AccessChangesReachOtherProcesses(t *testing.T) {
	ctx := context.Background()
	db := mustOpenPostgres(t)
	other, err := pgx.Connect(ctx, db.DSN)
	must(t, err)
	defer other.Close(ctx)
	_, err = other.Exec(ctx, "LISTEN depot_access")
	must(t, err)

	before := db.AccessGeneration()
	_, err = other.Exec(ctx, "NOTIFY depot_access")
	must(t, err)
	for db.AccessGeneration() == before { // heard by the listener
		time.Sleep(time.Millisecond)
	}

	next := func() string {
		t.Helper()
		n, err := other.WaitForNotification(ctx)
		must(t, err)
		return n.Payload
	}
	if got := next(); got != "" { // the test's own NOTIFY
		t.Fatalf("payload %q", got)
	}
	users, perms := store.NewUserStore(db), store.NewPermissionStore(db)
	must(t, users.CreateUser(ctx, newUser("p@example.com")))
	_, err = other.Exec(ctx, "NOTIFY depot_access, 'after the user'")
	must(t, err)
	if got := next(); got == "" || got == "after the user" { // notifications arrive in commit order
		t.Fatalf("creating a user was not announced with the process's name (got %q first)", got)
	}
	if got := next(); got != "after the user" {
		t.Fatalf("payload %q", got)
	}
	if err := perms.CreatePermission(ctx, &mft.Permission{Subject: "user:nobody", Path: "/x", Permissions: []string{"list"}}); err == nil {
		t.Fatal("a rule for nobody was stored")
	}
	_, err = other.Exec(ctx, "NOTIFY depot_access, 'marker'")
	must(t, err)
	if got := next(); got != "marker" {
		t.Fatalf("a failed change was announced (got %q before the marker)", got)
	}
}
