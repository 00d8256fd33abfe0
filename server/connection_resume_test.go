package server_test

import (
	"bytes"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"depot/internal/testpeer"
)

// resumeSize is the file the resume tests move: large enough that the
// relay breaks the connection in its middle.
const resumeSize = 24 << 20

// resumed checks that the one run succeeded on its second attempt after
// one broken connection, and that the attempt that succeeded moved fewer
// bytes than the file has: it continued instead of starting again.
func resumed(t *testing.T, ts *testServer, id string, cut *testpeer.Cutter, action string) {
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
		if s.Bytes <= 0 || s.Bytes >= resumeSize {
			t.Fatalf("the second attempt's %s moved %d bytes of %d: it did not resume", action, s.Bytes, resumeSize)
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
