package store_test

import (
	"context"
	"net/url"
	"slices"
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

// A second node on the database is refused with a message saying how
// to share it; nodes that share it open it together, and refuse a node
// that does not.
func TestPostgres_SecondNodeRefused(t *testing.T) {
	first := mustOpenPostgres(t)
	refused := func(db *store.DB, why string) {
		t.Helper()
		err := db.Open()
		if err == nil {
			db.Close()
			t.Fatal("a second node opened the database")
		}
		if !strings.Contains(err.Error(), why) {
			t.Fatalf("second node: %v; want %q", err, why)
		}
	}
	refused(store.NewPostgresDB(first.DSN), "another depot node is using this database: to share it, set database.shared = true")
	refused(&store.DB{DSN: first.DSN, Shared: true}, "a depot node that does not share this database")
	must(t, first.Close())
	mustOpen(t, &store.DB{DSN: first.DSN, Shared: true}) // the first node's lock went with it
	mustOpen(t, &store.DB{DSN: first.DSN, Shared: true})
	refused(store.NewPostgresDB(first.DSN), "another depot node is using this database")
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

// Nodes that share a database share its job queues: each knows the
// others are alive while their connection is; a node cut off is seen
// gone at once, its runs are adopted by another, and when it comes back
// it may no longer write them.
func TestPostgres_NodesShareTheQueues(t *testing.T) {
	ctx := context.Background()
	base := testpeer.PostgresDSN(t)
	dsn, err := url.Parse(base)
	must(t, err)
	port, _ := strconv.Atoi(dsn.Port())
	network := testpeer.Relay(t, port)
	dsn.Host = "127.0.0.1:" + strconv.Itoa(network.Port)
	a := mustOpen(t, &store.DB{DSN: dsn.String(), Shared: true}) // behind the relay
	b := mustOpen(t, &store.DB{DSN: base, Shared: true})
	live, err := b.LiveNodes(ctx)
	must(t, err)
	if !slices.Contains(live, a.Node()) || !slices.Contains(live, b.Node()) || a.Node() == b.Node() {
		t.Fatalf("live nodes %v; want %s and %s", live, a.Node(), b.Node())
	}
	sa, sb := store.NewAutomationStore(a), store.NewAutomationStore(b)
	r := &mft.Run{Automation: "au_1", Status: mft.RunRunning}
	must(t, sa.CreateRun(ctx, r))
	if got, _ := sb.AdoptRuns(ctx); len(got) != 0 {
		t.Fatalf("a live node's run was adopted: %v", got)
	}

	network.Down()
	var adopted []*mft.Run
	for len(adopted) == 0 { // the server notices the connection go
		adopted, err = sb.AdoptRuns(ctx)
		must(t, err)
		time.Sleep(10 * time.Millisecond)
	}
	if len(adopted) != 1 || adopted[0].ID != r.ID || adopted[0].Node != b.Node() || adopted[0].Status != mft.RunQueued {
		t.Fatalf("adopted %+v; want %s queued on %s", adopted[0], r.ID, b.Node())
	}

	network.Up(t)
	for { // a listens again, as itself
		live, err := b.LiveNodes(ctx)
		must(t, err)
		if slices.Contains(live, a.Node()) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for a.Ping(ctx) != nil { // connections broken by the outage are dropped
	}
	r.Status = mft.RunSucceeded
	if err := sa.PutRun(ctx, r); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("the node that lost its run wrote it: %v; want %s", err, mft.ECONFLICT)
	}
	if got, _ := sb.FindRun(ctx, r.ID); got.Status != mft.RunQueued || got.Node != b.Node() {
		t.Fatalf("the adopted run: %s on %s", got.Status, got.Node)
	}
}

// A release that upgrades the schema does not start while nodes of the
// release before run on the database (they would run on a schema they do
// not know); once they are stopped, it upgrades and starts.
func TestPostgres_SchemaUpgradeWaitsForTheOldNodes(t *testing.T) {
	dsn := testpeer.PostgresDSN(t)
	old := mustOpen(t, &store.DB{DSN: dsn, Shared: true})
	putRaw(t, old, "Meta", "schema_version", "1") // as the release before left it
	err := (&store.DB{DSN: dsn, Shared: true}).Open()
	if err == nil || !strings.Contains(err.Error(), "stop every node") {
		t.Fatalf("an upgrading node beside an old one: %v; want a refusal that says to stop them", err)
	}
	must(t, old.Close())
	mustOpen(t, &store.DB{DSN: dsn, Shared: true})
}
