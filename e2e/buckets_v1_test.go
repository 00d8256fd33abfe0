package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// bucketsClient is a client of the Buckets API written from its document
// (seed 003) alone: the base URL and a Bearer token, JSON both ways, and
// answers read as generic JSON so that every field's type is checked.
type bucketsClient struct {
	ts    *testServer
	token string
}

func (c bucketsClient) call(t *testing.T, method, uri, body string) (int, map[string]any) {
	t.Helper()
	r := c.ts.doWith(t, method, uri, body, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+c.token) })
	var out map[string]any
	if strings.TrimSpace(r.body) != "" {
		if err := json.Unmarshal([]byte(r.body), &out); err != nil {
			t.Fatalf("%s %s: not a JSON object: %s", method, uri, r.body)
		}
	}
	return r.status, out
}

// checkBucket checks a bucket object as the document's model describes
// it: id, host and name strings, active a boolean, created_at a Unix time
// (a number of seconds, here within a minute of now).
func checkBucket(t *testing.T, b map[string]any, name string) string {
	t.Helper()
	if len(b) != 5 {
		t.Errorf("bucket has %d fields, want the model's five: %v", len(b), b)
	}
	id, _ := b["id"].(string)
	host, _ := b["host"].(string)
	if id == "" || b["name"] != name || !strings.Contains(host, ".") {
		t.Fatalf("bucket %v: want an id, the name %q and a host", b, name)
	}
	if _, ok := b["active"].(bool); !ok {
		t.Fatalf("active is %T, want a boolean", b["active"])
	}
	created, ok := b["created_at"].(float64)
	if !ok || created != float64(int64(created)) || time.Since(time.Unix(int64(created), 0)).Abs() > time.Minute {
		t.Fatalf("created_at %v (%T) is not the Unix time of now", b["created_at"], b["created_at"])
	}
	return id
}

// The document's samples in order: create, fetch all, update, delete.
func TestBucketsAPI_SeedSamples(t *testing.T) {
	ts := MustOpenServer(t)
	c := bucketsClient{ts, adminKey}
	status, b := c.call(t, "POST", "/v1/buckets", `{"name": "Acme Corporation Bucket"}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, b)
	}
	id := checkBucket(t, b, "Acme Corporation Bucket")
	if b["active"] != true {
		t.Fatal("a new bucket is not active")
	}
	status, list := c.call(t, "GET", "/v1/buckets", "")
	data, _ := list["data"].([]any)
	if status != 200 || list["has_more"] != false || list["next_uri"] != nil || len(data) != 1 {
		t.Fatalf("fetch all: %d %v", status, list)
	}
	checkBucket(t, data[0].(map[string]any), "Acme Corporation Bucket")
	status, b = c.call(t, "PATCH", "/v1/buckets/"+id, `{"name": "Updated Name"}`)
	if status != 200 || checkBucket(t, b, "Updated Name") != id || b["active"] != true {
		t.Fatalf("update: %d %v", status, b)
	}
	status, b = c.call(t, "PATCH", "/v1/buckets/"+id, `{"active": false}`)
	if status != 200 || b["active"] != false || b["name"] != "Updated Name" {
		t.Fatalf("deactivate: %d %v", status, b)
	}
	status, _ = c.call(t, "DELETE", "/v1/buckets/"+id, "")
	if status != 200 {
		t.Fatalf("delete: %d", status)
	}
	if status, e := c.call(t, "GET", "/v1/buckets/"+id, ""); status != 404 || e["error"] == nil {
		t.Fatalf("after delete: %d %v", status, e)
	}
}

// Paging over 250 buckets: has_more and next_uri lead through every one
// once, with ?limit between 1 and 1000.
func TestBucketsAPI_Paging(t *testing.T) {
	ts := MustOpenServer(t)
	c := bucketsClient{ts, adminKey}
	for i := range 250 {
		if status, b := c.call(t, "POST", "/v1/buckets", fmt.Sprintf(`{"name":"Customer %03d"}`, i)); status != 200 {
			t.Fatalf("create %d: %d %v", i, status, b)
		}
	}
	seen := map[string]bool{}
	pages := 0
	for uri := "/v1/buckets"; ; pages++ {
		status, list := c.call(t, "GET", uri, "")
		if status != 200 {
			t.Fatalf("%s: %d %v", uri, status, list)
		}
		for _, d := range list["data"].([]any) {
			id := d.(map[string]any)["id"].(string)
			if seen[id] {
				t.Fatalf("%s came twice", id)
			}
			seen[id] = true
		}
		if list["has_more"] != true {
			if list["next_uri"] != nil {
				t.Fatalf("the last page has next_uri %v", list["next_uri"])
			}
			break
		}
		next, ok := list["next_uri"].(string)
		if !ok || !strings.HasPrefix(next, "/v1/buckets?after=") {
			t.Fatalf("next_uri %v", list["next_uri"])
		}
		uri = next
	}
	if len(seen) != 250 || pages != 2 {
		t.Fatalf("%d buckets over %d pages, want 250 over 3 pages of 100", len(seen), pages+1)
	}
	status, list := c.call(t, "GET", "/v1/buckets?limit=1000", "")
	if status != 200 || len(list["data"].([]any)) != 250 || list["has_more"] != false {
		t.Fatalf("limit=1000: %d, %d buckets", status, len(list["data"].([]any)))
	}
	status, list = c.call(t, "GET", "/v1/buckets?limit=7", "")
	if next, _ := list["next_uri"].(string); status != 200 || len(list["data"].([]any)) != 7 || !strings.Contains(next, "limit=7") {
		t.Fatalf("limit=7: %d, next_uri %v", status, list["next_uri"])
	}
}

// Refusals come as {"error":{"code","message"}} with the statuses the
// documents list, and change nothing.
func TestBucketsAPI_Refusals(t *testing.T) {
	ts := MustOpenServer(t)
	c := bucketsClient{ts, adminKey}
	_, b := c.call(t, "POST", "/v1/buckets", `{"name":"Kept"}`)
	id := b["id"].(string)
	for _, tc := range []struct {
		method, uri, body string
		status            int
	}{
		{"PATCH", "/v1/buckets/" + id, `{}`, 422},
		{"PATCH", "/v1/buckets/" + id, `{"name": null}`, 422},
		{"PATCH", "/v1/buckets/" + id, `{"name": 5}`, 422},
		{"PATCH", "/v1/buckets/" + id, `{"Name": "x"}`, 422},
		{"PATCH", "/v1/buckets/buc_nosuch", `{"name":"x"}`, 404},
		{"POST", "/v1/buckets", `{}`, 422},
		{"POST", "/v1/buckets", `{"name":"` + strings.Repeat("x", 300) + `"}`, 422},
		{"GET", "/v1/buckets?limit=0", "", 422},
		{"GET", "/v1/buckets?limit=1001", "", 422},
		{"GET", "/v1/nothing", "", 404},
	} {
		status, e := c.call(t, tc.method, tc.uri, tc.body)
		inner, _ := e["error"].(map[string]any)
		if status != tc.status || inner == nil || inner["message"] == "" || inner["code"] == "" {
			t.Errorf("%s %s %s: %d %v, want %d with an error object", tc.method, tc.uri, tc.body, status, e, tc.status)
		}
	}
	if status, _ := (bucketsClient{ts, "wrong-key"}).call(t, "GET", "/v1/buckets", ""); status != 401 {
		t.Errorf("a wrong token: %d, want 401", status)
	}
	want(t, ts.do(t, "PATCH", "/admin/settings", adminKey, `{"settings":{"allow_bucket_deletion":false}}`), 200)
	if status, e := c.call(t, "DELETE", "/v1/buckets/"+id, ""); status != 403 || e["error"] == nil {
		t.Fatalf("delete while turned off: %d %v", status, e)
	}
	if status, b := c.call(t, "GET", "/v1/buckets/"+id, ""); status != 200 || b["name"] != "Kept" {
		t.Fatalf("the bucket after the refusals: %d %v", status, b)
	}
}
