package e2e

import (
	"depot/internal/apptest"
	"depot/mft"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

type dropzoneBody struct {
	Dropzone struct {
		ID        string  `json:"id"`
		Name      string  `json:"name"`
		Owner     string  `json:"owner"`
		GB        float64 `json:"gb"`
		Days      int     `json:"days"`
		UsedBytes int64   `json:"used_bytes"`
		ExpiresAt string  `json:"expires_at"`
		Token     string  `json:"token"`
	} `json:"dropzone"`
}

type dzFileBody struct {
	File struct {
		ID        string `json:"id"`
		Name      string `json:"name"`
		Size      int64  `json:"size"`
		Status    string `json:"status"`
		SHA256    string `json:"sha256"`
		UploadURL string `json:"upload_url"`
	} `json:"file"`
}

func (ts *testServer) createDropzone(tb testing.TB, key, body string) dropzoneBody {
	tb.Helper()
	r := ts.do(tb, "POST", "/admin/dropzones", key, body)
	want(tb, r, 201)
	var d dropzoneBody
	r.json(tb, &d)
	return d
}

func (ts *testServer) putURL(tb testing.TB, u, body string) response {
	tb.Helper()
	return ts.doWith(tb, "PUT", strings.TrimPrefix(u, ts.URL()), body, func(r *http.Request) {
		r.Header.Set("Content-Type", "application/octet-stream")
	})
}

func TestDropzones_Flow(t *testing.T) {
	ts := MustOpenServer(t)
	app := ts.createUser(t, `{"user":{"email":"app@example.com"}}`).User
	other := ts.createUser(t, `{"user":{"email":"other@example.com"}}`).User
	d := ts.createDropzone(t, app.APIKey, `{"dropzone":{"name":"scans","gb":0.2,"days":30}}`).Dropzone
	if !strings.HasPrefix(d.ID, "dz_") || d.Owner != app.ID || len(d.Token) < 20 || d.UsedBytes != 0 {
		t.Fatalf("dropzone %+v", d)
	}
	exp, _ := time.Parse(time.RFC3339, d.ExpiresAt)
	if exp.Sub(time.Now()) < 29*24*time.Hour || exp.Sub(time.Now()) > 31*24*time.Hour {
		t.Fatalf("expires_at %s, want in 30 days", d.ExpiresAt)
	}
	for _, body := range []string{
		`{"dropzone":{"name":"x","gb":0.1,"days":30}}`, `{"dropzone":{"name":"x","gb":5,"days":30}}`,
		`{"dropzone":{"name":"x","gb":1,"days":29}}`, `{"dropzone":{"name":"x","gb":1,"days":366}}`,
		`{"dropzone":{"name":"x","gb":"1","days":30}}`, `{"dropzone":{"name":"x","days":30}}`, `{"dropzone":{"gb":1}}`,
	} {
		want(t, ts.do(t, "POST", "/admin/dropzones", app.APIKey, body), 422)
	}
	// Extending only; others do not see it; the token is not shown again.
	want(t, ts.do(t, "PUT", "/admin/dropzones/"+d.ID, app.APIKey, `{"dropzone":{"gb":0.1}}`), 422)
	want(t, ts.do(t, "PUT", "/admin/dropzones/"+d.ID, app.APIKey, `{"dropzone":{"days":20}}`), 422)
	r := ts.do(t, "PUT", "/admin/dropzones/"+d.ID, app.APIKey, `{"dropzone":{"days":60}}`)
	want(t, r, 200)
	if strings.Contains(r.body, d.Token) || !strings.Contains(r.body, `"days":60`) {
		t.Fatalf("extend: %s", r.body)
	}
	want(t, ts.do(t, "GET", "/admin/dropzones/"+d.ID, other.APIKey, ""), 404)
	want(t, ts.do(t, "GET", "/admin/dropzones/"+d.ID, adminKey, ""), 200)

	// The token reaches only this dropzone, and is not a user key.
	want(t, ts.do(t, "GET", "/api/dropzones/"+d.ID, d.Token, ""), 200)
	want(t, ts.do(t, "GET", "/api/dropzones/"+d.ID, app.APIKey, ""), 401)
	want(t, ts.do(t, "GET", "/account", d.Token, ""), 401)
	d2 := ts.createDropzone(t, app.APIKey, `{"dropzone":{"name":"second","gb":1,"days":30}}`).Dropzone
	want(t, ts.do(t, "GET", "/api/dropzones/"+d2.ID, d.Token, ""), 401)

	// Reserve, upload exactly, confirm, download, delete.
	content := "scanned page\n"
	r = ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, fmt.Sprintf(`{"file":{"name":"page1.txt","type":"text/plain","size":%d}}`, len(content)))
	want(t, r, 201)
	var f dzFileBody
	r.json(t, &f)
	if f.File.Status != "pending" || !strings.Contains(f.File.UploadURL, "signature=") {
		t.Fatalf("reserved %+v", f.File)
	}
	want(t, ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files/"+f.File.ID+"/confirm", d.Token, ""), 422) // not uploaded yet
	// Sizes that would overflow the arithmetic, or are not sizes.
	for _, size := range []string{"9223372036854775807", "9223372036854775800", "-1", "-0.5", "1e3", `"12"`} {
		r := ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, `{"file":{"name":"x.bin","size":`+size+`}}`)
		if r.status != 507 && r.status != 422 {
			t.Fatalf("size %s: %d %s", size, r.status, r.body)
		}
	}
	for _, name := range []string{"", "../x", "a/b", "..", `x\u0000y`} {
		want(t, ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, `{"file":{"name":"`+name+`","size":3}}`), 422)
	}
	stored := filepath.Join(ts.dataDir, "files", "dropzones", d.ID, f.File.ID)
	// Wrong lengths: 400 and nothing kept.
	for _, body := range []string{content[:5], content + "extra"} {
		want(t, ts.putURL(t, f.File.UploadURL, body), 400)
		if _, err := os.Stat(stored); !os.IsNotExist(err) {
			t.Fatalf("a wrong-length upload left a file: %v", err)
		}
	}
	// Tampered URLs.
	u, _ := url.Parse(f.File.UploadURL)
	q := u.Query()
	for _, edit := range []func(url.Values){
		func(v url.Values) { v.Set("signature", strings.Repeat("0", 64)) },
		func(v url.Values) { v.Set("expires", fmt.Sprint(time.Now().Add(48*time.Hour).Unix())) },
		func(v url.Values) { v.Del("signature") },
	} {
		v := url.Values{}
		for k, vs := range q {
			v[k] = append([]string(nil), vs...)
		}
		edit(v)
		u2 := *u
		u2.RawQuery = v.Encode()
		want(t, ts.putURL(t, u2.String(), content), 403)
	}
	other2 := strings.Replace(f.File.UploadURL, f.File.ID, "dzf_other", 1)
	want(t, ts.putURL(t, other2, content), 403)
	r = ts.putURL(t, f.File.UploadURL, content)
	want(t, r, 200)
	r = ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files/"+f.File.ID+"/confirm", d.Token, "")
	want(t, r, 200)
	r.json(t, &f)
	if f.File.Status != "available" || f.File.SHA256 != sum(content) {
		t.Fatalf("confirmed %+v", f.File)
	}
	r = ts.do(t, "GET", "/api/dropzones/"+d.ID+"/files/"+f.File.ID+"/download", d.Token, "")
	want(t, r, 200)
	if r.body != content {
		t.Fatalf("download %q", r.body)
	}
	r = ts.do(t, "GET", "/api/dropzones/"+d.ID, d.Token, "")
	var dv dropzoneBody
	r.json(t, &dv)
	if dv.Dropzone.UsedBytes != int64(len(content)) {
		t.Fatalf("used_bytes %d", dv.Dropzone.UsedBytes)
	}
	want(t, ts.do(t, "DELETE", "/api/dropzones/"+d.ID+"/files/"+f.File.ID, d.Token, ""), 200)
	r = ts.do(t, "GET", "/api/dropzones/"+d.ID, d.Token, "")
	dv = dropzoneBody{}
	r.json(t, &dv)
	if dv.Dropzone.UsedBytes != 0 {
		t.Fatalf("used_bytes after delete %d", dv.Dropzone.UsedBytes)
	}

	// An expired upload URL, then an expired dropzone: 410, and the sweep
	// deletes its files.
	r = ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, `{"file":{"name":"late.txt","size":4}}`)
	want(t, r, 201)
	r.json(t, &f)
	want(t, ts.putURL(t, f.File.UploadURL, "late"), 200)
	ts.app.Dropzones.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	want(t, ts.putURL(t, f.File.UploadURL, "late"), 410)
	ts.app.Dropzones.Now = func() time.Time { return time.Now().Add(61 * 24 * time.Hour) }
	for _, p := range []string{"", "/files", "/files/" + f.File.ID} {
		want(t, ts.do(t, "GET", "/api/dropzones/"+d.ID+p, d.Token, ""), 410)
	}
	if n, err := ts.app.Dropzones.Sweep(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep removed %d (%v)", n, err)
	}
	if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "dropzones", d.ID, f.File.ID)); !os.IsNotExist(err) {
		t.Fatalf("expired dropzone's file still on disk: %v", err)
	}
}

// Concurrent reservations never add up to more than the quota.
func TestDropzones_ConcurrentReservations(t *testing.T) {
	ts := MustOpenServer(t)
	d := ts.createDropzone(t, adminKey, `{"dropzone":{"name":"race","gb":0.2,"days":30}}`).Dropzone
	var ok, full atomic.Int32
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			r := ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, `{"file":{"name":"part.bin","size":9000000}}`)
			switch r.status {
			case 201:
				ok.Add(1)
			case 507:
				full.Add(1)
			default:
				t.Errorf("reserve: %d %s", r.status, r.body)
			}
		})
	}
	wg.Wait()
	// 200,000,000 / 9,000,000 = 22 fit.
	if ok.Load() != 22 || full.Load() != 28 {
		t.Fatalf("%d reserved and %d refused, want 22 and 28", ok.Load(), full.Load())
	}
	r := ts.do(t, "GET", "/api/dropzones/"+d.ID, d.Token, "")
	var dv dropzoneBody
	r.json(t, &dv)
	if dv.Dropzone.UsedBytes != 22*9000000 {
		t.Fatalf("used_bytes %d", dv.Dropzone.UsedBytes)
	}
	// Unconfirmed reservations are released after a day.
	ts.app.Dropzones.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	if n, err := ts.app.Dropzones.Sweep(t.Context()); err != nil || n != 22 {
		t.Fatalf("sweep released %d (%v)", n, err)
	}
}

// The Dropzone API's own requests: create with only gb and days (the
// seed's body, bare), grow it, then DELETE it: its files go from the
// disk, its space is released and its token stops working.
func TestDropzones_SeedCreateAndDelete(t *testing.T) {
	ts := MustOpenServer(t)
	r := ts.do(t, "POST", "/admin/dropzones", adminKey, `{"gb": 1, "days": 90}`)
	want(t, r, 201)
	var body dropzoneBody
	r.json(t, &body)
	d := body.Dropzone
	if d.GB != 1 || d.Days != 90 || !strings.HasPrefix(d.Name, "Dropzone of ") {
		t.Fatalf("created %+v, want gb 1, days 90 and a readable default name", d)
	}
	r = ts.do(t, "PATCH", "/admin/dropzones/"+d.ID, adminKey, `{"gb": 2, "days": 120}`)
	want(t, r, 200)
	if !strings.Contains(r.body, `"gb":2`) || !strings.Contains(r.body, `"days":120`) {
		t.Fatalf("grown: %s", r.body)
	}
	// The default name says the new size (it said "1 GB" after growing);
	// a name given stays.
	if !strings.Contains(r.body, `, 2 GB"`) {
		t.Fatalf("the default name after growing: %s", r.body)
	}
	named := ts.createDropzone(t, adminKey, `{"dropzone":{"name":"Invoices, 1 GB","gb":1,"days":30}}`).Dropzone
	if r := ts.do(t, "PATCH", "/admin/dropzones/"+named.ID, adminKey, `{"gb": 2}`); !strings.Contains(r.body, `"name":"Invoices, 1 GB"`) {
		t.Fatalf("a name given changed: %s", r.body)
	}
	r = ts.do(t, "POST", "/api/dropzones/"+d.ID+"/files", d.Token, `{"name":"a.txt","type":"text/plain","size":3}`)
	want(t, r, 201)
	var f dzFileBody
	r.json(t, &f)
	want(t, ts.putURL(t, f.File.UploadURL, "abc"), 200)
	stored := filepath.Join(ts.dataDir, "files", "dropzones", d.ID, f.File.ID)
	if _, err := os.Stat(stored); err != nil {
		t.Fatal(err)
	}

	other := ts.createUser(t, `{"user":{"email":"other@example.com"}}`).User
	want(t, ts.do(t, "DELETE", "/admin/dropzones/"+d.ID, other.APIKey, ""), 404)
	want(t, ts.do(t, "DELETE", "/admin/dropzones/"+d.ID, adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/dropzones/"+d.ID, adminKey, ""), 404)
	want(t, ts.do(t, "GET", "/api/dropzones/"+d.ID, d.Token, ""), 401)
	if _, err := os.Stat(filepath.Dir(stored)); !os.IsNotExist(err) {
		t.Fatalf("deleted dropzone's files still on disk: %v", err)
	}
	want(t, ts.do(t, "DELETE", "/admin/dropzones/"+d.ID, adminKey, ""), 404)
	if evs := apptest.Events(t, ts.app, mft.EventDropzoneDeleted); len(evs) != 1 || evs[0].Target != d.ID {
		t.Fatalf("dropzone.deleted events %+v", evs)
	}
}
