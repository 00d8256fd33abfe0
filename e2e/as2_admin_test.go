package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"depot/internal/testpeer"
	"depot/mft"
)

func TestAS2_AdminRefusals(t *testing.T) {
	peer := testpeer.NewAS2Peer(t, "ACME", 30)
	ts := MustOpenServer(t)
	// Before a station exists: 404 with a message saying what to do; the
	// receiving route answers 503.
	r := ts.do(t, "GET", "/admin/as2/station", adminKey, "")
	if r.status != 404 || !strings.Contains(r.errors(t)[0], "PUT /admin/as2/station") {
		t.Fatalf("no station: %d %s", r.status, r.body)
	}
	st, _, b := curlPost(t, ts.URL()+"/as2", []byte("x"), "-H", "AS2-From: A", "-H", "AS2-To: B", "-H", "Message-ID: <1@a>")
	if st != 503 || !strings.Contains(string(b), "no AS2 station") {
		t.Fatalf("no station, a message: %d %s", st, b)
	}
	// Not an administrator: 403.
	joe := ts.createUser(t, `{"user":{"username":"joe"}}`)
	want(t, ts.do(t, "GET", "/admin/as2/partners", joe.User.APIKey, ""), 403)

	key := strings.TrimSpace(string(peer.Run("pkey", "-in", peer.Key)))
	other := testpeer.NewAS2Peer(t, "OTHER", 30)
	for _, c := range []struct{ body, words string }{
		{`{"station":{"as2_id":""}}`, "as2_id"},
		{`{"station":{"as2_id":"DEPOT"}}`, "needs a key"},
		{`{"station":{"as2_id":"DE\"POT","generate":true}}`, "as2_id"},
		{`{"station":{"as2_id":"DEPOT","generate":"yes"}}`, "generate"},
		{`{"station":{"as2_id":"DEPOT","generate":true,"days":99999}}`, "days"},
		{`{"station":{"as2_id":"DEPOT","certificate":` + jsonString(peer.CertPEM) + `}}`, "together"},
		{`{"station":{"as2_id":"DEPOT","certificate":"hello","private_key":"x"}}`, "PEM"},
		{`{"station":{"as2_id":"DEPOT","certificate":` + jsonString(other.CertPEM) + `,"private_key":` + jsonString(key) + `}}`, "not the key"},
		{`{"station":{"as2_id":"DEPOT","generate":true,"certificate_info":{}}}`, "set by the server"},
	} {
		r := ts.do(t, "PUT", "/admin/as2/station", adminKey, c.body)
		if r.status/100 != 4 || !strings.Contains(strings.Join(r.errors(t), " "), c.words) {
			t.Errorf("%s: %d %s, want a 4xx naming %q", c.body, r.status, r.body, c.words)
		}
	}
	// An uploaded key and certificate: the key is never shown.
	r = ts.do(t, "PUT", "/admin/as2/station", adminKey, `{"station":{"as2_id":"DEPOT","certificate":`+jsonString(peer.CertPEM)+`,"private_key":`+jsonString(key)+`}}`)
	want(t, r, 200)
	if strings.Contains(r.body, "PRIVATE KEY") || !strings.Contains(r.body, `"private_key":"(set)"`) || !strings.Contains(r.body, `"subject":"CN=ACME"`) {
		t.Fatalf("station: %s", r.body)
	}
	for _, ev := range ts.events(t) {
		if b, _ := json.Marshal(ev); strings.Contains(string(b), "PRIVATE KEY") {
			t.Fatalf("the audit log holds the key: %s", b)
		}
	}

	acme := ts.createUser(t, `{"user":{"username":"acme"}}`)
	good := map[string]any{"name": "Acme", "as2_id": "ACME", "certificate": peer.CertPEM, "user": acme.User.ID, "folder": "/in"}
	with := func(k string, v any) string {
		m := map[string]any{}
		for a, b := range good {
			m[a] = b
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		b, _ := json.Marshal(map[string]any{"partner": m})
		return string(b)
	}
	for _, c := range []struct{ body, words string }{
		{with("name", nil), "name"},
		{with("as2_id", ""), "as2_id"},
		{with("as2_id", strings.Repeat("A", 200)), "as2_id"},
		{with("certificate", "nope"), "certificate"},
		{with("certificate", nil), "certificate"},
		{with("user", "ghost"), "ghost"},
		{with("folder", "in"), "folder"},
		{with("folder", "/in\x00x"), ""},
		{with("encryption", "des"), "encryption"},
		{with("mic", "md5"), "mic"},
		{with("mdn", "sometimes"), "mdn"},
		{with("url", "ftp://x"), "url"},
		{with("url", "https://user:pw@x/as2"), "url"},
		{with("sign", "yes"), "sign"},
		{with("active", nil) + "x", ""},
		{`{"partner":null}`, ""},
		{`[]`, ""},
	} {
		r := ts.do(t, "POST", "/admin/as2/partners", adminKey, c.body)
		if r.status/100 != 4 || !strings.Contains(strings.Join(r.errors(t), " "), c.words) {
			t.Errorf("%s: %d %s, want a 4xx naming %q", c.body, r.status, r.body, c.words)
		}
	}
	r = ts.do(t, "GET", "/admin/as2/partners", adminKey, "")
	if r.body != "[]\n" {
		t.Fatalf("a refused partner was stored: %s", r.body)
	}
	r = ts.do(t, "POST", "/admin/as2/partners", adminKey, with("active", nil))
	want(t, r, 201)
	p := ts.fieldsOf(t, r, "partner")
	if p["encryption"] != "aes256-cbc" || p["mic"] != "sha256" || p["mdn"] != "sync" || p["require_signed"] != true || p["active"] != true {
		t.Fatalf("defaults: %v", p)
	}
	// The same AS2 id twice: 409.
	want(t, ts.do(t, "POST", "/admin/as2/partners", adminKey, with("name", "Acme again")), 409)
	// Read-only fields sent changed: 422; a partner read and sent back: 200.
	id := p["id"].(string)
	want(t, ts.do(t, "PATCH", "/admin/as2/partners/"+id, adminKey, `{"partner":{"id":"other"}}`), 422)
	got := ts.do(t, "GET", "/admin/as2/partners/"+id, adminKey, "")
	want(t, ts.do(t, "PUT", "/admin/as2/partners/"+id, adminKey, got.body), 200)
	// Messages: a bad direction is 422.
	want(t, ts.do(t, "GET", "/admin/as2/messages?direction=sideways", adminKey, ""), 422)
	want(t, ts.do(t, "DELETE", "/admin/as2/partners/"+id, adminKey, ""), 200)
	want(t, ts.do(t, "DELETE", "/admin/as2/partners/"+id, adminKey, ""), 404)
	n := 0
	for _, ev := range ts.events(t) {
		if strings.HasPrefix(ev.Event, "as2.partner.") && ev.Target == id && ev.Status == mft.StatusOK {
			n++
		}
	}
	if n != 3 {
		t.Fatalf("partner change events: %d, want 3 (created, updated, deleted)", n)
	}
}
