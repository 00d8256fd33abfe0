package store_test

import (
	"context"
	"testing"

	"depot/mft"
	"depot/store"
)

// A connection that serves a mount cannot be deleted; mounts cannot
// overlap, and need an existing connection.
func TestConnectionAndMountStores(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		conns, mounts := store.NewConnectionStore(db), store.NewMountStore(db)
		c := &mft.Connection{Name: "partner", Type: "sftp", Host: "sftp.example.test", Port: 22}
		must(t, conns.CreateConnection(ctx, c))
		c.Port = 2222
		must(t, conns.PutConnection(ctx, c))
		if got, _ := conns.FindConnection(ctx, c.ID); got.Port != 2222 {
			t.Fatalf("port = %d", got.Port)
		}
		if list, more, _ := conns.FindConnections(ctx, mft.Page{}); len(list) != 1 || more {
			t.Fatalf("connections = %d", len(list))
		}
		if err := mounts.CreateMount(ctx, &mft.Mount{Path: "/users/joe", Connection: "conn_nosuch"}); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("mount on a missing connection: %v", err)
		}
		m := &mft.Mount{Path: "/users/joe", Connection: c.ID}
		must(t, mounts.CreateMount(ctx, m))
		for _, p := range []string{"/users/joe/in", "/users", "/users/joe"} {
			if err := mounts.CreateMount(ctx, &mft.Mount{Path: p, Connection: c.ID}); mft.ErrorCode(err) != mft.ECONFLICT {
				t.Errorf("mount at %s over /users/joe: %v, want ECONFLICT", p, err)
			}
		}
		must(t, mounts.CreateMount(ctx, &mft.Mount{Path: "/users/joey", Connection: c.ID}))
		if err := conns.DeleteConnection(ctx, c.ID); mft.ErrorCode(err) != mft.ECONFLICT {
			t.Fatalf("deleting a connection in use: %v", err)
		}
		all, _ := mounts.FindMounts(ctx)
		for _, x := range all {
			must(t, mounts.DeleteMount(ctx, x.ID))
		}
		if _, err := mounts.FindMount(ctx, m.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("deleted mount: %v", err)
		}
		if err := mounts.DeleteMount(ctx, m.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second mount delete: %v", err)
		}
		must(t, conns.DeleteConnection(ctx, c.ID))
		if err := conns.DeleteConnection(ctx, c.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second delete: %v", err)
		}
	})
}
