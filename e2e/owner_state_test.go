package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A dropzone token is its owner's delegate: it stops when the owner is
// disabled, expired or deleted, or their bucket deactivated; a bucket
// user's dropzones share the bucket's quota; deleting the bucket deletes
// them and their files. Found by hardening II: after the bucket was
// deactivated, the user deleted and the bucket deleted, the token still
// reserved, uploaded and downloaded, and a bucket of 5 MB held 50 MB.
func TestDropzones_OwnerStateReachesTheToken(t *testing.T) {
	ts := MustOpenServer(t)
	b := ts.createBucket(t, `{"bucket":{"name":"Acme","quota_mb":5}}`).Bucket
	r := ts.do(t, "POST", "/admin/buckets/"+b.ID+"/users", adminKey, `{"user":{"username":"acme-app"}}`)
	want(t, r, 201)
	var bu userBody
	r.json(t, &bu)
	d := ts.createDropzone(t, bu.User.APIKey, `{"dropzone":{"name":"big","gb":4,"days":30}}`).Dropzone
	reserve := func(size int) response {
		return ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, fmt.Sprintf(`{"file":{"name":"f.bin","size":%d}}`, size))
	}
	// 6 MB do not fit the bucket's 5, whatever the dropzone's 4 GB say.
	r = reserve(6 << 20)
	want(t, r, 507)
	if !strings.Contains(r.body, "bucket's quota of 5 MB") {
		t.Errorf("bucket quota refusal: %s", r.body)
	}
	// Files in the bucket count too: 3 MB there leave 2 for dropzones.
	want(t, ts.put(t, bu.User.APIKey, "/three.bin", strings.Repeat("x", 3<<20)), 201)
	want(t, reserve(3<<20), 507)
	r = reserve(1 << 20)
	want(t, r, 201)
	var f dzFileBody
	r.json(t, &f)
	want(t, ts.putURL(t, f.File.UploadURL, strings.Repeat("y", 1<<20)), 200)
	confirm := "/api/dropzones/" + d.ID + "/files/" + f.File.ID + "/confirm"
	want(t, ts.do(t, "POST", confirm, d.Token, ""), 200)
	download := "/api/dropzones/" + d.ID + "/files/" + f.File.ID + "/download"
	want(t, ts.do(t, "GET", download, d.Token, ""), 200)
	// The 1 MB reserved counts: 1.5 MB more does not fit.
	want(t, reserve(3<<19), 507)

	// Each state of the owner stops the token, and undoing it restores it.
	for _, c := range []struct{ name, off, on string }{
		{"bucket deactivated", `PUT /admin/buckets/` + b.ID + ` {"bucket":{"active":false}}`, `PUT /admin/buckets/` + b.ID + ` {"bucket":{"active":true}}`},
		{"owner disabled", `PUT /admin/users/` + bu.User.ID + ` {"user":{"active":false}}`, `PUT /admin/users/` + bu.User.ID + ` {"user":{"active":true}}`},
		{"owner expired", `PUT /admin/users/` + bu.User.ID + ` {"user":{"expires_at":"` + time.Now().Add(-time.Minute).UTC().Format(time.RFC3339) + `"}}`,
			`PUT /admin/users/` + bu.User.ID + ` {"user":{"expires_at":null}}`},
	} {
		send := func(s string) {
			method, rest, _ := strings.Cut(s, " ")
			p, body, _ := strings.Cut(rest, " ")
			want(t, ts.do(t, method, p, adminKey, body), 200)
		}
		send(c.off)
		for _, req := range []struct{ method, path, body string }{
			{"POST", "/api/dropzones/" + d.ID + "/files", `{"file":{"name":"g.bin","size":1}}`},
			{"GET", download, ""},
			{"GET", "/api/dropzones/" + d.ID + "/files", ""},
		} {
			if r := ts.do(t, req.method, req.path, d.Token, req.body); r.status != 403 {
				t.Errorf("%s: %s %s → %d %s, want 403", c.name, req.method, req.path, r.status, r.body)
			}
		}
		send(c.on)
		want(t, ts.do(t, "GET", download, d.Token, ""), 200)
	}
	// A signed upload URL issued before stops too.
	r = reserve(1000)
	want(t, r, 201)
	r.json(t, &f)
	want(t, ts.do(t, "PUT", "/admin/buckets/"+b.ID, adminKey, `{"bucket":{"active":false}}`), 200)
	want(t, ts.putURL(t, f.File.UploadURL, strings.Repeat("z", 1000)), 403)
	want(t, ts.do(t, "PUT", "/admin/buckets/"+b.ID, adminKey, `{"bucket":{"active":true}}`), 200)

	// Deleting the bucket deletes its users' dropzones and their bytes.
	want(t, ts.do(t, "PUT", "/admin/settings", adminKey, `{"settings":{"allow_bucket_deletion":true}}`), 200)
	want(t, ts.do(t, "DELETE", "/admin/buckets/"+b.ID, adminKey, ""), 200)
	if r := ts.do(t, "GET", download, d.Token, ""); r.status != 401 && r.status != 403 {
		t.Errorf("after the bucket's deletion the token answers %d %s", r.status, r.body)
	}
	if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "dropzones", d.ID)); !os.IsNotExist(err) {
		t.Errorf("the dropzone's files stay on disk: %v", err)
	}
	want(t, ts.do(t, "GET", "/admin/dropzones/"+d.ID, adminKey, ""), 404)
}

// Deleting a user deletes their dropzones; a link of a user who expired
// answers 403, as one of a disabled user does. Found by hardening II: an
// expired creator's download link answered 200 and upload link 201.
func TestOwnerState_UserDeletedOrExpired(t *testing.T) {
	ts := MustOpenServer(t)
	u := ts.createUser(t, `{"user":{"email":"sam@example.com"}}`).User
	d := ts.createDropzone(t, u.APIKey, `{"dropzone":{"name":"dz","gb":1,"days":30}}`).Dropzone
	want(t, ts.do(t, "POST", "/api/folders", u.APIKey, `{"path":"/up"}`), 201)
	want(t, ts.put(t, u.APIKey, "/a.txt", "alpha"), 201)
	down := ts.createLink(t, u.APIKey, `{"link":{"path":"/a.txt"}}`).Link
	up := ts.createLink(t, u.APIKey, `{"link":{"path":"/up","allow_upload":true}}`).Link
	want(t, ts.get(t, "/s/"+down.ID+"/download", ""), 200)
	uploadLink := func() response {
		return ts.doWith(t, "POST", "/s/"+up.ID+"/upload?filename=b.txt", "bravo", nil)
	}
	want(t, uploadLink(), 201)

	past := time.Now().Add(-time.Minute).UTC().Format(time.RFC3339)
	want(t, ts.do(t, "PUT", "/admin/users/"+u.ID, adminKey, `{"user":{"expires_at":"`+past+`"}}`), 200)
	want(t, ts.get(t, "/s/"+down.ID+"/download", ""), 403)
	want(t, uploadLink(), 403)
	want(t, ts.do(t, "GET", "/api/dropzones/"+d.ID, d.Token, ""), 403)

	want(t, ts.do(t, "DELETE", "/admin/users/"+u.ID, adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/dropzones/"+d.ID, adminKey, ""), 404)
	if r := ts.do(t, "GET", "/api/dropzones/"+d.ID, d.Token, ""); r.status != 401 {
		t.Errorf("the token of a deleted user's dropzone: %d %s", r.status, r.body)
	}
}
