package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"depot/internal/testpeer"
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

// A connection to an Azure container is tested like the others (the
// service's own words when the key is wrong, never the key), and a user
// whose home is a prefix of it works there with OpenSSH's sftp and the
// HTTP API as on the local disk; a blob appears only once its upload is
// complete.
func TestMounts_AzureHome(t *testing.T) {
	a := testpeer.StartAzurite(t)
	ts := MustOpenServer(t)
	conn := ts.azureConnection(t, a, testpeer.AzureKey)
	r := ts.do(t, "POST", "/admin/connections/"+conn+"/test", adminKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"path":"depot-test/depot"`) || !strings.Contains(r.body, a.Endpoint) {
		t.Fatalf("test: %s", r.body)
	}
	wrongKey := "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXk="
	bad := ts.azureConnection(t, a, wrongKey)
	r = ts.do(t, "POST", "/admin/connections/"+bad+"/test", adminKey, "")
	if want(t, r, 422); !strings.Contains(r.body, "(HTTP 403)") || strings.Contains(r.body, wrongKey) {
		t.Fatalf("a wrong key: %s", r.body)
	}
	// Exactly one way in, a container name Azure takes.
	for _, body := range []string{`"container":"depot-test","account":"a"`, `"container":"Bad_Name","account":"a","account_key":"k"`,
		`"container":"depot-test","account_key":"k"`, `"container":"depot-test","account":"a","account_key":"k","sas_token":"sv=1"`,
		`"container":"depot-test","account":"a","account_key":"k","bucket":"b"`} {
		want(t, ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"x","type":"azblob",`+body+`}}`), 422)
	}

	u := ts.mountUser(t, "acme", 0)
	ts.mount(t, "/users/"+u.id, conn, "customers/acme")
	view := azureView{a.Container(t), "depot/customers/acme"}
	roundTrip(t, ts, u, view)

	c, _ := ts.sftpClient(t, u)
	f, err := c.Create("/late.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(30 << 20)
	if _, err := f.Write(data[:26<<20]); err != nil {
		t.Fatal(err)
	}
	if view.exists("late.bin") {
		t.Fatal("the blob is visible before the upload completed")
	}
	f.Write(data[26<<20:])
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := view.read("late.bin"); !bytes.Equal(got, data) {
		t.Fatalf("the blob has %d bytes that differ from the %d sent (%v)", len(got), len(data), err)
	}
}

// An automation pushes uploads to an Azure container, byte for byte as
// the emulator's own API reads them, and a scheduled source pulls a blob
// put there once per version.
func TestConnections_AzurePushAndPull(t *testing.T) {
	a := testpeer.StartAzurite(t)
	ts := MustOpenServer(t)
	conn := ts.azureConnection(t, a, testpeer.AzureKey)
	push := ts.createAutomation(t, `{"automation":{"name":"push","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"path","pattern":"/users/**/out/*"}],
		"actions":[{"type":"upload","connection":"`+conn+`","to":"/outbox/"}]}}`)
	u := ts.createUser(t, `{"user":{"email":"ledgers@example.com"}}`).User
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/out"}`), 201)
	ledger := "date,amount\n" + strings.Repeat("2026-11-30,1250.00\n", 700000) // 13 MB: two blocks
	want(t, ts.do(t, "PUT", "/api/files/content?path=/out/ledger.csv", u.APIKey, ledger), 201)
	if r := ts.waitRuns(t, push, 1)[0].Run; r.Status != "succeeded" {
		t.Fatalf("push run %+v", r)
	}
	view := azureView{a.Container(t), "depot"}
	if got, err := view.read("outbox/ledger.csv"); err != nil || string(got) != ledger {
		t.Fatalf("the pushed blob has %d bytes (%v), want the %d uploaded", len(got), err, len(ledger))
	}

	// A partner drops a blob in inbox/; the source fetches it once.
	blob := a.Container(t).NewBlockBlobClient("depot/inbox/orders.csv")
	if _, err := blob.Upload(context.Background(), streaming.NopCloser(strings.NewReader("order,1\n")), nil); err != nil {
		t.Fatal(err)
	}
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/inbox"}`), 201)
	pull := ts.createAutomation(t, `{"automation":{"name":"pull","trigger":"schedule","schedule":"@every 1s",
		"source":{"connection":"`+conn+`","path":"/inbox","pattern":"*.csv","to":"/shared/inbox"},
		"actions":[{"type":"copy","to":"/shared/archive/"}]}}`)
	for {
		r := ts.do(t, "GET", "/api/files/content?path=/shared/inbox/orders.csv", adminKey, "")
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
	want(t, ts.do(t, "GET", "/api/files/content?path=/shared/archive/orders.csv", adminKey, ""), 200)
	for _, run := range ts.runs(t, pull) {
		if run.Run.Status == "failed" {
			t.Fatalf("a poll failed: %s", run.Run.Error)
		}
	}
}

// On an Azure home, an upload broken by the client's connection or cut
// off at the quota leaves no blob; what fits still goes in; when the
// service goes away, SFTP and HTTP say so in words (503 with
// Retry-After) that name nothing of the storage behind.
func TestMounts_AzureBrokenOverQuotaAndDown(t *testing.T) {
	a := testpeer.StartAzurite(t)
	ts := MustOpenServer(t)
	conn := ts.azureConnection(t, a, testpeer.AzureKey)
	u := ts.mountUser(t, "globex", 30)
	ts.mount(t, "/users/"+u.id, conn, "globex")
	view := azureView{a.Container(t), "depot/globex"}

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
			t.Fatalf("%s left a blob", name)
		}
	}
	fits := randomBytes(5 << 20)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/fits.bin", u.apiKey, string(fits)), 201)
	if got, _ := view.read("fits.bin"); !bytes.Equal(got, fits) {
		t.Fatal("the blob that fits differs")
	}

	a.Stop()
	r := ts.do(t, "GET", "/api/files/content?path=/fits.bin", u.apiKey, "")
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "failed or is not answering") ||
		strings.Contains(r.body, "127.0.0.1") || strings.Contains(r.body, "depot-test") || strings.Contains(r.body, "azblob") {
		t.Fatalf("a download while the service is down: %d %s", r.status, r.body)
	}
	out, err = ts.openssh(t, u, "ls -l")
	if !strings.Contains(out, "The storage of / failed or is not answering") || !strings.Contains(out, "Failure") ||
		strings.Contains(out, "depot-test") || strings.Contains(out, "blob") {
		t.Fatalf("sftp ls while the service is down: %v\n%s", err, out)
	}
}
