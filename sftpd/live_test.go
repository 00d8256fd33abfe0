package sftpd_test

import (
	"context"
	"io"
	"os"
	"testing"

	"depot/internal/coretest"
	"depot/mft"
)

// A session keeps the user's tree and rules between requests; what an
// administrator changes under a live session is seen by its next request:
// the home moved away (a new empty one in its place), a folder shared.
func TestLiveSession_SeesAdministratorsChanges(t *testing.T) {
	e := openEnv(t)
	p := e.addUser(t, "amy")
	c, _ := e.dial(t, p)
	ctx := context.Background()
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	put := func(name, body string) error {
		f, err := c.Create(name)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(f, body); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}
	if err := put("/before.txt", "one"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat("/reports"); !os.IsNotExist(err) {
		t.Fatalf("stat of a folder not shared: %v", err)
	}

	if _, err := e.files.Rename(ctx, admin, p.user.Home, p.user.Home+"-archived"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.files.Mkdir(ctx, admin, "/shared/reports"); err != nil {
		t.Fatal(err)
	}
	if err := e.core.Permissions.CreatePermission(ctx, &mft.Permission{Subject: "user:amy", Path: "/shared/reports",
		Mount: "reports", Permissions: []string{mft.PermList, mft.PermUpload}}); err != nil {
		t.Fatal(err)
	}

	if _, err := c.Stat("/before.txt"); !os.IsNotExist(err) {
		t.Fatalf("stat of a file in the home moved away: %v, want it gone", err)
	}
	if err := put("/after.txt", "two"); err != nil {
		t.Fatal(err)
	}
	if err := put("/reports/r.csv", "r"); err != nil {
		t.Fatalf("upload to the folder shared during the session: %v", err)
	}
	for _, want := range []string{p.user.Home + "/after.txt", p.user.Home + "-archived/before.txt", "/shared/reports/r.csv"} {
		if _, err := e.files.Stat(ctx, admin, want); err != nil {
			t.Errorf("%s: %v", want, err)
		}
	}
	if _, err := e.files.Stat(ctx, admin, p.user.Home+"-archived/after.txt"); err == nil {
		t.Error("the upload after the move went to the folder moved away")
	}

	// Added to a group during the session: the group's folder appears.
	if _, err := e.files.Mkdir(ctx, admin, "/shared/audit"); err != nil {
		t.Fatal(err)
	}
	if err := e.core.Groups.CreateGroup(ctx, &mft.Group{ID: "auditors", Name: "Auditors"}); err != nil {
		t.Fatal(err)
	}
	if err := e.core.Permissions.CreatePermission(ctx, &mft.Permission{Subject: "group:auditors", Path: "/shared/audit",
		Mount: "audit", Permissions: []string{mft.PermList}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat("/audit"); !os.IsNotExist(err) {
		t.Fatalf("stat of a group folder before joining the group: %v", err)
	}
	groups := []string{"auditors"}
	if _, err := e.users.UpdateUser(ctx, "amy", mft.UserUpdate{Groups: &groups}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stat("/audit"); err != nil {
		t.Fatalf("stat of the group's folder after joining the group: %v", err)
	}

	// Disabled during the session: its next request is refused.
	off := false
	if _, err := e.users.UpdateUser(ctx, "amy", mft.UserUpdate{Active: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReadDir("/"); !os.IsPermission(err) {
		t.Fatalf("listing after the account was disabled: %v, want permission denied", err)
	}
	if err := put("/late.txt", "x"); err == nil {
		t.Fatal("an upload after the account was disabled was accepted")
	}
}
