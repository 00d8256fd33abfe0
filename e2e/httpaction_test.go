package e2e

import (
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// received is one request the local receiver got.
type received struct {
	method, path, query string
	header              http.Header
	body                []byte
	files               map[string]string // a multipart form's files
	fields              map[string]string
}

// httpReceiver is a local HTTP server an http action calls; it answers
// status with a long body and keeps what it got.
func httpReceiver(t *testing.T, status int) (string, func() []received) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []received
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := received{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), files: map[string]string{}, fields: map[string]string{}}
		if mt, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			mr := multipart.NewReader(r.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(p)
				if p.FileName() != "" {
					rec.files[p.FileName()] = string(b)
				} else {
					rec.fields[p.FormName()] = string(b)
				}
			}
		} else {
			rec.body, _ = io.ReadAll(r.Body)
		}
		mu.Lock()
		got = append(got, rec)
		mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, `{"ok":true,"id":"erp-42"}`+strings.Repeat(" ", 2000))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String(), func() []received {
		mu.Lock()
		defer mu.Unlock()
		return append([]received(nil), got...)
	}
}

func TestAutomations_HTTPAction(t *testing.T) {
	ts := MustOpenServer(t)
	base, got := httpReceiver(t, 201)
	want(t, ts.do(t, "POST", "/api/folders", adminKey, `{"path":"/in"}`), 201)
	name := `inv "7".csv`
	runBodyJSON, _ := json.Marshal(map[string]string{"path": "/in/" + name})
	want(t, ts.put(t, adminKey, "/in/"+name, "a,b\r\n1,2\r\n"), 201)

	// A JSON body from a template: placeholders JSON-escaped, a secret
	// header sealed and shown as (set), the answer recorded.
	body := `{"automation":{"name":"tell the ERP","trigger":"manual","retry":{"attempts":1},"actions":[{"type":"http","method":"put",
		"url":"` + base + `/files/{BASENAME}?size={SIZE}","headers":{"Authorization":"Bearer erp-token-123","X-Source":"depot"},
		"body":"{\"path\":\"{PATH}\",\"name\":\"{NAME}\",\"run\":\"{RUN}\"}","expect_status":[201]}]}}`
	r := ts.do(t, "POST", "/admin/automations", adminKey, body)
	want(t, r, 201)
	if strings.Contains(r.body, "erp-token-123") || !strings.Contains(r.body, `"Authorization":"(set)"`) || !strings.Contains(r.body, `"X-Source":"depot"`) {
		t.Fatalf("the secret header is shown: %s", r.body)
	}
	id := ts.fieldsOf(t, r, "automation")["id"].(string)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, string(runBodyJSON)), 202)
	run := ts.waitRuns(t, id, 1)[0]
	if run.Run.Status != "succeeded" {
		t.Fatalf("run: %s %q", run.Run.Status, run.Run.Error)
	}
	reqs := got()
	if len(reqs) != 1 {
		t.Fatalf("requests: %d", len(reqs))
	}
	q := reqs[0]
	var sent map[string]string
	if q.method != "PUT" || q.path != `/files/inv "7"` || q.query != "size=10" || q.header.Get("Authorization") != "Bearer erp-token-123" ||
		q.header.Get("Content-Type") != "application/json" || json.Unmarshal(q.body, &sent) != nil || sent["name"] != name || sent["path"] != "/in/"+name {
		t.Fatalf("the receiver got %s %s?%s %v %s", q.method, q.path, q.query, q.header, q.body)
	}
	rr := ts.do(t, "GET", "/admin/automations/"+id+"/runs", adminKey, "")
	var runs []struct {
		Run struct {
			Steps []struct {
				Status   int    `json:"status"`
				Response string `json:"response"`
			} `json:"steps"`
		} `json:"run"`
	}
	rr.json(t, &runs)
	if st := runs[0].Run.Steps[0]; st.Status != 201 || !strings.HasPrefix(st.Response, `{"ok":true,"id":"erp-42"}`) || len(st.Response) != 1024 {
		t.Fatalf("recorded: %d %q (%d bytes)", st.Status, st.Response[:min(40, len(st.Response))], len(st.Response))
	}
	// Sent back as read, the sealed header keeps its value.
	view := ts.do(t, "GET", "/admin/automations/"+id, adminKey, "")
	want(t, ts.do(t, "PUT", "/admin/automations/"+id, adminKey, view.body), 200)
	want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, string(runBodyJSON)), 202)
	ts.waitRuns(t, id, 2)
	if reqs := got(); len(reqs) != 2 || reqs[1].header.Get("Authorization") != "Bearer erp-token-123" {
		t.Fatalf("after a PUT of what was read: %v", reqs[len(reqs)-1].header)
	}

	// The file as a multipart form with a data field; and raw.
	for _, c := range []struct{ from, check string }{{"multipart", "multipart"}, {"file", "raw"}} {
		body := `{"automation":{"name":"post ` + c.from + `","trigger":"manual","retry":{"attempts":1},"actions":[{"type":"http",
			"url":"` + base + `/upload","body_from":"` + c.from + `"` + map[string]string{"multipart": `,"body":"{\"name\":\"{NAME}\"}"`, "file": ""}[c.from] + `}]}}`
		run := ts.runOnce(t, body, "/in/"+name)
		if run.Run.Status != "succeeded" {
			t.Fatalf("%s: %s %q", c.from, run.Run.Status, run.Run.Error)
		}
		last := got()[len(got())-1]
		switch c.check {
		case "multipart":
			if last.files[name] != "a,b\r\n1,2\r\n" || !strings.Contains(last.fields["data"], `inv \"7\".csv`) {
				t.Fatalf("multipart: %v %v", last.files, last.fields)
			}
		case "raw":
			if string(last.body) != "a,b\r\n1,2\r\n" || last.header.Get("Content-Type") != "application/octet-stream" {
				t.Fatalf("raw: %q %v", last.body, last.header)
			}
		}
	}

	// An answer not expected fails the step with the status.
	base500, _ := httpReceiver(t, 500)
	run = ts.runOnce(t, `{"automation":{"name":"down","trigger":"manual","retry":{"attempts":1},"actions":[{"type":"http","url":"`+base500+`/x"}]}}`, "/in/"+name)
	if run.Run.Status != "failed" || !strings.Contains(run.Run.Error, "500") {
		t.Fatalf("500: %s %q", run.Run.Status, run.Run.Error)
	}
	// Bad settings are refused.
	for _, a := range []string{`{"type":"http","url":"ftp://x"}`, `{"type":"http","url":"http://x","method":"TRACE"}`,
		`{"type":"http","url":"http://x","headers":{"Bad Header":"v"}}`, `{"type":"http","url":"http://x","headers":{"X":"a\r\nInjected: 1"}}`,
		`{"type":"http","url":"http://x","timeout":"1h"}`, `{"type":"http","url":"http://x","expect_status":[42]}`,
		`{"type":"http","url":"http://x","body_from":"file","body":"x"}`, `{"type":"copy","to":"/x","method":"GET"}`} {
		r := ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"bad","trigger":"manual","actions":[`+a+`]}}`)
		if r.status != 422 {
			t.Errorf("%s: %d %s", a, r.status, r.body)
		}
	}
}
