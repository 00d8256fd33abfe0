package e2e

// The ways into a mounted path other than SFTP and the files API:
// automations, retention, filedrops, links, chunked uploads, the web
// client, and the administration of mounts and their connections.

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"depot/internal/testpeer"
)

// An automation on an upload to an S3 home moves the file to a local
// archive: it leaves the bucket and lands on Depot's disk whole.
func TestMounts_AutomationMovesToLocalArchive(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	u := ts.mountUser(t, "hooli", 0)
	ts.mount(t, "/users/"+u.id, ts.s3Connection(t, g), "hooli")
	id := ts.createAutomation(t, `{"automation":{"name":"archive","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"path","pattern":"/users/`+u.id+`/*.csv"}],"actions":[{"type":"move","to":"/archive/{USER}/"}]}}`)
	data := strings.Repeat("id,amount\n1,100\n", 100000)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/ledger.csv", u.apiKey, data), 201)
	r := ts.waitRuns(t, id, 1)[0].Run
	if r.Status != "succeeded" {
		t.Fatalf("run %+v", r)
	}
	if got, _ := os.ReadFile(filepath.Join(ts.dataDir, "files", "archive", u.id, "ledger.csv")); string(got) != data {
		t.Fatalf("the archived file has %d bytes, want %d", len(got), len(data))
	}
	if _, err := g.Client(t).StatObject(context.Background(), testpeer.S3Bucket, "depot/hooli/ledger.csv", minio.StatObjectOptions{}); err == nil {
		t.Fatal("the moved file is still in the bucket")
	}
}

// Folder retention reaches a mounted home: an object older than the
// rule's days is deleted from the bucket, audited, and its bytes leave
// the usage; a newer one stays.
func TestMounts_Retention(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	u := ts.mountUser(t, "wonka", 0)
	ts.mount(t, "/users/"+u.id, ts.s3Connection(t, g), "wonka")
	ts.createFolderRule(t, `{"folder":{"path":"/users/`+u.id+`","retention_days":2}}`)
	want(t, ts.do(t, "POST", "/api/folders", u.apiKey, `{"path":"/in"}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/in/old.csv", u.apiKey, "12345"), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/in/new.csv", u.apiKey, "123"), 201)
	// VersityGW keeps an object as a file; its time is the object's.
	old := time.Now().Add(-3 * 24 * time.Hour)
	if err := os.Chtimes(filepath.Join(g.BucketDir(), "depot", "wonka", "in", "old.csv"), old, old); err != nil {
		t.Fatal(err)
	}
	n, err := ts.app.Files.ExpireFiles(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("expired %d, %v; want 1", n, err)
	}
	want(t, ts.do(t, "GET", "/api/files/stat?path=/in/old.csv", u.apiKey, ""), 404)
	want(t, ts.do(t, "GET", "/api/files/stat?path=/in/new.csv", u.apiKey, ""), 200)
	if used, _ := ts.app.Files.Usage.Usage(context.Background(), "/users/"+u.id); used != 3 {
		t.Fatalf("usage %d after retention, want 3", used)
	}
	ts.audit.Flush()
	if r := ts.do(t, "GET", "/admin/audit?event=file.deleted", adminKey, ""); !strings.Contains(r.body, "/users/"+u.id+"/in/old.csv") || !strings.Contains(r.body, "retention") {
		t.Fatalf("audit: %s", r.body)
	}
}

// Mounts refuse what would lose or hide files, with a message.
func TestMounts_Refusals(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	conn := ts.s3Connection(t, g)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/local"}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/shared/local/a.txt", adminKey, "kept"), 201)
	for _, c := range []struct {
		body   string
		status int
		says   string
	}{
		{`{"mount":{"path":"/users","connection":"` + conn + `"}}`, 422, "below the top"},
		{`{"mount":{"path":"/","connection":"` + conn + `"}}`, 409, "has files"}, // the storage root, over /shared/local/a.txt
		{`{"mount":{"path":"/shared/../etc","connection":"` + conn + `"}}`, 422, ".."},
		{`{"mount":{"path":"/shared/x","connection":"conn_missing"}}`, 422, "does not exist"},
		{`{"mount":{"path":"/shared/x"}}`, 422, "connection"},
		{`{"mount":{"path":7,"connection":"` + conn + `"}}`, 422, "path"},
		{`{"mount":{"path":"/shared/local","connection":"` + conn + `"}}`, 409, "has files"},
	} {
		r := ts.do(t, "POST", "/admin/mounts", adminKey, c.body)
		if r.status != c.status || !strings.Contains(r.body, c.says) {
			t.Errorf("%s: %d %s, want %d saying %q", c.body, r.status, r.body, c.status, c.says)
		}
	}
	id := ts.mount(t, "/shared/s3", conn, "shared")
	r := ts.do(t, "POST", "/admin/mounts", adminKey, `{"mount":{"path":"/shared/s3/inner","connection":"`+conn+`"}}`)
	if r.status != 409 || !strings.Contains(r.body, "overlaps") {
		t.Fatalf("a mount inside a mount: %d %s", r.status, r.body)
	}
	if r := ts.do(t, "DELETE", "/admin/connections/"+conn, adminKey, ""); r.status != 409 || !strings.Contains(r.body, id) {
		t.Fatalf("deleting a connection a mount uses: %d %s", r.status, r.body)
	}
	// The mount point shows in its parent's listing and cannot be removed.
	r = ts.do(t, "GET", "/api/files?path=/shared", adminKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"s3"`) || !strings.Contains(r.body, `"local"`) {
		t.Fatalf("listing of /shared: %s", r.body)
	}
	if r := ts.do(t, "DELETE", "/api/files?path=/shared/s3&recursive=true", adminKey, ""); r.status != 403 {
		t.Fatalf("deleting the mount point: %d %s", r.status, r.body)
	}
	want(t, ts.do(t, "DELETE", "/admin/mounts/"+id, adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/mounts/"+id, adminKey, ""), 404)
}

// The other roads into a mounted home: a filedrop delivery lands in the
// bucket and downloads from the message, a chunked upload (its pieces out
// of order) is assembled into one object, and a shared link serves it.
func TestMounts_FiledropChunksAndLinks(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	u := ts.mountUser(t, "dunder", 0)
	ts.mount(t, "/users/"+u.id, ts.s3Connection(t, g), "dunder")
	remote := filepath.Join(g.BucketDir(), "depot", "dunder")

	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"paper","title":"Paper","owner":"`+u.id+`"}}`), 201)
	_, s := ts.openFiledrop(t, "paper", "")
	r := s.upload(t, "filename=order.csv", "sku,qty\n1,500\n")
	want(t, r, 201)
	var a attachmentBody
	r.json(t, &a)
	r = s.deliver(t, `{"message":{"from":"michael@example.com","attachments":["`+a.Attachment.ID+`"]}}`)
	want(t, r, 201)
	var m messageBody
	r.json(t, &m)
	folder := strings.TrimPrefix(m.Message.Folder, "/users/"+u.id)
	if got, err := os.ReadFile(filepath.Join(remote, folder, "order.csv")); err != nil || string(got) != "sku,qty\n1,500\n" {
		t.Fatalf("the delivered file in the bucket: %q %v", got, err)
	}
	r = ts.do(t, "GET", strings.TrimPrefix(m.Message.Files[0].URL, ts.URL()), u.apiKey, "")
	if want(t, r, 200); r.body != "sku,qty\n1,500\n" {
		t.Fatalf("the message's file: %q", r.body)
	}

	parts := []string{strings.Repeat("a", 3<<20), strings.Repeat("b", 3<<20), "tail"}
	for _, i := range []int{2, 0} {
		want(t, ts.do(t, "PUT", fmt.Sprintf("/api/files/content?path=/big.txt&chunk=%d&chunks=3", i), u.apiKey, parts[i]), 202)
	}
	want(t, ts.do(t, "PUT", "/api/files/content?path=/big.txt&chunk=1&chunks=3", u.apiKey, parts[1]), 201)
	whole := strings.Join(parts, "")
	if got, _ := os.ReadFile(filepath.Join(remote, "big.txt")); string(got) != whole {
		t.Fatalf("the assembled object has %d bytes, want %d", len(got), len(whole))
	}

	l := ts.createLink(t, u.apiKey, `{"link":{"path":"/big.txt","password":"correct-horse"}}`)
	r = ts.get(t, strings.TrimPrefix(l.Link.URL, ts.URL())+"/download", "correct-horse")
	if want(t, r, 200); r.body != whole {
		t.Fatalf("the link served %d bytes, want %d", len(r.body), len(whole))
	}
}

// Editing a connection while a transfer is on it: the transfer ends as it
// began (its connection closes when it is done), and what follows uses the
// edited connection.
func TestMounts_ConnectionEditedMidTransfer(t *testing.T) {
	sshd := testpeer.StartSSHD(t)
	ts := MustOpenServer(t)
	u := ts.mountUser(t, "vandelay", 0)
	conn := ts.sftpConnection(t, sshd)
	ts.mount(t, "/users/"+u.id, conn, "vandelay")
	data := randomBytes(64 << 20)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/big.bin", u.apiKey, string(data)), 201)

	c, _ := ts.sftpClient(t, u)
	f, err := c.Open("/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if _, err := io.ReadFull(f, got[:4<<20]); err != nil {
		t.Fatal(err)
	}
	want(t, ts.do(t, "PATCH", "/admin/connections/"+conn, adminKey, `{"connection":{"name":"partner, renamed"}}`), 200)
	r := ts.do(t, "GET", "/api/files?path=/", u.apiKey, "")
	if want(t, r, 200); !strings.Contains(r.body, "big.bin") {
		t.Fatalf("listing after the edit: %s", r.body)
	}
	if _, err := io.ReadFull(f, got[4<<20:]); err != nil {
		t.Fatalf("the download broke when the connection was edited: %v", err)
	}
	f.Close()
	if !bytes.Equal(got, data) {
		t.Fatal("the download differs from the upload")
	}
}

// The web client on an S3 home: signed in, a user sees the home's files
// with their sizes, downloads a folder as a zip streamed from the bucket,
// and makes a folder there.
func TestMounts_WebClientOnS3(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"kramer@example.com","password":"correct-horse"}}`).User
	ts.mount(t, u.Home, ts.s3Connection(t, g), "kramer")
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/out"}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/out/a.txt", u.APIKey, "alpha\n"), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/out/b.bin", u.APIKey, strings.Repeat("b", 3<<20)), 201)

	b := newWebBrowser(ts)
	b.signIn(t, "kramer@example.com", "correct-horse")
	r := b.get(t, "/web/files?path=/out")
	if want(t, r, 200); !strings.Contains(r.body, "a.txt") || !strings.Contains(r.body, "b.bin") || !strings.Contains(r.body, "3.0 MB") {
		t.Fatalf("the folder page does not list the files with their sizes:\n%s", r.body)
	}
	r = b.get(t, "/web/files/zip?path=/out")
	if r.status != 200 || r.header.Get("Content-Type") != "application/zip" {
		t.Fatalf("zip: %d %s", r.status, r.header.Get("Content-Type"))
	}
	zr, err := zip.NewReader(bytes.NewReader([]byte(r.body)), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		data, _ := io.ReadAll(rc)
		rc.Close()
		got[f.Name] = len(data)
	}
	if got["out/a.txt"] != 6 || got["out/b.bin"] != 3<<20 {
		t.Fatalf("zip entries %v", got)
	}
	r = b.post(t, "/web/files/folder", url.Values{"path": {"/out"}, "name": {"new"}})
	if r.status != 303 {
		t.Fatalf("mkdir from the web client: %d %s", r.status, r.body)
	}
	if _, err := g.Client(t).StatObject(context.Background(), testpeer.S3Bucket, "depot/kramer/out/new/", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("the folder's marker is not in the bucket: %v", err)
	}
}
