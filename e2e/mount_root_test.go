package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"depot/internal/testpeer"
)

// One node with its storage root on an object store: a fresh Depot takes
// the mount at "/", and then everything a user stores goes to the bucket
// (by OpenSSH's sftp and by HTTP), nothing to Depot's disk; the home is
// made on first use; the quota still holds; a mount below the root serves
// its own path.
func TestMounts_StorageRoot(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	u := ts.mountUser(t, "initech", 1)
	conn := ts.s3Connection(t, g)
	ts.mount(t, "/", conn, "root")

	local := filepath.Join(t.TempDir(), "tps.csv")
	os.WriteFile(local, []byte("report\n"), 0o600)
	if out, err := ts.openssh(t, u, "put "+local+" /tps.csv", "mkdir /in", "ls /"); err != nil || !strings.Contains(out, "tps.csv") {
		t.Fatalf("sftp on the root mount: %v\n%s", err, out)
	}
	want(t, ts.do(t, "PUT", "/api/files/content?path=/in/a.txt", u.apiKey, "over http"), 201)
	s3 := g.Client(t)
	for _, key := range []string{"depot/root/users/" + u.id + "/tps.csv", "depot/root/users/" + u.id + "/in/a.txt"} {
		if _, err := s3.StatObject(context.Background(), testpeer.S3Bucket, key, minio.StatObjectOptions{}); err != nil {
			t.Errorf("%s is not in the bucket: %v", key, err)
		}
	}
	filepath.WalkDir(filepath.Join(ts.dataDir, "files"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("Depot's disk holds %s; the storage root is on the object store", p)
		}
		return nil
	})
	r := ts.do(t, "PUT", "/api/files/content?path=/big.bin", u.apiKey, strings.Repeat("x", 2<<20))
	if r.status != 507 || !strings.Contains(r.body, "quota") {
		t.Fatalf("2 MiB over a 1 MB quota on the root mount: %d %s", r.status, r.body)
	}

	ts.mount(t, "/users/"+u.id+"/archive", conn, "archive")
	want(t, ts.do(t, "PUT", "/api/files/content?path=/archive/old.csv", u.apiKey, "old"), 201)
	if _, err := s3.StatObject(context.Background(), testpeer.S3Bucket, "depot/archive/old.csv", minio.StatObjectOptions{}); err != nil {
		t.Fatalf("a file below the nested mount is not on its prefix: %v", err)
	}
	r = ts.do(t, "GET", "/api/files?path=/", u.apiKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"archive"`) || !strings.Contains(r.body, `"tps.csv"`) {
		t.Fatalf("the home lists %s; want the nested mount and the file", r.body)
	}
}
