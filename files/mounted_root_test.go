package files_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"depot/internal/coretest"
	"depot/mft"
)

// The storage root mounted on a connection: nothing lands on the local
// disk, homes are made there on first use, a mount below the root serves
// its own path and shows in its parent's listing, a file held on the root
// mount is delivered, and a mount that would hide files is refused, on
// the local disk as on the root mount.
func TestMounted_StorageRoot(t *testing.T) {
	ctx := context.Background()
	a, peer, c := startWithPeer(t)
	fs := a.Files
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	local := filepath.Join(a.Config.Data.Dir, "files")

	if _, err := fs.Mkdir(ctx, admin, "/shared"); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, admin, "/shared/old.txt", []byte("old")); err != nil {
		t.Fatal(err)
	}
	root := &mft.Mount{Path: "/", Connection: c.ID, Prefix: "depot"}
	if err := a.Mounts.Create(ctx, root); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("a root mount over a local file = %v; want ECONFLICT", err)
	}
	if err := fs.Remove(ctx, admin, "/shared/old.txt", false); err != nil {
		t.Fatal(err)
	}
	if err := a.Mounts.Create(ctx, root); err != nil {
		t.Fatalf("a root mount over empty folders: %v", err)
	}

	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	if _, err := upload(t, a, joe, "/a.txt", []byte("on the remote")); err != nil {
		t.Fatal(err)
	}
	if data, err := os.ReadFile(filepath.Join(peer.Dir, "depot", "users", "joe", "a.txt")); err != nil || string(data) != "on the remote" {
		t.Fatalf("joe's file on the remote = %q, %v", data, err)
	}
	if _, err := os.Stat(filepath.Join(local, "users", "joe", "a.txt")); err == nil {
		t.Fatal("joe's file is on the local disk too")
	}

	// A mount below the root: refused while the root mount has files
	// there, then it serves its own path.
	if _, err := fs.Mkdir(ctx, joe, "/archive"); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, joe, "/archive/x.txt", []byte("x")); err != nil {
		t.Fatal(err)
	}
	nested := &mft.Mount{Path: "/users/joe/archive", Connection: c.ID, Prefix: "archive"}
	if err := a.Mounts.Create(ctx, nested); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("a mount over the root mount's files = %v; want ECONFLICT", err)
	}
	if err := fs.Remove(ctx, joe, "/archive", true); err != nil {
		t.Fatal(err)
	}
	if err := a.Mounts.Create(ctx, nested); err != nil {
		t.Fatalf("a mount below the root mount: %v", err)
	}
	if err := a.Mounts.Create(ctx, &mft.Mount{Path: "/users/joe/a.txt", Connection: c.ID, Prefix: "file"}); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("a mount over a file on the root mount = %v; want ECONFLICT", err)
	}
	if err := a.Mounts.Create(ctx, &mft.Mount{Path: "/users/joe/archive/deeper", Connection: c.ID}); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("a mount inside a mount that is not the root's = %v; want ECONFLICT", err)
	}
	if _, err := upload(t, a, joe, "/archive/y.txt", []byte("y")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(peer.Dir, "archive", "y.txt")); err != nil {
		t.Fatalf("a file below the nested mount is not on its prefix: %v", err)
	}
	list, err := fs.List(ctx, joe, "/")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range list {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"a.txt", "archive"}) {
		t.Fatalf("joe's root lists %v; want a.txt and the nested mount", names)
	}

	// A file held on the root mount (a filedrop's holding folder) is
	// delivered into joe's home, and no longer held.
	if _, err := fs.Mkdir(ctx, admin, "/held/s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, admin, "/held/s1/report.pdf", []byte("report")); err != nil {
		t.Fatal(err)
	}
	where, err := fs.Deliver(ctx, "/held/s1/report.pdf", joe, "/inbox/report.pdf", sum([]byte("report")))
	if err != nil || where != "/users/joe/inbox/report.pdf" {
		t.Fatalf("deliver = %s, %v", where, err)
	}
	if data, err := os.ReadFile(filepath.Join(peer.Dir, "depot", "users", "joe", "inbox", "report.pdf")); err != nil || string(data) != "report" {
		t.Fatalf("the delivered file = %q, %v", data, err)
	}
	if _, err := fs.Stat(ctx, admin, "/held/s1/report.pdf"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("the held file after delivery: %v; want it gone", err)
	}
	if _, err := fs.Deliver(ctx, "/held/s1", joe, "/inbox/dir", ""); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("delivering a folder = %v; want EINVALID", err)
	}

	// Deleting the root mount gives the path back to the local disk.
	if err := a.Mounts.Delete(ctx, root.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(ctx, joe, "/a.txt"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("joe's remote file after the root mount went: %v; want not found on the local disk", err)
	}
}
