package mount_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"depot/auth"
	"depot/connection"
	"depot/internal/testpeer"
	"depot/mft"
	"depot/mount"
	"depot/store"
)

// world is a mount service on a real database with a connection to a real
// sshd.
type world struct {
	svc  *mount.Service
	conn *mft.Connection
	peer *testpeer.SSHD
}

func newWorld(t *testing.T, empty func(context.Context, string) (bool, error)) *world {
	t.Helper()
	ctx := context.Background()
	peer := testpeer.StartSSHD(t)
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := auth.NewSealer(make([]byte, 32))
	conns := &connection.Service{Store: store.NewConnectionStore(db), Sealer: sealer}
	c := peer.Connection("partner")
	if err := conns.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	svc := &mount.Service{Store: store.NewMountStore(db), Connections: conns, Empty: empty}
	t.Cleanup(func() { svc.Close() })
	return &world{svc: svc, conn: c, peer: peer}
}

// A mount serves its path and what is below it; its prefix is made on the
// remote; an edited table is seen at once; a path with local files is
// refused, as is a connection that does not exist.
func TestMount_TableAndAcquire(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, func(_ context.Context, p string) (bool, error) { return p != "/users/full", nil })
	m := &mft.Mount{Path: "/users/joe", Connection: w.conn.ID, Prefix: "joe"}
	if err := w.svc.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(w.peer.Dir, "joe")); err != nil || !fi.IsDir() {
		t.Fatalf("the prefix was not made on the remote: %v", err)
	}
	for p, want := range map[string]string{"/users/joe": m.ID, "/users/joe/in/x": m.ID, "/users/joey": "", "/users": ""} {
		got, err := w.svc.Lookup(ctx, p)
		if err != nil || (got == nil) != (want == "") || got != nil && got.ID != want {
			t.Errorf("Lookup(%s) = %v, %v; want %q", p, got, err, want)
		}
	}
	if below, _ := w.svc.Below(ctx, "/users"); len(below) != 1 || below[0].ID != m.ID {
		t.Fatalf("Below(/users) = %v", below)
	}
	tree, release, err := w.svc.Acquire(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.Put(ctx, "joe/a.txt", strings.NewReader("hello"), 0); err != nil {
		t.Fatal(err)
	}
	_, err = tree.Stat(ctx, "joe/missing")
	release(err)
	if mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("a missing file: %v, want ENOTFOUND", err)
	}
	if data, _ := os.ReadFile(filepath.Join(w.peer.Dir, "joe", "a.txt")); string(data) != "hello" {
		t.Fatalf("remote file = %q", data)
	}
	if n, err := w.svc.Sweep(ctx, 0); err != nil || n != 0 {
		t.Fatalf("sweep: %d, %v", n, err)
	}

	if err := w.svc.Create(ctx, &mft.Mount{Path: "/users/full", Connection: w.conn.ID}); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("a path with local files: %v, want ECONFLICT", err)
	}
	if err := w.svc.Create(ctx, &mft.Mount{Path: "/users/ann", Connection: "conn_nosuch"}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("a missing connection: %v, want EINVALID", err)
	}
	if err := w.svc.Create(ctx, &mft.Mount{Path: "/users", Connection: w.conn.ID}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("the top of the tree: %v, want EINVALID", err)
	}
	if err := w.svc.Delete(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.svc.Lookup(ctx, "/users/joe"); got != nil {
		t.Fatal("a deleted mount still serves its path")
	}
	if _, err := os.Stat(filepath.Join(w.peer.Dir, "joe", "a.txt")); err != nil {
		t.Fatal("deleting the mount removed the remote files")
	}
}

// A connection that stops answering fails the operation as EUNAVAILABLE
// with the connection named and no secret, and is lent no more: the next
// Acquire dials again (and fails while the network is down).
func TestMount_BrokenConnection(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, nil)
	relay := testpeer.Relay(t, w.peer.Port)
	c := *w.conn
	c.Port = relay.Port
	if err := w.svc.Connections.Update(ctx, w.conn, &c); err != nil {
		t.Fatal(err)
	}
	m := &mft.Mount{Path: "/shared/p", Connection: w.conn.ID}
	if err := w.svc.Create(ctx, m); err != nil {
		t.Fatal(err)
	}
	list := func() error {
		tree, release, err := w.svc.Acquire(ctx, m)
		if err != nil {
			return err
		}
		_, err = tree.List(ctx, "")
		release(err)
		return err
	}
	if err := list(); err != nil {
		t.Fatal(err)
	}
	relay.Down()
	for i := range 2 {
		err := list()
		if mft.ErrorCode(err) != mft.EUNAVAILABLE || !strings.Contains(mft.ErrorMessage(err), "partner") || strings.Contains(mft.ErrorMessage(err), "PRIVATE") {
			t.Fatalf("attempt %d with the network down: %v", i+1, err)
		}
	}
}

// The storage root's mount serves what no mount below it does; a mount
// stored by another node is seen once the access generation grows.
func TestMount_RootAndOtherNodes(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, nil)
	var gen atomic.Uint64
	w.svc.Generation = gen.Load
	root := &mft.Mount{Path: "/", Connection: w.conn.ID, Prefix: "all"}
	joe := &mft.Mount{Path: "/users/joe", Connection: w.conn.ID, Prefix: "joe"}
	for _, m := range []*mft.Mount{root, joe} {
		if err := w.svc.Create(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	for p, want := range map[string]string{"/": root.ID, "/users": root.ID, "/users/ann/x": root.ID, "/users/joe": joe.ID, "/users/joe/x": joe.ID} {
		if got, err := w.svc.Lookup(ctx, p); err != nil || got == nil || got.ID != want {
			t.Errorf("Lookup(%s) = %v, %v; want %s", p, got, err, want)
		}
	}
	if below, _ := w.svc.Below(ctx, "/"); len(below) != 0 {
		t.Fatalf("Below(/) = %v; the root's own mount is not a folder inside it", below)
	}
	if err := w.svc.Create(ctx, &mft.Mount{Path: "/", Connection: w.conn.ID}); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("a second root mount: %v, want ECONFLICT", err)
	}

	ann := &mft.Mount{Path: "/users/ann", Connection: w.conn.ID, Prefix: "ann"}
	if err := w.svc.Store.CreateMount(ctx, ann); err != nil { // as another node would
		t.Fatal(err)
	}
	gen.Add(1) // its NOTIFY
	if got, err := w.svc.Lookup(ctx, "/users/ann/x"); err != nil || got == nil || got.ID != ann.ID {
		t.Fatalf("another node's mount after the generation grew: %v, %v", got, err)
	}
}
