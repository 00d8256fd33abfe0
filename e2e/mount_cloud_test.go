package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"google.golang.org/api/iterator"

	"depot/internal/testpeer"
	"depot/internal/testtool"
)

// azureView reads a container below prefix through the emulator's own
// API (Azurite keeps its blobs in memory).
type azureView struct {
	c      *container.Client
	prefix string
}

func (v azureView) read(rel string) ([]byte, error) {
	resp, err := v.c.NewBlobClient(v.prefix+"/"+rel).DownloadStream(context.Background(), nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return nil, os.ErrNotExist
	} else if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

func (v azureView) exists(rel string) bool {
	if _, err := v.c.NewBlobClient(v.prefix+"/"+rel).GetProperties(context.Background(), nil); err == nil {
		return true
	}
	prefix := v.prefix + "/" + rel + "/"
	page, err := v.c.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix}).NextPage(context.Background())
	return err != nil || len(page.Segment.BlobItems) > 0
}

func (v azureView) write(rel string, data []byte) error {
	_, err := v.c.NewBlockBlobClient(v.prefix+"/"+rel).Upload(context.Background(), streaming.NopCloser(bytes.NewReader(data)), nil)
	return err
}

// gcsView reads a bucket below prefix through the emulator's own API.
type gcsView struct {
	b      *storage.BucketHandle
	prefix string
}

func (v gcsView) read(rel string) ([]byte, error) {
	r, err := v.b.Object(v.prefix + "/" + rel).NewReader(context.Background())
	if errors.Is(err, storage.ErrObjectNotExist) {
		return nil, os.ErrNotExist
	} else if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func (v gcsView) exists(rel string) bool {
	if _, err := v.b.Object(v.prefix + "/" + rel).Attrs(context.Background()); err == nil {
		return true
	}
	_, err := v.b.Objects(context.Background(), &storage.Query{Prefix: v.prefix + "/" + rel + "/"}).Next()
	return err != iterator.Done
}

func (v gcsView) write(rel string, data []byte) error {
	w := v.b.Object(v.prefix + "/" + rel).NewWriter(context.Background())
	w.Write(data)
	return w.Close()
}

// cloudView is a remoteView that can also put a file there, as a
// partner would.
type cloudView interface {
	remoteView
	write(rel string, data []byte) error
}

// cloud is an object store peer: it starts, makes a connection to itself
// and shows what is below a prefix of the connection's.
type cloud struct {
	name  string
	start func(t *testing.T, ts *testServer) (conn string, view func(prefix string) cloudView, stop func())
}

var clouds = []cloud{
	{"azblob", func(t *testing.T, ts *testServer) (string, func(string) cloudView, func()) {
		a := testpeer.StartAzurite(t)
		c := a.Container(t)
		return ts.azureConnection(t, a, testpeer.AzureKey), func(p string) cloudView { return azureView{c, path.Join("depot", p)} }, a.Stop
	}},
	{"gcs", func(t *testing.T, ts *testServer) (string, func(string) cloudView, func()) {
		g := testpeer.StartFakeGCS(t)
		b := g.Client(t).Bucket(testpeer.GCSBucket)
		return ts.gcsConnection(t, g), func(p string) cloudView { return gcsView{b, path.Join("depot", p)} }, g.Stop
	}},
}

func (ts *testServer) gcsConnection(t *testing.T, g *testpeer.FakeGCS) string {
	t.Helper()
	r := ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"gcs archive","type":"gcs",
		"endpoint":%q,"bucket":%q,"prefix":"depot"}}`, g.Endpoint, testpeer.GCSBucket))
	want(t, r, 201)
	return ts.fieldsOf(t, r, "connection")["id"].(string)
}

func (ts *testServer) azureConnection(t *testing.T, a *testpeer.Azurite, key string) string {
	t.Helper()
	r := ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"azure archive","type":"azblob",
		"endpoint":%q,"container":%q,"prefix":"depot","account":%q,"account_key":%q}}`,
		a.Endpoint, testpeer.AzureContainer, testpeer.AzureAccount, key))
	want(t, r, 201)
	if strings.Contains(r.body, key) || !strings.Contains(r.body, `"account_key":"(set)"`) {
		t.Fatalf("the account key is shown: %s", r.body)
	}
	return ts.fieldsOf(t, r, "connection")["id"].(string)
}

// Connections to an Azure container and a GCS bucket are tested like the
// others: the service's own words, never a secret, and what each type
// needs checked when it is made.
func TestConnections_CloudTestsAndRefusals(t *testing.T) {
	a := testpeer.StartAzurite(t)
	g := testpeer.StartFakeGCS(t)
	ts := MustOpenServer(t)
	conn := ts.azureConnection(t, a, testpeer.AzureKey)
	r := ts.do(t, "POST", "/admin/connections/"+conn+"/test", adminKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"path":"depot-test/depot"`) || !strings.Contains(r.body, a.Endpoint) {
		t.Fatalf("azblob test: %s", r.body)
	}
	wrongKey := "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
	bad := ts.azureConnection(t, a, wrongKey)
	r = ts.do(t, "POST", "/admin/connections/"+bad+"/test", adminKey, "")
	if want(t, r, 422); !strings.Contains(r.body, "(HTTP 403)") || strings.Contains(r.body, wrongKey) {
		t.Fatalf("a wrong key: %s", r.body)
	}
	conn = ts.gcsConnection(t, g)
	r = ts.do(t, "POST", "/admin/connections/"+conn+"/test", adminKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"path":"depot-test/depot"`) || !strings.Contains(r.body, g.Endpoint+"/depot-test") {
		t.Fatalf("gcs test: %s", r.body)
	}
	r = ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"x","type":"gcs","endpoint":%q,"bucket":"nope"}}`, g.Endpoint))
	r = ts.do(t, "POST", "/admin/connections/"+ts.fieldsOf(t, r, "connection")["id"].(string)+"/test", adminKey, "")
	if want(t, r, 422); !strings.Contains(r.body, "the bucket nope does not exist") {
		t.Fatalf("a missing bucket: %s", r.body)
	}
	// A service account key is kept sealed and shown as "(set)"; what
	// is not one is refused without being echoed.
	key := `{"type":"service_account","client_email":"depot@p.iam.gserviceaccount.com","private_key":"-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"}`
	keyJSON, _ := json.Marshal(key)
	r = ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"gcs","type":"gcs","bucket":"b","credentials_json":`+string(keyJSON)+`}}`)
	if want(t, r, 201); strings.Contains(r.body, "BEGIN PRIVATE KEY") || !strings.Contains(r.body, `"credentials_json":"(set)"`) {
		t.Fatalf("the key is shown: %s", r.body)
	}
	for _, body := range []string{
		`"type":"azblob","container":"depot-test","account":"a"`, `"type":"azblob","container":"Bad_Name","account":"a","account_key":"k"`,
		`"type":"azblob","container":"depot-test","account_key":"k"`, `"type":"azblob","container":"depot-test","account":"a","account_key":"k","sas_token":"sv=1"`,
		`"type":"azblob","container":"depot-test","account":"a","account_key":"k","bucket":"b"`,
		`"type":"gcs","bucket":"b"`, `"type":"gcs","endpoint":"http://x/path","bucket":"b"`, `"type":"gcs","endpoint":"http://x"`,
		`"type":"gcs","bucket":"b","credentials_json":"not-a-secret-key"`, `"type":"gcs","bucket":"b","credentials_json":"{\"type\":\"user\"}"`,
		`"type":"gcs","bucket":"b","endpoint":"http://x","account":"a"`, `"type":"s3","endpoint":"http://x","bucket":"b","access_key":"a","secret_key":"s","container":"c"`,
	} {
		r := ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"x",`+body+`}}`)
		if want(t, r, 422); strings.Contains(r.body, "not-a-secret-key") {
			t.Fatalf("the refusal echoes the secret: %s", r.body)
		}
	}
}

// A user whose home is a prefix of a container or bucket works there
// with OpenSSH's sftp and the HTTP API as on the local disk; an object
// appears only once its upload is complete.
func TestMounts_CloudHome(t *testing.T) {
	for _, cl := range clouds {
		t.Run(cl.name, func(t *testing.T) {
			// The server's log says what the store answered when a
			// transfer fails (the client is told only that it failed).
			var logs testtool.Buffer
			ts := openServerLogged(t, t.TempDir(), slog.New(slog.NewTextHandler(&logs, nil)))
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the server's log:\n%s", logs.String())
				}
			})
			conn, viewAt, _ := cl.start(t, ts)
			u := ts.mountUser(t, "acme", 0)
			ts.mount(t, "/users/"+u.id, conn, "customers/acme")
			view := viewAt("customers/acme")
			roundTrip(t, ts, u, view)

			c, _ := ts.sftpClient(t, u)
			f, err := c.Create("/late.bin")
			if err != nil {
				t.Fatal(err)
			}
			data := randomBytes(40 << 20)
			if _, err := f.Write(data[:36<<20]); err != nil {
				t.Fatal(err)
			}
			if view.exists("late.bin") {
				t.Fatal("the object is visible before the upload completed")
			}
			f.Write(data[36<<20:])
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			if got, err := view.read("late.bin"); !bytes.Equal(got, data) {
				t.Fatalf("the object has %d bytes that differ from the %d sent (%v)", len(got), len(data), err)
			}
		})
	}
}

// An automation pushes uploads to the store, byte for byte as the
// emulator's own API reads them, and a scheduled source pulls an object
// a partner put there once per version.
func TestConnections_CloudPushAndPull(t *testing.T) {
	for _, cl := range clouds {
		t.Run(cl.name, func(t *testing.T) {
			ts := MustOpenServer(t)
			conn, viewAt, _ := cl.start(t, ts)
			push := ts.createAutomation(t, `{"automation":{"name":"push","trigger":"event","events":["file.uploaded"],
				"conditions":[{"type":"path","pattern":"/users/**/out/*"}],
				"actions":[{"type":"upload","connection":"`+conn+`","to":"/outbox/"}]}}`)
			u := ts.createUser(t, `{"user":{"email":"ledgers@example.com"}}`).User
			want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/out"}`), 201)
			ledger := "date,amount\n" + strings.Repeat("2026-11-30,1250.00\n", 1800000) // 34 MB: parts or blocks
			want(t, ts.do(t, "PUT", "/api/files/content?path=/out/ledger.csv", u.APIKey, ledger), 201)
			if r := ts.waitRuns(t, push, 1)[0].Run; r.Status != "succeeded" {
				t.Fatalf("push run %+v", r)
			}
			view := viewAt("")
			if got, err := view.read("outbox/ledger.csv"); err != nil || string(got) != ledger {
				t.Fatalf("the pushed object has %d bytes (%v), want the %d uploaded", len(got), err, len(ledger))
			}

			if err := view.write("inbox/orders.csv", []byte("order,1\n")); err != nil {
				t.Fatal(err)
			}
			want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/inbox"}`), 201)
			pull := ts.createAutomation(t, `{"automation":{"name":"pull","trigger":"schedule","schedule":"@every 1s",
				"source":{"connection":"`+conn+`","path":"/inbox","pattern":"*.csv","to":"/shared/inbox"},
				"actions":[{"type":"copy","to":"/shared/archive/"}]}}`)
			for {
				r := ts.do(t, "GET", "/api/files/content?path=/shared/archive/orders.csv", adminKey, "")
				if r.status == 200 {
					if r.body != "order,1\n" {
						t.Fatalf("pulled %q", r.body)
					}
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			// Two more polls fetch nothing again.
			n := len(ts.runs(t, pull))
			for len(ts.runs(t, pull)) < n+2 {
				time.Sleep(100 * time.Millisecond)
			}
			ts.app.AuditLog.Flush()
			r := ts.do(t, "GET", "/admin/audit?event=file.uploaded&path=/shared/inbox", adminKey, "")
			if n := strings.Count(r.body, "/shared/inbox/orders.csv"); n != 1 {
				t.Fatalf("orders.csv fetched %d times, want once: %s", n, r.body)
			}
			for _, run := range ts.runs(t, pull) {
				if run.Run.Status == "failed" {
					t.Fatalf("a poll failed: %s", run.Run.Error)
				}
			}
		})
	}
}

// On a home in the store, an upload broken by the client's connection or
// cut off at the quota leaves no object; what fits still goes in; when
// the service goes away, SFTP and HTTP say so in words (503 with
// Retry-After) that name nothing of the storage behind.
func TestMounts_CloudBrokenOverQuotaAndDown(t *testing.T) {
	for _, cl := range clouds {
		t.Run(cl.name, func(t *testing.T) {
			ts := MustOpenServer(t)
			conn, viewAt, stop := cl.start(t, ts)
			u := ts.mountUser(t, "globex", 30)
			ts.mount(t, "/users/"+u.id, conn, "globex")
			view := viewAt("globex")

			c, sshConn := ts.sftpClient(t, u)
			f, err := c.Create("/broken.bin")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(randomBytes(20 << 20)); err != nil {
				t.Fatal(err)
			}
			sshConn.Close() // the partner's network goes away
			dir := t.TempDir()
			os.WriteFile(dir+"/huge.bin", randomBytes(40<<20), 0o600)
			out, err := ts.openssh(t, u, "put "+dir+"/huge.bin huge.bin")
			if err == nil || !strings.Contains(out, "quota") {
				t.Fatalf("a 40 MB put into a 30 MB quota: %v\n%s", err, out)
			}
			for _, name := range []string{"broken.bin", "huge.bin"} {
				if view.exists(name) {
					t.Fatalf("%s left an object", name)
				}
			}
			fits := randomBytes(5 << 20)
			want(t, ts.do(t, "PUT", "/api/files/content?path=/fits.bin", u.apiKey, string(fits)), 201)
			if got, _ := view.read("fits.bin"); !bytes.Equal(got, fits) {
				t.Fatal("the object that fits differs")
			}

			stop()
			r := ts.do(t, "GET", "/api/files/content?path=/fits.bin", u.apiKey, "")
			if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "failed or is not answering") ||
				strings.Contains(r.body, "127.0.0.1") || strings.Contains(r.body, "depot-test") || strings.Contains(r.body, cl.name) {
				t.Fatalf("a download while the service is down: %d %s", r.status, r.body)
			}
			out, _ = ts.openssh(t, u, "ls -l")
			if !strings.Contains(out, "The storage of / failed or is not answering") || !strings.Contains(out, "Failure") ||
				strings.Contains(out, "depot-test") || strings.Contains(out, cl.name) {
				t.Fatalf("sftp ls while the service is down:\n%s", out)
			}
		})
	}
}
