package e2e

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"
)

type bucketBody struct {
	Bucket struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Host    string `json:"host"`
		Active  bool   `json:"active"`
		QuotaMB int64  `json:"quota_mb"`
	} `json:"bucket"`
}

func (ts *testServer) createBucket(tb testing.TB, body string) bucketBody {
	tb.Helper()
	r := ts.do(tb, "POST", "/admin/buckets", adminKey, body)
	want(tb, r, 201)
	var b bucketBody
	r.json(tb, &b)
	return b
}

func TestBuckets_API(t *testing.T) {
	ts := MustOpenServer(t)
	b := ts.createBucket(t, `{"bucket":{"name":"Acme Corp"}}`)
	if !strings.HasPrefix(b.Bucket.ID, "buc_") || !b.Bucket.Active || b.Bucket.Host != strings.TrimPrefix(b.Bucket.ID, "buc_")+".sftp.example.com" {
		t.Fatalf("bucket %+v", b.Bucket)
	}
	want(t, ts.do(t, "POST", "/admin/buckets", adminKey, `{"bucket":{}}`), 422)
	want(t, ts.do(t, "POST", "/admin/buckets", adminKey, `{"bucket":{"name":"x","quota_mb":-1}}`), 422)
	want(t, ts.do(t, "PUT", "/admin/buckets/"+b.Bucket.ID, adminKey, `{"bucket":{}}`), 422)
	want(t, ts.do(t, "PUT", "/admin/buckets/buc_nope", adminKey, `{"bucket":{"name":"x"}}`), 404)
	r := ts.do(t, "PUT", "/admin/buckets/"+b.Bucket.ID, adminKey, `{"bucket":{"name":"Acme Inc"}}`)
	want(t, r, 200)
	ts.createBucket(t, `{"bucket":{"name":"Second"}}`)
	r = ts.do(t, "GET", "/admin/buckets?limit=1", adminKey, "")
	want(t, r, 200)
	if !strings.Contains(r.header.Get("Link"), `rel="next"`) {
		t.Fatalf("no next page: %v", r.header)
	}

	// Bucket users: confined, never administrators.
	r = ts.do(t, "POST", "/admin/buckets/"+b.Bucket.ID+"/users", adminKey, `{"user":{"username":"acme-ops","password":"Correct-horse-9"}}`)
	want(t, r, 201)
	var u userBody
	r.json(t, &u)
	if u.User.Home != "/buckets/"+b.Bucket.ID {
		t.Fatalf("home %s", u.User.Home)
	}
	r = ts.do(t, "POST", "/admin/buckets/"+b.Bucket.ID+"/users", adminKey, `{"user":{"username":"acme-in","home":"/incoming"}}`)
	want(t, r, 201)
	r.json(t, &u)
	if u.User.Home != "/buckets/"+b.Bucket.ID+"/incoming" {
		t.Fatalf("home %s", u.User.Home)
	}
	want(t, ts.do(t, "POST", "/admin/buckets/"+b.Bucket.ID+"/users", adminKey, `{"user":{"username":"boss","role":"admin"}}`), 422)
	want(t, ts.do(t, "POST", "/admin/buckets/"+b.Bucket.ID+"/users", adminKey, `{"user":{"username":"esc","home":"/incoming/../../../users"}}`), 422)
	want(t, ts.do(t, "PUT", "/admin/users/"+u.User.ID, adminKey, `{"user":{"home":"/users/x"}}`), 422)
	want(t, ts.do(t, "PUT", "/admin/users/"+u.User.ID, adminKey, `{"user":{"role":"admin"}}`), 422)
	r = ts.do(t, "GET", "/admin/buckets/"+b.Bucket.ID+"/users", adminKey, "")
	want(t, r, 200)
	var users []userBody
	r.json(t, &users)
	if len(users) != 2 {
		t.Fatalf("bucket users: %s", r.body)
	}

	// The deletion guard, then a deletion that takes users and files along.
	want(t, ts.do(t, "PUT", "/api/files/content?path=/a.txt", u.User.APIKey, "acme data"), 201)
	r = ts.do(t, "GET", "/admin/settings", adminKey, "")
	if !strings.Contains(r.body, `"allow_bucket_deletion":true`) {
		t.Fatalf("settings %s", r.body)
	}
	want(t, ts.do(t, "PUT", "/admin/settings", adminKey, `{"settings":{"allow_bucket_deletion":false}}`), 200)
	r = ts.do(t, "DELETE", "/admin/buckets/"+b.Bucket.ID, adminKey, "")
	want(t, r, 403)
	if !strings.Contains(r.errors(t)[0], "allow_bucket_deletion") {
		t.Fatalf("message %s", r.body)
	}
	want(t, ts.do(t, "GET", "/api/files/content?path=/a.txt", u.User.APIKey, ""), 200)
	want(t, ts.do(t, "PUT", "/admin/settings", adminKey, `{"settings":{"allow_bucket_deletion":true}}`), 200)
	want(t, ts.do(t, "DELETE", "/admin/buckets/"+b.Bucket.ID, adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/buckets/"+b.Bucket.ID, adminKey, ""), 404)
	want(t, ts.do(t, "GET", "/account", u.User.APIKey, ""), 401)
	if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "buckets", b.Bucket.ID)); !os.IsNotExist(err) {
		t.Fatalf("bucket files still on disk: %v", err)
	}
}

// A bucket's user reaches only the bucket, whatever permission an
// administrator grants; other users do not reach the bucket.
func TestBuckets_IsolationOverAPI(t *testing.T) {
	ts := MustOpenServer(t)
	a := ts.createBucket(t, `{"bucket":{"name":"A"}}`).Bucket.ID
	b := ts.createBucket(t, `{"bucket":{"name":"B"}}`).Bucket.ID
	bucketUser := func(bucket, name string) userBody {
		r := ts.do(t, "POST", "/admin/buckets/"+bucket+"/users", adminKey, `{"user":{"username":"`+name+`"}}`)
		want(t, r, 201)
		var u userBody
		r.json(t, &u)
		return u
	}
	ua, ub := bucketUser(a, "alice-a"), bucketUser(b, "bob-b")
	home := ts.createUser(t, `{"user":{"email":"home@example.com"}}`).User
	want(t, ts.do(t, "PUT", "/api/files/content?path=/secret.txt", home.APIKey, "home secret"), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/a.txt", ua.User.APIKey, "bucket a"), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/b.txt", ub.User.APIKey, "bucket b"), 201)
	// An administrator's grant outside the bucket is ignored for its users.
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:`+ua.User.ID+`","path":"/users/`+home.ID+`","permissions":["download","list"],"mount":"leak"}}`), 201)
	want(t, ts.do(t, "POST", "/admin/permissions", adminKey, `{"permission":{"subject":"user:`+ua.User.ID+`","path":"/buckets/`+b+`","permissions":["download","list"],"mount":"other"}}`), 201)

	r := ts.do(t, "GET", "/api/files?path=/", ua.User.APIKey, "")
	want(t, r, 200)
	if !strings.Contains(r.body, "a.txt") || strings.Contains(r.body, "leak") || strings.Contains(r.body, "other") {
		t.Fatalf("bucket user's root: %s", r.body)
	}
	for _, p := range []string{"/leak/secret.txt", "/other/b.txt", "/../b.txt", "/../../users/" + home.ID + "/secret.txt", "/%2e%2e/b.txt"} {
		r := ts.do(t, "GET", "/api/files/content?path="+p, ua.User.APIKey, "")
		if r.status == 200 || strings.Contains(r.body, "home secret") || strings.Contains(r.body, "bucket b") {
			t.Fatalf("%s: %d %s", p, r.status, r.body)
		}
	}
	// The home user does not see the buckets either.
	r = ts.do(t, "GET", "/api/files/content?path=/../../buckets/"+a+"/a.txt", home.APIKey, "")
	if r.status == 200 {
		t.Fatalf("home user read a bucket: %s", r.body)
	}
	// Bucket quota: all its users together.
	want(t, ts.do(t, "PUT", "/admin/buckets/"+a, adminKey, `{"bucket":{"quota_mb":1}}`), 200)
	ua2 := bucketUser(a, "alan-a")
	want(t, ts.do(t, "PUT", "/api/files/content?path=/big1.bin", ua.User.APIKey, strings.Repeat("x", 600<<10)), 201)
	want(t, ts.do(t, "PUT", "/api/files/content?path=/big2.bin", ua2.User.APIKey, strings.Repeat("y", 600<<10)), 507)
}

// Deactivating a bucket stops its users at once: an open SFTP session's
// next operation fails and a new login is refused.
func TestBuckets_DeactivationOverSFTP(t *testing.T) {
	ts := MustOpenServer(t)
	bid := ts.createBucket(t, `{"bucket":{"name":"Live"}}`).Bucket.ID
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := gossh.NewPublicKey(pub)
	r := ts.do(t, "POST", "/admin/buckets/"+bid+"/users", adminKey,
		fmt.Sprintf(`{"user":{"username":"live-user","ssh_keys":[%q]}}`, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(sshPub)))))
	want(t, r, 201)
	d := ts.app.SFTP
	signer, _ := gossh.NewSignerFromKey(priv)
	login := func() (*sftp.Client, error) {
		conn, err := gossh.Dial("tcp", d.ListenAddr().String(), &gossh.ClientConfig{User: "live-user",
			Auth: []gossh.AuthMethod{gossh.PublicKeys(signer)}, HostKeyCallback: gossh.InsecureIgnoreHostKey()})
		if err != nil {
			return nil, err
		}
		t.Cleanup(func() { conn.Close() })
		return sftp.NewClient(conn)
	}
	c, err := login()
	if err != nil {
		t.Fatal(err)
	}
	f, err := c.Create("/in.txt")
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("before"))
	f.Close()
	// Other buckets and homes are out of reach over SFTP too.
	if _, err := c.Stat("/../../users"); err == nil {
		if list, _ := c.ReadDir("/../../users"); len(list) > 0 {
			t.Fatal("a bucket user listed /users over SFTP")
		}
	}
	want(t, ts.do(t, "PUT", "/admin/buckets/"+bid, adminKey, `{"bucket":{"active":false}}`), 200)
	if _, err := c.ReadDir("/"); err == nil {
		t.Fatal("the open session still lists after the bucket was deactivated")
	}
	if _, err := c.Create("/after.txt"); err == nil {
		t.Fatal("the open session still uploads after the bucket was deactivated")
	}
	if _, err := login(); err == nil {
		t.Fatal("a new login to a deactivated bucket succeeded")
	}
	want(t, ts.do(t, "PUT", "/admin/buckets/"+bid, adminKey, `{"bucket":{"active":true}}`), 200)
	if _, err := login(); err != nil {
		t.Fatalf("login after reactivation: %v", err)
	}
}
