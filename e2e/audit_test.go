package e2e

import (
	"encoding/csv"
	"strings"
	"testing"
	"time"
)

func TestAudit(t *testing.T) {
	ts := MustOpenServer(t)
	key := ts.createUser(t, `{"user":{"email":"a@example.com","password":"correct-horse"}}`).User.APIKey
	want(t, ts.put(t, key, "/in.csv", "x,y"), 201)
	want(t, ts.do(t, "GET", "/api/files/content?path=/in.csv", key, ""), 200)
	want(t, ts.do(t, "POST", "/api/files/rename", key, `{"from":"/in.csv","to":"/=cmd.csv"}`), 200)
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"a@example.com","password":"wrong-horse"}}`), 401)
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"email":"a@example.com","password":"correct-horse"}}`), 200)
	want(t, ts.do(t, "POST", "/api/login", "", `{"user":{"username":"=HYPERLINK(1)","password":"x"}}`), 401)
	if err := ts.audit.Flush(); err != nil {
		t.Fatal(err)
	}

	r := ts.do(t, "GET", "/admin/audit?user=a-example-com", adminKey, "")
	want(t, r, 200)
	for _, ev := range []string{"file.uploaded", "file.downloaded", "file.renamed", "user.login"} {
		if !strings.Contains(r.body, `"event":"`+ev+`"`) {
			t.Errorf("audit lacks %s: %s", ev, r.body)
		}
	}
	r = ts.do(t, "GET", "/admin/audit?event=user.login_failed", adminKey, "")
	if !strings.Contains(r.body, `"status":"denied"`) || !strings.Contains(r.body, `"ip":"127.0.0.1"`) || strings.Contains(r.body, "file.uploaded") {
		t.Fatalf("failed logins: %s", r.body)
	}
	r = ts.do(t, "GET", "/admin/audit?path=/users/a-example-com/in.csv&event=file.uploaded", adminKey, "")
	if !strings.Contains(r.body, `"size":3`) || !strings.Contains(r.body, `"sha256":"`) {
		t.Fatalf("path filter: %s", r.body)
	}
	// A trailing slash finds what the folder's path finds (found by
	// hardening II: it found nothing).
	for _, p := range []string{"/users/a-example-com/", "/users/a-example-com", "/users/a-example-com//"} {
		r = ts.do(t, "GET", "/admin/audit?event=file.uploaded&path="+p, adminKey, "")
		if !strings.Contains(r.body, `"size":3`) {
			t.Errorf("path filter %s: %s", p, r.body)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r = ts.do(t, "GET", "/admin/audit?from="+future, adminKey, "")
	if strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("from the future: %s", r.body)
	}
	r = ts.do(t, "GET", "/admin/audit?limit=2", adminKey, "")
	if !strings.Contains(r.header.Get("Link"), "after=") {
		t.Fatalf("no next page link: %v", r.header)
	}

	r = ts.do(t, "GET", "/admin/audit?format=csv&user=a-example-com", adminKey, "")
	want(t, r, 200)
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) < 5 || rows[0][0] != "id" || rows[0][2] != "event" {
		t.Fatalf("csv %v %v", rows, err)
	}
	r = ts.do(t, "GET", "/admin/audit?format=csv&event=user.login_failed", adminKey, "")
	if !strings.Contains(r.body, ",'=HYPERLINK(1),") || strings.Contains(r.body, ",=HYPERLINK") {
		t.Fatalf("csv lets a formula through: %s", r.body)
	}
	for q, status := range map[string]int{"from=yesterday": 400, "format=xml": 400, "limit=0": 400} {
		want(t, ts.do(t, "GET", "/admin/audit?"+q, adminKey, ""), status)
	}
	want(t, ts.do(t, "GET", "/admin/audit", key, ""), 403)
}
