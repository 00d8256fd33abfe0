package testpeer

import (
	"context"

	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3 keys of the VersityGW peer.
const (
	S3AccessKey = "depot-test-access"
	S3SecretKey = "depot-test-secret-0123456789"
	S3Bucket    = "depot-test"
)

// VersityGW is an S3 gateway over a POSIX folder with one bucket.
type VersityGW struct {
	*Process
	Endpoint string
	Port     int
	// Dir is the gateway's folder: the bucket is Dir/S3Bucket.
	Dir string
}

// StartVersityGW starts versitygw on a free loopback port and creates the
// bucket S3Bucket.
func StartVersityGW(tb testing.TB) *VersityGW {
	tb.Helper()
	bin := tool(tb, "versitygw")
	dir := tb.TempDir()
	port := freePort(tb)
	p := start(tb, port, []string{"ROOT_ACCESS_KEY=" + S3AccessKey, "ROOT_SECRET_KEY=" + S3SecretKey},
		bin, "--port", "127.0.0.1:"+strconv.Itoa(port), "--keep-alive", "posix", dir)
	g := &VersityGW{Process: p, Endpoint: "http://127.0.0.1:" + strconv.Itoa(port), Port: port, Dir: dir}
	client := g.Client(tb)
	if err := client.MakeBucket(context.Background(), S3Bucket, minio.MakeBucketOptions{}); err != nil {
		tb.Fatalf("creating the bucket: %v\n%s", err, p.Output())
	}
	return g
}

// Client is a minio-go client of the gateway with its root keys.
func (g *VersityGW) Client(tb testing.TB) *minio.Client {
	tb.Helper()
	client, err := minio.New(strings.TrimPrefix(g.Endpoint, "http://"), &minio.Options{
		Creds: credentials.NewStaticV4(S3AccessKey, S3SecretKey, ""), BucketLookup: minio.BucketLookupPath})
	if err != nil {
		tb.Fatal(err)
	}
	return client
}

// BucketDir is where the bucket's objects are on disk.
func (g *VersityGW) BucketDir() string { return filepath.Join(g.Dir, S3Bucket) }
