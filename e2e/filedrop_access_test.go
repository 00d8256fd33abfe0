package e2e

import (
	"depot/app"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestFiledrops_Authorization2(t *testing.T) {
	ts := MustOpenServer(t)
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	other := ts.createUser(t, `{"user":{"email":"other@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"open","title":"Open","owner":"`+ou.ID+`","authorization":2}}`), 201)
	r, s := ts.openFiledrop(t, "open", "")
	want(t, r, 200)
	r = s.upload(t, "filename=a.txt", "shared")
	want(t, r, 201)
	var a attachmentBody
	r.json(t, &a)
	r = s.deliver(t, `{"message":{"from":"p@partner.example","attachments":["`+a.Attachment.ID+`"]}}`)
	want(t, r, 201)
	var m messageBody
	r.json(t, &m)
	// Not in the other user's list, but theirs to download with the id.
	r = ts.do(t, "GET", "/api/messages", other.APIKey, "")
	if strings.TrimSpace(r.body) != "[]" {
		t.Fatalf("list: %s", r.body)
	}
	r = ts.do(t, "GET", strings.TrimPrefix(m.Message.Files[0].URL, ts.URL()), other.APIKey, "")
	want(t, r, 200)
	if r.body != "shared" {
		t.Fatalf("download %q", r.body)
	}
}

func TestFiledrops_Page(t *testing.T) {
	ts := MustOpenServer(t)
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"page","title":"Send us <files>","description":"Hi & welcome",
		"owner":"`+ou.ID+`","accepted_filetypes":"pdf"}}`), 201)
	r := ts.doWith(t, "GET", "/filedrop/page", "", func(r *http.Request) { r.Header.Set("Accept", "text/html") })
	want(t, r, 200)
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Fatalf("CSP %q", csp)
	}
	for _, s := range []string{"Send us &lt;files&gt;", "Hi &amp; welcome", `data-accepted="pdf"`, `src="/assets/filedrop.js"`} {
		if !strings.Contains(r.body, s) {
			t.Fatalf("page lacks %q", s)
		}
	}
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, "style=") {
		t.Fatal("page has inline script or style")
	}
	r = ts.do(t, "GET", "/assets/filedrop.js", "", "")
	want(t, r, 200)
	if !strings.Contains(r.header.Get("Content-Type"), "javascript") || !strings.Contains(r.body, "attachments/upload") {
		t.Fatalf("script: %s %.80s", r.header.Get("Content-Type"), r.body)
	}
	want(t, ts.do(t, "GET", "/assets/../server.go", "", ""), 404)
}

// A delivery that does not fit the owner's quota moves nothing and can be
// sent again once there is room.
func TestFiledrops_DeliveryOverQuota(t *testing.T) {
	ts := MustOpenServer(t)
	ou := ts.createUser(t, `{"user":{"email":"small@example.com","quota_mb":1}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"tight","title":"Tight","owner":"`+ou.ID+`"}}`), 201)
	_, s := ts.openFiledrop(t, "tight", "")
	var ids []string
	for _, name := range []string{"a.bin", "b.bin"} {
		r := s.upload(t, "filename="+name, strings.Repeat("z", 600<<10))
		want(t, r, 201)
		var a attachmentBody
		r.json(t, &a)
		ids = append(ids, `"`+a.Attachment.ID+`"`)
	}
	body := `{"message":{"from":"p@partner.example","attachments":[` + strings.Join(ids, ",") + `]}}`
	r := s.deliver(t, body)
	want(t, r, 507)
	if !strings.Contains(r.errors(t)[0], "nothing was delivered") {
		t.Fatalf("message %s", r.body)
	}
	if got, _ := filepath.Glob(filepath.Join(ts.dataDir, "files", "users", ou.ID, "filedrops", "tight", "*", "*")); len(got) != 0 {
		t.Fatalf("files moved: %v", got)
	}
	want(t, ts.do(t, "PUT", "/admin/users/"+ou.ID, adminKey, `{"user":{"quota_mb":10}}`), 200)
	want(t, s.deliver(t, body), 201)
}

// What anonymous senders hold on a filedrop before delivering is bounded:
// filedrop.holding_files_per_address (2) times max_filesize from one
// address, however many upload keys it takes, pieces of chunked uploads
// included, and holding_files (10) times from all addresses together;
// beyond either, 507 with a sentence. Found by hardening II: 24 keys took
// 64 × 100 MiB, 6.7 GB in 63 s, from one anonymous address.
func TestFiledrops_HoldingBounded(t *testing.T) {
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.TrustedProxies = []netipPrefix{mustPrefix("127.0.0.1/32")} })
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"drop","title":"Drop","owner":"`+ou.ID+`","max_filesize":1}}`), 201)
	mb := strings.Repeat("m", 1<<20)
	from := func(addr string) *sender {
		r := ts.doWith(t, "GET", "/filedrop/drop", "", func(r *http.Request) {
			r.Header.Set("Accept", "application/json")
			r.Header.Set("X-Forwarded-For", addr)
		})
		want(t, r, 200)
		var f filedropBody
		r.json(t, &f)
		return &sender{ts: ts, name: "drop", key: f.Filedrop.APIKey}
	}
	upload := func(s *sender, addr, query, body string) response {
		return ts.doWith(t, "POST", "/filedrop/drop/attachments/upload?"+query, body, func(r *http.Request) {
			r.Header.Set("Content-Type", "application/octet-stream")
			r.Header.Set("Authorization", "Bearer "+s.key)
			r.Header.Set("X-Forwarded-For", addr)
		})
	}
	// One address: two files of 1 MB, with two keys; a third key's file,
	// or a piece of one, does not fit.
	want(t, upload(from("192.0.2.1"), "192.0.2.1", "filename=a.bin", mb), 201)
	want(t, upload(from("192.0.2.1"), "192.0.2.1", "filename=b.bin", mb), 201)
	third := from("192.0.2.1")
	r := upload(third, "192.0.2.1", "filename=c.bin", mb)
	want(t, r, 507)
	if len(r.errors(t)) == 0 {
		t.Fatal("507 without a sentence")
	}
	want(t, upload(third, "192.0.2.1", "filename=d.bin&chunk=0&chunks=2", strings.Repeat("p", 512<<10)), 507)
	// One IPv6 host is its /64.
	want(t, upload(from("2001:db8::1"), "2001:db8::1", "filename=a.bin", mb), 201)
	want(t, upload(from("2001:db8::2"), "2001:db8::2", "filename=b.bin", mb), 201)
	want(t, upload(from("2001:db8::3"), "2001:db8::3", "filename=c.bin", mb), 507)
	// All addresses: 10 MB; 4 MB are held, so three more addresses fill
	// it and the next is refused.
	for i := 2; i <= 4; i++ {
		addr := fmt.Sprintf("192.0.2.%d", i)
		want(t, upload(from(addr), addr, "filename=a.bin", mb), 201)
		want(t, upload(from(addr), addr, "filename=b.bin", mb), 201)
	}
	want(t, upload(from("192.0.2.9"), "192.0.2.9", "filename=a.bin", mb), 507)
	if held := treeSize(t, filepath.Join(ts.dataDir, "files", ".filedrop-uploads")); held > 10<<20 {
		t.Errorf("%d bytes held for a filedrop bounded at 10 MB", held)
	}
}
