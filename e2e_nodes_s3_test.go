package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"depot/internal/testpeer"
)

// twoNodes are two `depot serve` processes on one database.
type twoNodes struct {
	a, b  *depotProcess
	again func() *depotProcess // starts a again, on its data directory
	dirs  []string             // the nodes' data directories
	s3    *testpeer.VersityGW  // the store of the storage root; nil: one shared data directory
}

// startTwoNodes starts two nodes with env: on one data directory, or
// (onS3) each on its own, holding copies of the first's secret.key and
// host keys as the README says, with the storage root mounted on a
// VersityGW bucket through node a after node b has read its mount table.
func startTwoNodes(t *testing.T, onS3 bool, env ...string) *twoNodes {
	t.Helper()
	if !onS3 {
		data := t.TempDir()
		return &twoNodes{a: startDepot(t, data, env...), b: startDepot(t, data, env...), dirs: []string{data},
			again: func() *depotProcess { return startDepot(t, data, env...) }}
	}
	n := &twoNodes{dirs: []string{t.TempDir(), t.TempDir()}, s3: testpeer.StartVersityGW(t)}
	n.a = startDepot(t, n.dirs[0], env...)
	for _, name := range []string{"secret.key", "ssh_host_ed25519_key", "ssh_host_rsa_key"} {
		data, err := os.ReadFile(filepath.Join(n.dirs[0], name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(n.dirs[1], name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	n.b = startDepot(t, n.dirs[1], env...)
	n.again = func() *depotProcess { return startDepot(t, n.dirs[0], env...) }
	admin := []string{"--user", e2eAdminKey + ":x"}
	callNode(t, n.b, 200, append(admin, "/api/files?path=/")...) // b has read its mount table: none yet
	body := callNode(t, n.a, 201, append(admin, "-d", fmt.Sprintf(`{"connection":{"name":"object store","type":"s3","endpoint":%q,`+
		`"region":"us-east-1","bucket":%q,"path_style":true,"access_key":%q,"secret_key":%q}}`,
		n.s3.Endpoint, testpeer.S3Bucket, testpeer.S3AccessKey, testpeer.S3SecretKey), "/admin/connections")...)
	var conn struct{ Connection struct{ ID string } }
	json.Unmarshal([]byte(body), &conn)
	callNode(t, n.a, 201, append(admin, "-d", `{"mount":{"path":"/","connection":"`+conn.Connection.ID+`","prefix":"depot"}}`, "/admin/mounts")...)
	return n
}

// checkS3 checks what the storage root on an object store promises, once
// the partner (its id, home, and curl credentials) has uploaded files
// .csv files: they are objects in the store and on neither node's disk
// (node b saw the mount made on a); a chunked upload whose pieces go to
// two nodes is refused at the misplaced piece with a message that says
// why, and completes when its pieces go to one node; a filedrop's file
// received by one node is delivered by the other.
func (n *twoNodes) checkS3(t *testing.T, owner, home string, files int, partner []string) {
	t.Helper()
	objects := 0
	for o := range n.s3.Client(t).ListObjects(context.Background(), testpeer.S3Bucket, minio.ListObjectsOptions{Prefix: "depot" + home + "/", Recursive: true}) {
		if o.Err != nil {
			t.Fatal(o.Err)
		}
		if strings.HasSuffix(o.Key, ".csv") {
			objects++
		}
	}
	if objects != files {
		t.Fatalf("the object store holds %d of the partner's files; want %d", objects, files)
	}
	for _, dir := range n.dirs {
		filepath.WalkDir(filepath.Join(dir, "files"), func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("a node's disk holds %s; the storage root is on the object store", p)
			}
			return nil
		})
	}

	piece := func(node *depotProcess, i, want int) string {
		return callNode(t, node, want, append(partner, "-X", "PUT", "--data-binary", strings.Repeat(fmt.Sprint(i), 1000),
			fmt.Sprintf("/api/files/content?path=/big.bin&chunk=%d&chunks=2", i))...)
	}
	piece(n.a, 0, 202)
	if got := piece(n.b, 1, 409); !strings.Contains(got, "same node") {
		t.Fatalf("a piece sent to the other node: %s; want a message that says why", got)
	}
	piece(n.a, 1, 201)
	if got := callNode(t, n.b, 200, append(partner, "/api/files/content?path=/big.bin")...); got != strings.Repeat("0", 1000)+strings.Repeat("1", 1000) {
		t.Fatalf("the chunked upload read through the other node: %d bytes", len(got))
	}
	piece(n.b, 0, 202) // its record went with it: a new upload of that name may start on b
	callNode(t, n.b, 200, append(partner, "-X", "DELETE", "/api/files?path=/big.bin")...)

	callNode(t, n.a, 201, "--user", e2eAdminKey+":x", "-d", `{"filedrop":{"name":"invoices","title":"Invoices","owner":"`+owner+`"}}`, "/admin/filedrops")
	var drop struct {
		Filedrop struct {
			APIKey string `json:"api_key"`
		}
	}
	json.Unmarshal([]byte(callNode(t, n.a, 200, "-H", "Accept: application/json", "/filedrop/invoices")), &drop)
	sender := []string{"-H", "Authorization: Bearer " + drop.Filedrop.APIKey}
	var att struct{ Attachment struct{ ID string } }
	json.Unmarshal([]byte(callNode(t, n.a, 201, append(sender, "--data-binary", "November\n", "/filedrop/invoices/attachments/upload?filename=nov.csv")...)), &att)
	callNode(t, n.b, 201, append(sender, "-d", `{"message":{"from":"pat@partner.example","attachments":["`+att.Attachment.ID+`"]}}`, "/filedrop/invoices")...)
	var list []struct{ File struct{ Name, Type string } }
	json.Unmarshal([]byte(callNode(t, n.a, 200, append(partner, "/api/files?path=/filedrops/invoices")...)), &list)
	if len(list) != 1 {
		t.Fatalf("the filedrop's folder holds %v; want the one delivery", list)
	}
	if got := callNode(t, n.a, 200, append(partner, "/api/files/content?path=/filedrops/invoices/"+list[0].File.Name+"/nov.csv")...); got != "November\n" {
		t.Fatalf("the delivered file = %q", got)
	}
}
