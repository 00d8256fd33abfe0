package store_test

import (
	"context"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"depot/internal/testpeer"
	"depot/mft"
	"depot/store"
)

// A node that loses its database answers 503 and changes nothing, and
// works again by itself once the database is back.
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
