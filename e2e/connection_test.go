package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"depot/internal/testpeer"
)

// An SFTP connection to a real sshd: created with its secrets shown only
// as "(set)" and stored sealed, tested (the host key it saw, the base
// path's entries), changed with PATCH keeping the key, refused with both
// fingerprints when the pinned key is wrong, and deleted.
func TestConnections_CRUDAndTest(t *testing.T) {
	peer := testpeer.StartSSHD(t)
	os.WriteFile(peer.Dir+"/hello.txt", []byte("hi"), 0o644)
	ts := MustOpenServer(t)
	key, _ := json.Marshal(peer.PrivateKey)
	body := `{"connection":{"name":"Partner SFTP","type":"sftp","host":"127.0.0.1","port":` + itoa(peer.Port) +
		`,"username":"` + peer.User + `","private_key":` + string(key) + `,"host_key":"` + peer.HostKey + `","base_path":"` + peer.Dir + `"}}`
	r := ts.do(t, "POST", "/admin/connections", adminKey, body)
	want(t, r, 201)
	c := ts.fieldsOf(t, r, "connection")
	id, _ := c["id"].(string)
	if !strings.HasPrefix(id, "conn_") || c["private_key"] != "(set)" || c["host_key"] != peer.HostKey || c["password"] != nil && c["password"] != "" {
		t.Fatalf("created %v", c)
	}
	if strings.Contains(ts.rawDB(t), "OPENSSH PRIVATE KEY") {
		t.Fatal("the private key is stored in clear")
	}

	r = ts.do(t, "POST", "/admin/connections/"+id+"/test", adminKey, "")
	want(t, r, 200)
	var test struct {
		Test struct {
			OK       bool   `json:"ok"`
			Identity string `json:"identity"`
			Entries  []struct {
				Name string `json:"name"`
				Size int64  `json:"size"`
			} `json:"entries"`
		} `json:"test"`
	}
	r.json(t, &test)
	if !test.Test.OK || test.Test.Identity != peer.HostKey || len(test.Test.Entries) != 1 || test.Test.Entries[0].Name != "hello.txt" {
		t.Fatalf("test: %s", r.body)
	}

	// A read object sent back keeps the key; PATCH changes one field.
	get := ts.do(t, "GET", "/admin/connections/"+id, adminKey, "")
	want(t, ts.do(t, "PUT", "/admin/connections/"+id, adminKey, get.body), 200)
	want(t, ts.do(t, "PATCH", "/admin/connections/"+id, adminKey, `{"name":"Partner SFTP (prod)"}`), 200)
	want(t, ts.do(t, "POST", "/admin/connections/"+id+"/test", adminKey, ""), 200)
	// type is fixed once created.
	if r := ts.do(t, "PATCH", "/admin/connections/"+id, adminKey, `{"type":"ftp"}`); r.status != 422 || !strings.Contains(r.errors(t)[0], "type") {
		t.Fatalf("changing type: %d %s", r.status, r.body)
	}

	// A wrong pinned host key: 422 naming what the server showed.
	wrong := "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
	want(t, ts.do(t, "PATCH", "/admin/connections/"+id, adminKey, `{"host_key":"`+wrong+`"}`), 200)
	r = ts.do(t, "POST", "/admin/connections/"+id+"/test", adminKey, "")
	want(t, r, 422)
	if msg := r.errors(t)[0]; !strings.Contains(msg, peer.HostKey) || !strings.Contains(msg, wrong) || strings.Contains(msg, "PRIVATE") {
		t.Fatalf("a wrong host key: %q", msg)
	}

	// A server that is not there: 422 saying so, in the network's words.
	r = ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"gone","type":"ftp","host":"127.0.0.1","port":1,"username":"u","password":"p"}}`)
	want(t, r, 201)
	r = ts.do(t, "POST", "/admin/connections/"+ts.fieldsOf(t, r, "connection")["id"].(string)+"/test", adminKey, "")
	want(t, r, 422)
	if msg := r.errors(t)[0]; !strings.Contains(msg, "connection refused") || !strings.Contains(msg, "gone") {
		t.Fatalf("an unreachable server: %q", msg)
	}

	for _, bad := range []string{
		`{"connection":{"name":"x","type":"sftp","host":"h","username":"u","password":"p"}}`,                          // no host_key
		`{"connection":{"name":"x","type":"gopher","host":"h"}}`,                                                      // no such type
		`{"connection":{"name":"x","type":"s3","endpoint":"ftp://x","bucket":"b","access_key":"a","secret_key":"s"}}`, // endpoint
		`{"connection":{"name":"x","type":"ftp","host":"h","username":"u","base_path":"../etc"}}`,                     // ..
		`{"connection":{"name":"x","type":"ftp","host":"h","username":"u","port":"21"}}`,                              // a string port
		`{"connection":{"id":"conn_mine","name":"x","type":"ftp","host":"h","username":"u"}}`,                         // id is the server's
	} {
		if r := ts.do(t, "POST", "/admin/connections", adminKey, bad); r.status != 422 {
			t.Errorf("%s: %d %s", bad, r.status, r.body)
		}
	}
	want(t, ts.do(t, "DELETE", "/admin/connections/"+id, adminKey, ""), 200)
	want(t, ts.do(t, "GET", "/admin/connections/"+id, adminKey, ""), 404)
}

// fieldsOf returns the object in an answer's envelope.
func (ts *testServer) fieldsOf(tb testing.TB, r response, name string) map[string]any {
	tb.Helper()
	var got map[string]map[string]any
	r.json(tb, &got)
	return got[name]
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
