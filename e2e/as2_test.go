package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"depot/internal/testpeer"
	"depot/internal/testtool"
	"depot/mft"
)

// as2Setup is a station (DEPOT) and a partner (ACME, played by
// openssl) whose files go to /in of user acme.
type as2Setup struct {
	ts          *testServer
	peer        *testpeer.AS2Peer
	stationCert string // file
	partnerID   string
	acme        userBody
}

func newAS2Setup(t *testing.T, ts *testServer, partner string) *as2Setup {
	t.Helper()
	r := ts.do(t, "PUT", "/admin/as2/station", adminKey, `{"station":{"as2_id":"DEPOT","generate":true}}`)
	want(t, r, 200)
	var st struct {
		Station struct {
			Certificate string `json:"certificate"`
			PrivateKey  string `json:"private_key"`
		} `json:"station"`
	}
	r.json(t, &st)
	if st.Station.PrivateKey != mft.SecretMarker || !strings.Contains(st.Station.Certificate, "BEGIN CERTIFICATE") {
		t.Fatalf("station: %s", r.body)
	}
	s := &as2Setup{ts: ts, peer: testpeer.NewAS2Peer(t, "ACME", 365)}
	s.stationCert = s.peer.File("station.crt", []byte(st.Station.Certificate))
	s.acme = ts.createUser(t, `{"user":{"username":"acme","quota_mb":1}}`)
	body, _ := json.Marshal(map[string]any{"partner": map[string]any{"name": "Acme", "as2_id": partner,
		"certificate": s.peer.CertPEM, "user": s.acme.User.ID, "folder": "/in"}})
	r = ts.do(t, "POST", "/admin/as2/partners", adminKey, string(body))
	want(t, r, 201)
	var p struct {
		Partner struct {
			ID string `json:"id"`
		} `json:"partner"`
	}
	r.json(t, &p)
	s.partnerID = p.Partner.ID
	return s
}

// post sends msg as partner from to the station with curl, asking for a
// signed synchronous receipt, and returns the answer's headers and body.
func (s *as2Setup) post(t *testing.T, from, messageID string, msg testpeer.Message, extra ...string) (int, http.Header, []byte) {
	t.Helper()
	args := []string{"-H", "AS2-Version: 1.2", "-H", "AS2-From: " + from, "-H", "AS2-To: DEPOT",
		"-H", "Message-ID: " + messageID, "-H", "Content-Type: " + msg.ContentType,
		"-H", "Disposition-Notification-To: edi@acme.example",
		"-H", "Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; signed-receipt-micalg=optional, " + msg.MICAlg}
	if msg.Disposition != "" {
		args = append(args, "-H", "Content-Disposition: "+msg.Disposition)
	}
	return curlPost(t, s.ts.URL()+"/as2", msg.Body, append(args, extra...)...)
}

// curlPost posts body with curl and the header arguments, and returns
// the status, headers and body of the answer.
func curlPost(t *testing.T, url string, body []byte, args ...string) (int, http.Header, []byte) {
	t.Helper()
	dir := t.TempDir()
	in, head, out := filepath.Join(dir, "body"), filepath.Join(dir, "head"), filepath.Join(dir, "out")
	os.WriteFile(in, body, 0o600)
	cmd := exec.Command(testtool.Path(t, "curl"), append([]string{"-sS", "-o", out, "-D", head, "-w", "%{http_code}", "--data-binary", "@" + in, url}, args...)...)
	code, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v", cmd, err)
	}
	h := http.Header{}
	raw, _ := os.ReadFile(head)
	for _, line := range strings.Split(string(raw), "\r\n")[1:] {
		if k, v, ok := strings.Cut(line, ":"); ok {
			h.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	got, _ := os.ReadFile(out)
	var status int
	fmt.Sscan(string(code), &status)
	return status, h, got
}

// receipt verifies a signed MDN with openssl against the station's
// certificate and returns its disposition and MIC.
func (s *as2Setup) receipt(t *testing.T, h http.Header, body []byte) (disposition, mic string) {
	t.Helper()
	if !strings.HasPrefix(h.Get("Content-Type"), "multipart/signed") {
		t.Fatalf("the MDN is not signed: %s\n%s", h.Get("Content-Type"), body)
	}
	if h.Get("AS2-From") != "DEPOT" || h.Get("AS2-To") == "" {
		t.Fatalf("MDN headers: %v", h)
	}
	report := s.peer.VerifyMDN(h.Get("Content-Type"), body, s.stationCert)
	return testpeer.MDNField(report, "Disposition"), testpeer.MDNField(report, "Received-Content-MIC")
}

func (s *as2Setup) stored(t *testing.T, name string) (string, bool) {
	t.Helper()
	r := s.ts.do(t, "GET", "/api/files/content?path=/in/"+name, s.acme.User.APIKey, "")
	return r.body, r.status == 200
}

func TestAS2_InboundFromOpenSSL(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1) // openssl is there, or the test ends here
	ts := MustOpenServer(t)
	s := newAS2Setup(t, ts, "ACME")
	edi := []byte("ISA*00*          *00*          *ZZ*ACME           *ZZ*DEPOT          *261207*0430*U*00401*000000001*0*P*>~\r\nIEA*1*000000001~\r\n")
	for i, c := range []struct {
		name string
		o    testpeer.AS2Options
	}{
		{"signed+encrypted, sha-256, aes256", testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert}},
		{"signed+encrypted, sha1, aes128", testpeer.AS2Options{Sign: "sha1", EncryptFor: s.stationCert, Cipher: "aes128"}},
		{"signed+encrypted, 3des", testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert, Cipher: "des3"}},
		{"signed+encrypted, aes-256-gcm", testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert, Cipher: "aes-256-gcm"}},
		{"signed+encrypted, aes-128-gcm", testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert, Cipher: "aes-128-gcm"}},
		{"compressed+signed+encrypted", testpeer.AS2Options{Sign: "sha256", Compress: true, EncryptFor: s.stationCert}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf("po-%d.x12", i)
			msg := s.peer.Build(name, edi, c.o)
			status, h, body := s.post(t, "ACME", fmt.Sprintf("<msg-%d@acme.example>", i), msg)
			if status != 200 {
				t.Fatalf("status %d: %s", status, body)
			}
			disp, mic := s.receipt(t, h, body)
			if !strings.HasSuffix(disp, "; processed") || mic != msg.MIC {
				t.Fatalf("disposition %q, MIC %q; want processed and %q\n%s", disp, mic, msg.MIC,
					ts.do(t, "GET", "/admin/as2/messages", adminKey, "").body)
			}
			if got, ok := s.stored(t, name); !ok || got != string(edi) {
				t.Fatalf("/in/%s: %v %q", name, ok, got)
			}
		})
	}
	// Each alone, once the partner allows it: signed only, encrypted
	// only, compressed only.
	r := ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":{"require_signed":false,"require_encrypted":false}}`)
	want(t, r, 200)
	for i, o := range []testpeer.AS2Options{{Sign: "sha256"}, {EncryptFor: s.stationCert}, {Compress: true}, {}} {
		name := fmt.Sprintf("alone-%d.x12", i)
		msg := s.peer.Build(name, edi, o)
		status, h, body := s.post(t, "ACME", fmt.Sprintf("<alone-%d@acme.example>", i), msg)
		if status != 200 {
			t.Fatalf("%+v: status %d: %s", o, status, body)
		}
		if disp, mic := s.receipt(t, h, body); !strings.HasSuffix(disp, "; processed") || mic != msg.MIC {
			t.Fatalf("%+v: disposition %q, MIC %q; want processed and %q", o, disp, mic, msg.MIC)
		}
		if got, ok := s.stored(t, name); !ok || got != string(edi) {
			t.Fatalf("/in/%s: %v %q", name, ok, got)
		}
	}
	// Binary content that ends in CR, which openssl's bare-LF MIME leaves
	// next to the delimiter's line end: stored exactly.
	bin := []byte("\x00\xffbinary\r\nrecord\r")
	msg := s.peer.Build("cr.bin", bin, testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert})
	if status, h, body := s.post(t, "ACME", "<cr@acme.example>", msg); status != 200 {
		t.Fatalf("cr.bin: %d %s", status, body)
	} else if disp, mic := s.receipt(t, h, body); !strings.HasSuffix(disp, "; processed") || mic != msg.MIC {
		t.Fatalf("cr.bin: %q %q", disp, mic)
	}
	if got, ok := s.stored(t, "cr.bin"); !ok || got != string(bin) {
		t.Fatalf("cr.bin stored as %q", got)
	}
	// What arrived is listed, and audited as as2 with the upload's event.
	r = ts.do(t, "GET", "/admin/as2/messages?direction=in&partner="+s.partnerID, adminKey, "")
	want(t, r, 200)
	if n := strings.Count(r.body, `"status":"processed"`); n != 11 {
		t.Fatalf("messages listed as processed: %d, want 11: %s", n, r.body)
	}
	uploads := 0
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventFileUploaded && ev.Protocol == mft.AuditAS2 && strings.HasPrefix(ev.Path, "/users/acme/in/") {
			uploads++
		}
	}
	if uploads != 11 {
		t.Fatalf("file.uploaded events with protocol as2: %d, want 11", uploads)
	}
}

// refusedAS2 checks a refusal: a signed MDN whose disposition names the
// error kind, nothing stored under name, as2.received audited denied.
func (s *as2Setup) refusedAS2(t *testing.T, status int, h http.Header, body []byte, kind, name string) {
	t.Helper()
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var disp string
	if strings.HasPrefix(h.Get("Content-Type"), "multipart/signed") {
		disp, _ = s.receipt(t, h, body)
	} else {
		disp = testpeer.MDNField(body, "Disposition")
	}
	if !strings.Contains(disp, "processed/"+kind) {
		t.Fatalf("disposition %q, want processed/%s", disp, kind)
	}
	if _, ok := s.stored(t, name); ok {
		t.Fatalf("/in/%s was stored", name)
	}
}

func TestAS2_InboundRefusals(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1)
	ts := MustOpenServer(t)
	s := newAS2Setup(t, ts, "ACME")
	edi := []byte("UNA:+.? 'UNB+UNOC:3+ACME+DEPOT'\r\n")
	good := testpeer.AS2Options{Sign: "sha256", EncryptFor: s.stationCert}

	// Signed with a key that is not the partner's.
	stranger := testpeer.NewAS2Peer(t, "ACME", 365)
	st, h, b := s.post(t, "ACME", "<forged@acme.example>", stranger.Build("forged.x12", edi, good))
	s.refusedAS2(t, st, h, b, "error: authentication-failed", "forged.x12")

	// Tampered: a byte of the signed content changed after signing.
	msg := s.peer.Build("tampered.x12", edi, testpeer.AS2Options{Sign: "sha256"})
	msg.Body = bytes.Replace(msg.Body, []byte("UNOC"), []byte("UNOD"), 1)
	r := ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":{"require_encrypted":false}}`)
	want(t, r, 200)
	st, h, b = s.post(t, "ACME", "<tampered@acme.example>", msg)
	s.refusedAS2(t, st, h, b, "error: authentication-failed", "tampered.x12")

	// Unsigned when the partner must sign.
	st, h, b = s.post(t, "ACME", "<unsigned@acme.example>", s.peer.Build("unsigned.x12", edi, testpeer.AS2Options{EncryptFor: s.stationCert}))
	s.refusedAS2(t, st, h, b, "error: insufficient-message-security", "unsigned.x12")

	// Encrypted for another certificate.
	st, h, b = s.post(t, "ACME", "<wrongkey@acme.example>", s.peer.Build("wrongkey.x12", edi, testpeer.AS2Options{Sign: "sha256", EncryptFor: stranger.Cert}))
	s.refusedAS2(t, st, h, b, "error: decryption-failed", "wrongkey.x12")

	// An AS2 id that is no partner: an unsigned receipt, nothing stored.
	st, h, b = s.post(t, "NOBODY", "<nobody@acme.example>", s.peer.Build("nobody.x12", edi, good))
	s.refusedAS2(t, st, h, b, "error: unknown-trading-partnership", "nobody.x12")

	// A Message-ID received before: refused as a duplicate, not stored again.
	st, h, b = s.post(t, "ACME", "<once@acme.example>", s.peer.Build("once.x12", edi, good))
	if disp, _ := s.receipt(t, h, b); st != 200 || !strings.HasSuffix(disp, "; processed") {
		t.Fatalf("first delivery: %d %q", st, disp)
	}
	ts.do(t, "DELETE", "/api/files?path=/in/once.x12", s.acme.User.APIKey, "")
	st, h, b = s.post(t, "ACME", "<once@acme.example>", s.peer.Build("once.x12", edi, good))
	s.refusedAS2(t, st, h, b, "warning: duplicate-document", "once.x12")

	// Over the user's quota (1 MiB): refused with the reason.
	big := bytes.Repeat([]byte("X"), 1<<20+1)
	st, h, b = s.post(t, "ACME", "<big@acme.example>", s.peer.Build("big.x12", big, good))
	s.refusedAS2(t, st, h, b, "error: unexpected-processing-error", "big.x12")

	// A sender that is no partner is audited, not kept in the message list.
	if r := ts.do(t, "GET", "/admin/as2/messages", adminKey, ""); strings.Contains(r.body, "nobody@acme.example") {
		t.Fatalf("a stranger's message is kept: %s", r.body)
	}
	// Every refusal is audited denied with its reason.
	denied := map[string]string{}
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventAS2Received && ev.Status == mft.StatusDenied {
			denied[ev.Target] = ev.Message
		}
	}
	for id, words := range map[string]string{"<forged@acme.example>": "does not verify", "<tampered@acme.example>": "does not verify",
		"<unsigned@acme.example>": "must be signed", "<wrongkey@acme.example>": "cannot be decrypted",
		"<nobody@acme.example>": "not an active partner", "<once@acme.example>": "received before", "<big@acme.example>": "quota"} {
		if !strings.Contains(denied[id], words) {
			t.Errorf("audit of %s: %q, want it to say %q", id, denied[id], words)
		}
	}

	// No AS2 headers: 400 with a message; a body over the cap: 413.
	st, _, b = curlPost(t, ts.URL()+"/as2", []byte("hello"), "-H", "Content-Type: text/plain")
	if st != 400 || !strings.Contains(string(b), "AS2-From") {
		t.Fatalf("no headers: %d %s", st, b)
	}
}
