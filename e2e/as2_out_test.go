package e2e

import (
	"strings"
	"testing"

	"depot/internal/testpeer"
	"depot/mft"
)

// TestAS2_OutboundToOpenSSL sends files to a partner played by openssl
// through an as2 connection: the connection's test, and an automation's
// upload action, each checked on the peer's side (openssl decrypts and
// verifies) and on Depot's (the MDN's signature and MIC, the message
// list); then receipts that must fail the step.
func TestAS2_OutboundToOpenSSL(t *testing.T) {
	testpeer.NewAS2Peer(t, "probe", 1)
	ts := MustOpenServer(t)
	s := newAS2Setup(t, ts, "ACME")
	peer := s.peer.NewAS2Receiver(t, s.stationCert)
	r := ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":{"url":"`+peer.URL+`"}}`)
	want(t, r, 200)
	r = ts.do(t, "POST", "/admin/connections", adminKey, `{"connection":{"name":"acme-as2","type":"as2","as2_partner":"`+s.partnerID+`"}}`)
	want(t, r, 201)
	conn := ts.fieldsOf(t, r, "connection")["id"].(string)

	// The connection's test sends a small message and checks its MDN.
	r = ts.do(t, "POST", "/admin/connections/"+conn+"/test", adminKey, "")
	want(t, r, 200)
	if got, errs := peer.Received(); len(got) != 1 || !got[0].Signed || !got[0].Encrypted || len(errs) > 0 ||
		!strings.Contains(string(got[0].Entity), "Depot AS2 connection test") {
		t.Fatalf("the peer got %+v, errors %v", got, errs)
	}

	// An automation's upload action sends a file as the partner asks.
	id := ts.createAutomation(t, `{"automation":{"name":"send","trigger":"manual","retry":{"attempts":1},
		"actions":[{"type":"upload","connection":"`+conn+`","to":"/","keep_original":true}]}}`)
	edi := "ISA*00*          *00*          *ZZ*DEPOT*ZZ*ACME~\r\nIEA*1*000000001~\r\n"
	want(t, ts.do(t, "PUT", "/api/files/content?path=/po.x12", adminKey, edi), 201)
	send := func(t *testing.T) runBody {
		t.Helper()
		n := len(ts.runs(t, id))
		want(t, ts.do(t, "POST", "/admin/automations/"+id+"/run", adminKey, `{"path":"/po.x12"}`), 202)
		return ts.waitRuns(t, id, n+1)[0]
	}
	for _, c := range []struct {
		name  string
		patch string
	}{
		{"signed+encrypted, sync MDN", `{}`},
		{"compressed+signed+encrypted", `{"compress":true}`},
		{"asynchronous MDN", `{"compress":false,"mdn":"async"}`},
		{"AES-128-GCM", `{"mdn":"sync","encryption":"aes128-gcm"}`},
		{"AES-256-GCM, compressed", `{"encryption":"aes256-gcm","compress":true}`},
		{"signed only", `{"compress":false,"encrypt":false}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			want(t, ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":`+c.patch+`}`), 200)
			before, _ := peer.Received()
			run := send(t)
			got, errs := peer.Received()
			if run.Run.Status != "succeeded" || len(got) != len(before)+1 || len(errs) > 0 {
				t.Fatalf("run %s %q; the peer got %d, errors %v", run.Run.Status, run.Run.Error, len(got)-len(before), errs)
			}
			if last := got[len(got)-1]; !strings.HasSuffix(string(last.Entity), edi) || !strings.Contains(string(last.Entity), `filename="po.x12"`) {
				t.Fatalf("the peer opened %q", last.Entity)
			}
		})
	}
	r = ts.do(t, "GET", "/admin/as2/messages?direction=out", adminKey, "")
	want(t, r, 200)
	if n := strings.Count(r.body, `"status":"processed"`); n != 7 {
		t.Fatalf("processed outbound messages: %d, want 7: %s", n, r.body)
	}

	// Receipts that fail the step, each with its reason.
	want(t, ts.do(t, "PATCH", "/admin/as2/partners/"+s.partnerID, adminKey, `{"partner":{"encrypt":true,"encryption":"aes256-cbc"}}`), 200)
	for _, c := range []struct {
		name   string
		set    func()
		reason string
	}{
		{"negative disposition", func() { peer.Disposition = "processed/error: decryption-failed" }, "decryption-failed"},
		{"wrong MIC", func() { peer.WrongMIC = true }, "is not the MIC of what was sent"},
		{"unsigned MDN", func() { peer.Unsigned = true }, "not signed"},
		{"no MDN", func() { peer.NoMDN = true }, "its receipt cannot be read"},
	} {
		t.Run(c.name, func(t *testing.T) {
			peer.Disposition, peer.WrongMIC, peer.Unsigned, peer.NoMDN = "", false, false, false
			c.set()
			run := send(t)
			if run.Run.Status != "failed" || !strings.Contains(run.Run.Error, c.reason) {
				t.Fatalf("run %s %q, want failed saying %q", run.Run.Status, run.Run.Error, c.reason)
			}
		})
	}
	peer.Disposition, peer.WrongMIC, peer.Unsigned, peer.NoMDN = "", false, false, false
	// Each send is audited: as2.sent, ok or error with the reason.
	sent := map[string]int{}
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventAS2Sent && ev.Protocol == mft.AuditAS2 && ev.Target != "" {
			sent[ev.Status]++
			if ev.Status == mft.StatusError && ev.Message == "" {
				t.Errorf("a failed send audited without its reason: %+v", ev)
			}
		}
	}
	if sent[mft.StatusOK] != 7 || sent[mft.StatusError] != 4 {
		t.Fatalf("as2.sent audited: %v, want 7 ok and 4 error", sent)
	}
}
