package automation_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"depot/auth"
	"depot/automation"
	"depot/internal/testtool"
	"depot/mft"
	"depot/store"
)

// openEngine is an engine on a real database, without files: enough to
// change automations and webhooks.
func openEngine(t *testing.T) (*automation.Engine, *testtool.Events) {
	t.Helper()
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, err := auth.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ch := &testtool.Events{}
	e := &automation.Engine{Store: store.NewAutomationStore(db), Sealer: sealer, Events: ch}
	if err := e.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(context.Background()) })
	return e, ch
}

var adminCtx = mft.WithOrigin(context.Background(), mft.Origin{Actor: "admin", Protocol: mft.AuditAPI, IP: "192.0.2.7"})

func webhookAutomation() *mft.Automation {
	return &mft.Automation{Name: "notify", Enabled: true, Trigger: mft.TriggerEvent, Events: []string{mft.EventFileUploaded},
		Actions: []mft.Action{{Type: "webhook", URL: "https://hook:pw@example.test/x", Secret: "0123456789abcdef"}}}
}

func TestAutomationChanges_SealKeepAndPublish(t *testing.T) {
	e, ch := openEngine(t)
	a := webhookAutomation()
	if err := e.CreateAutomation(adminCtx, a); err != nil {
		t.Fatal(err)
	}
	stored, err := e.Store.FindAutomation(adminCtx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	sealed := stored.Actions[0].Secret
	if !auth.IsSealed(sealed) {
		t.Fatalf("secret stored as %q, not sealed", sealed)
	}
	if ev := ch.Last(); ev.Event != mft.EventAutomationCreated || ev.Target != a.ID || ev.Actor != "admin" || ev.IP != "192.0.2.7" {
		t.Fatalf("event = %+v", ev)
	}

	// What a client read back and sent again keeps the secrets.
	next := webhookAutomation()
	next.Name = "renamed"
	next.Actions[0].Secret, next.Actions[0].URL = mft.SecretMarker, mft.HiddenURL(stored.Actions[0].URL)
	if err := e.UpdateAutomation(adminCtx, stored, next); err != nil {
		t.Fatal(err)
	}
	again, _ := e.Store.FindAutomation(adminCtx, a.ID)
	if again.Name != "renamed" || again.Actions[0].Secret != sealed || again.Actions[0].URL != "https://hook:pw@example.test/x" {
		t.Fatalf("after update: name %q, secret kept %v, url %q", again.Name, again.Actions[0].Secret == sealed, again.Actions[0].URL)
	}
	if !again.CreatedAt.Equal(stored.CreatedAt) || again.ID != stored.ID {
		t.Fatal("update changed the id or creation time")
	}

	bad := webhookAutomation()
	bad.Trigger = "sometimes"
	if err := e.UpdateAutomation(adminCtx, again, bad); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("bad trigger: %v, want EINVALID", err)
	}
	if kept, _ := e.Store.FindAutomation(adminCtx, a.ID); kept.Name != "renamed" {
		t.Fatal("a refused update changed the automation")
	}

	token, err := e.NewTriggerToken(adminCtx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	withToken, _ := e.Store.FindAutomation(adminCtx, a.ID)
	if !auth.KeyMatches(token, withToken.TriggerTokenHash) || strings.Contains(withToken.TriggerTokenHash, token) {
		t.Fatal("the trigger token is not kept as its hash")
	}
	if err := e.UpdateAutomation(adminCtx, withToken, webhookAutomation()); err != nil {
		t.Fatal(err)
	}
	if kept, _ := e.Store.FindAutomation(adminCtx, a.ID); kept.TriggerTokenHash != withToken.TriggerTokenHash {
		t.Fatal("an update dropped the trigger token")
	}
	if err := e.RemoveTriggerToken(adminCtx, a.ID); err != nil {
		t.Fatal(err)
	}
	if kept, _ := e.Store.FindAutomation(adminCtx, a.ID); kept.TriggerTokenHash != "" {
		t.Fatal("trigger token still set")
	}
	if _, err := e.NewTriggerToken(adminCtx, "aut_nosuch"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("token for a missing automation: %v", err)
	}
	if err := e.DeleteAutomation(adminCtx, a.ID); err != nil {
		t.Fatal(err)
	}
	if ev := ch.Last(); ev.Event != mft.EventAutomationDeleted || ev.Target != a.ID {
		t.Fatalf("event = %+v", ev)
	}
}

func TestWebhookChanges(t *testing.T) {
	e, ch := openEngine(t)
	url, events, secret := "https://example.test/hook", []string{"*"}, "0123456789abcdef"
	if _, err := e.CreateWebhook(adminCtx, automation.WebhookChange{URL: &url}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("no events: %v, want EINVALID", err)
	}
	w, err := e.CreateWebhook(adminCtx, automation.WebhookChange{URL: &url, Events: &events, Secret: &secret})
	if err != nil {
		t.Fatal(err)
	}
	if !auth.IsSealed(w.Secret) || !w.Active || w.Paths == nil {
		t.Fatalf("created webhook = %+v", w)
	}
	if ev := ch.Last(); ev.Event != mft.EventWebhookCreated || ev.Target != w.ID {
		t.Fatalf("event = %+v", ev)
	}
	for name, c := range map[string]automation.WebhookChange{
		"short secret": {Secret: ptr("short")},
		"ftp url":      {URL: ptr("ftp://example.test/")},
		"no event":     {Events: &[]string{}},
		"unknown":      {Events: &[]string{"file.exploded"}},
		"bad path":     {Paths: &[]string{"relative"}},
	} {
		stored, _ := e.Store.FindWebhook(adminCtx, w.ID)
		if err := e.UpdateWebhook(adminCtx, stored, c); mft.ErrorCode(err) != mft.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	stored, _ := e.Store.FindWebhook(adminCtx, w.ID)
	if stored.URL != url || stored.Secret != w.Secret || len(stored.Events) != 1 {
		t.Fatalf("refused updates changed the webhook: %+v", stored)
	}
	if err := e.UpdateWebhook(adminCtx, stored, automation.WebhookChange{Active: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if again, _ := e.Store.FindWebhook(adminCtx, w.ID); again.Active || again.Secret != w.Secret {
		t.Fatalf("after update: %+v", again)
	}
	if err := e.DeleteWebhook(adminCtx, w.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.DeleteWebhook(adminCtx, w.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }
