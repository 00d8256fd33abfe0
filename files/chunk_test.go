package files_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

// chunkSender sends the pieces of one upload of count pieces to p.
type chunkSender struct {
	t     *testing.T
	send  func(i int, body io.Reader, size int64) (mft.FileInfo, files.Chunk, bool, error)
	count int
}

func newChunkSender(t *testing.T, f *files.Service, act files.Actor, p string, count int, overwrite bool) *chunkSender {
	return &chunkSender{t: t, count: count, send: func(i int, body io.Reader, size int64) (mft.FileInfo, files.Chunk, bool, error) {
		return f.Receive(context.Background(), act, p, body, files.UploadOptions{Overwrite: overwrite, Size: size},
			&files.Piece{Index: i, Count: count})
	}}
}

// ok sends a piece (with its size unless unsized) and fails the test on
// an error; it returns the file once complete.
func (c *chunkSender) ok(i int, data []byte, unsized bool) (mft.FileInfo, files.Chunk, bool) {
	c.t.Helper()
	size := int64(len(data))
	if unsized {
		size = -1
	}
	fi, prog, done, err := c.send(i, bytes.NewReader(data), size)
	if err != nil {
		c.t.Fatalf("piece %d: %v", i, err)
	}
	return fi, prog, done
}

func stored(t *testing.T, dataDir, user, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "files", "users", user, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Pieces sent without their size, before any piece gave the length, and
// in any order, still make the file; so does an upload of one piece.
func TestChunks_WithoutSizes(t *testing.T) {
	a := coretest.Start(t, nil)
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	parts := [][]byte{bytes.Repeat([]byte("a"), 3000), bytes.Repeat([]byte("b"), 3000), bytes.Repeat([]byte("c"), 3000), []byte("end")}
	whole := bytes.Join(parts, nil)
	c := newChunkSender(t, a.Files, joe, "/u.bin", len(parts), true)
	c.ok(3, parts[3], true) // the last, before anyone knows where it goes
	c.ok(1, parts[1], true) // no size: kept aside
	c.ok(0, parts[0], false)
	fi, _, done := c.ok(2, parts[2], false) // sized: written in place
	if !done || fi.SHA256 != sum(whole) || fi.Size != int64(len(whole)) {
		t.Fatalf("done=%v %+v, want sha256 %s", done, fi, sum(whole))
	}
	if got := stored(t, a.Config.Data.Dir, "joe", "u.bin"); !bytes.Equal(got, whole) {
		t.Fatalf("stored %q…, want %q…", got[:10], whole[:10])
	}

	one := newChunkSender(t, a.Files, joe, "/one.bin", 1, true)
	if fi, _, done := one.ok(0, []byte("single"), true); !done || fi.SHA256 != sum([]byte("single")) {
		t.Fatalf("one piece: done=%v %+v", done, fi)
	}
	if got := stored(t, a.Config.Data.Dir, "joe", "one.bin"); string(got) != "single" {
		t.Fatalf("one piece stored %q", got)
	}
	if left, _ := os.ReadDir(filepath.Join(a.Config.Data.Dir, "tmp", "chunks")); len(left) != 0 {
		t.Fatalf("pieces left: %v", left)
	}
}

// Every piece but the last weighs the same, as the first piece stored
// (not merely announced) says: a piece that announces another size is
// refused before it is read and changes nothing; one of another size sent
// without announcing it is refused as it arrives, or at the end if the
// length was lost; sending it again with the right size completes the
// file.
func TestChunks_UnequalPieces(t *testing.T) {
	a := coretest.Start(t, nil)
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	c := newChunkSender(t, a.Files, joe, "/p.bin", 3, true)
	// A piece that announced 1,000 bytes and broke fixes no length.
	if _, _, _, err := c.send(0, &errAfter{bytes.NewReader(make([]byte, 1000)), 10}, 1000); mft.ErrorCode(err) != mft.EMALFORMED {
		t.Fatalf("broken first piece: %v", err)
	}
	c.ok(0, bytes.Repeat([]byte("a"), 100), false)
	_, _, _, err := c.send(1, bytes.NewReader(make([]byte, 90)), 90)
	if mft.ErrorCode(err) != mft.EMALFORMED || !strings.Contains(mft.ErrorMessage(err), "must have 100") {
		t.Fatalf("a piece of another size: %v", err)
	}
	if _, prog, _ := c.ok(2, []byte("tail"), false); prog.Received != 2 {
		t.Fatalf("progress %+v: the refused piece counted", prog)
	}
	c.ok(1, bytes.Repeat([]byte("b"), 100), false)
	if got := stored(t, a.Config.Data.Dir, "joe", "p.bin"); len(got) != 204 || got[150] != 'b' {
		t.Fatalf("stored %d bytes", len(got))
	}

	// Sizes unknown until the end: piece 1 is short.
	u := newChunkSender(t, a.Files, joe, "/q.bin", 3, true)
	u.ok(0, bytes.Repeat([]byte("a"), 100), true)
	u.ok(2, []byte("tail"), true)
	_, _, _, err = u.send(1, bytes.NewReader(make([]byte, 60)), -1)
	if mft.ErrorCode(err) != mft.EMALFORMED || !strings.Contains(mft.ErrorMessage(err), "Piece 1 has 60 bytes") {
		t.Fatalf("a short piece without its size: %v", err)
	}
	_, _, _, err = u.send(1, bytes.NewReader(make([]byte, 150)), -1)
	if mft.ErrorCode(err) != mft.EMALFORMED || !strings.Contains(mft.ErrorMessage(err), "more than 100 bytes") {
		t.Fatalf("a long piece without its size: %v", err)
	}
	if _, err := a.Files.Stat(context.Background(), joe, "/q.bin"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("published with a short piece: %v", err)
	}
	if fi, _, done := u.ok(1, bytes.Repeat([]byte("b"), 100), true); !done || fi.Size != 204 {
		t.Fatalf("after the piece was sent again: done=%v %+v", done, fi)
	}

	// A crash between storing the first piece and noting its length: the
	// next piece gives another length, and the end finds them unequal.
	v := newChunkSender(t, a.Files, joe, "/v.bin", 3, true)
	v.ok(0, bytes.Repeat([]byte("a"), 100), true)
	lengths, _ := filepath.Glob(filepath.Join(a.Config.Data.Dir, "tmp", "chunks", "*", "length"))
	if len(lengths) != 1 {
		t.Fatalf("length notes: %v", lengths)
	}
	os.Remove(lengths[0])
	v.ok(1, bytes.Repeat([]byte("b"), 60), true)
	_, _, _, err = v.send(2, strings.NewReader("tail"), 4)
	if mft.ErrorCode(err) != mft.EMALFORMED || !strings.Contains(mft.ErrorMessage(err), "Piece 0 has 100 bytes, but every piece but the last must have 60") {
		t.Fatalf("unequal pieces found at the end: %v", err)
	}
	if fi, _, done := v.ok(0, bytes.Repeat([]byte("a"), 60), false); !done || fi.Size != 124 {
		t.Fatalf("after piece 0 was sent again at 60 bytes: done=%v %+v", done, fi)
	}
}

// errAfter is a body that breaks after n bytes.
type errAfter struct {
	r io.Reader
	n int
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errors.New("connection reset")
	}
	p = p[:min(len(p), e.n)]
	n, err := e.r.Read(p)
	e.n -= n
	return n, err
}

// A piece written in place and then sent again, broken half-way with other
// bytes, no longer counts: the file is not published from a mix of the
// two sends, and sending the piece again completes it. A piece kept aside
// keeps its whole copy when a resend breaks.
func TestChunks_BrokenResendInPlace(t *testing.T) {
	a := coretest.Start(t, nil)
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	good := bytes.Repeat([]byte("g"), 4<<20)
	broken := func() io.Reader { return &errAfter{bytes.NewReader(bytes.Repeat([]byte("x"), 4<<20)), 2 << 20} }
	c := newChunkSender(t, a.Files, joe, "/r.bin", 4, true)
	c.ok(0, good, false) // the first piece stored: aside, and it gives the length
	c.ok(1, good, false) // in place
	for _, i := range []int{1, 0} {
		if _, _, _, err := c.send(i, broken(), 4<<20); mft.ErrorCode(err) != mft.EMALFORMED {
			t.Fatalf("broken piece %d: %v", i, err)
		}
	}
	c.ok(2, good, false)
	if _, prog, done := c.ok(3, []byte("tail"), false); done || prog.Received != 3 {
		t.Fatalf("done=%v progress %+v: want pieces 0, 2 and 3 (1 broke in place)", done, prog)
	}
	fi, _, done := c.ok(1, good, false)
	whole := append(bytes.Repeat(good, 3), "tail"...)
	if !done || fi.SHA256 != sum(whole) {
		t.Fatalf("done=%v %+v, want sha256 %s", done, fi, sum(whole))
	}
}

// onEOF is a body that calls f once it has been read to the end.
type onEOF struct {
	r io.Reader
	f func()
}

func (o *onEOF) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	if err == io.EOF && o.f != nil {
		o.f()
		o.f = nil
	}
	return n, err
}

// A set whose publishing is refused (a file took the name while the last
// piece came in, and the upload does not overwrite) keeps its pieces:
// once that file is gone, sending the last piece again publishes the
// whole file.
func TestChunks_RefusedPublishKeepsPieces(t *testing.T) {
	a := coretest.Start(t, nil)
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	parts := [][]byte{bytes.Repeat([]byte("1"), 5000), bytes.Repeat([]byte("2"), 5000), []byte("3")}
	c := newChunkSender(t, a.Files, joe, "/k.bin", 3, false)
	c.ok(0, parts[0], false)
	c.ok(1, parts[1], false)
	body := &onEOF{bytes.NewReader(parts[2]), func() {
		if _, err := upload(t, a, joe, "/k.bin", []byte("other")); err != nil {
			t.Error(err)
		}
	}}
	_, _, done, err := c.send(2, body, 1)
	if done || mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("publish over a file that took the name: done=%v %v", done, err)
	}
	if got := stored(t, a.Config.Data.Dir, "joe", "k.bin"); string(got) != "other" {
		t.Fatalf("the other file became %q", got)
	}
	if err := a.Files.Remove(context.Background(), joe, "/k.bin", false); err != nil {
		t.Fatal(err)
	}
	fi, _, done := c.ok(2, parts[2], false)
	if whole := bytes.Join(parts, nil); !done || fi.SHA256 != sum(whole) || !bytes.Equal(stored(t, a.Config.Data.Dir, "joe", "k.bin"), whole) {
		t.Fatalf("after the conflict: done=%v %+v", done, fi)
	}
	if left, _ := os.ReadDir(filepath.Join(a.Config.Data.Dir, "tmp", "chunks")); len(left) != 0 {
		t.Fatalf("pieces left: %v", left)
	}
}
