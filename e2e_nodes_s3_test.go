package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minio/minio-go/v7"

	"depot/internal/testpeer"
)

// Two `depot serve` processes with data directories of their own, one
// PostgreSQL database, and the storage root mounted on an S3 store
// (VersityGW): the setup that needs no shared filesystem. The nodes share
// secret.key and the host keys as files. What a partner and an
// administrator see: a mount made on one node serves the other; files
// uploaded by SFTP through the balancer are in the object store, on no
// node's disk, listed and downloaded through both; a chunked upload whose
// pieces go to two nodes is refused at the misplaced piece with a message
// that says why, and completes when its pieces go to one node.
func TestTwoNodes_StorageOnS3(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	env := []string{"DEPOT_DATABASE_DRIVER=postgres", "DEPOT_DATABASE_DSN=" + testpeer.PostgresDSN(t), "DEPOT_DATABASE_SHARED=true"}
	dirA, dirB := t.TempDir(), t.TempDir()
	a := startDepot(t, dirA, env...)
	for _, name := range []string{"secret.key", "ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		data, err := os.ReadFile(filepath.Join(dirA, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dirB, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b := startDepot(t, dirB, env...)
	front := testpeer.Balance(t, a.sftp, b.sftp)
	admin := []string{"--user", e2eAdminKey + ":x"}

	body := callNode(t, a, 201, append(admin, "-d", fmt.Sprintf(`{"connection":{"name":"object store","type":"s3","endpoint":%q,`+
		`"region":"us-east-1","bucket":%q,"path_style":true,"access_key":%q,"secret_key":%q}}`,
		g.Endpoint, testpeer.S3Bucket, testpeer.S3AccessKey, testpeer.S3SecretKey), "/admin/connections")...)
	var conn struct{ Connection struct{ ID string } }
	json.Unmarshal([]byte(body), &conn)
	callNode(t, b, 200, append(admin, "/api/files?path=/")...) // b has read its mount table: none
	callNode(t, a, 201, append(admin, "-d", `{"mount":{"path":"/","connection":"`+conn.Connection.ID+`","prefix":"depot"}}`, "/admin/mounts")...)
	body = callNode(t, b, 201, append(admin, "-d", `{"user":{"email":"partner@example.com","username":"partner","password":"correct-horse"}}`, "/admin/users")...)
	var created struct {
		User struct {
			APIKey string `json:"api_key"`
			Home   string
		}
	}
	json.Unmarshal([]byte(body), &created)
	partner := []string{"--user", created.User.APIKey + ":x"}

	// 20 uploads in 4 sessions through the balancer: 2 on each node.
	var keys sync.Map
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for s := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := partnerSFTP(t, front, &keys)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for i := range 5 {
				if err := putFile(c, fmt.Sprintf("/f-%d-%d.csv", s, i), fmt.Sprintf("session %d file %d\n", s, i)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n := 0
	keys.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("partners were shown %d host keys through the balancer; want the one copied to both nodes", n)
	}
	for _, node := range []*depotProcess{a, b} {
		var list []struct{ File struct{ Name string } }
		json.Unmarshal([]byte(callNode(t, node, 200, append(partner, "/api/files?path=/")...)), &list)
		if len(list) != 20 {
			t.Fatalf("%s lists %d files; want 20", node.url, len(list))
		}
		if got := callNode(t, node, 200, append(partner, "/api/files/content?path=/f-2-4.csv")...); got != "session 2 file 4\n" {
			t.Fatalf("downloaded through %s: %q", node.url, got)
		}
	}
	objects := 0
	for o := range g.Client(t).ListObjects(context.Background(), testpeer.S3Bucket, minio.ListObjectsOptions{Prefix: "depot" + created.User.Home + "/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.HasSuffix(o.Key, ".csv") {
			objects++
		}
	}
	if objects != 20 {
		t.Fatalf("the object store holds %d of the partner's files; want 20", objects)
	}
	for _, dir := range []string{dirA, dirB} {
		filepath.WalkDir(filepath.Join(dir, "files"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("a node's disk holds %s; the storage root is on the object store", p)
			}
			return nil
		})
	}

	// A chunked upload needs its pieces on one node.
	piece := func(node *depotProcess, i, want int) string {
		return callNode(t, node, want, append(partner, "-X", "PUT", "--data-binary", strings.Repeat(fmt.Sprint(i), 1000),
			fmt.Sprintf("/api/files/content?path=/big.bin&chunk=%d&chunks=2", i))...)
	}
	piece(a, 0, 202)
	if got := piece(b, 1, 409); !strings.Contains(got, "same node") {
		t.Fatalf("a piece sent to the other node: %s; want a message that says why", got)
	}
	piece(a, 1, 201)
	if got := callNode(t, b, 200, append(partner, "/api/files/content?path=/big.bin")...); got != strings.Repeat("0", 1000)+strings.Repeat("1", 1000) {
		t.Fatalf("the chunked upload read through the other node: %d bytes", len(got))
	}
	// Its record went with it: a new upload of that name may start on b.
	piece(b, 0, 202)
}
