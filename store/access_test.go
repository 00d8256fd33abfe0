package store_test

import (
	"context"
	"testing"

	"depot/mft"
	"depot/store"
)

// The access generation grows after each change to who may reach what,
// so that a session's kept view is read again, and not after a login or
// a usage count.
func TestDB_AccessGeneration(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		db := MustOpenDB(t)
		ctx := context.Background()
		users, groups, perms := store.NewUserStore(db), store.NewGroupStore(db), store.NewPermissionStore(db)
		usage := store.NewUsageStore(db)
		grows := func(what string, change func() error) {
			t.Helper()
			before := db.AccessGeneration()
			if err := change(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if db.AccessGeneration() <= before {
				t.Errorf("%s: the access generation did not grow", what)
			}
		}
		u := &mft.User{ID: "u1", Username: "u1", Role: mft.RoleUser, Home: "/users/u1", Active: true, Protocols: mft.DefaultProtocols}
		grows("create user", func() error { return users.CreateUser(ctx, u) })
		grows("create group", func() error { return groups.CreateGroup(ctx, &mft.Group{ID: "g1", Name: "G1"}) })
		grows("update user", func() error {
			groups := []string{"g1"}
			_, err := users.UpdateUser(ctx, "u1", mft.UserUpdate{Groups: &groups})
			return err
		})
		rule := &mft.Permission{Subject: "group:g1", Path: "/shared", Permissions: []string{mft.PermList}}
		grows("create permission", func() error { return perms.CreatePermission(ctx, rule) })
		grows("update permission", func() error {
			_, err := perms.UpdatePermission(ctx, rule.ID, mft.PermissionUpdate{Permissions: &[]string{mft.PermDownload}})
			return err
		})
		grows("delete permission", func() error { return perms.DeletePermission(ctx, rule.ID) })
		grows("delete group", func() error { return groups.DeleteGroup(ctx, "g1") })

		before := db.AccessGeneration()
		if err := users.RecordLogin(ctx, "u1", "127.0.0.1"); err != nil {
			t.Fatal(err)
		}
		if err := usage.AddUsage(ctx, "/users/u1", 10); err != nil {
			t.Fatal(err)
		}
		if err := usage.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if db.AccessGeneration() != before {
			t.Error("a login or a usage count changed the access generation")
		}
		grows("delete user", func() error { _, err := users.DeleteUser(ctx, "u1"); return err })
	})
}
