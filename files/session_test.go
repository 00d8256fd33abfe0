package files_test

import (
	"context"
	"fmt"
	"os"
	"testing"

	"depot/internal/coretest"
	"depot/mft"
)

// A session holds the user's tree open between operations, but a folder
// an administrator moves away or replaces under a live session is seen at
// the next operation: the session works in the folder the path names now.
func TestSession_FolderMovedOrReplacedUnderIt(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	joe := coretest.AddUser(t, a, "joe")
	act := coretest.Actor(joe)
	act.Session = a.Files.NewSession()
	defer act.Session.Close()

	if _, err := upload(t, a, act, "/first.txt", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Stat(ctx, act, "/first.txt"); err != nil {
		t.Fatal(err)
	}

	// Moved away: the home is made again, empty, at its path.
	if _, err := a.Files.Rename(ctx, admin, joe.Home, joe.Home+"-old"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Stat(ctx, act, "/first.txt"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("stat of a file in the moved folder: %v, want not found", err)
	}
	if _, err := upload(t, a, act, "/second.txt", []byte("two")); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Stat(ctx, admin, joe.Home+"/second.txt"); err != nil {
		t.Fatalf("the upload after the move is not in the home at its path: %v", err)
	}
	if _, err := a.Files.Stat(ctx, admin, joe.Home+"-old/second.txt"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("the upload after the move went to the moved folder: %v", err)
	}

	// Replaced: the old folder put back in its place.
	if err := a.Files.Remove(ctx, admin, joe.Home, true); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Rename(ctx, admin, joe.Home+"-old", joe.Home); err != nil {
		t.Fatal(err)
	}
	list, err := a.Files.List(ctx, act, "/")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "first.txt" {
		t.Fatalf("listing after the folder was replaced: %+v, want first.txt alone", list)
	}
}

// A session keeps the user's rules between operations until they change:
// a shared folder granted, narrowed or taken away is seen by the next
// operation of a live session.
func TestSession_RuleChangesSeen(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	if _, err := a.Files.Mkdir(ctx, admin, "/shared/reports"); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, admin, "/shared/reports/q1.csv", []byte("q1")); err != nil {
		t.Fatal(err)
	}
	ann := coretest.AddUser(t, a, "ann")
	act := coretest.Actor(ann)
	act.Session = a.Files.NewSession()
	defer act.Session.Close()

	if _, err := a.Files.List(ctx, act, "/"); err != nil { // the view is read and kept
		t.Fatal(err)
	}
	if _, err := a.Files.Stat(ctx, act, "/reports/q1.csv"); err == nil {
		t.Fatal("a folder not shared with ann is reachable")
	}
	rule := &mft.Permission{Subject: "user:" + ann.ID, Path: "/shared/reports", Mount: "reports",
		Permissions: []string{mft.PermList, mft.PermDownload}}
	if err := a.Permissions.CreatePermission(ctx, rule); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Stat(ctx, act, "/reports/q1.csv"); err != nil {
		t.Fatalf("after the folder was shared: %v", err)
	}
	if _, err := upload(t, a, act, "/reports/q2.csv", []byte("q2")); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("upload without upload permission: %v, want forbidden", err)
	}
	if _, err := a.Permissions.UpdatePermission(ctx, rule.ID, mft.PermissionUpdate{
		Permissions: &[]string{mft.PermList, mft.PermDownload, mft.PermUpload}}); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, act, "/reports/q2.csv", []byte("q2")); err != nil {
		t.Fatalf("upload after upload was granted: %v", err)
	}
	if err := a.Permissions.DeletePermission(ctx, rule.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Stat(ctx, act, "/reports/q1.csv"); err == nil {
		t.Fatal("the folder is still reachable after its rule was deleted")
	}

	// The account deleted: the session's next operation is refused.
	if _, err := a.Users.DeleteUser(ctx, ann.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.List(ctx, act, "/"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("listing after the account was deleted: %v, want unauthorized", err)
	}
}

// A user who may replace a folder that is one of their trees (a shared
// folder inside another shared folder) does not make their session hold
// a descriptor for each replacement.
func TestSession_ReplacedTreesBounded(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	if _, err := a.Files.Mkdir(ctx, admin, "/shared/team/inbox"); err != nil {
		t.Fatal(err)
	}
	bob := coretest.AddUser(t, a, "bob")
	for _, r := range []*mft.Permission{
		{Subject: "user:bob", Path: "/shared/team", Mount: "team", Permissions: mft.AllPermissions},
		{Subject: "user:bob", Path: "/shared/team/inbox", Mount: "inbox", Permissions: mft.AllPermissions},
	} {
		if err := a.Permissions.CreatePermission(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	act := coretest.Actor(bob)
	act.Session = a.Files.NewSession()
	defer act.Session.Close()
	fds := func() int {
		entries, err := os.ReadDir("/proc/self/fd")
		if err != nil {
			t.Skip("no /proc/self/fd")
		}
		return len(entries)
	}
	if _, err := a.Files.List(ctx, act, "/inbox"); err != nil {
		t.Fatal(err)
	}
	before := fds()
	for i := range 50 {
		if _, err := a.Files.Rename(ctx, act, "/team/inbox", fmt.Sprintf("/team/old-%d", i)); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Files.Mkdir(ctx, act, "/team/inbox"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Files.List(ctx, act, "/inbox"); err != nil { // the new folder, opened afresh
			t.Fatal(err)
		}
	}
	if after := fds(); after > before+10 {
		t.Fatalf("open descriptors grew from %d to %d over 50 replacements", before, after)
	}
}
