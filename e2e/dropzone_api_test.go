package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"depot/mft"
)

// dzClient is a client of the Dropzone API written from its document
// (seed 002) and its JavaScript SDK (dropzonehub-sdk-js) alone: a base URL
// ending in /api/v1, the key in an x-api-key header, JSON both ways, and
// answers read as generic JSON so that every field's type is checked.
type dzClient struct {
	ts  *testServer
	key string
}

const dzBase = "/dropzone/api/v1"

// call sends one request as the SDK does and decodes the JSON object
// that answers it.
func (c dzClient) call(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	r := c.ts.doWith(t, method, dzBase+path, body, func(r *http.Request) {
		if c.key != "" {
			r.Header.Set("x-api-key", c.key)
		}
	})
	var out map[string]any
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatalf("%s %s: not a JSON object: %q", method, path, r.body)
	}
	return r.status, out
}

// ok is an SDK call that must succeed: a 2xx with status "success"; it
// returns what the SDK returns, data.
func (c dzClient) ok(t *testing.T, method, path, body string) any {
	t.Helper()
	status, out := c.call(t, method, path, body)
	if status/100 != 2 || out["status"] != "success" {
		t.Fatalf("%s %s: %d %v", method, path, status, out)
	}
	return out["data"]
}

// refused checks an error as the document shows it: {"status":"error",
// "message":"…"} with the status.
func (c dzClient) refused(t *testing.T, status int, method, path, body string) string {
	t.Helper()
	got, out := c.call(t, method, path, body)
	msg, _ := out["message"].(string)
	if got != status || out["status"] != "error" || msg == "" || len(out) != 2 {
		t.Fatalf("%s %s %s: %d %v, want %d and {status: error, message}", method, path, body, got, out, status)
	}
	return msg
}

// dzTime parses a time as JavaScript writes it and checks it is near want.
func dzTime(t *testing.T, field string, v any, want time.Time) {
	t.Helper()
	s, _ := v.(string)
	got, err := time.Parse("2006-01-02T15:04:05.000Z", s)
	if err != nil || got.Sub(want).Abs() > time.Minute {
		t.Fatalf("%s = %v, want an ISO time near %s", field, v, want.UTC().Format(time.RFC3339))
	}
}

// checkZone checks a dropzone object's fields, types and meaning.
func checkZone(t *testing.T, v any, gb float64, days int, used int64) map[string]any {
	t.Helper()
	z, _ := v.(map[string]any)
	id, _ := z["_id"].(string)
	name, _ := z["name"].(string)
	upload, _ := z["uploadUrl"].(string)
	if id == "" || name == "" || !strings.HasSuffix(upload, dzBase+"/dropzones/"+id+"/files") {
		t.Fatalf("dropzone %v: want _id, name and uploadUrl", z)
	}
	if z["maxSizeGb"] != gb || z["maxSize"] != gb*mft.GB || z["maxDurationDays"] != float64(days) || z["usedSpace"] != float64(used) {
		t.Fatalf("dropzone %v: want %g GB (%g bytes) for %d days, %d bytes used", z, gb, gb*mft.GB, days, used)
	}
	created, _ := time.Parse("2006-01-02T15:04:05.000Z", z["createdAt"].(string))
	dzTime(t, "createdAt", z["createdAt"], time.Now())
	dzTime(t, "updatedAt", z["updatedAt"], time.Now())
	dzTime(t, "deleteTime", z["deleteTime"], created.AddDate(0, 0, days))
	return z
}

// checkFile checks a file object: the seed's _id, size, type, name and
// meta, meta.s3Status "uploaded" once confirmed (the SDK's isUploaded).
func checkFile(t *testing.T, v any, name, typ string, size int, s3Status string) map[string]any {
	t.Helper()
	f, _ := v.(map[string]any)
	meta, _ := f["meta"].(map[string]any)
	if id, _ := f["_id"].(string); id == "" || f["name"] != name || f["type"] != typ || f["size"] != float64(size) || meta == nil {
		t.Fatalf("file %v: want _id, name %q, type %q, size %d and meta", f, name, typ, size)
	}
	if meta["s3Status"] != s3Status {
		t.Fatalf("meta.s3Status = %v, want %s", meta["s3Status"], s3Status)
	}
	dzTime(t, "meta.createdAt", meta["createdAt"], time.Now())
	return f
}

// The SDK's server-side flow with one user's API key, then its client-side
// flow with the dropzone's own token, as the SDK's README shows them.
func TestDropzoneAPI_SDKFlow(t *testing.T) {
	ts := MustOpenServer(t)
	app := ts.createUser(t, `{"user":{"email":"app@example.com"}}`).User
	server := dzClient{ts, app.APIKey}

	// createDropzone({gb: 1, days: 90}), the seed's request sample.
	status, out := server.call(t, "POST", "/dropzones", `{"gb": 1, "days": 90}`)
	if status != 201 || out["status"] != "success" {
		t.Fatalf("create: %d %v", status, out)
	}
	z := checkZone(t, out["data"], 1, 90, 0)
	id, token := z["_id"].(string), z["token"].(string)
	if len(token) < 20 {
		t.Fatalf("create answers no token for the dropzone: %v", z)
	}
	// A name the key already used updates that dropzone.
	named := checkZone(t, server.ok(t, "POST", "/dropzones", `{"gb": 0.5, "days": 30, "name": "avatars"}`), 0.5, 30, 0)
	status, out = server.call(t, "POST", "/dropzones", `{"gb": 2, "days": 60, "name": "avatars"}`)
	again := checkZone(t, out["data"], 2, 60, 0)
	if status != 200 || again["_id"] != named["_id"] || again["token"] != nil {
		t.Fatalf("create with a used name: %d %v, want dropzone %v updated", status, out, named["_id"])
	}
	// The seed's update, by id.
	checkZone(t, server.ok(t, "PUT", "/dropzones/"+id, `{"gb": 1.5, "days": 120}`), 1.5, 120, 0)

	client := dzClient{ts, token}
	checkZone(t, client.ok(t, "GET", "/dropzones/"+id, ""), 1.5, 120, 0)
	if files := client.ok(t, "GET", "/dropzones/"+id+"/files", ""); files == nil || len(files.([]any)) != 0 {
		t.Fatalf("listFiles of a new dropzone: %v", files)
	}

	// uploadFile: request the URL, PUT the bytes, confirm.
	content := "first avatar\n"
	reserved := client.ok(t, "POST", "/dropzones/"+id+"/files", fmt.Sprintf(`{"name": "example.txt", "type": "text/plain", "size": %d}`, len(content)))
	checkFile(t, reserved, "example.txt", "text/plain", len(content), "pending")
	fileID, _ := reserved.(map[string]any)["fileId"].(string)
	signed, _ := reserved.(map[string]any)["signedUrl"].(string)
	if fileID == "" || !strings.HasPrefix(signed, ts.URL()) {
		t.Fatalf("reserve: %v, want fileId and signedUrl", reserved)
	}
	r := exchange(t, http.DefaultClient, "PUT", signed, strings.NewReader(content), "text/plain", nil)
	want(t, r, 200)
	status, confirmed := client.call(t, "POST", "/files/"+fileID+"/confirm", "")
	if status != 200 || confirmed["status"] != "success" {
		t.Fatalf("confirm: %d %v", status, confirmed)
	}
	// The seed shows the file bare; the SDK reads it under data: both.
	checkFile(t, confirmed, "example.txt", "text/plain", len(content), "uploaded")
	checkFile(t, confirmed["data"], "example.txt", "text/plain", len(content), "uploaded")

	// getFile and isUploaded, with either key.
	for _, c := range []dzClient{client, server} {
		f := checkFile(t, c.ok(t, "GET", "/files/"+fileID, ""), "example.txt", "text/plain", len(content), "uploaded")
		if f["_id"] != fileID || f["meta"].(map[string]any)["dropZoneId"] != id {
			t.Fatalf("getFile: %v", f)
		}
	}
	checkZone(t, client.ok(t, "GET", "/dropzones/"+id, ""), 1.5, 120, int64(len(content)))
	list := client.ok(t, "GET", "/dropzones/"+id+"/files", "").([]any)
	if len(list) != 1 {
		t.Fatalf("listFiles: %v", list)
	}
	checkFile(t, list[0], "example.txt", "text/plain", len(content), "uploaded")

	// downloadFile: the bytes.
	r = ts.doWith(t, "GET", dzBase+"/files/"+fileID+"/download", "", func(r *http.Request) { r.Header.Set("x-api-key", token) })
	if want(t, r, 200); r.body != content {
		t.Fatalf("download: %q", r.body)
	}

	// The same dropzone through Depot's own API.
	r = ts.do(t, "GET", "/admin/dropzones/"+id, app.APIKey, "")
	if want(t, r, 200); !strings.Contains(r.body, fmt.Sprintf(`"used_bytes":%d`, len(content))) {
		t.Fatalf("admin view: %s", r.body)
	}

	// deleteFile: the seed's answer, and the file is gone.
	status, out = client.call(t, "DELETE", "/files/"+fileID, "")
	if status != 200 || len(out) != 2 || out["status"] != "success" || out["message"] != "File deleted successfully." {
		t.Fatalf("delete: %d %v", status, out)
	}
	client.refused(t, 404, "GET", "/files/"+fileID, "")
	checkZone(t, client.ok(t, "GET", "/dropzones/"+id, ""), 1.5, 120, 0)

	ts.audit.Flush()
	r = ts.do(t, "GET", "/admin/audit?event=dropzone.*", adminKey, "")
	for _, ev := range []string{`"event":"dropzone.created"`, `"event":"dropzone.updated"`, `"event":"dropzone.file.confirmed"`} {
		if !strings.Contains(r.body, ev) {
			t.Fatalf("audit lacks %s: %s", ev, r.body)
		}
	}
}

// Each key reaches what it may and no more; bad input is refused with the
// document's error shape and changes nothing.
func TestDropzoneAPI_KeysAndRefusals(t *testing.T) {
	ts := MustOpenServer(t)
	app := ts.createUser(t, `{"user":{"email":"app@example.com"}}`).User
	other := ts.createUser(t, `{"user":{"email":"other@example.com"}}`).User
	server := dzClient{ts, app.APIKey}
	a := server.ok(t, "POST", "/dropzones", `{"gb": 0.2, "days": 30, "name": "a"}`).(map[string]any)
	b := server.ok(t, "POST", "/dropzones", `{"gb": 0.2, "days": 30, "name": "b"}`).(map[string]any)
	aID, bID := a["_id"].(string), b["_id"].(string)
	tokenA := dzClient{ts, a["token"].(string)}
	reserved := server.ok(t, "POST", "/dropzones/"+bID+"/files", `{"name": "b.txt", "type": "text/plain", "size": 3}`)
	bFile := reserved.(map[string]any)["fileId"].(string)

	// A dropzone's token: its dropzone only, and it cannot create.
	tokenA.ok(t, "GET", "/dropzones/"+aID, "")
	tokenA.refused(t, 404, "GET", "/dropzones/"+bID, "")
	tokenA.refused(t, 404, "GET", "/dropzones/"+bID+"/files", "")
	tokenA.refused(t, 404, "GET", "/files/"+bFile, "")
	tokenA.refused(t, 404, "DELETE", "/files/"+bFile, "")
	tokenA.refused(t, 403, "POST", "/dropzones", `{"gb": 1, "days": 30}`)
	tokenA.refused(t, 403, "PUT", "/dropzones/"+aID, `{"gb": 1, "days": 30}`)
	// Another user's key sees none of them; an administrator's sees all.
	stranger := dzClient{ts, other.APIKey}
	stranger.refused(t, 404, "GET", "/dropzones/"+aID, "")
	stranger.refused(t, 404, "GET", "/files/"+bFile, "")
	stranger.refused(t, 404, "POST", "/files/"+bFile+"/confirm", "")
	dzClient{ts, adminKey}.ok(t, "GET", "/files/"+bFile, "")
	// No key, a wrong key.
	dzClient{ts, ""}.refused(t, 401, "GET", "/dropzones/"+aID, "")
	dzClient{ts, "not-a-key"}.refused(t, 401, "GET", "/dropzones/"+aID, "")
	dzClient{ts, "not-a-key"}.refused(t, 401, "POST", "/dropzones", `{"gb": 1, "days": 30}`)

	// Bad dropzones: out of the seed's ranges, wrong types, nulls, broken JSON.
	for _, body := range []string{`{"gb": 0.1, "days": 30}`, `{"gb": 5, "days": 30}`, `{"gb": 1, "days": 29}`,
		`{"gb": 1, "days": 366}`, `{"gb": "1", "days": 30}`, `{"days": 30}`, `{"gb": 1}`, `{"gb": null, "days": null}`,
		`{"gb": 1, "days": 30, "name": 7}`, `{"gb": 1, "days": 30, "colour": "red"}`, `{"gb": 1, "days": 30.5}`,
		`{"gb": 1, "days": 30, "name": ""}`, `{"gb": 1, "days": 30, "name": "` + strings.Repeat("n", 201) + `"}`} {
		server.refused(t, 422, "POST", "/dropzones", body)
	}
	for _, body := range []string{``, `[1]`, `{"gb":`, `"gb"`} {
		server.refused(t, 400, "POST", "/dropzones", body)
	}
	// A used name cannot shrink its dropzone.
	server.refused(t, 422, "POST", "/dropzones", `{"gb": 0.2, "days": 29, "name": "a"}`)
	server.refused(t, 422, "PUT", "/dropzones/"+aID, `{"days": 20}`)
	checkZone(t, server.ok(t, "GET", "/dropzones/"+aID, ""), 0.2, 30, 0)
	if n := len(server.ok(t, "GET", "/dropzones/"+aID+"/files", "").([]any)); n != 0 {
		t.Fatalf("refused creates left %d files", n)
	}
	r := ts.do(t, "GET", "/admin/dropzones", app.APIKey, "")
	if strings.Count(r.body, `"id":"dz_`) != 2 {
		t.Fatalf("refused creates made dropzones: %s", r.body)
	}

	// Bad upload requests: names, sizes, a full dropzone.
	for _, body := range []string{`{"name": "../x", "type": "text/plain", "size": 3}`, `{"name": "", "size": 3}`,
		`{"name": "a/b", "size": 3}`, `{"name": "x.txt", "size": -1}`, `{"name": "x.txt", "size": "3"}`,
		`{"name": "x.txt"}`, `{"name": "x.txt", "size": 1.5}`, `{"name": "x.txt", "type": "` + strings.Repeat("t", 256) + `", "size": 3}`} {
		tokenA.refused(t, 422, "POST", "/dropzones/"+aID+"/files", body)
	}
	tokenA.refused(t, 507, "POST", "/dropzones/"+aID+"/files", `{"name": "big.bin", "type": "", "size": 200000001}`)
	checkZone(t, tokenA.ok(t, "GET", "/dropzones/"+aID, ""), 0.2, 30, 0)

	// A file before its bytes: not confirmed, not downloadable.
	server.refused(t, 422, "POST", "/files/"+bFile+"/confirm", "")
	server.refused(t, 422, "GET", "/files/"+bFile+"/download", "")
	server.refused(t, 404, "GET", "/files/dzf_unknown", "")
	server.refused(t, 404, "GET", "/files/", "")
	server.refused(t, 404, "GET", "/nowhere", "")
}

// A dropzone past its deleteTime, or whose owner was disabled, refuses
// its token and its owner's key alike.
func TestDropzoneAPI_ExpiredAndDisabled(t *testing.T) {
	ts := MustOpenServer(t)
	app := ts.createUser(t, `{"user":{"email":"app@example.com"}}`).User
	server := dzClient{ts, app.APIKey}
	z := server.ok(t, "POST", "/dropzones", `{"gb": 0.2, "days": 30}`).(map[string]any)
	id := z["_id"].(string)
	token := dzClient{ts, z["token"].(string)}
	want(t, ts.do(t, "PUT", "/admin/users/"+app.ID, adminKey, `{"user":{"active":false}}`), 200)
	msg := token.refused(t, 403, "POST", "/dropzones/"+id+"/files", `{"name": "x.txt", "type": "text/plain", "size": 3}`)
	if !strings.Contains(msg, "owner") {
		t.Fatalf("disabled owner: %q", msg)
	}
	want(t, ts.do(t, "PUT", "/admin/users/"+app.ID, adminKey, `{"user":{"active":true}}`), 200)
	token.ok(t, "GET", "/dropzones/"+id, "")

	ts.app.Dropzones.Now = func() time.Time { return time.Now().Add(31 * 24 * time.Hour) }
	for _, c := range []dzClient{token, server} {
		c.refused(t, 410, "GET", "/dropzones/"+id, "")
		c.refused(t, 410, "POST", "/dropzones/"+id+"/files", `{"name": "x.txt", "type": "text/plain", "size": 3}`)
	}
}

// The signed URL takes exactly the reserved bytes, once (the SDK's PUT).
func TestDropzoneAPI_SignedURL(t *testing.T) {
	ts := MustOpenServer(t)
	app := ts.createUser(t, `{"user":{"email":"app@example.com"}}`).User
	c := dzClient{ts, app.APIKey}
	id := c.ok(t, "POST", "/dropzones", `{"gb": 0.2, "days": 30}`).(map[string]any)["_id"].(string)
	res := c.ok(t, "POST", "/dropzones/"+id+"/files", `{"name": "a.txt", "type": "text/plain", "size": 5}`).(map[string]any)
	signed := res["signedUrl"].(string)
	want(t, exchange(t, http.DefaultClient, "PUT", signed, strings.NewReader("toolong"), "text/plain", nil), 400)
	want(t, exchange(t, http.DefaultClient, "PUT", signed+"0", strings.NewReader("hello"), "text/plain", nil), 403)
	want(t, exchange(t, http.DefaultClient, "PUT", signed, strings.NewReader("hello"), "text/plain", nil), 200)
	want(t, exchange(t, http.DefaultClient, "PUT", signed, strings.NewReader("hello"), "text/plain", nil), 409)
	f := c.ok(t, "POST", "/files/"+res["fileId"].(string)+"/confirm", "")
	meta := f.(map[string]any)["meta"].(map[string]any)
	if meta["sha256"] != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" || meta["received"] != true {
		t.Fatalf("meta %v", meta)
	}
	// No CORS: a page of another origin cannot call it (the README says
	// the SDK runs on a server).
	r := ts.doWith(t, "GET", dzBase+"/dropzones/"+id, "", func(r *http.Request) {
		r.Header.Set("x-api-key", app.APIKey)
		r.Header.Set("Origin", "https://app.example.com")
	})
	if want(t, r, 200); r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("a CORS header: %q", r.header.Get("Access-Control-Allow-Origin"))
	}
	resp, err := http.Get(ts.URL() + dzBase + "/files/" + res["fileId"].(string) + "/download")
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("download without a key: %d", resp.StatusCode)
	}
}
