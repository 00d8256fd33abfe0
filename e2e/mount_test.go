package e2e

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"
	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"depot/internal/testpeer"
	"depot/internal/testtool"
)

// mountUser is a user with a key on disk for OpenSSH's sftp client.
type mountUser struct {
	id, apiKey, keyFile string
	signer              gossh.Signer
}

func (ts *testServer) mountUser(t *testing.T, name string, quotaMB int) mountUser {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	block, _ := gossh.MarshalPrivateKey(priv, "")
	keyFile := filepath.Join(t.TempDir(), "id_ed25519")
	os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600)
	u := ts.createUser(t, fmt.Sprintf(`{"user":{"username":%q,"quota_mb":%d,"ssh_keys":[%q]}}`, name, quotaMB,
		strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub))))).User
	signer, _ := gossh.NewSignerFromKey(priv)
	return mountUser{id: u.ID, apiKey: u.APIKey, keyFile: keyFile, signer: signer}
}

// openssh runs OpenSSH's sftp client in batch mode as u.
func (ts *testServer) openssh(t *testing.T, u mountUser, commands ...string) (string, error) {
	t.Helper()
	bin := testtool.Path(t, "sftp")
	batch := filepath.Join(t.TempDir(), "batch")
	os.WriteFile(batch, []byte(strings.Join(commands, "\n")+"\n"), 0o600)
	host, port, _ := strings.Cut(ts.app.SFTP.ListenAddr().String(), ":")
	cmd := exec.Command(bin, "-b", batch, "-P", port, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
		"-i", u.keyFile, "-o", "IdentitiesOnly=yes", u.id+"@"+host)
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// sftpClient is a pkg/sftp session of u, for what a batch cannot do
// (stop in the middle of an upload).
func (ts *testServer) sftpClient(t *testing.T, u mountUser) (*sftp.Client, *gossh.Client) {
	t.Helper()
	conn, err := gossh.Dial("tcp", ts.app.SFTP.ListenAddr().String(), &gossh.ClientConfig{User: u.id,
		Auth: []gossh.AuthMethod{gossh.PublicKeys(u.signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); conn.Close() })
	return c, conn
}

func (ts *testServer) mount(t *testing.T, path, conn, prefix string) string {
	t.Helper()
	r := ts.do(t, "POST", "/admin/mounts", adminKey, fmt.Sprintf(`{"mount":{"path":%q,"connection":%q,"prefix":%q}}`, path, conn, prefix))
	want(t, r, 201)
	return ts.fieldsOf(t, r, "mount")["id"].(string)
}

func (ts *testServer) s3Connection(t *testing.T, g *testpeer.VersityGW) string {
	t.Helper()
	r := ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"object store","type":"s3",
		"endpoint":%q,"region":"us-east-1","bucket":%q,"prefix":"depot","path_style":true,"access_key":%q,"secret_key":%q}}`,
		g.Endpoint, testpeer.S3Bucket, testpeer.S3AccessKey, testpeer.S3SecretKey))
	want(t, r, 201)
	return ts.fieldsOf(t, r, "connection")["id"].(string)
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// remoteView reads what Depot wrote to a remote by the remote's own
// means: its disk, or its own API.
type remoteView interface {
	// read returns a file's bytes, or an error (os.ErrNotExist when it
	// is not there).
	read(rel string) ([]byte, error)
	// exists tells whether a file or a folder is there.
	exists(rel string) bool
}

// diskView is a remote whose files are in a folder of this machine.
type diskView string

func (d diskView) read(rel string) ([]byte, error) { return os.ReadFile(filepath.Join(string(d), rel)) }

func (d diskView) exists(rel string) bool {
	_, err := os.Stat(filepath.Join(string(d), rel))
	return !os.IsNotExist(err)
}

// roundTrip works on a user's mounted home with OpenSSH's sftp client and
// the HTTP API, and checks every answer against the bytes sent; remote
// shows the home's files on the remote.
func roundTrip(t *testing.T, ts *testServer, u mountUser, remote remoteView) {
	t.Helper()
	dir := t.TempDir()
	big, small := randomBytes(20<<20+12345), []byte("id,amount\n1,100\n")
	os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o600)
	os.WriteFile(filepath.Join(dir, "small.csv"), small, 0o600)
	out, err := ts.openssh(t, u, "mkdir in", "put "+dir+"/big.bin in/big.bin", "put "+dir+"/small.csv small.csv",
		"rename in/big.bin in/moved.bin", "get in/moved.bin "+dir+"/back.bin", "ls -l in", "rm small.csv", "mkdir gone", "rmdir gone", "ls -l")
	if err != nil {
		t.Fatalf("sftp: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "back.bin")); !bytes.Equal(got, big) {
		t.Fatalf("get returned %d bytes that differ from the %d put", len(got), len(big))
	}
	last := out[strings.LastIndex(out, "sftp> ls -l\n"):]
	if !strings.Contains(out, fmt.Sprint(len(big))) || !strings.Contains(out, "moved.bin") || strings.Contains(last, "gone") ||
		strings.Contains(last, "small.csv") || !strings.Contains(last, " in\n") || strings.Contains(out, " 0001 ") {
		t.Fatalf("listings do not show the moved file with its size, or show the removed folder:\n%s", out)
	}
	if got, err := remote.read("in/moved.bin"); err != nil || !bytes.Equal(got, big) {
		t.Fatalf("the remote's copy differs (%d bytes): %v", len(got), err)
	}
	for _, gone := range []string{"in/big.bin", "small.csv", "gone"} {
		if remote.exists(gone) {
			t.Fatalf("%s is still on the remote", gone)
		}
	}

	// The HTTP API on the same tree: upload with its sha256, list, a
	// Range download, delete.
	r := ts.do(t, "PUT", "/api/files/content?path=/in/report.csv", u.apiKey, string(small))
	want(t, r, 201)
	if sum := sha256.Sum256(small); !strings.Contains(r.body, fmt.Sprintf("%x", sum)) {
		t.Fatalf("upload answer without the sha256: %s", r.body)
	}
	r = ts.do(t, "GET", "/api/files?path=/in", u.apiKey, "")
	if want(t, r, 200); !strings.Contains(r.body, `"report.csv"`) || !strings.Contains(r.body, fmt.Sprintf(`"size":%d`, len(big))) {
		t.Fatalf("listing: %s", r.body)
	}
	r = ts.doWith(t, "GET", "/api/files/content?path=/in/moved.bin", "", func(req *http.Request) {
		req.SetBasicAuth(u.apiKey, "")
		req.Header.Set("Range", "bytes=1000000-1000099")
	})
	if want(t, r, 206); r.body != string(big[1000000:1000100]) {
		t.Fatalf("range download: %d bytes that differ", len(r.body))
	}
	want(t, ts.do(t, "DELETE", "/api/files?path=/in/report.csv", u.apiKey, ""), 200)
	if remote.exists("in/report.csv") {
		t.Fatal("the deleted file is still on the remote")
	}
}

// A user whose home is a prefix of an S3 bucket (seed 000's example):
// SFTP and the HTTP API work there as on the local disk, the objects are
// in the bucket, nothing of them is on Depot's disk, and an object
// appears only once its upload is complete.
func TestMounts_S3Home(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	conn := ts.s3Connection(t, g)
	u := ts.mountUser(t, "acme", 0)
	ts.mount(t, "/users/"+u.id, conn, "customers/acme")
	remote := filepath.Join(g.BucketDir(), "depot", "customers", "acme")
	roundTrip(t, ts, u, diskView(remote))
	if entries, _ := os.ReadDir(filepath.Join(ts.dataDir, "files", "users", u.id)); len(entries) > 0 {
		t.Fatalf("the home has %d entries on Depot's disk", len(entries))
	}

	// In the middle of an upload (two parts sent), the object is not
	// there; after the close it is, whole.
	c, _ := ts.sftpClient(t, u)
	f, err := c.Create("/late.bin")
	if err != nil {
		t.Fatal(err)
	}
	data := randomBytes(40 << 20)
	if _, err := f.Write(data[:36<<20]); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(remote, "late.bin")); !os.IsNotExist(err) {
		t.Fatalf("the object is visible before the upload completed: %v", err)
	}
	f.Write(data[36<<20:])
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(remote, "late.bin")); !bytes.Equal(got, data) {
		t.Fatalf("the object has %d bytes that differ from the %d sent", len(got), len(data))
	}
	r := ts.do(t, "GET", "/api/files/stat?path=/late.bin", u.apiKey, "")
	if want(t, r, 200); !strings.Contains(r.body, fmt.Sprintf(`"size":%d`, len(data))) {
		t.Fatalf("stat: %s", r.body)
	}
}

// An upload broken by the client's connection leaves no object and no
// incomplete multipart upload; an upload past the quota is cut off in the
// middle of the stream with the quota's message, and leaves nothing.
func TestMounts_S3BrokenAndOverQuota(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	conn := ts.s3Connection(t, g)
	u := ts.mountUser(t, "globex", 30)
	ts.mount(t, "/users/"+u.id, conn, "globex")
	remote := filepath.Join(g.BucketDir(), "depot", "globex")
	incomplete := func() int {
		n := 0
		for range g.Client(t).ListIncompleteUploads(context.Background(), testpeer.S3Bucket, "depot/", true) {
			n++
		}
		return n
	}

	c, sshConn := ts.sftpClient(t, u)
	f, err := c.Create("/broken.bin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(randomBytes(20 << 20)); err != nil {
		t.Fatal(err)
	}
	sshConn.Close() // the partner's network goes away
	if _, err := ts.app.Mounts.Sweep(context.Background(), 0); err != nil {
		t.Fatal(err)
	}
	if n := incomplete(); n != 0 {
		t.Fatalf("%d incomplete multipart uploads left after the sweep", n)
	}
	if _, err := os.Stat(filepath.Join(remote, "broken.bin")); !os.IsNotExist(err) {
		t.Fatalf("the broken upload left an object: %v", err)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "huge.bin"), randomBytes(40<<20), 0o600)
	out, err := ts.openssh(t, u, "put "+dir+"/huge.bin huge.bin")
	if err == nil || !strings.Contains(out, "quota") {
		t.Fatalf("a 40 MB put into a 30 MB quota: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(remote, "huge.bin")); !os.IsNotExist(err) {
		t.Fatalf("the refused upload left an object: %v", err)
	}
	if n := incomplete(); n != 0 {
		t.Fatalf("%d incomplete multipart uploads left by the refused upload", n)
	}
	// What fits still goes in; a file replaced gives its bytes back to the
	// quota: 20 MB replaced by 25 MB in a 30 MB quota, over SFTP, where the
	// size is not announced.
	want(t, ts.do(t, "PUT", "/api/files/content?path=/fits.bin", u.apiKey, string(randomBytes(1<<20))), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/big.bin", u.apiKey, string(randomBytes(20<<20))), 201)
	bigger := randomBytes(25 << 20)
	os.WriteFile(filepath.Join(dir, "bigger.bin"), bigger, 0o600)
	if out, err := ts.openssh(t, u, "put "+dir+"/bigger.bin big.bin"); err != nil {
		t.Fatalf("replacing 20 MB with 25 MB in a 30 MB quota: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(remote, "big.bin")); !bytes.Equal(got, bigger) {
		t.Fatal("the replaced object differs")
	}
}

// Without overwrite permission a file is not replaced, and a folder is
// never replaced by a file: the refusal comes before anything changes on
// the remote.
func TestMounts_NoOverwrite(t *testing.T) {
	g := testpeer.StartVersityGW(t)
	ts := MustOpenServer(t)
	ts.mount(t, "/shared/drop", ts.s3Connection(t, g), "drop")
	v := ts.mountUser(t, "initrode", 0)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:`+v.id+`","path":"/shared/drop","mount":"drop","permissions":["list","download","upload"]}}`), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/drop/a.csv", v.apiKey, "first"), 201)
	if r := ts.do(t, "PUT", "/api/files/content?path=/drop/a.csv", v.apiKey, "second"); r.status != 403 || !strings.Contains(r.body, "overwrite") {
		t.Fatalf("an overwrite without permission: %d %s", r.status, r.body)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.csv"), []byte("third"), 0o600)
	if out, err := ts.openssh(t, v, "put "+dir+"/a.csv /drop/a.csv"); err == nil || !strings.Contains(out, "overwrite") {
		t.Fatalf("sftp overwrite without permission: %v\n%s", err, out)
	}
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/shared/drop/dir"}`), 201)
	if r := ts.do(t, "PUT", "/api/files/content?path=/drop/dir", v.apiKey, "x"); r.status != 409 {
		t.Fatalf("a file over a folder: %d %s", r.status, r.body)
	}
	obj, err := g.Client(t).GetObject(context.Background(), testpeer.S3Bucket, "depot/drop/a.csv", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := io.ReadAll(obj); string(got) != "first" {
		t.Fatalf("the object is %q, want the first upload", got)
	}
}

// A bucket on a partner's sshd and a shared folder on vsftpd, reached
// through a permission mount: the same round trip. When the sshd goes
// away, SFTP and HTTP say so in words (503 with Retry-After) and nothing
// changes on Depot's disk.
func TestMounts_SFTPAndFTP(t *testing.T) {
	sshd := testpeer.StartSSHD(t)
	ftpd := testpeer.StartVSFTPD(t, testpeer.FTPPlain)
	ts := MustOpenServer(t)
	bucket := ts.createBucket(t, `{"bucket":{"name":"Initech"}}`).Bucket.ID
	network := testpeer.Relay(t, sshd.Port)
	ts.mount(t, "/buckets/"+bucket, ts.sftpConnectionAt(t, sshd, network.Port), "buckets/initech")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	block, _ := gossh.MarshalPrivateKey(priv, "")
	u := mountUser{keyFile: filepath.Join(t.TempDir(), "id")}
	os.WriteFile(u.keyFile, pem.EncodeToMemory(block), 0o600)
	u.signer, _ = gossh.NewSignerFromKey(priv)
	r := ts.do(t, "POST", "/admin/buckets/"+bucket+"/users", adminKey, fmt.Sprintf(`{"user":{"username":"initech-ops","ssh_keys":[%q]}}`,
		strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))))
	want(t, r, 201)
	var ub userBody
	r.json(t, &ub)
	u.id, u.apiKey = ub.User.ID, ub.User.APIKey
	remote := filepath.Join(sshd.Dir, "buckets", "initech")
	roundTrip(t, ts, u, diskView(remote))
	if names, _ := filepath.Glob(filepath.Join(remote, "*", ".depot-upload-*")); len(names) > 0 {
		t.Fatalf("temporary files left on the peer: %v", names)
	}
	// fsck counts the bucket by listing the peer.
	if _, _, err := ts.app.Files.Fsck(context.Background()); err != nil {
		t.Fatal(err)
	}
	if used, err := ts.app.Files.Usage.Usage(context.Background(), "/buckets/"+bucket); err != nil || used != 20<<20+12345 {
		t.Fatalf("fsck counted %d bytes in the bucket, %v; want %d", used, err, 20<<20+12345)
	}

	network.Down()
	r = ts.do(t, "GET", "/api/files?path=/in", u.apiKey, "")
	// The partner is told the storage is not answering, not how it is laid
	// out: no connection, no remote path (those go to the log).
	if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.body, "The storage of /in failed or is not answering") ||
		strings.Contains(r.body, "conn_") || strings.Contains(r.body, "buckets/initech") {
		t.Fatalf("listing with the peer down: %d %v %s", r.status, r.header, r.body)
	}
	if r := ts.do(t, "PUT", "/api/files/content?path=/in/x.csv", u.apiKey, "x"); r.status != 503 {
		t.Fatalf("upload with the peer down: %d %s", r.status, r.body)
	}
	out, err := ts.openssh(t, u, "ls in")
	if err == nil || !strings.Contains(out, "not answering") || strings.Contains(out, "conn_") {
		t.Fatalf("sftp ls with the peer down: %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(filepath.Join(ts.dataDir, "files", "buckets", bucket)); len(entries) > 0 {
		t.Fatalf("the bucket has %d entries on Depot's disk", len(entries))
	}

	r = ts.do(t, "POST", "/admin/connections", adminKey, fmt.Sprintf(`{"connection":{"name":"ftp archive","type":"ftp","host":"127.0.0.1",
		"port":%d,"username":%q,"password":%q,"base_path":%q}}`, ftpd.Port, testpeer.FTPUser, testpeer.FTPPassword, ftpd.Dir))
	want(t, r, 201)
	ftpConn := ts.fieldsOf(t, r, "connection")["id"].(string)
	ts.mount(t, "/shared/ftp", ftpConn, "")
	v := ts.mountUser(t, "umbrella", 0)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:`+v.id+`","path":"/shared/ftp","mount":"ftp","permissions":["list","download","upload","overwrite","delete","rename","mkdir"]}}`), 201)
	out, err = ts.openssh(t, v, "ls -l /")
	if err != nil || !strings.Contains(out, "ftp") {
		t.Fatalf("the mount is not in the user's root: %v\n%s", err, out)
	}
	dir := t.TempDir()
	data := randomBytes(5<<20 + 7)
	os.WriteFile(filepath.Join(dir, "f.bin"), data, 0o600)
	out, err = ts.openssh(t, v, "mkdir /ftp/in", "put "+dir+"/f.bin /ftp/in/f.bin", "rename /ftp/in/f.bin /ftp/in/g.bin", "get /ftp/in/g.bin "+dir+"/g.bin", "ls -l /ftp/in")
	if err != nil {
		t.Fatalf("sftp on the FTP mount: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "g.bin")); !bytes.Equal(got, data) {
		t.Fatal("the file read back from the FTP mount differs")
	}
	if got, _ := os.ReadFile(filepath.Join(ftpd.Dir, "in", "g.bin")); !bytes.Equal(got, data) {
		t.Fatal("vsftpd's copy differs")
	}
	r = ts.doWith(t, "GET", "/api/files/content?path=/ftp/in/g.bin", "", func(req *http.Request) {
		req.SetBasicAuth(v.apiKey, "")
		req.Header.Set("Range", "bytes=4000000-")
	})
	if want(t, r, 206); r.body != string(data[4000000:]) {
		t.Fatal("range download from FTP differs")
	}
}
