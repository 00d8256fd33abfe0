package e2e

import (
	"strings"
	"testing"

	"depot/app"
	"depot/internal/testpeer"
	dmail "depot/mail"
	"depot/mft"
)

// TestQuota_WarningsOncePerCrossing: quota.warning at 80 % and 95 % and
// quota.exceeded at 100 % of a user's quota, each once when an upload
// crosses it; an automation on quota.warning emails someone.
func TestQuota_WarningsOncePerCrossing(t *testing.T) {
	sink := testpeer.StartSMTPFiles(t)
	ts := MustOpenServer(t, func(a *app.App) {
		a.Engine.Mailer = &dmail.Sender{Host: "127.0.0.1", Port: sink.Port, From: "depot@example.com", TLS: "none"}
	})
	u := ts.createUser(t, `{"user":{"username":"acme","quota_mb":1}}`).User
	ts.createAutomation(t, `{"automation":{"name":"quota mail","trigger":"event","events":["quota.warning","quota.exceeded"],
		"actions":[{"type":"email","recipients":["ops@example.com"],"subject":"{EVENT} of {EVENT_PATH}","body":"{MESSAGE}."}]}}`)
	for i, size := range []int{800 << 10, 60 << 10, 100 << 10, 20 << 10, 44 << 10, 1} {
		r := ts.put(t, u.APIKey, "/f"+itoa(i), strings.Repeat("x", size))
		if i < 5 {
			want(t, r, 201)
		} else if r.status != 507 {
			t.Fatalf("over the quota: %d %s", r.status, r.body)
		}
	}
	var got []string
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventQuotaWarning || ev.Event == mft.EventQuotaExceeded {
			got = append(got, ev.Event+" "+ev.Message[:strings.Index(ev.Message, " %")])
			if ev.Path != "/users/"+u.ID {
				t.Fatalf("the event's path: %q", ev.Path)
			}
		}
	}
	if strings.Join(got, ",") != "quota.warning 80,quota.warning 95,quota.exceeded 100" {
		t.Fatalf("quota events: %v", got)
	}
	msgs := sink.Messages(3)
	if !strings.Contains(string(msgs[0]), "Subject: quota.warning of /users/"+u.ID) || !strings.Contains(string(msgs[0]), "80 % of the quota of /users/"+u.ID) {
		t.Fatalf("the automation's email: %s", msgs[0])
	}
	// Freed and filled again: a new crossing, a new warning.
	want(t, ts.do(t, "DELETE", "/api/files?path=/f0", u.APIKey, ""), 200)
	want(t, ts.put(t, u.APIKey, "/again", strings.Repeat("x", 800<<10)), 201)
	n := 0
	for _, ev := range ts.events(t) {
		if ev.Event == mft.EventQuotaWarning {
			n++
		}
	}
	if n != 4 {
		t.Fatalf("quota.warning events after refilling: %d, want 4", n)
	}
}
