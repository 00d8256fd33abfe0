package e2e

import (
	"bufio"
	"depot/app"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// reserveDZFile reserves a file of size bytes in a new dropzone and
// returns its upload URL.
func (ts *testServer) reserveDZFile(tb testing.TB, size int) (dropzoneID, fileID, uploadURL string) {
	tb.Helper()
	d := ts.createDropzone(tb, adminKey, `{"dropzone":{"name":"cap","gb":1,"days":30}}`).Dropzone
	r := ts.do(tb, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, fmt.Sprintf(`{"file":{"name":"e.txt","size":%d}}`, size))
	want(tb, r, 201)
	var f dzFileBody
	r.json(tb, &f)
	return d.ID, f.File.ID, f.File.UploadURL
}

// putStream sends body as a chunked PUT (no Content-Length) and returns
// the status, or 0 when the server cut the connection before answering.
func putStream(tb testing.TB, u string, body io.Reader) (int, string) {
	tb.Helper()
	req, err := http.NewRequest("PUT", u, io.NopCloser(body)) // NopCloser: no length known
	if err != nil {
		tb.Fatal(err)
	}
	req.ContentLength = -1
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// countingZeros is an endless body of zero bytes that counts what was read.
type countingZeros struct{ n atomic.Int64 }

func (z *countingZeros) Read(p []byte) (int, error) {
	clear(p)
	z.n.Add(int64(len(p)))
	return len(p), nil
}

// stagingFiles lists what is in data/tmp.
func (ts *testServer) stagingFiles(tb testing.TB) []string {
	tb.Helper()
	var out []string
	filepath.WalkDir(filepath.Join(ts.dataDir, "tmp"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// stagingOpen lists the staging files open in data/tmp, with a name or
// without one (an O_TMPFILE file shows in /proc/self/fd as
// "<tmp>/#<inode> (deleted)"): the server runs in this process.
func (ts *testServer) stagingOpen(tb testing.TB) []string {
	tb.Helper()
	tmp := filepath.Join(ts.dataDir, "tmp") + "/"
	fds, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, fd := range fds {
		if target, err := os.Readlink("/proc/self/fd/" + fd.Name()); err == nil && strings.HasPrefix(target, tmp) {
			out = append(out, target)
		}
	}
	return out
}

// A dropzone URL reserved for 11 bytes takes at most 11: a chunked body of
// any length is cut off at the first byte too many and nothing is kept.
// Found by the hardening review: 300 MB went to data/tmp before the 400.
func TestDropzones_UploadCapChunked(t *testing.T) {
	ts := MustOpenServer(t)
	dz, id, u := ts.reserveDZFile(t, 11)
	body := &countingZeros{}
	status, msg := putStream(t, u, io.LimitReader(body, 300<<20))
	if status != 400 && status != 0 {
		t.Fatalf("300 MiB for an 11-byte reservation: %d %s", status, msg)
	}
	if status == 400 && !strings.Contains(msg, "longer than the 11 bytes") {
		t.Fatalf("message %s", msg)
	}
	// The server stopped reading long before the end of the body; the
	// client's own buffers and the socket's hold a few MiB at most.
	if sent := body.n.Load(); sent > 64<<20 {
		t.Fatalf("the server read %d bytes of an 11-byte reservation", sent)
	}
	if left := ts.stagingFiles(t); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
	if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "dropzones", dz, id)); !os.IsNotExist(err) {
		t.Fatalf("a refused upload left a file: %v", err)
	}
	// A chunked body of the right length is taken.
	if status, msg := putStream(t, u, strings.NewReader("hello world")); status != 200 {
		t.Fatalf("11 chunked bytes: %d %s", status, msg)
	}
}

// A received file spends its URL: a second PUT is refused, and of two
// racing PUTs one wins.
func TestDropzones_UploadURLSpentOnce(t *testing.T) {
	ts := MustOpenServer(t)
	_, _, u := ts.reserveDZFile(t, 11)

	// Two racing uploads: the first holds the URL while its body is open.
	pr, pw := io.Pipe()
	first := make(chan int, 1)
	go func() {
		s, _ := putStream(t, u, pr)
		first <- s
	}()
	pw.Write([]byte("hello"))
	// The first has claimed the URL once its staging file is open.
	for len(ts.stagingOpen(t)) == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	r := ts.putURL(t, u, "hello world")
	want(t, r, 409)
	if !strings.Contains(r.body, "another request") {
		t.Fatalf("409 without the reason: %s", r.body)
	}
	pw.Write([]byte(" world"))
	pw.Close()
	if s := <-first; s != 200 {
		t.Fatalf("first upload: %d", s)
	}
	r = ts.putURL(t, u, "hello world")
	want(t, r, 409)
	if !strings.Contains(r.body, "has been used") {
		t.Fatalf("spent URL: %s", r.body)
	}
	if open := ts.stagingOpen(t); len(open) != 0 {
		t.Fatalf("staging files still open: %v", open)
	}
}

// trickle sends one byte of body every interval.
type trickle struct {
	left     int
	interval time.Duration
}

func (tr *trickle) Read(p []byte) (int, error) {
	if tr.left == 0 {
		return 0, io.EOF
	}
	time.Sleep(tr.interval)
	tr.left--
	p[0] = 'x'
	return 1, nil
}

// An upload slower than http.min_upload_rate is cut off and removed, and
// the reservation can be uploaded again.
func TestUploads_MinRate(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) {
		a.HTTP.MinUploadRate, a.HTTP.MinUploadWindow = 1000, 500*time.Millisecond
	})
	_, _, u := ts.reserveDZFile(t, 40)
	// 40 bytes at 20 per second would complete (200) if never cut off.
	status, msg := putStream(t, u, &trickle{left: 40, interval: 50 * time.Millisecond})
	if status != 400 && status != 0 {
		t.Fatalf("a trickle was accepted: %d %s", status, msg)
	}
	if status == 400 && !strings.Contains(msg, "slower than 1000 bytes per second") {
		t.Fatalf("message %s", msg)
	}
	if left := ts.stagingFiles(t); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
	if status, msg := putStream(t, u, strings.NewReader(strings.Repeat("x", 40))); status != 200 {
		t.Fatalf("after the cut-off: %d %s", status, msg)
	}

	// A client that stops sending altogether is cut off by the deadline,
	// over the files API too.
	key := ts.createUser(t, `{"user":{"email":"slow@example.com"}}`).User.APIKey
	pr, pw := io.Pipe()
	req, _ := http.NewRequest("PUT", ts.URL()+"/api/files/content?path=/stalled.bin", pr)
	req.SetBasicAuth(key, "x")
	go pw.Write([]byte("abc")) // then nothing
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("stalled upload: %d %s", resp.StatusCode, b)
		}
	}
	pw.Close()
	r := ts.do(t, "GET", "/api/files/stat?path=/stalled.bin", key, "")
	want(t, r, 404)
	if left := ts.stagingFiles(t); len(left) != 0 {
		t.Fatalf("staging files left: %v", left)
	}
}

// A JSON body that does not arrive within http.json_body_timeout is cut
// off: an unauthenticated client cannot hold a connection by trickling a
// login. Found by the hardening review: 3,000 such connections all stayed
// open.
func TestSlowJSONBodyCutOff(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.JSONBodyTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"user\":")
	// Then nothing: the server answers 400 and closes the connection.
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "must arrive within 300ms") {
		t.Fatalf("stalled login: %d %s", resp.StatusCode, body)
	}
}
