package e2e

import (
	"strings"
	"testing"
)

// The password of a webhook URL's user:pass@ is write-only, like the
// secret: shown as (set), kept when the URL is sent back as shown.
// Found by the hardening review: it was shown in clear.
func TestWebhooks_URLCredentialsHidden(t *testing.T) {
	ts := MustOpenServer(t)
	r := ts.do(t, "POST", "/admin/webhooks", adminKey, `{"webhook":{"url":"http://hook:s3cret-pass@127.0.0.1:9/h","events":["*"]}}`)
	want(t, r, 201)
	var w struct{ Webhook struct{ ID, URL string } }
	r.json(t, &w)
	if w.Webhook.URL != "http://hook:(set)@127.0.0.1:9/h" || strings.Contains(r.body, "s3cret") {
		t.Fatalf("created: %s", r.body)
	}
	for _, p := range []string{"/admin/webhooks/" + w.Webhook.ID, "/admin/webhooks"} {
		if r := ts.do(t, "GET", p, adminKey, ""); strings.Contains(r.body, "s3cret") {
			t.Fatalf("GET %s shows the password: %s", p, r.body)
		}
	}
	// Sent back as shown: the stored password stays.
	want(t, ts.do(t, "PUT", "/admin/webhooks/"+w.Webhook.ID, adminKey, `{"webhook":{"url":"`+w.Webhook.URL+`","active":false}}`), 200)
	stored, err := ts.Automations.FindWebhook(t.Context(), w.Webhook.ID)
	if err != nil || stored.URL != "http://hook:s3cret-pass@127.0.0.1:9/h" {
		t.Fatalf("stored URL %q (%v)", stored.URL, err)
	}
	// A new password replaces it.
	want(t, ts.do(t, "PUT", "/admin/webhooks/"+w.Webhook.ID, adminKey, `{"webhook":{"url":"http://hook:other-pass@127.0.0.1:9/h"}}`), 200)
	if stored, _ = ts.Automations.FindWebhook(t.Context(), w.Webhook.ID); stored.URL != "http://hook:other-pass@127.0.0.1:9/h" {
		t.Fatalf("stored URL %q", stored.URL)
	}
	// A webhook action of an automation: the same.
	r = ts.do(t, "POST", "/admin/automations", adminKey, `{"automation":{"name":"w","trigger":"manual","actions":[{"type":"webhook","url":"https://u:p4ssw0rd-x@example.com/x"}]}}`)
	want(t, r, 201)
	if strings.Contains(r.body, "p4ssw0rd") || !strings.Contains(r.body, "https://u:(set)@example.com/x") {
		t.Fatalf("automation: %s", r.body)
	}
}
