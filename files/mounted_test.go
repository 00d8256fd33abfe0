package files_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"depot/core"
	"depot/files"
	"depot/internal/coretest"
	"depot/internal/testpeer"
	"depot/mft"
)

// remoteWorld is Depot's services with joe's folder /users/joe/remote
// mounted on a real sshd.
type remoteWorld struct {
	a    *core.Services
	joe  files.Actor
	peer *testpeer.SSHD
	dir  string // the remote folder the mount serves, on the peer's disk
}

// startWithPeer starts Depot's services with a storage connection to a
// real sshd.
func startWithPeer(t *testing.T) (*core.Services, *testpeer.SSHD, *mft.Connection) {
	t.Helper()
	a := coretest.Start(t, nil)
	peer := testpeer.StartSSHD(t)
	c := peer.Connection("partner")
	if err := a.Connections.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return a, peer, c
}

func newRemoteWorld(t *testing.T, edit ...func(*mft.User)) *remoteWorld {
	t.Helper()
	ctx := context.Background()
	a, peer, c := startWithPeer(t)
	joe := coretest.AddUser(t, a, "joe", edit...)
	if err := a.Mounts.Create(ctx, &mft.Mount{Path: "/users/joe/remote", Connection: c.ID, Prefix: "joe"}); err != nil {
		t.Fatal(err)
	}
	return &remoteWorld{a: a, joe: coretest.Actor(joe), peer: peer, dir: filepath.Join(peer.Dir, "joe")}
}

func (w *remoteWorld) remote(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(w.dir, name))
	if err != nil {
		t.Fatalf("remote %s: %v", name, err)
	}
	return string(data)
}

// Every operation of the file service on a mounted folder lands on the
// remote, with the same rules, usage and events as on the local disk.
func TestMounted_Operations(t *testing.T) {
	ctx := context.Background()
	w := newRemoteWorld(t)
	fs := w.a.Files
	if list, err := fs.List(ctx, w.joe, "/"); err != nil || len(list) != 1 || list[0].Name != "remote" || list[0].Type != mft.TypeFolder {
		t.Fatalf("joe's root = %v, %v; want the mount as a folder", list, err)
	}
	if _, err := fs.Mkdir(ctx, w.joe, "/remote/in/2026"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Mkdir(ctx, w.joe, "/remote/in"); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("mkdir of an existing folder: %v", err)
	}
	body := bytes.Repeat([]byte("0123456789"), 100_000)
	fi, err := upload(t, w.a, w.joe, "/remote/in/a.csv", body)
	if err != nil {
		t.Fatal(err)
	}
	if fi.SHA256 != sum(body) || w.remote(t, "in/a.csv") != string(body) {
		t.Fatal("the upload did not land whole on the remote")
	}
	if got := usage(t, w.a, "/users/joe"); got != int64(len(body)) {
		t.Fatalf("usage = %d, want %d", got, len(body))
	}
	if _, err := fs.Upload(ctx, w.joe, "/remote/in/a.csv", bytes.NewReader(body), files.UploadOptions{Size: int64(len(body))}); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("upload over a file without overwrite: %v", err)
	}
	st, err := fs.Stat(ctx, w.joe, "/remote/in/a.csv")
	if err != nil || st.Size != int64(len(body)) || st.Type != mft.TypeFile {
		t.Fatalf("stat = %+v, %v", st, err)
	}
	if list, _ := fs.List(ctx, w.joe, "/remote/in"); len(list) != 2 || list[0].Name != "2026" || list[1].Name != "a.csv" {
		t.Fatalf("list = %v", list)
	}

	f, _, err := fs.Open(ctx, w.joe, "/remote/in/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 10)
	if _, err := f.ReadAt(part, 500_005); err != nil || string(part) != "5678901234" {
		t.Fatalf("ReadAt = %q, %v", part, err)
	}
	if _, err := f.Seek(999_990, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	tail, err := io.ReadAll(f)
	if err != nil || string(tail) != "0123456789" {
		t.Fatalf("tail = %q, %v", tail, err)
	}
	f.Close()
	if _, _, err := fs.Open(ctx, w.joe, "/remote/in"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("open of a folder: %v", err)
	}

	// SFTP's way: writes at offsets, out of order within a window.
	p, err := fs.Create(ctx, w.joe, "/remote/in/b.bin", files.UploadOptions{Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteAt([]byte("world"), 5); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteAt([]byte("hello"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := p.WriteAt([]byte("x"), 1); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("a write going back: %v", err)
	}
	if err := p.Truncate(3); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("truncate on a remote: %v", err)
	}
	if _, err := p.ReadAt(make([]byte, 1), 0); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("read back on a remote: %v", err)
	}
	if fi, err := p.Commit(); err != nil || fi.SHA256 != sum([]byte("helloworld")) {
		t.Fatalf("commit = %+v, %v", fi, err)
	}
	if w.remote(t, "in/b.bin") != "helloworld" {
		t.Fatal("the pending upload did not land")
	}
	gap, _ := fs.Create(ctx, w.joe, "/remote/in/gap.bin", files.UploadOptions{Size: -1})
	gap.WriteAt([]byte("later"), 100)
	if _, err := gap.Commit(); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("commit with a gap: %v", err)
	}
	if _, err := os.Stat(filepath.Join(w.dir, "in", "gap.bin")); err == nil {
		t.Fatal("an upload with a gap was published")
	}

	// Renames within the mount are the remote's; across storages, a copy
	// and a delete.
	if _, err := fs.Rename(ctx, w.joe, "/remote/in/b.bin", "/remote/in/2026/b.bin"); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Rename(ctx, w.joe, "/remote/in/a.csv", "/remote/in/2026/b.bin"); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("rename over a file: %v", err)
	}
	if _, err := fs.Replace(ctx, w.joe, "/remote/in/a.csv", "/remote/in/2026/b.bin"); err != nil {
		t.Fatal(err)
	}
	if w.remote(t, "in/2026/b.bin") != string(body) {
		t.Fatal("replace did not replace")
	}
	if _, err := upload(t, w.a, w.joe, "/local.txt", []byte("from the disk")); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Rename(ctx, w.joe, "/local.txt", "/remote/local.txt"); err != nil {
		t.Fatal(err)
	}
	if w.remote(t, "local.txt") != "from the disk" {
		t.Fatal("the move across storages did not land")
	}
	if _, err := fs.Stat(ctx, w.joe, "/local.txt"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("the source of a move across: %v", err)
	}
	if _, err := fs.Rename(ctx, w.joe, "/remote/in", "/in"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("a folder across storages: %v", err)
	}
	if _, err := fs.Rename(ctx, w.joe, "/remote", "/elsewhere"); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("renaming the mount point: %v", err)
	}
	if err := fs.SetTimes(ctx, w.joe, "/remote/local.txt", time.Now(), time.Now()); err != nil {
		t.Fatalf("set times on a remote file: %v", err)
	}
	if storage, dir, err := fs.Share(ctx, w.joe, "/remote/in", true); err != nil || !dir || storage != "/users/joe/remote/in" {
		t.Fatalf("share = %s %v %v", storage, dir, err)
	}
	rf, rfi, err := fs.OpenStorage("/users/joe/remote/local.txt")
	if err != nil || rfi.Size() != 13 {
		t.Fatalf("open storage = %v, %v", rfi, err)
	}
	rf.Close()

	// Deletion: a file, a folder (refused while full, then recursive), and
	// never the mount point.
	if err := fs.Remove(ctx, w.joe, "/remote/in", false); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("remove of a full folder: %v", err)
	}
	if err := fs.Remove(ctx, w.joe, "/remote/local.txt", false); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(ctx, w.joe, "/remote/in", true); err != nil {
		t.Fatal(err)
	}
	if err := fs.Remove(ctx, w.joe, "/remote", true); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("remove of the mount point: %v", err)
	}
	if left, _ := os.ReadDir(w.dir); len(left) != 0 {
		t.Fatalf("left on the remote: %v", left)
	}
	if got := usage(t, w.a, "/users/joe"); got != 0 {
		t.Fatalf("usage after removing everything = %d", got)
	}
	deleted := coretest.Events(t, w.a, mft.EventFileDeleted)
	if len(deleted) < 2 {
		t.Fatalf("%d file.deleted events", len(deleted))
	}
}

// A quota refuses an upload to a mount as the bytes flow, and nothing is
// left on the remote; a file replaced there gives its bytes back.
func TestMounted_QuotaAndReplace(t *testing.T) {
	ctx := context.Background()
	w := newRemoteWorld(t, func(u *mft.User) { u.QuotaMB = 1 })
	if _, err := upload(t, w.a, w.joe, "/remote/a.bin", make([]byte, 700<<10)); err != nil {
		t.Fatal(err)
	}
	big := bytes.NewReader(make([]byte, 700<<10))
	if _, err := w.a.Files.Upload(ctx, w.joe, "/remote/b.bin", big, files.UploadOptions{Size: -1}); mft.ErrorCode(err) != mft.EQUOTA {
		t.Fatalf("over the quota: %v, want EQUOTA", err)
	}
	if entries, _ := os.ReadDir(w.dir); len(entries) != 1 {
		t.Fatalf("on the remote after a refusal: %v", entries)
	}
	if _, err := upload(t, w.a, w.joe, "/remote/a.bin", make([]byte, 900<<10)); err != nil {
		t.Fatalf("replacing the file within the quota: %v", err)
	}
	if got := usage(t, w.a, "/users/joe"); got != 900<<10 {
		t.Fatalf("usage = %d", got)
	}
}

// Storage held outside any user (a filedrop's) is delivered into a
// mount, streamed up; RemoveStorage empties the mount and keeps its
// folder; Fsck counts the remote; retention deletes old remote files.
func TestMounted_DeliverRemoveFsckExpire(t *testing.T) {
	ctx := context.Background()
	w := newRemoteWorld(t)
	fs := w.a.Files
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	if _, err := fs.Mkdir(ctx, admin, "/held/x"); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, w.a, admin, "/held/x/report.pdf", []byte("report")); err != nil {
		t.Fatal(err)
	}
	where, err := fs.Deliver(ctx, "/held/x/report.pdf", w.joe, "/remote/inbox/report.pdf", sum([]byte("report")))
	if err != nil || where != "/users/joe/remote/inbox/report.pdf" {
		t.Fatalf("deliver = %s, %v", where, err)
	}
	if w.remote(t, "inbox/report.pdf") != "report" {
		t.Fatal("the delivered file is not on the remote")
	}
	if _, err := os.Stat(filepath.Join(w.a.Config.Data.Dir, "files", "held", "x", "report.pdf")); err == nil {
		t.Fatal("the held file stayed")
	}
	bytes_, count, err := fs.Fsck(ctx)
	if err != nil || bytes_ != 6 || count != 1 {
		t.Fatalf("fsck = %d bytes, %d files, %v", bytes_, count, err)
	}
	old := time.Now().Add(-10 * 24 * time.Hour)
	os.Chtimes(filepath.Join(w.dir, "inbox", "report.pdf"), old, old)
	if err := w.a.Folders.CreateFolder(ctx, &mft.Folder{Path: "/users/joe/remote", RetentionDays: 7}); err != nil {
		t.Fatal(err)
	}
	if n, err := fs.ExpireFiles(ctx); err != nil || n != 1 {
		t.Fatalf("retention deleted %d, %v; want the old remote file", n, err)
	}
	if _, err := upload(t, w.a, w.joe, "/remote/inbox/new.txt", []byte("new")); err != nil {
		t.Fatal(err)
	}
	if err := fs.RemoveStorage(ctx, "/users/joe/remote"); err != nil {
		t.Fatal(err)
	}
	if entries, err := os.ReadDir(w.dir); err != nil || len(entries) != 0 {
		t.Fatalf("the mount's folder after RemoveStorage: %v, %v; want it there and empty", entries, err)
	}
}
