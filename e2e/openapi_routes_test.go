package e2e

import (
	"strings"
	"testing"

	"github.com/pb33f/libopenapi"

	"depot/server"
)

// TestOpenAPI_ServedAndTheQuietRoutes fetches the document from the API
// and calls, through the contract check, the routes no other test of this
// package happens to call, so that every route is held to the document.
func TestOpenAPI_ServedAndTheQuietRoutes(t *testing.T) {
	ts := MustOpenServer(t)
	r := ts.do(t, "GET", "/api/openapi.yaml", "", "") // no key needed
	want(t, r, 200)
	if ct := r.header.Get("Content-Type"); ct != "application/yaml" {
		t.Errorf("Content-Type = %q", ct)
	}
	if r.body != string(server.OpenAPI()) {
		t.Error("the served document is not the one in the repository")
	}
	if doc, err := libopenapi.NewDocument([]byte(r.body)); err != nil || doc.GetVersion() != "3.1.0" {
		t.Fatalf("served document: %v", err)
	}

	joe := ts.createUser(t, `{"user":{"email":"joe@example.com","password":"s3cret-pass"}}`)
	want(t, ts.put(t, joe.User.APIKey, "/a.txt", "hello"), 201)
	r = ts.do(t, "HEAD", "/api/files/content?path=/a.txt", joe.User.APIKey, "")
	want(t, r, 200)
	if r.header.Get("Content-Length") != "5" || r.body != "" {
		t.Errorf("HEAD: length %q, body %q", r.header.Get("Content-Length"), r.body)
	}
	want(t, ts.do(t, "HEAD", "/api/files/content?path=/nope.txt", joe.User.APIKey, ""), 404)

	r = ts.do(t, "POST", "/api/links", joe.User.APIKey, `{"link":{"path":"/a.txt"}}`)
	want(t, r, 201)
	var link struct {
		Link struct{ ID string } `json:"link"`
	}
	r.json(t, &link)
	want(t, ts.do(t, "DELETE", "/admin/links/"+link.Link.ID, adminKey, ""), 200)
	want(t, ts.do(t, "DELETE", "/admin/links/"+link.Link.ID, adminKey, ""), 404)

	id := ts.createAutomation(t, `{"automation":{"name":"tidy","trigger":"manual","actions":[{"type":"delete"}]}}`)
	r = ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/users/joe-example-com/a.txt"}`)
	want(t, r, 202)
	runs := ts.waitRuns(t, id, 1)
	r = ts.do(t, "GET", "/admin/automations/"+id+"/runs/"+runs[0].Run.ID, adminKey, "")
	want(t, r, 200)
	if !strings.Contains(r.body, `"status":"succeeded"`) {
		t.Errorf("run: %s", r.body)
	}
	want(t, ts.do(t, "DELETE", "/admin/automations/"+id, adminKey, ""), 200)

	r = ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"http://127.0.0.1:1/hook","events":["file.uploaded"]}}`)
	want(t, r, 201)
	var hook struct {
		Webhook struct{ ID string } `json:"webhook"`
	}
	r.json(t, &hook)
	want(t, ts.do(t, "DELETE", "/admin/webhooks/"+hook.Webhook.ID, adminKey, ""), 200)

	want(t, ts.do(t, "POST", "/admin/dropzones", joe.User.APIKey, `{"dropzone":{"name":"in","gb":1,"days":30}}`), 201)
	r = ts.do(t, "GET", "/admin/dropzones", joe.User.APIKey, "")
	want(t, r, 200)
	if strings.Count(r.body, `"dropzone":`) != 1 {
		t.Errorf("dropzones: %s", r.body)
	}
	want(t, ts.do(t, "POST", "/admin/connections", adminKey,
		`{"connection":{"name":"archive","type":"s3","endpoint":"http://127.0.0.1:1","bucket":"b","access_key":"k","secret_key":"s"}}`), 201)
	r = ts.do(t, "GET", "/admin/connections", adminKey, "")
	want(t, r, 200)
	if !strings.Contains(r.body, `"name":"archive"`) || strings.Contains(r.body, `"s"`) {
		t.Errorf("connections: %s", r.body)
	}
}
