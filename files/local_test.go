package files_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

// The operations outside a user's view (delivery from a holding folder,
// opening and removing storage, detaching) and the SFTP-side details of
// a pending upload, on the local disk.
func TestLocal_StorageOperations(t *testing.T) {
	ctx := context.Background()
	a := coretest.Start(t, nil)
	fs := a.Files
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	disk := func(storage string) string { return filepath.Join(a.Config.Data.Dir, "files", storage) }
	if _, err := fs.Mkdir(ctx, admin, "/held"); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, admin, "/held/in.pdf", []byte("held file")); err != nil {
		t.Fatal(err)
	}
	where, err := fs.Deliver(ctx, "/held/in.pdf", joe, "/inbox/2026/in.pdf", sum([]byte("held file")))
	if err != nil || where != "/users/joe/inbox/2026/in.pdf" {
		t.Fatalf("deliver = %q, %v", where, err)
	}
	if data, _ := os.ReadFile(disk(where)); string(data) != "held file" || usage(t, a, "/held") != 0 || usage(t, a, "/users/joe") != 9 {
		t.Fatal("the delivery did not move the file and its usage")
	}
	if _, err := fs.Deliver(ctx, "/held/missing.pdf", joe, "/inbox/x.pdf", ""); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("deliver of a missing file: %v", err)
	}
	f, fi, err := fs.OpenStorage(where)
	if err != nil || fi.Size() != 9 || fi.Name() != "in.pdf" || fi.IsDir() {
		t.Fatalf("open storage = %v, %v", fi, err)
	}
	f.Close()
	if _, _, err := fs.OpenStorage("/users/joe/inbox"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("open storage of a folder: %v", err)
	}
	if path, dir, err := fs.Share(ctx, joe, "/inbox/2026/in.pdf", false); err != nil || dir || path != where {
		t.Fatalf("share = %s %v %v", path, dir, err)
	}
	if _, _, err := fs.Share(ctx, joe, "/inbox/2026/in.pdf", true); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("an upload link on a file: %v", err)
	}
	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := fs.SetTimes(ctx, joe, "/inbox/2026/in.pdf", mtime, mtime); err != nil {
		t.Fatal(err)
	}
	if st, _ := fs.Stat(ctx, joe, "/inbox/2026/in.pdf"); !st.ModifiedAt.Equal(mtime) {
		t.Fatalf("mtime = %v", st.ModifiedAt)
	}

	// Detach takes a folder out of reach at once; Restore puts it back,
	// Discard removes it with its usage.
	d, err := fs.Detach(ctx, "/users/joe/inbox")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(ctx, joe, "/inbox"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("a detached folder: %v", err)
	}
	if err := d.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(ctx, joe, "/inbox/2026/in.pdf"); err != nil {
		t.Fatalf("after restore: %v", err)
	}
	// An upload that made the folder again meanwhile does not keep the
	// detached one from coming back.
	d, _ = fs.Detach(ctx, "/users/joe/inbox")
	if _, err := upload(t, a, joe, "/inbox/late.txt", []byte("late")); err == nil {
		t.Fatal("an upload into a detached folder's path found its folder")
	}
	if _, err := fs.Mkdir(ctx, joe, "/inbox"); err != nil {
		t.Fatal(err)
	}
	if err := d.Restore(); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Stat(ctx, joe, "/inbox/2026/in.pdf"); err != nil {
		t.Fatalf("after restoring over a new folder: %v", err)
	}
	d, _ = fs.Detach(ctx, "/users/joe/inbox")
	if err := d.Discard(ctx); err != nil {
		t.Fatal(err)
	}
	if usage(t, a, "/users/joe") != 0 {
		t.Fatal("discard left the usage")
	}
	if left, _ := os.ReadDir(filepath.Join(a.Config.Data.Dir, "tmp")); len(left) != 0 {
		t.Fatalf("left in data/tmp: %v", left)
	}
	if _, err := fs.Detach(ctx, "/"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("detaching the root: %v", err)
	}
	if nothing, err := fs.Detach(ctx, "/users/nobody"); err != nil || nothing.Restore() != nil || nothing.Discard(ctx) != nil {
		t.Fatalf("detaching nothing: %v", err)
	}

	if _, err := upload(t, a, joe, "/gone/x.txt", []byte("x")); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("upload into a missing folder: %v", err)
	}
	fs.Mkdir(ctx, joe, "/gone")
	upload(t, a, joe, "/gone/x.txt", []byte("x"))
	if err := fs.RemoveStorage(ctx, "/users/joe/gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(disk("/users/joe/gone")); err == nil || usage(t, a, "/users/joe") != 0 {
		t.Fatal("RemoveStorage left the folder or its usage")
	}
	if err := fs.RemoveStorage(ctx, "/"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("RemoveStorage of the root: %v", err)
	}
	if err := fs.RemoveStorage(ctx, "/users/joe/never"); err != nil {
		t.Fatalf("RemoveStorage of nothing: %v", err)
	}
	fs.Mkdir(ctx, admin, "/empty/a")
	fs.RemoveEmptyFolder("/empty/a")
	if _, err := os.Stat(disk("/empty/a")); err == nil {
		t.Fatal("an empty folder stayed")
	}
}

// A pending upload (SFTP) on the local disk: writes in any order,
// truncation, reading back, times kept, sync asked; aborting leaves
// nothing.
func TestLocal_Pending(t *testing.T) {
	ctx := context.Background()
	a := coretest.Start(t, nil)
	joe := coretest.Actor(coretest.AddUser(t, a, "joe", func(u *mft.User) { u.MaxFileSize = 1 }))
	p, err := a.Files.Create(ctx, joe, "/a.txt", files.UploadOptions{Size: -1, SyncOnRequest: true})
	if err != nil {
		t.Fatal(err)
	}
	if p.Path() != "/a.txt" {
		t.Fatalf("path %q", p.Path())
	}
	p.WriteAt([]byte("world!!"), 5)
	p.WriteAt([]byte("hello"), 0)
	if err := p.Truncate(10); err != nil {
		t.Fatal(err)
	}
	if err := p.Truncate(-1); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("negative size: %v", err)
	}
	if err := p.Truncate(2 << 20); mft.ErrorCode(err) != mft.ETOOLARGE {
		t.Fatalf("past max_file_size: %v", err)
	}
	back := make([]byte, 10)
	if _, err := p.ReadAt(back, 0); err != nil && err != io.EOF || string(back) != "helloworld" {
		t.Fatalf("read back %q, %v", back, err)
	}
	mtime := time.Date(2021, 5, 6, 7, 8, 9, 0, time.UTC)
	p.SetTimes(mtime, mtime)
	if err := p.Sync(); err != nil {
		t.Fatal(err)
	}
	fi, err := p.Commit()
	if err != nil || fi.Size != 10 || fi.SHA256 != sum([]byte("helloworld")) || !fi.ModifiedAt.Equal(mtime) {
		t.Fatalf("commit = %+v, %v", fi, err)
	}
	if _, err := p.Commit(); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("second commit: %v", err)
	}
	if err := p.Sync(); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("sync after commit: %v", err)
	}
	r, err := a.Files.Create(ctx, joe, "/a.txt", files.UploadOptions{Size: -1, Resume: true, Overwrite: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Size() != 10 {
		t.Fatalf("a resumed upload starts at %d, want 10", r.Size())
	}
	r.WriteAt([]byte("!"), 10)
	if fi, err := r.Commit(); err != nil || fi.SHA256 != sum([]byte("helloworld!")) {
		t.Fatalf("resumed commit = %+v, %v", fi, err)
	}
	q, _ := a.Files.Create(ctx, joe, "/b.txt", files.UploadOptions{Size: -1})
	q.WriteAt([]byte("never"), 0)
	q.Abort()
	q.Abort()
	if _, err := a.Files.Stat(ctx, joe, "/b.txt"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("an aborted upload: %v", err)
	}
}

// A zip holds what the actor may download, named below the folder the
// paths share; a path they may not read refuses the whole archive.
func TestZip(t *testing.T) {
	ctx := context.Background()
	a := coretest.Start(t, nil)
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	a.Files.Mkdir(ctx, joe, "/docs/sub")
	upload(t, a, joe, "/docs/a.txt", []byte("a"))
	upload(t, a, joe, "/docs/sub/b.txt", []byte("bb"))
	var buf bytes.Buffer
	if err := a.Files.Zip(ctx, joe, []string{"/docs/a.txt", "/docs/sub"}, &buf); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range zr.File {
		got[f.Name] = true
	}
	if !got["a.txt"] || !got["sub/b.txt"] {
		t.Fatalf("zip holds %v", got)
	}
	if err := a.Files.Zip(ctx, joe, nil, io.Discard); mft.ErrorCode(err) != mft.EMALFORMED {
		t.Fatalf("nothing chosen: %v", err)
	}
	if err := a.Files.Zip(ctx, joe, []string{"/docs/missing"}, io.Discard); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("a missing path: %v", err)
	}
}

// Retention deletes local files older than a rule's days, except below a
// folder whose own rule decides.
func TestExpireFiles_Local(t *testing.T) {
	ctx := context.Background()
	a := coretest.Start(t, nil)
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	a.Files.Mkdir(ctx, admin, "/drop/keep")
	for _, p := range []string{"/drop/old.txt", "/drop/new.txt", "/drop/keep/old.txt"} {
		upload(t, a, admin, p, []byte("x"))
	}
	old := time.Now().Add(-40 * 24 * time.Hour)
	for _, p := range []string{"/drop/old.txt", "/drop/keep/old.txt"} {
		os.Chtimes(filepath.Join(a.Config.Data.Dir, "files", p), old, old)
	}
	a.Folders.CreateFolder(ctx, &mft.Folder{Path: "/drop", RetentionDays: 30})
	a.Folders.CreateFolder(ctx, &mft.Folder{Path: "/drop/keep", RetentionDays: 90})
	if n, err := a.Files.ExpireFiles(ctx); err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want /drop/old.txt alone", n, err)
	}
	for p, want := range map[string]bool{"/drop/old.txt": false, "/drop/new.txt": true, "/drop/keep/old.txt": true} {
		if _, err := a.Files.Stat(ctx, admin, p); (err == nil) != want {
			t.Errorf("%s exists: %v, want %v", p, err == nil, want)
		}
	}
}
