package testpeer

import (
	"context"
	"strconv"
	"testing"

	"cloud.google.com/go/storage"
	"google.golang.org/api/option"
)

// GCSBucket is the bucket the fake-gcs-server peer makes.
const GCSBucket = "depot-test"

// FakeGCS is fake-gcs-server, a Google Cloud Storage emulator, in
// memory, with one bucket.
type FakeGCS struct {
	*Process
	Endpoint string
}

// StartFakeGCS starts fake-gcs-server on a free loopback port, in
// memory, and creates the bucket GCSBucket.
func StartFakeGCS(tb testing.TB) *FakeGCS { return StartFakeGCSAt(tb, "") }

// StartFakeGCSAt is StartFakeGCS keeping the objects in dir (for more
// than memory holds); "" keeps them in memory.
func StartFakeGCSAt(tb testing.TB, dir string) *FakeGCS {
	tb.Helper()
	bin := tool(tb, "fake-gcs-server")
	port := freePort(tb)
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	where := []string{"-backend", "memory"}
	if dir != "" {
		where = []string{"-backend", "filesystem", "-filesystem-root", dir}
	}
	p := start(tb, port, nil, bin, append([]string{"-scheme", "http", "-host", "127.0.0.1", "-port", strconv.Itoa(port),
		"-external-url", endpoint, "-public-host", "127.0.0.1:" + strconv.Itoa(port), "-log-level", "error"}, where...)...)
	g := &FakeGCS{Process: p, Endpoint: endpoint}
	if err := g.Client(tb).Bucket(GCSBucket).Create(context.Background(), "depot-test-project", nil); err != nil {
		tb.Fatalf("creating the bucket: %v\n%s", err, p.Output())
	}
	return g
}

// Client is the official client of the emulator: its own view, to check
// what Depot wrote.
func (g *FakeGCS) Client(tb testing.TB) *storage.Client {
	tb.Helper()
	c, err := storage.NewClient(context.Background(), option.WithEndpoint(g.Endpoint+"/storage/v1/"), option.WithoutAuthentication())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}
