package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

type filedropBody struct {
	Filedrop struct {
		ID                string `json:"id"`
		Name              string `json:"name"`
		Title             string `json:"title"`
		Description       string `json:"description"`
		Owner             string `json:"owner"`
		InvalidExtensions string `json:"invalid_extensions"`
		AcceptedFiletypes string `json:"accepted_filetypes"`
		ExpiresAfter      int    `json:"expires_after"`
		MaxFilesize       int64  `json:"max_filesize"`
		RequireValidation bool   `json:"require_validation"`
		CC                string `json:"cc"`
		Authorization     int    `json:"authorization"`
		URL               string `json:"url"`
		APIKey            string `json:"api_key"`
	} `json:"filedrop"`
}

func TestFiledrops_API(t *testing.T) {
	ts := MustOpenServer(t)
	owner := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User.ID
	ts.createUser(t, `{"user":{"email":"cc@example.com"}}`)

	// Required attributes only: the documented defaults.
	r := ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"invoices","title":"Invoices","owner":"`+owner+`"}}`)
	want(t, r, 201)
	var f filedropBody
	r.json(t, &f)
	d := f.Filedrop
	if d.ID != "invoices" || d.ExpiresAfter != 14 || d.MaxFilesize != 250 || d.RequireValidation || d.Authorization != 3 ||
		d.URL != ts.URL()+"/filedrop/invoices" {
		t.Fatalf("defaults: %+v", d)
	}

	// Every attribute round-trips; lists are normalized; the password is
	// never shown, only that one is set.
	r = ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"reports-2026","title":"Reports","description":"Quarterly",
		"owner":"`+owner+`","invalid_extensions":"EXE, .bat","accepted_filetypes":" .PDF,csv ","expires_after":7,"max_filesize":5,
		"require_validation":false,"password":"open-sesame","cc":"CC@example.com","authorization":2}}`)
	want(t, r, 201)
	if strings.Contains(r.body, "open-sesame") || !strings.Contains(r.body, `"password":"(set)"`) {
		t.Fatalf("password echoed, or not shown as set: %s", r.body)
	}
	r = ts.do(t, "GET", "/admin/filedrops/reports-2026", adminKey, "")
	want(t, r, 200)
	f = filedropBody{}
	r.json(t, &f)
	d = f.Filedrop
	if d.Title != "Reports" || d.Description != "Quarterly" || d.Owner != owner || d.InvalidExtensions != "exe,bat" ||
		d.AcceptedFiletypes != "pdf,csv" || d.ExpiresAfter != 7 || d.MaxFilesize != 5 || d.CC != "cc@example.com" || d.Authorization != 2 {
		t.Fatalf("round trip: %+v", d)
	}

	// Update with no required fields; the name cannot change.
	r = ts.do(t, "PUT", "/admin/filedrops/reports-2026", adminKey, `{"filedrop":{"title":"Monthly reports","authorization":3}}`)
	want(t, r, 200)
	f = filedropBody{}
	r.json(t, &f)
	if f.Filedrop.Title != "Monthly reports" || f.Filedrop.Authorization != 3 || f.Filedrop.AcceptedFiletypes != "pdf,csv" {
		t.Fatalf("update: %+v", f.Filedrop)
	}

	// Each refusal names its attribute and changes nothing.
	for _, tc := range []struct{ body, wantMsg string }{
		{`{"filedrop":{"title":"T","owner":"` + owner + `"}}`, "name"},
		{`{"filedrop":{"name":"x","owner":"` + owner + `"}}`, "title"},
		{`{"filedrop":{"name":"x","title":"T"}}`, "owner"},
		{`{"filedrop":{"name":"x","title":"T","owner":"nobody"}}`, "owner"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","authorization":1}}`, "authorization"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","authorization":"3"}}`, "authorization"},
		{`{"filedrop":{"name":"../x","title":"T","owner":"` + owner + `"}}`, "name"},
		{`{"filedrop":{"name":"Has Space","title":"T","owner":"` + owner + `"}}`, "name"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","expires_after":0}}`, "expires_after"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","max_filesize":-1}}`, "max_filesize"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","cc":"stranger@example.com"}}`, "cc"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","invalid_extensions":"e*e"}}`, "invalid_extensions"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","require_validation":true}}`, "smtp"},
		{`{"filedrop":{"name":"x","title":"T","owner":"` + owner + `","colour":"red"}}`, "colour"},
	} {
		r := ts.do(t, "POST", "/admin/filedrops", adminKey, tc.body)
		want(t, r, 422)
		if msg := r.errors(t)[0]; !strings.Contains(msg, tc.wantMsg) {
			t.Errorf("%s: message %q does not name %s", tc.body, msg, tc.wantMsg)
		}
	}
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"invoices","title":"T","owner":"`+owner+`"}}`), 409)
	want(t, ts.do(t, "PUT", "/admin/filedrops/invoices", adminKey, `{"filedrop":{"authorization":5}}`), 422)
	want(t, ts.do(t, "PUT", "/admin/filedrops/invoices", adminKey, `{"filedrop":{"name":"renamed"}}`), 422)
	want(t, ts.do(t, "PUT", "/admin/filedrops/nope", adminKey, `{"filedrop":{"title":"x"}}`), 404)

	r = ts.do(t, "GET", "/admin/filedrops", adminKey, "")
	want(t, r, 200)
	var list []filedropBody
	r.json(t, &list)
	if len(list) != 2 || list[0].Filedrop.Name != "invoices" || list[0].Filedrop.Authorization != 3 || list[1].Filedrop.Title != "Monthly reports" {
		t.Fatalf("list: %s", r.body)
	}
	r = ts.do(t, "DELETE", "/admin/filedrops/invoices", adminKey, "")
	want(t, r, 200)
	if r.body != "" {
		t.Fatalf("delete body %q", r.body)
	}
	want(t, ts.do(t, "GET", "/admin/filedrops/invoices", adminKey, ""), 404)
	want(t, ts.do(t, "GET", "/filedrop/invoices", "", ""), 404)

	// Not for users who are not administrators.
	key := ts.createUser(t, `{"user":{"email":"plain@example.com"}}`).User.APIKey
	want(t, ts.do(t, "GET", "/admin/filedrops", key, ""), 403)
}

// sender is a client of the public filedrop flow.
type sender struct {
	ts   *testServer
	name string
	key  string
}

// open asks for an upload key with the password (none if empty).
func (ts *testServer) openFiledrop(tb testing.TB, name, password string) (response, *sender) {
	tb.Helper()
	r := ts.doWith(tb, "GET", "/filedrop/"+name, "", func(r *http.Request) {
		r.Header.Set("Accept", "application/json")
		if password != "" {
			r.SetBasicAuth("sender", password)
		}
	})
	var f filedropBody
	if r.status == 200 {
		r.json(tb, &f)
	}
	return r, &sender{ts: ts, name: name, key: f.Filedrop.APIKey}
}

func (s *sender) upload(tb testing.TB, query, body string) response {
	tb.Helper()
	return s.ts.doWith(tb, "POST", "/filedrop/"+s.name+"/attachments/upload?"+query, body, func(r *http.Request) {
		r.Header.Set("Content-Type", "application/octet-stream")
		if s.key != "" {
			r.Header.Set("Authorization", "Bearer "+s.key)
		}
	})
}

func (s *sender) deliver(tb testing.TB, body string) response {
	tb.Helper()
	return s.ts.doWith(tb, "POST", "/filedrop/"+s.name, body, func(r *http.Request) {
		r.Header.Set("Authorization", "Bearer "+s.key)
	})
}

type attachmentBody struct {
	Attachment struct {
		ID          string `json:"id"`
		Filename    string `json:"filename"`
		Size        int64  `json:"size"`
		Checksum    string `json:"checksum"`
		ContentType string `json:"content_type"`
	} `json:"attachment"`
}

type messageBody struct {
	Message struct {
		ID         string   `json:"id"`
		Filedrop   string   `json:"filedrop"`
		Sender     string   `json:"sender"`
		Subject    string   `json:"subject"`
		Message    string   `json:"message"`
		Recipients []string `json:"recipients"`
		Folder     string   `json:"folder"`
		ExpiresAt  string   `json:"expires_at"`
		Files      []struct {
			ID       string `json:"id"`
			Filename string `json:"filename"`
			Size     int64  `json:"size"`
			Checksum string `json:"checksum"`
			URL      string `json:"url"`
		} `json:"files"`
	} `json:"message"`
}

func sum(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

func TestFiledrops_Flow(t *testing.T) {
	ts := MustOpenServer(t)
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	cu := ts.createUser(t, `{"user":{"email":"cc@example.com"}}`).User
	other := ts.createUser(t, `{"user":{"email":"other@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"invoices","title":"Invoices","owner":"`+ou.ID+`",
		"invalid_extensions":"exe","max_filesize":1,"password":"open-sesame","cc":"cc@example.com","expires_after":3}}`), 201)

	// The password comes first; a wrong one is refused.
	r, _ := ts.openFiledrop(t, "invoices", "")
	want(t, r, 401)
	r, _ = ts.openFiledrop(t, "invoices", "wrong-password")
	want(t, r, 401)
	r, s := ts.openFiledrop(t, "invoices", "open-sesame")
	want(t, r, 200)
	if len(s.key) < 20 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("key %q, headers %v", s.key, r.header)
	}
	want(t, ts.doWith(t, "GET", "/filedrop/invoices?password=open-sesame", "", func(r *http.Request) {
		r.Header.Set("Accept", "application/json")
	}), 200)

	// A chunked upload out of order, with a piece sent twice.
	parts := []string{strings.Repeat("a", 1000), strings.Repeat("b", 1000), "tail"}
	for _, i := range []int{2, 0, 0} {
		want(t, s.upload(t, fmt.Sprintf("filename=invoice.pdf&chunk=%d&chunks=3", i), parts[i]), 202)
	}
	r = s.upload(t, "filename=invoice.pdf&chunk=1&chunks=3", parts[1])
	want(t, r, 201)
	var a1 attachmentBody
	r.json(t, &a1)
	whole := strings.Join(parts, "")
	if a1.Attachment.Size != int64(len(whole)) || a1.Attachment.Checksum != sum(whole) || a1.Attachment.ContentType != "application/pdf" ||
		a1.Attachment.Filename != "invoice.pdf" || !strings.HasPrefix(a1.Attachment.ID, "att_") {
		t.Fatalf("attachment %+v", a1.Attachment)
	}
	r = s.upload(t, "filename=notes.txt", "hello filedrop")
	want(t, r, 201)
	var a2 attachmentBody
	r.json(t, &a2)

	// Refusals: nothing is kept.
	bad := &sender{ts: ts, name: "invoices", key: "not-a-key-0123456789abcdef"}
	want(t, bad.upload(t, "filename=x.txt", "x"), 401)
	want(t, (&sender{ts: ts, name: "invoices"}).upload(t, "filename=x.txt", "x"), 401)
	want(t, s.upload(t, "filename=setup.exe", "MZ"), 422)
	want(t, s.upload(t, "filename=SETUP.EXE", "MZ"), 422)
	want(t, s.upload(t, "filename=big.bin", strings.Repeat("z", 1<<20+1)), 413)
	for _, name := range []string{"", "../x.txt", "a/b.txt", "..", "%00x.txt", "x%00.txt"} {
		want(t, s.upload(t, "filename="+name, "x"), 400)
	}
	holding, _ := filepath.Glob(filepath.Join(ts.dataDir, "files", ".filedrop-uploads", "invoices", "*", "*", "*"))
	if len(holding) != 2 {
		t.Fatalf("holding folder has %v, want the two attachments", holding)
	}

	// Delivery.
	want(t, s.deliver(t, `{"message":{"from":"not-an-email","attachments":["`+a1.Attachment.ID+`"]}}`), 422)
	want(t, s.deliver(t, `{"message":{"from":"p@partner.example","attachments":[]}}`), 422)
	want(t, s.deliver(t, `{"message":{"from":"p@partner.example","attachments":["att_forged"]}}`), 422)
	r = s.deliver(t, `{"message":{"from":"Pat@Partner.example","subject":"November","message":"Two files",
		"attachments":["`+a1.Attachment.ID+`","`+a2.Attachment.ID+`"]}}`)
	want(t, r, 201)
	var m messageBody
	r.json(t, &m)
	if m.Message.Sender != "Pat@Partner.example" || m.Message.Subject != "November" || len(m.Message.Files) != 2 ||
		strings.Join(m.Message.Recipients, ",") != ou.ID+","+cu.ID || !strings.HasPrefix(m.Message.Folder, "/users/"+ou.ID+"/filedrops/invoices/") ||
		!strings.HasSuffix(m.Message.Folder, "_pat-partner-example") {
		t.Fatalf("message %+v", m.Message)
	}
	exp, err := time.Parse(time.RFC3339, m.Message.ExpiresAt)
	if err != nil || exp.Sub(time.Now()) < 71*time.Hour || exp.Sub(time.Now()) > 73*time.Hour {
		t.Fatalf("expires_at %s, want in 3 days", m.Message.ExpiresAt)
	}
	// The files are in the owner's home, intact.
	folder := strings.TrimPrefix(m.Message.Folder, "/users/"+ou.ID)
	r = ts.do(t, "GET", "/api/files/content?path="+folder+"/invoice.pdf", ou.APIKey, "")
	want(t, r, 200)
	if r.body != whole {
		t.Fatalf("delivered invoice.pdf differs")
	}
	if data, err := os.ReadFile(filepath.Join(ts.dataDir, "files", "users", ou.ID, folder, "notes.txt")); err != nil || string(data) != "hello filedrop" {
		t.Fatalf("notes.txt: %q %v", data, err)
	}
	holding, _ = filepath.Glob(filepath.Join(ts.dataDir, "files", ".filedrop-uploads", "invoices", "*", "*", "*"))
	if len(holding) != 0 {
		t.Fatalf("holding folder still has %v", holding)
	}
	// The key is spent.
	want(t, s.upload(t, "filename=late.txt", "x"), 410)
	want(t, s.deliver(t, `{"message":{"from":"p@partner.example","attachments":["`+a1.Attachment.ID+`"]}}`), 410)

	// The recipients see the message, newest first, and download; others
	// (authorization 3) do not.
	for _, key := range []string{ou.APIKey, cu.APIKey} {
		r = ts.do(t, "GET", "/api/messages", key, "")
		want(t, r, 200)
		var list []messageBody
		r.json(t, &list)
		if len(list) != 1 || list[0].Message.ID != m.Message.ID {
			t.Fatalf("messages: %s", r.body)
		}
		r = ts.do(t, "GET", strings.TrimPrefix(m.Message.Files[1].URL, ts.URL()), key, "")
		want(t, r, 200)
		if r.body != "hello filedrop" {
			t.Fatalf("download %q", r.body)
		}
	}
	r = ts.do(t, "GET", "/api/messages", other.APIKey, "")
	want(t, r, 200)
	if strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("other user's messages: %s", r.body)
	}
	want(t, ts.do(t, "GET", "/api/messages/"+m.Message.ID, other.APIKey, ""), 404)
	want(t, ts.do(t, "GET", strings.TrimPrefix(m.Message.Files[0].URL, ts.URL()), other.APIKey, ""), 404)

	// The delivery fired filedrop.received.
	ts.audit.Flush()
	r = ts.do(t, "GET", "/admin/audit?event=filedrop.received", adminKey, "")
	want(t, r, 200)
	if !strings.Contains(r.body, m.Message.Folder) {
		t.Fatalf("audit: %s", r.body)
	}

	// An unused key expires after a day; the sweep then removes its
	// uploads, and a delivery past expires_after.
	_, late := ts.openFiledrop(t, "invoices", "open-sesame")
	want(t, late.upload(t, "filename=left.txt", "abandoned"), 201)
	ts.db.Now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	want(t, late.upload(t, "filename=more.txt", "x"), 410)
	ts.app.Filedrops.Now = func() time.Time { return time.Now().Add(4 * 24 * time.Hour) }
	if n, err := ts.app.Filedrops.Sweep(t.Context()); err != nil || n < 2 {
		t.Fatalf("sweep removed %d (%v)", n, err)
	}
	if _, err := os.Stat(filepath.Join(ts.dataDir, "files", "users", ou.ID, folder)); !os.IsNotExist(err) {
		t.Fatalf("expired delivery still on disk: %v", err)
	}
	holding, _ = filepath.Glob(filepath.Join(ts.dataDir, "files", ".filedrop-uploads", "invoices", "*"))
	if len(holding) != 0 {
		t.Fatalf("abandoned uploads still on disk: %v", holding)
	}
	want(t, ts.do(t, "GET", "/api/messages/"+m.Message.ID, ou.APIKey, ""), 404)
}
