package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/app"
	"depot/internal/testpeer"
	"depot/remote"
)

// resumeSize is the file the resume tests move: large enough that the
// relay breaks the connection in its middle.
const resumeSize = 24 << 20

// resumed checks that the one run succeeded on its second attempt after
// one broken connection, and that the attempt that succeeded moved fewer
// bytes than the file has: it continued instead of starting again.
func resumed(t *testing.T, ts *testServer, id string, cut *testpeer.Cutter, action string) {
	t.Helper()
	resumedBy(t, ts, id, cut, action, resumeSize)
}

// resumedBy is resumed for a file of size bytes.
func resumedBy(t *testing.T, ts *testServer, id string, cut *testpeer.Cutter, action string, size int64) {
	t.Helper()
	r := ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "succeeded" || r.Attempt != 2 || cut.Cuts.Load() != 1 {
		t.Fatalf("run %s on attempt %d (error %q) after %d broken connections, want succeeded on 2 after 1", r.Status, r.Attempt, r.Error, cut.Cuts.Load())
	}
	found := false
	for _, s := range r.Steps {
		if s.Action != action {
			continue
		}
		found = true
		if s.Bytes <= 0 || s.Bytes >= size {
			t.Fatalf("the second attempt's %s moved %d bytes of %d: it did not resume", action, s.Bytes, size)
		}
	}
	if !found {
		t.Fatalf("the run records no %s step: %+v", action, r.Steps)
	}
}

// A download broken in the middle by the network continues where it
// stopped on the run's next attempt; the file is whole and published once.
func TestConnections_DownloadResumesAfterBrokenConnection(t *testing.T) {
	peer := testpeer.StartSSHD(t)
	data := make([]byte, resumeSize)
	rand.Read(data)
	os.Mkdir(filepath.Join(peer.Dir, "outbox"), 0o755)
	os.WriteFile(filepath.Join(peer.Dir, "outbox", "night.bin"), data, 0o644)
	cut := testpeer.Cut(t, peer.Port, 8<<20, false)
	ts := MustOpenServer(t)
	conn := ts.sftpConnectionAt(t, peer, cut.Port)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/inbox"}`), 201)
	id := ts.createAutomation(t, `{"automation":{"name":"pull","trigger":"manual","retry":{"attempts":3},
		"actions":[{"type":"download","connection":"`+conn+`","from":"/outbox","to":"/shared/inbox"}]}}`)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{}`), 202)
	resumed(t, ts, id, cut, "download")
	got := ts.do(t, "GET", "/api/files/content?path=/shared/inbox/night.bin", adminKey, "")
	want(t, got, 200)
	if !bytes.Equal([]byte(got.body), data) {
		t.Fatalf("the fetched file differs from the remote one (%d bytes, want %d)", len(got.body), len(data))
	}
	ts.app.AuditLog.Flush()
	r := ts.do(t, "GET", "/admin/audit?event=file.uploaded&path=/shared/inbox", adminKey, "")
	if n := strings.Count(r.body, "/shared/inbox/night.bin"); n != 1 {
		t.Fatalf("night.bin was published %d times, want once: %s", n, r.body)
	}
}

// An upload broken in the middle continues on the next attempt from the
// temporary file the first one left; the peer ends with the whole file
// under its name and no temporary file.
func TestConnections_UploadResumesAfterBrokenConnection(t *testing.T) {
	peer := testpeer.StartSSHD(t)
	data := make([]byte, resumeSize)
	rand.Read(data)
	cut := testpeer.Cut(t, peer.Port, 12<<20, true)
	ts := MustOpenServer(t)
	conn := ts.sftpConnectionAt(t, peer, cut.Port)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/report.bin", adminKey, string(data)), 201)
	id := ts.createAutomation(t, `{"automation":{"name":"push","trigger":"manual","retry":{"attempts":3},
		"actions":[{"type":"upload","connection":"`+conn+`","to":"/in/","keep_original":true}]}}`)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/report.bin"}`), 202)
	resumed(t, ts, id, cut, "upload")
	entries, _ := os.ReadDir(filepath.Join(peer.Dir, "in"))
	if len(entries) != 1 || entries[0].Name() != "report.bin" {
		t.Fatalf("the peer holds %v, want report.bin alone", entries)
	}
	if got, _ := os.ReadFile(filepath.Join(peer.Dir, "in", "report.bin")); !bytes.Equal(got, data) {
		t.Fatalf("the peer's file differs from the original (%d bytes, want %d)", len(got), len(data))
	}
}

// An upload to S3 broken by an outage in the middle continues on the
// next attempt with the parts already there; an upload that fails for
// good leaves no incomplete multipart upload behind.
func TestConnections_S3UploadResumesAndFailsClean(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	const size = 6 * remote.S3PartSize
	data := make([]byte, size)
	rand.Read(data)
	ts := MustOpenServer(t)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/backup.tar", adminKey, string(data)), 201)
	push := func(port, attempts int) (string, *testpeer.Cutter) {
		// 5/6 of the file over all parts in flight: at least one part
		// is whole when the network breaks.
		cut := testpeer.Outage(t, port, size*5/6, true)
		r := ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"archive","type":"s3",
			"endpoint":"http://127.0.0.1:%d","region":"us-east-1","bucket":%q,"prefix":"depot","path_style":true,
			"access_key":%q,"secret_key":%q}}`, cut.Port, testpeer.S3Bucket, testpeer.S3AccessKey, testpeer.S3SecretKey))
		want(t, r, 201)
		conn := ts.fieldsOf(t, r, "connection")["id"].(string)
		id := ts.createAutomation(t, fmt.Sprintf(`{"automation":{"name":"archive","trigger":"manual","retry":{"attempts":%d},
			"actions":[{"type":"upload","connection":%q,"to":"/%d/","keep_original":true}]}}`, attempts, conn, attempts))
		want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/backup.tar"}`), 202)
		return id, cut
	}
	id, cut := push(g.Port, 3)
	resumedBy(t, ts, id, cut, "upload", size)
	got, err := os.ReadFile(filepath.Join(g.BucketDir(), "depot", "3", "backup.tar"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("the object differs from the original (%d bytes, want %d): %v", len(got), size, err)
	}
	// One attempt only: the run fails, and what it left goes with it.
	id, _ = push(g.Port, 1)
	if r := ts.waitRuns(t, id, 1)[0].Run; r.Status != "failed" {
		t.Fatalf("the run %s, want failed after the outage", r.Status)
	}
	for u := range g.Client(t).ListIncompleteUploads(context.Background(), testpeer.S3Bucket, "depot/", true) {
		t.Fatalf("an incomplete upload is left after the run failed: %+v", u)
	}
	if _, err := os.Stat(filepath.Join(g.BucketDir(), "depot", "1", "backup.tar")); !os.IsNotExist(err) {
		t.Fatalf("the failed upload left an object: %v", err)
	}
}

// A file made again between two attempts (a new encryption: other bytes,
// the same size) is sent whole under a new temporary name, never
// continued from the bytes of the one before, which is removed.
func TestConnections_UploadOfAFileMadeAgainStartsOver(t *testing.T) {
	peer := testpeer.StartSSHD(t)
	before, after := make([]byte, resumeSize), make([]byte, resumeSize)
	rand.Read(before)
	rand.Read(after)
	cut := testpeer.Cut(t, peer.Port, 12<<20, true)
	// Retries wait 3 s: time for the test to make the file again.
	ts := MustOpenServer(t, func(a *app.App) { a.Engine.RetryBase = 3 * time.Second })
	conn := ts.sftpConnectionAt(t, peer, cut.Port)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/report.bin", adminKey, string(before)), 201)
	id := ts.createAutomation(t, `{"automation":{"name":"push","trigger":"manual","retry":{"attempts":2},
		"actions":[{"type":"upload","connection":"`+conn+`","to":"/in/","keep_original":true}]}}`)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/report.bin"}`), 202)
	for {
		if runs := ts.runs(t, id); len(runs) == 1 && runs[0].Run.Attempt == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	want(t, ts.do(t, "PUT", "/api/files/content?path=/report.bin", adminKey, string(after)), 201)
	r := ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "succeeded" || r.Attempt != 2 {
		t.Fatalf("run %s on attempt %d (%s), want succeeded on 2", r.Status, r.Attempt, r.Error)
	}
	if s := r.Steps[len(r.Steps)-1]; s.Bytes != resumeSize {
		t.Fatalf("the second attempt sent %d bytes, want the whole new file (%d)", s.Bytes, resumeSize)
	}
	entries, _ := os.ReadDir(filepath.Join(peer.Dir, "in"))
	if len(entries) != 1 || entries[0].Name() != "report.bin" {
		t.Fatalf("the peer holds %v, want report.bin alone (the first attempt's temporary file removed)", entries)
	}
	if got, _ := os.ReadFile(filepath.Join(peer.Dir, "in", "report.bin")); !bytes.Equal(got, after) {
		t.Fatal("the peer's file is not the file as made again")
	}
}
