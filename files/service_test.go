package files_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"depot/core"
	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

func sum(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// usage is what the usage table says is stored below a storage path.
func usage(t *testing.T, a *core.Services, dir string) int64 {
	t.Helper()
	n, err := a.Usage.Usage(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func upload(t *testing.T, a *core.Services, act files.Actor, p string, data []byte) (mft.FileInfo, error) {
	t.Helper()
	return a.Files.Upload(context.Background(), act, p, bytes.NewReader(data), files.UploadOptions{Overwrite: true, Size: int64(len(data))})
}

// Permission resolution: a user sees their home at "/" and a folder
// shared with their group at its mount, with exactly the permissions
// granted there; paths outside both do not exist for them.
func TestPermissions_HomeAndGroupMount(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	admin := coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})
	if _, err := a.Files.Mkdir(ctx, admin, "/shared/partners"); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, admin, "/shared/partners/terms.pdf", []byte("terms")); err != nil {
		t.Fatal(err)
	}
	if err := a.Groups.CreateGroup(ctx, &mft.Group{ID: "partners", Name: "Partners"}); err != nil {
		t.Fatal(err)
	}
	if err := a.Permissions.CreatePermission(ctx, &mft.Permission{Subject: "group:partners", Path: "/shared/partners",
		Permissions: []string{mft.PermList, mft.PermDownload}, Mount: "partners"}); err != nil {
		t.Fatal(err)
	}
	joe := coretest.Actor(coretest.AddUser(t, a, "joe", func(u *mft.User) { u.Groups = []string{"partners"} }))
	ann := coretest.Actor(coretest.AddUser(t, a, "ann"))

	t.Run("OK", func(t *testing.T) {
		if _, err := upload(t, a, joe, "/mine.txt", []byte("x")); err != nil {
			t.Fatalf("upload to own home: %v", err)
		}
		list, err := a.Files.List(ctx, joe, "/")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range list {
			names = append(names, f.Name)
		}
		if got, want := strings.Join(names, ","), "partners,mine.txt"; got != want {
			t.Fatalf("root of joe = %s, want %s", got, want)
		}
		f, _, err := a.Files.Open(ctx, joe, "/partners/terms.pdf")
		if err != nil {
			t.Fatalf("download through the mount: %v", err)
		}
		f.Close()
	})
	t.Run("ErrForbidden", func(t *testing.T) {
		// The group has list and download on the mount, not upload.
		if _, err := upload(t, a, joe, "/partners/new.csv", []byte("x")); mft.ErrorCode(err) != mft.EFORBIDDEN {
			t.Fatalf("upload without permission: %v, want EFORBIDDEN", err)
		}
		if err := a.Files.Remove(ctx, joe, "/partners/terms.pdf", false); mft.ErrorCode(err) != mft.EFORBIDDEN {
			t.Fatalf("delete without permission: %v, want EFORBIDDEN", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		// Another user is not in the group: no mount, and joe's home is not
		// theirs to see.
		if _, err := a.Files.Stat(ctx, ann, "/partners/terms.pdf"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("ann sees the mount: %v", err)
		}
		if _, err := a.Files.Stat(ctx, ann, "/../joe/mine.txt"); err == nil {
			t.Fatal("ann reached joe's home")
		}
	})
}

// Quota arithmetic: usage follows uploads, replacements, renames out of
// a folder and deletions, and the quota counts a replaced file's old size
// as freed.
func TestQuota_Arithmetic(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	joe := coretest.Actor(coretest.AddUser(t, a, "joe", func(u *mft.User) { u.QuotaMB = 1 }))
	mb := 1 << 20
	if _, err := upload(t, a, joe, "/a.bin", make([]byte, 600<<10)); err != nil {
		t.Fatal(err)
	}
	if got, want := usage(t, a, "/users/joe"), int64(600<<10); got != want {
		t.Fatalf("usage after one upload = %d, want %d", got, want)
	}
	// 600 KiB + 600 KiB is over 1 MB: refused, nothing kept, usage unchanged.
	if _, err := upload(t, a, joe, "/b.bin", make([]byte, 600<<10)); mft.ErrorCode(err) != mft.EQUOTA {
		t.Fatalf("upload over quota: %v, want EQUOTA", err)
	}
	if _, err := a.Files.Stat(ctx, joe, "/b.bin"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("refused upload left a file: %v", err)
	}
	// Replacing a.bin with 900 KiB fits: the old 600 KiB are freed.
	if _, err := upload(t, a, joe, "/a.bin", make([]byte, 900<<10)); err != nil {
		t.Fatalf("replacement within quota: %v", err)
	}
	if got, want := usage(t, a, "/users/joe"), int64(900<<10); got != want {
		t.Fatalf("usage after replacement = %d, want %d", got, want)
	}
	if _, _, err := a.Files.Space(ctx, joe); err != nil {
		t.Fatal(err)
	}
	if total, free, _ := a.Files.Space(ctx, joe); total != int64(mb) || free != int64(mb-900<<10) {
		t.Fatalf("space = %d total, %d free; want %d, %d", total, free, mb, mb-900<<10)
	}
	if _, err := a.Files.Mkdir(ctx, joe, "/sub"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Files.Rename(ctx, joe, "/a.bin", "/sub/a.bin"); err != nil {
		t.Fatal(err)
	}
	if got, want := usage(t, a, "/users/joe/sub"), int64(900<<10); got != want {
		t.Fatalf("usage of /sub after rename = %d, want %d", got, want)
	}
	if err := a.Files.Remove(ctx, joe, "/sub", true); err != nil {
		t.Fatal(err)
	}
	if got := usage(t, a, "/users/joe"); got != 0 {
		t.Fatalf("usage after delete = %d, want 0", got)
	}
}

// Folder rules apply to the folder and below: extensions, file size and
// the folder's own quota, whoever uploads.
func TestFolderRules(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	if _, err := a.Files.Mkdir(ctx, joe, "/in/deep"); err != nil {
		t.Fatal(err)
	}
	if err := a.Folders.CreateFolder(ctx, &mft.Folder{Path: "/users/joe/in", AllowedExtensions: []string{"csv"}, MaxFileSize: 1, QuotaMB: 2}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		size int
		code string
	}{
		{"/in/deep/ok.csv", 1000, ""},
		{"/in/deep/no.pdf", 10, mft.EINVALID},
		{"/in/big.csv", 1<<20 + 1, mft.ETOOLARGE},
		{"/elsewhere.pdf", 10, ""},
	} {
		_, err := upload(t, a, joe, tc.path, make([]byte, tc.size))
		if got := mft.ErrorCode(err); (tc.code == "" && err != nil) || (tc.code != "" && got != tc.code) {
			t.Errorf("%s: %v, want %q", tc.path, err, tc.code)
		}
	}
	// The folder quota (2 MB) counts what is below it: two more 1 MB files
	// do not fit.
	if _, err := upload(t, a, joe, "/in/one.csv", make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if _, err := upload(t, a, joe, "/in/two.csv", make([]byte, 1<<20)); mft.ErrorCode(err) != mft.EQUOTA {
		t.Fatalf("over the folder quota: %v, want EQUOTA", err)
	}
	_, err := upload(t, a, joe, "/in/x.exe", []byte("x"))
	if msg := mft.ErrorMessage(err); msg != "/in only accepts files ending in .csv." {
		t.Fatalf("refusal %q, want the folder named as the user sees it (/in)", msg)
	}
}

// Chunk assembly: pieces sent in any order, one of them twice, make the
// file; the piece that completes it returns the whole file's sha256, and
// nothing is visible before.
func TestChunks_OutOfOrder(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	parts := [][]byte{bytes.Repeat([]byte("a"), 1000), bytes.Repeat([]byte("b"), 1000), []byte("tail")}
	whole := bytes.Join(parts, nil)
	send := func(i int, data []byte) (mft.FileInfo, files.Chunk, bool) {
		fi, prog, done, err := a.Files.Receive(ctx, joe, "/big.bin", bytes.NewReader(data),
			files.UploadOptions{Overwrite: true, Size: int64(len(data))}, &files.Piece{Index: i, Count: len(parts)})
		if err != nil {
			t.Fatalf("piece %d: %v", i, err)
		}
		return fi, prog, done
	}
	for _, i := range []int{2, 0} {
		if _, prog, done := send(i, parts[i]); done || prog.Chunks != 3 {
			t.Fatalf("piece %d: done=%v progress %+v", i, done, prog)
		}
	}
	send(0, parts[0]) // sent again: replaces the first copy
	if _, err := a.Files.Stat(ctx, joe, "/big.bin"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("file visible before its last piece: %v", err)
	}
	fi, _, done := send(1, parts[1])
	if !done || fi.SHA256 != sum(whole) || fi.Size != int64(len(whole)) {
		t.Fatalf("assembled: done=%v %+v, want sha256 %s", done, fi, sum(whole))
	}
	got, err := os.ReadFile(filepath.Join(a.Config.Data.Dir, "files", "users", "joe", "big.bin"))
	if err != nil || !bytes.Equal(got, whole) {
		t.Fatalf("stored file differs (%v)", err)
	}
	if _, _, _, err := a.Files.Receive(ctx, joe, "/x.bin", strings.NewReader("x"), files.UploadOptions{Size: 1}, &files.Piece{Index: 3, Count: 3}); mft.ErrorCode(err) != mft.EMALFORMED {
		t.Fatalf("piece out of range: %v, want EMALFORMED", err)
	}
}

// Out-of-order writes (as SFTP clients send them, from many goroutines)
// make the right file, which appears only on Commit, with its sha256.
func TestPending_OutOfOrderWritesPublishOnCommit(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	data := make([]byte, 4<<20+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	p, err := a.Files.Create(ctx, joe, "/upload.bin", files.UploadOptions{Overwrite: true, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	const block = 32 << 10
	var offsets []int
	for off := 0; off < len(data); off += block {
		offsets = append(offsets, off)
	}
	var wg sync.WaitGroup
	for w := range 8 { // eight writers, each taking every eighth block from the end
		wg.Go(func() {
			for i := len(offsets) - 1 - w; i >= 0; i -= 8 {
				off := offsets[i]
				if _, err := p.WriteAt(data[off:min(off+block, len(data))], int64(off)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := a.Files.Stat(ctx, joe, "/upload.bin"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("upload visible before Commit: %v", err)
	}
	fi, err := p.Commit()
	if err != nil {
		t.Fatal(err)
	}
	if fi.SHA256 != sum(data) || fi.Size != int64(len(data)) {
		t.Fatalf("committed %+v, want size %d sha256 %s", fi, len(data), sum(data))
	}
	if got := usage(t, a, "/users/joe"); got != int64(len(data)) {
		t.Fatalf("usage %d, want %d", got, len(data))
	}
	// An aborted upload leaves nothing, and replaces nothing.
	p, err = a.Files.Create(ctx, joe, "/upload.bin", files.UploadOptions{Overwrite: true, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	p.WriteAt([]byte("partial"), 0)
	p.Abort()
	if fi, err := a.Files.Stat(ctx, joe, "/upload.bin"); err != nil || fi.Size != int64(len(data)) {
		t.Fatalf("after an aborted replacement: %+v %v", fi, err)
	}
}

// An unsynced upload over an existing file swaps the two: the path shows
// the new content at once, a reader of the old file keeps reading it,
// usage counts the new size, and the old file leaves data/tmp.
func TestReplace_UnsyncedSwapsTheFile(t *testing.T) {
	dir := t.TempDir()
	cfg := coretest.Config(dir)
	cfg.Data.SyncUploads = false
	a := coretest.Start(t, cfg)
	ctx := context.Background()
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	v1, v2 := bytes.Repeat([]byte("1"), 300<<10), bytes.Repeat([]byte("2"), 100<<10)
	if _, err := upload(t, a, joe, "/a.bin", v1); err != nil {
		t.Fatal(err)
	}
	old, _, err := a.Files.Open(ctx, joe, "/a.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	fi, err := upload(t, a, joe, "/a.bin", v2)
	if err != nil || fi.SHA256 != sum(v2) || fi.Size != int64(len(v2)) {
		t.Fatalf("replacement: %+v %v", fi, err)
	}
	cur, _, err := a.Files.Open(ctx, joe, "/a.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := new(bytes.Buffer)
	got.ReadFrom(cur)
	cur.Close()
	if !bytes.Equal(got.Bytes(), v2) {
		t.Fatalf("the path reads %d bytes of the old or mixed content", got.Len())
	}
	got.Reset()
	got.ReadFrom(old)
	if !bytes.Equal(got.Bytes(), v1) {
		t.Fatal("a reader of the replaced file lost its content")
	}
	if n := usage(t, a, "/users/joe"); n != int64(len(v2)) {
		t.Fatalf("usage %d, want %d", n, len(v2))
	}
	for {
		entries, err := os.ReadDir(filepath.Join(dir, "tmp"))
		if err != nil {
			t.Fatal(err)
		}
		left := 0
		for _, e := range entries {
			if e.Type().IsRegular() {
				left++
			}
		}
		if left == 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// brokenReader gives n bytes of data, then fails as a dropped connection.
type brokenReader struct {
	data []byte
	n    int
}

func (b *brokenReader) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, errors.New("connection reset by peer")
	}
	m := copy(p[:min(len(p), b.n)], b.data)
	b.data, b.n = b.data[m:], b.n-m
	return m, nil
}

// Append continues an upload after its reader broke (a *ReadError, the
// upload still open), publishes the whole file with its sha256, and
// refuses bytes beyond a limit with the limit's error, not a ReadError.
func TestPending_AppendAfterABrokenReader(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	joe := coretest.Actor(coretest.AddUser(t, a, "joe", func(u *mft.User) { u.QuotaMB = 4 }))
	data := make([]byte, 3<<20+12345)
	rand.Read(data)
	p, err := a.Files.Create(ctx, joe, "/night.bin", files.UploadOptions{Overwrite: true, Size: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	n, err := p.Append(&brokenReader{data: data, n: 1<<20 + 7}, -1)
	if !errors.As(err, new(*files.ReadError)) || n != 1<<20+7 || p.Size() != n {
		t.Fatalf("a broken reader: %d bytes, %v; size %d", n, err, p.Size())
	}
	rest := data[p.Size():]
	if n, err := p.Append(bytes.NewReader(rest), int64(len(rest))); err != nil || n != int64(len(rest)) {
		t.Fatalf("the rest: %d bytes, %v", n, err)
	}
	fi, err := p.Commit()
	if err != nil || fi.SHA256 != sum(data) || fi.Size != int64(len(data)) {
		t.Fatalf("published %+v, %v; want %d bytes with sha256 %s", fi, err, len(data), sum(data))
	}
	// 3 MiB more do not fit in joe's 4 MB: the quota's refusal.
	q, err := a.Files.Create(ctx, joe, "/more.bin", files.UploadOptions{Overwrite: true, Size: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Abort()
	if _, err := q.Append(bytes.NewReader(data), -1); mft.ErrorCode(err) != mft.EQUOTA || errors.As(err, new(*files.ReadError)) {
		t.Fatalf("over the quota: %v, want EQUOTA", err)
	}
}
