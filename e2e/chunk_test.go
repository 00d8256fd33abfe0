package e2e

import (
	"context"
	"depot/app"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pieces splits body into n pieces.
func pieces(body string, n int) []string {
	size := (len(body) + n - 1) / n
	out := make([]string, n)
	for i := range n {
		out[i] = body[min(i*size, len(body)):min((i+1)*size, len(body))]
	}
	return out
}

// Pieces arrive in any order, a retried piece replaces the first copy,
// and the piece that completes the set gets the whole file and its sha256.
func TestFiles_ChunkedUpload(t *testing.T) {
	ts := MustOpenServer(t)
	key := ts.createUser(t, `{"user":{"email":"ch@example.com"}}`).User.APIKey
	body := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
	p := pieces(body, 4)
	chunk := func(i int, data string) response {
		return ts.put(t, key, "/big.bin", data, fmt.Sprintf("chunk=%d&chunks=4", i))
	}
	for n, i := range []int{2, 0, 3} {
		r := chunk(i, p[i])
		want(t, r, 202)
		if !strings.Contains(r.body, fmt.Sprintf(`"received":%d`, n+1)) {
			t.Fatalf("progress after %d pieces: %s", n+1, r.body)
		}
	}
	want(t, chunk(0, strings.Repeat("x", len(p[0]))), 202) // a retry replaces
	want(t, chunk(0, p[0]), 202)
	want(t, ts.do(t, "GET", "/api/files/stat?path=/big.bin", key, ""), 404) // nothing visible yet
	r := chunk(1, p[1])
	want(t, r, 201)
	if !strings.Contains(r.body, sha(body)) || !strings.Contains(r.body, fmt.Sprintf(`"size":%d`, len(body))) {
		t.Fatalf("final piece answered %s", r.body)
	}
	if got := ts.do(t, "GET", "/api/files/content?path=/big.bin", key, "").body; got != body {
		t.Fatalf("assembled %d bytes, differ from the %d sent", len(got), len(body))
	}
	if left := treeFiles(t, filepath.Join(ts.dataDir, "tmp")); len(left) != 0 {
		t.Fatalf("pieces left: %v", left)
	}

	// All pieces at once: exactly one request assembles.
	var wg sync.WaitGroup
	statuses := make([]int, 8)
	body2 := strings.Repeat("Z", 8<<10)
	for i, piece := range pieces(body2, 8) {
		wg.Go(func() {
			statuses[i] = ts.put(t, key, "/par.bin", piece, fmt.Sprintf("chunk=%d&chunks=8", i)).status
		})
	}
	wg.Wait()
	created := 0
	for _, s := range statuses {
		if s == 201 {
			created++
		} else if s != 202 {
			t.Fatalf("statuses %v", statuses)
		}
	}
	if created != 1 {
		t.Fatalf("statuses %v: want exactly one 201", statuses)
	}
	if got := ts.do(t, "GET", "/api/files/content?path=/par.bin", key, "").body; got != body2 {
		t.Fatal("parallel pieces assembled wrongly")
	}
}

func TestFiles_ChunkedUploadRefusals(t *testing.T) {
	ts := MustOpenServer(t)
	key := ts.createUser(t, `{"user":{"email":"cr@example.com","max_file_size":1}}`).User.APIKey
	for q, status := range map[string]int{
		"chunk=0":              400,
		"chunks=2":             400,
		"chunk=a&chunks=2":     400,
		"chunk=2&chunks=2":     400,
		"chunk=-1&chunks=2":    400,
		"chunk=0&chunks=0":     400,
		"chunk=0&chunks=99999": 400,
	} {
		r := ts.put(t, key, "/x.bin", "data", q)
		want(t, r, status)
		r.errors(t)
	}
	// Pieces that together pass the size limit are refused, and the
	// upload's pieces go away with the sweep.
	want(t, ts.put(t, key, "/y.bin", strings.Repeat("a", 700<<10), "chunk=0&chunks=3"), 202)
	want(t, ts.put(t, key, "/y.bin", strings.Repeat("b", 700<<10), "chunk=1&chunks=3"), 413)
	want(t, ts.put(t, key, "/../y.bin", "a", "chunk=0&chunks=3"), 400)
	// Pieces but the last are one size: another is refused before it is
	// read, in words, and does not count.
	want(t, ts.put(t, key, "/z.bin", strings.Repeat("a", 100), "chunk=0&chunks=3"), 202)
	r := ts.put(t, key, "/z.bin", strings.Repeat("b", 90), "chunk=1&chunks=3")
	want(t, r, 400)
	if msg := r.errors(t)[0]; !strings.Contains(msg, "must have 100") {
		t.Fatalf("unequal piece: %q", msg)
	}
	if r := ts.put(t, key, "/z.bin", "end", "chunk=2&chunks=3"); !strings.Contains(r.body, `"received":2`) {
		t.Fatalf("the refused piece counted: %s", r.body)
	}
	if n, err := ts.files.SweepStaging(time.Hour); err != nil || n != 0 {
		t.Fatalf("a fresh upload's pieces were swept: %d, %v", n, err)
	}
	ts.files.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if n, err := ts.files.SweepStaging(time.Hour); err != nil || n != 2 {
		t.Fatalf("sweep removed %d, %v; want the two abandoned uploads", n, err)
	}
	if left := treeFiles(t, filepath.Join(ts.dataDir, "tmp")); len(left) != 0 {
		t.Fatalf("pieces left: %v", left)
	}
	if got := treeFiles(t, filepath.Join(ts.dataDir, "files")); len(got) != 0 {
		t.Fatalf("files: %v", got)
	}
}

// Staging files left by a crash go away with the sweep; fresh ones stay
// until they are an hour idle.
func TestFiles_StagingSweep(t *testing.T) {
	ts := MustOpenServer(t)
	tmp := filepath.Join(ts.dataDir, "tmp")
	old := time.Now().Add(-2 * time.Hour)
	for _, name := range []string{".upload-dead", ".upload-live"} {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	os.Chtimes(filepath.Join(tmp, ".upload-dead"), old, old)
	if n, err := ts.files.SweepStaging(time.Hour); err != nil || n != 1 {
		t.Fatalf("swept %d, %v", n, err)
	}
	if left := treeFiles(t, tmp); strings.Join(left, ",") != "/.upload-live" {
		t.Fatalf("left %v", left)
	}
	if n, err := ts.files.SweepStaging(0); err != nil || n != 1 { // at start-up: everything
		t.Fatalf("start-up sweep %d, %v", n, err)
	}
}

// Fsck recounts usage from the disk, fixing a table that drifted.
func TestFiles_Fsck(t *testing.T) {
	ts := MustOpenServer(t)
	ctx := context.Background()
	u := ts.createUser(t, `{"user":{"email":"f@example.com","quota_mb":1}}`)
	want(t, ts.do(t, "POST", "/api/folders", u.User.APIKey, `{"path":"/d"}`), 201)
	want(t, ts.put(t, u.User.APIKey, "/d/a.bin", strings.Repeat("a", 1000)), 201)
	want(t, ts.put(t, u.User.APIKey, "/b.bin", strings.Repeat("b", 500)), 201)
	home := "/users/" + u.User.ID
	// A file written behind the service's back (a restore, a crash).
	if err := os.WriteFile(filepath.Join(ts.dataDir, "files", home, "d", "c.bin"), make([]byte, 800<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/etc/passwd", filepath.Join(ts.dataDir, "files", home, "link")) // not counted
	if err := ts.files.Usage.ReplaceUsage(ctx, map[string]int64{home: 99}); err != nil {
		t.Fatal(err)
	}
	bytes, count, err := ts.files.Fsck(ctx)
	if err != nil || count != 3 || bytes != 1500+800<<10 {
		t.Fatalf("fsck: %d files, %d bytes, %v", count, bytes, err)
	}
	for dir, wantN := range map[string]int64{"/": bytes, home: bytes, home + "/d": 1000 + 800<<10} {
		if got, _ := ts.files.Usage.Usage(ctx, dir); got != wantN {
			t.Errorf("usage %s = %d, want %d", dir, got, wantN)
		}
	}
	// The recounted usage is what the quota sees.
	want(t, ts.put(t, u.User.APIKey, "/more.bin", strings.Repeat("m", 300<<10)), 507)
}

// Pieces of chunked uploads count against every quota the finished file
// would, from the moment they are stored: the user's, a folder rule's and,
// through an upload link, its creator's. Found by hardening II: pieces
// counted toward nothing, so a new name per set stored 7.4 GB a minute
// for a creator with a 10 MB quota.
func TestChunks_CountAgainstQuotas(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"q@example.com","quota_mb":10}}`).User
	nine := strings.Repeat("n", 9<<20)
	want(t, ts.put(t, u.APIKey, "/a.bin", nine, "chunk=0&chunks=2"), 202)
	r := ts.put(t, u.APIKey, "/b.bin", nine, "chunk=0&chunks=2")
	want(t, r, 507)
	// A whole file sees the pieces too: 2 MB more do not fit either.
	want(t, ts.put(t, u.APIKey, "/c.bin", strings.Repeat("c", 2<<20)), 507)
	want(t, ts.put(t, u.APIKey, "/small.bin", "ok"), 201)
	// The set itself completes: its own pieces are not counted twice.
	want(t, ts.put(t, u.APIKey, "/a.bin", "tail", "chunk=1&chunks=2"), 201)
	want(t, ts.put(t, u.APIKey, "/d.bin", nine, "chunk=0&chunks=2"), 507)

	// Through an upload link, as its creator: the creator's quota.
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/in"}`), 201)
	want(t, ts.do(t, "DELETE", "/api/files?path=/a.bin", u.APIKey, ""), 200)
	l := ts.createLink(t, u.APIKey, `{"link":{"path":"/in","allow_upload":true}}`).Link
	link := func(name string) response {
		return ts.doWith(t, "POST", "/s/"+l.ID+"/upload?filename="+name+"&chunk=0&chunks=2", nine, nil)
	}
	want(t, link("one.bin"), 202)
	for i := range 3 {
		if r := link(fmt.Sprintf("more-%d.bin", i)); r.status != 507 {
			t.Fatalf("link piece %d beyond the creator's quota: %d %s", i, r.status, r.body)
		}
	}
	if left := treeSize(t, filepath.Join(ts.dataDir, "tmp")); left > 10<<20 {
		t.Errorf("%d bytes of pieces stored for a 10 MB quota", left)
	}
}

// An uploader has at most data.max_pending_uploads sets unfinished; a
// new one past it is refused with 507 and a sentence, and finishing one
// makes room.
func TestChunks_MaxPendingUploads(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.Files.MaxPendingUploads = 3 })
	key := ts.createUser(t, `{"user":{"email":"p@example.com"}}`).User.APIKey
	for i := range 3 {
		want(t, ts.put(t, key, fmt.Sprintf("/f%d.bin", i), "piece", "chunk=0&chunks=2"), 202)
	}
	r := ts.put(t, key, "/f3.bin", "piece", "chunk=0&chunks=2")
	want(t, r, 507)
	if !strings.Contains(r.body, "3 uploads in pieces unfinished") {
		t.Errorf("refusal: %s", r.body)
	}
	want(t, ts.put(t, key, "/f0.bin", "piece", "chunk=0&chunks=2"), 202) // a piece of a set it has
	other := ts.createUser(t, `{"user":{"email":"o@example.com"}}`).User.APIKey
	want(t, ts.put(t, other, "/f3.bin", "piece", "chunk=0&chunks=2"), 202) // another uploader
	want(t, ts.put(t, key, "/f0.bin", "end", "chunk=1&chunks=2"), 201)
	want(t, ts.put(t, key, "/f3.bin", "piece", "chunk=0&chunks=2"), 202)
}

// Pieces survive a restart, and still count against the quota after it.
// Found by hardening II: every stored piece was deleted at start-up
// ("leftover staging files removed count=805").
func TestChunks_SurviveRestart(t *testing.T) {
	dir := t.TempDir()
	ts := openServerAt(t, dir)
	u := ts.createUser(t, `{"user":{"email":"r@example.com","quota_mb":10}}`).User
	body := strings.Repeat("0123456789abcdef", 64<<10)
	p := pieces(body, 2)
	want(t, ts.put(t, u.APIKey, "/big.bin", p[0], "chunk=0&chunks=2"), 202)
	want(t, ts.put(t, u.APIKey, "/huge.bin", strings.Repeat("h", 9<<20), "chunk=0&chunks=2"), 202)
	ts.close()
	ts = openServerAt(t, dir)
	want(t, ts.put(t, u.APIKey, "/more.bin", strings.Repeat("m", 1<<20), "chunk=0&chunks=2"), 507)
	r := ts.put(t, u.APIKey, "/big.bin", p[1], "chunk=1&chunks=2")
	want(t, r, 201)
	if got := ts.do(t, "GET", "/api/files/content?path=/big.bin", u.APIKey, "").body; got != body {
		t.Fatalf("assembled %d bytes after a restart, want the %d sent", len(got), len(body))
	}
}

// treeSize is the bytes of the regular files below dir.
func treeSize(tb testing.TB, dir string) int64 {
	tb.Helper()
	var n int64
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
