package e2e

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"depot/app"
	"depot/internal/testpeer"
	"depot/mail"
	"depot/mft"
)

func TestFiledrops_ValidationAndNotice(t *testing.T) {
	sink := testpeer.StartSMTP(t)
	ts := MustOpenServer(t, func(a *app.App) {
		a.Filedrops.Mailer = &mail.Sender{Host: "127.0.0.1", Port: sink.Port, From: "depot@example.com", TLS: "none"}
	})
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"checked","title":"Checked","owner":"`+ou.ID+`","require_validation":true}}`), 201)
	r, s := ts.openFiledrop(t, "checked", "")
	want(t, r, 200)
	if !strings.Contains(r.body, `"require_validation":true`) {
		t.Fatalf("filedrop JSON: %s", r.body)
	}
	validate := func(body string) response {
		return ts.doWith(t, "POST", "/filedrop/checked/validation", body, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+s.key)
		})
	}

	// Nothing goes in before the address is confirmed.
	want(t, s.upload(t, "filename=a.txt", "x"), 403)
	want(t, validate(`{"validation":{"email":"pat@partner.example","code":"123456"}}`), 422) // no code asked for yet
	want(t, validate(`{"validation":{"email":"pat@partner.example"}}`), 202)
	code := sink.Wait(regexp.MustCompile(`is (\d{6})\.`))[1]
	want(t, validate(`{"validation":{"email":"pat@partner.example","code":"000000x"}}`), 422)
	want(t, validate(`{"validation":{"email":"other@partner.example","code":"`+code+`"}}`), 422)
	want(t, validate(`{"validation":{"email":"pat@partner.example","code":"`+code+`"}}`), 200)
	// The one wrong code counted toward a ban, as any guessed secret; the
	// other refusals (no code asked for, another address) did not.
	wrong := 0
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventUserLoginFailed && ev.Message == "wrong validation code" {
			wrong++
		}
	}
	if wrong != 1 {
		t.Errorf("%d wrong validation codes audited, want 1", wrong)
	}

	r = s.upload(t, "filename=a.txt", "validated upload")
	want(t, r, 201)
	var a attachmentBody
	r.json(t, &a)
	want(t, s.deliver(t, `{"message":{"from":"someone@else.example","attachments":["`+a.Attachment.ID+`"]}}`), 422)
	want(t, s.deliver(t, `{"message":{"from":"Pat@Partner.example","subject":"Hello","attachments":["`+a.Attachment.ID+`"]}}`), 201)

	// The owner is told, with the file's checksum.
	notice := sink.Wait(regexp.MustCompile(`(?s)To: owner@example.com.*Files from Pat@Partner.example via Checked.*a\.txt \(16 bytes, sha256 ([0-9a-f]{64})\)`))
	if notice[1] != sum("validated upload") {
		t.Fatalf("notice checksum %s", notice[1])
	}
}

// Too many wrong codes lock the code; asking for a new one starts over.
func TestFiledrops_ValidationTries(t *testing.T) {
	sink := testpeer.StartSMTP(t)
	ts := MustOpenServer(t, func(a *app.App) {
		a.Filedrops.Mailer = &mail.Sender{Host: "127.0.0.1", Port: sink.Port, From: "depot@example.com", TLS: "none"}
	})
	ou := ts.createUser(t, `{"user":{"email":"owner@example.com"}}`).User
	want(t, ts.do(t, "POST", "/admin/filedrops", adminKey, `{"filedrop":{"name":"checked","title":"Checked","owner":"`+ou.ID+`","require_validation":true}}`), 201)
	_, s := ts.openFiledrop(t, "checked", "")
	validate := func(body string) response {
		return ts.doWith(t, "POST", "/filedrop/checked/validation", body, func(r *http.Request) {
			r.Header.Set("Authorization", "Bearer "+s.key)
		})
	}
	want(t, validate(`{"validation":{"email":"pat@partner.example"}}`), 202)
	code := sink.Wait(regexp.MustCompile(`is (\d{6})\.`))[1]
	for range 5 {
		want(t, validate(`{"validation":{"email":"pat@partner.example","code":"999999x"}}`), 422)
	}
	want(t, validate(`{"validation":{"email":"pat@partner.example","code":"`+code+`"}}`), 403)
	want(t, s.upload(t, "filename=a.txt", "x"), 403)
}
