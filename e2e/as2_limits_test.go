package e2e

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"depot/app"
	"depot/auth"
	"depot/internal/testpeer"
	"depot/mft"
)

// mdnCatcher is a partner's address for asynchronous receipts: it keeps
// what is posted to it.
type mdnCatcher struct {
	URL  string
	mu   sync.Mutex
	got  []capturedMDN
	done chan struct{}
}

type capturedMDN struct {
	header http.Header
	body   []byte
}

func newMDNCatcher(t *testing.T) *mdnCatcher {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c := &mdnCatcher{URL: "http://" + ln.Addr().String(), done: make(chan struct{}, 8)}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.got = append(c.got, capturedMDN{r.Header.Clone(), b})
		c.mu.Unlock()
		c.done <- struct{}{}
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return c
}

func TestAS2_AsyncReceipts(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1)
	ts := MustOpenServer(t)
	s := newAS2Setup(t, ts, "ACME")
	catcher := newMDNCatcher(t)
	want(t, ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":{"url":"`+catcher.URL+`/as2"}}`), 200)
	edi := []byte("ISA*00~\r\nIEA*1~\r\n")
	msg := s.peer.Build("async.x12", edi, testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert})

	// Receipt-Delivery-Option on the partner's own host: an empty 200,
	// then the signed MDN posted there.
	status, _, body := s.post(t, "ACME", "<async@acme.example>", msg, "-H", "Receipt-Delivery-Option: "+catcher.URL+"/mdn")
	if status != 200 || len(body) != 0 {
		t.Fatalf("async: %d %q", status, body)
	}
	<-catcher.done
	catcher.mu.Lock()
	got := catcher.got[0]
	catcher.mu.Unlock()
	if disp, mic := s.receipt(t, got.header, got.body); !strings.HasSuffix(disp, "; processed") || mic != msg.MIC {
		t.Fatalf("async MDN: %q %q, want processed and %q", disp, mic, msg.MIC)
	}
	if _, ok := s.stored(t, "async.x12"); !ok {
		t.Fatal("async.x12 was not stored")
	}

	// Any other address is refused: a message cannot make Depot post
	// where it likes.
	status, _, body = s.post(t, "ACME", "<elsewhere@acme.example>", msg, "-H", "Receipt-Delivery-Option: http://127.0.0.2:9/mdn")
	if status != 403 || !strings.Contains(string(body), "partner's own AS2 URL") {
		t.Fatalf("async to another host: %d %q", status, body)
	}
}

func TestAS2_ExpiredCertificateAndLimits(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1)
	later := time.Now().Add(72 * time.Hour)
	ts := MustOpenServer(t, func(a *app.App) {
		a.HTTP.AS2Settings.MaxMessage = 256 << 10
	})
	s := newAS2Setup(t, ts, "ACME")
	short := testpeer.NewAS2Peer(t, "SHORT", 1) // a certificate valid one day
	want(t, ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":{"certificate":`+jsonString(short.CertPEM)+`}}`), 200)
	edi := []byte("ISA*00~\r\nIEA*1~\r\n")

	// Three days on, the partner's certificate has expired: refused, and
	// the expiry check warns of it.
	ts.app.AS2.Now = func() time.Time { return later }
	st, h, b := s.post(t, "ACME", "<late@acme.example>", short.Build("late.x12", edi, testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert}))
	s.refusedAS2(t, st, h, b, "error: authentication-failed", "late.x12")
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventAS2Received && ev.Target == "<late@acme.example>" && !strings.Contains(ev.Message, "expired on") {
			t.Fatalf("the refusal says %q, not that the certificate expired", ev.Message)
		}
	}
	if n, err := ts.app.AS2.CheckExpiry(t.Context()); err != nil || n != 1 {
		t.Fatalf("CheckExpiry: %d %v, want 1 warning", n, err)
	}
	if n, _ := ts.app.AS2.CheckExpiry(t.Context()); n != 0 {
		t.Fatalf("a second check the same day warned again (%d)", n)
	}
	found := false
	for _, ev := range ts.events(t) {
		found = found || ev.Event == mft.EventAS2CertificateExpires && strings.Contains(ev.Message, "AS2 partner Acme")
	}
	if !found {
		t.Fatal("no as2.certificate.expiring event names the partner")
	}

	// A body over as2.max_message_mb: 413 with a message, nothing read.
	st, _, b = curlPost(t, ts.URL()+"/as2", bytes.Repeat([]byte("x"), 300<<10), "-H", "AS2-From: ACME", "-H", "AS2-To: DEPOT",
		"-H", "Message-ID: <big@acme.example>", "-H", "Content-Type: application/edi-x12")
	if st != 413 || !strings.Contains(string(b), "max_message_mb") {
		t.Fatalf("oversized: %d %s", st, b)
	}
	audited := false
	for _, ev := range ts.events(t) {
		audited = audited || ev.Event == mft.EventAS2Received && ev.Target == "<big@acme.example>" && ev.Status == mft.StatusDenied
	}
	if !audited {
		t.Fatal("the oversized message was not audited")
	}
}

func jsonString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// TestAS2_AutomationOnInboundUpload: an automation on file.uploaded with
// a protocol condition of as2 runs for what a partner sent by AS2, and
// not for a file uploaded by the API to the same folder.
func TestAS2_AutomationOnInboundUpload(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1)
	ts := MustOpenServer(t)
	s := newAS2Setup(t, ts, "ACME")
	id := ts.createAutomation(t, `{"automation":{"name":"as2 in","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"protocol","value":"as2"}],"actions":[{"type":"copy","to":"/archive/"}]}}`)
	r := ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"x","trigger":"event","events":["file.uploaded"],
		"conditions":[{"type":"protocol","value":"carrier-pigeon"}],"actions":[{"type":"delete"}]}}`)
	if r.status != 422 || !strings.Contains(r.errors(t)[0], "as2") {
		t.Fatalf("an unknown protocol: %d %s", r.status, r.body)
	}
	want(t, ts.do(t, "POST", "/api/folders", s.acme.User.APIKey, `{"path":"/in"}`), 201)
	want(t, ts.put(t, s.acme.User.APIKey, "/in/by-api.x12", "ISA~"), 201)
	msg := s.peer.Build("by-as2.x12", []byte("ISA*00~\r\n"), testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert})
	if st, _, b := s.post(t, "ACME", "<auto@acme.example>", msg); st != 200 {
		t.Fatalf("%d %s", st, b)
	}
	// The API upload's event came first: had it matched, its run would
	// have been queued before the AS2 one's.
	runs := ts.waitRuns(t, id, 1)
	if len(runs) != 1 || runs[0].Run.Status != "succeeded" {
		t.Fatalf("runs: %+v", runs)
	}
	if r := ts.do(t, "GET", "/api/files/content?path=/archive/by-as2.x12", adminKey, ""); r.status != 200 {
		t.Fatalf("the AS2 file was not copied: %d %s", r.status, r.body)
	}
	if r := ts.do(t, "GET", "/api/files/content?path=/archive/by-api.x12", adminKey, ""); r.status != 404 {
		t.Fatalf("the API upload ran the AS2 automation: %d", r.status)
	}
}

// TestAS2_OwnRateLimit: the AS2 routes have an allowance per sender
// address of their own (as2.rate_limit, as2.rate_burst): past it, 429
// with Retry-After, while the API's allowance is untouched.
func TestAS2_OwnRateLimit(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1)
	ts := MustOpenServer(t, func(a *app.App) { a.HTTP.AS2Settings.Limiter = auth.NewRateLimiter(0.001, 2) })
	for i := range 3 {
		st, h, b := curlPost(t, ts.URL()+"/as2", []byte("x"), "-H", "Content-Type: text/plain")
		switch {
		case i < 2 && st != 400:
			t.Fatalf("message %d: %d %s", i, st, b)
		case i == 2 && (st != 429 || h.Get("Retry-After") == "" || !strings.Contains(string(b), "AS2")):
			t.Fatalf("past the burst: %d %v %s", st, h, b)
		}
	}
	want(t, ts.do(t, "GET", "/admin/as2/partners", adminKey, ""), 200)
}

// TestAS2_HostileHeaders: over-long AS2 ids and Message-IDs are refused
// before anything is opened or recorded.
func TestAS2_HostileHeaders(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1)
	ts := MustOpenServer(t)
	newAS2Setup(t, ts, "ACME")
	long := strings.Repeat("A", 200)
	for _, h := range [][]string{{"AS2-From: " + long, "AS2-To: DEPOT", "Message-ID: <1@a>"},
		{"AS2-From: ACME", "AS2-To: DEPOT", "Message-ID: <" + strings.Repeat("x", 2000) + "@a>"},
		{"AS2-From: AC\"ME", "AS2-To: DEPOT", "Message-ID: <2@a>"}} {
		args := []string{"-H", "Content-Type: text/plain"}
		for _, v := range h {
			args = append(args, "-H", v)
		}
		st, _, b := curlPost(t, ts.URL()+"/as2", []byte("x"), args...)
		if st != 400 || !strings.Contains(string(b), "AS2 ids") {
			t.Fatalf("%v: %d %s", h, st, b)
		}
	}
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventAS2Received {
			t.Fatalf("a refused header was recorded: %+v", ev)
		}
	}
}
