package store_test

import (
	"context"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

func TestAutomationStore_Automations(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewAutomationStore(MustOpenDB(t))
		a := &mft.Automation{Name: "nightly", Trigger: mft.TriggerManual}
		must(t, s.CreateAutomation(ctx, a))
		if a.ID == "" || !a.CreatedAt.Equal(now) || !a.UpdatedAt.Equal(now) {
			t.Fatalf("created = %+v", a)
		}
		b := &mft.Automation{Name: "second", Trigger: mft.TriggerManual}
		must(t, s.CreateAutomation(ctx, b))
		page, more, err := s.FindAutomations(ctx, mft.Page{Limit: 1})
		if err != nil || len(page) != 1 || !more {
			t.Fatalf("first page = %d, more %v, %v", len(page), more, err)
		}
		rest, more, _ := s.FindAutomations(ctx, mft.Page{Limit: 1, After: page[0].ID})
		if len(rest) != 1 || more || rest[0].ID == page[0].ID {
			t.Fatalf("second page = %v, more %v", rest, more)
		}
		a.Name = "renamed"
		must(t, s.PutAutomation(ctx, a))
		if got, _ := s.FindAutomation(ctx, a.ID); got.Name != "renamed" {
			t.Fatalf("after put: %q", got.Name)
		}
		if mine, err := s.MarkProcessed(ctx, a.ID, "/in/x.csv", "10@1"); !mine || err != nil {
			t.Fatalf("first mark: %v, %v", mine, err)
		}
		if mine, err := s.MarkProcessed(ctx, a.ID, "/in/x.csv", "10@1"); mine || err != nil {
			t.Fatalf("second mark of the same version: %v, %v; want false (another run has it)", mine, err)
		}
		if ok, _ := s.Processed(ctx, a.ID, "/in/x.csv", "10@1"); !ok {
			t.Fatal("processed version not remembered")
		}
		if ok, _ := s.Processed(ctx, a.ID, "/in/x.csv", "11@2"); ok {
			t.Fatal("a new version counts as processed")
		}
		must(t, s.DeleteAutomation(ctx, a.ID))
		if _, err := s.FindAutomation(ctx, a.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("after delete: %v", err)
		}
		if ok, _ := s.Processed(ctx, a.ID, "/in/x.csv", "10@1"); ok {
			t.Fatal("what a deleted automation processed is remembered")
		}
		if err := s.DeleteAutomation(ctx, a.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second delete: %v", err)
		}
		if all, _ := s.AllAutomations(ctx); len(all) != 1 || all[0].ID != b.ID {
			t.Fatalf("all = %v", all)
		}
	})
}

func TestAutomationStore_Runs(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewAutomationStore(db)
		var ids []string
		for i, status := range []string{mft.RunSucceeded, mft.RunRunning, mft.RunQueued} {
			db.Now = func() time.Time { return now.Add(time.Duration(i) * time.Second) }
			r := &mft.Run{Automation: "au_1", Status: status}
			must(t, s.CreateRun(ctx, r))
			ids = append(ids, r.ID)
		}
		must(t, s.CreateRun(ctx, &mft.Run{Automation: "au_2", Status: mft.RunQueued}))
		runs, more, err := s.FindRuns(ctx, "au_1", mft.Page{Limit: 2})
		if err != nil || len(runs) != 2 || !more || runs[0].ID != ids[2] || runs[1].ID != ids[1] {
			t.Fatalf("newest runs = %v, more %v, %v; want %v then %v", runs, more, err, ids[2], ids[1])
		}
		older, more, _ := s.FindRuns(ctx, "au_1", mft.Page{Limit: 2, After: runs[1].ID})
		if len(older) != 1 || more || older[0].ID != ids[0] {
			t.Fatalf("next page = %v, more %v", older, more)
		}
		pending, _ := s.PendingRuns(ctx)
		if len(pending) != 3 {
			t.Fatalf("%d pending runs, want the running one and two queued", len(pending))
		}
		r, err := s.FindRun(ctx, ids[1])
		must(t, err)
		r.Status = mft.RunFailed
		must(t, s.PutRun(ctx, r))
		if pending, _ := s.PendingRuns(ctx); len(pending) != 2 {
			t.Fatalf("%d pending after one failed, want 2", len(pending))
		}
		if _, err := s.FindRun(ctx, "run_nosuch"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("missing run: %v", err)
		}
	})
}

func TestAutomationStore_WebhooksAndDeliveries(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewAutomationStore(MustOpenDB(t))
		w := &mft.Webhook{URL: "https://example.test/", Events: []string{"*"}, Active: true}
		must(t, s.CreateWebhook(ctx, w))
		other := &mft.Webhook{URL: "https://other.test/", Events: []string{"*"}, Active: true}
		must(t, s.CreateWebhook(ctx, other))
		ds := []*mft.Delivery{{Webhook: w.ID, Status: "queued"}, {Webhook: w.ID, Status: "queued"}, {Webhook: other.ID, Status: "queued"}}
		must(t, s.CreateDeliveries(ctx, ds, func(id string) string { return `{"id":"` + id + `"}` }))
		if ds[0].ID == ds[1].ID || ds[0].Payload != `{"id":"`+ds[0].ID+`"}` {
			t.Fatalf("deliveries = %+v", ds)
		}
		mine, _, _ := s.FindDeliveries(ctx, w.ID, mft.Page{})
		if len(mine) != 2 {
			t.Fatalf("%d deliveries of the webhook, want 2", len(mine))
		}
		d, err := s.FindDelivery(ctx, ds[0].ID)
		must(t, err)
		d.Status = "delivered"
		must(t, s.PutDelivery(ctx, d))
		if pending, _ := s.PendingDeliveries(ctx); len(pending) != 2 {
			t.Fatalf("%d pending deliveries, want 2", len(pending))
		}
		w.Active = false
		must(t, s.PutWebhook(ctx, w))
		if got, _ := s.FindWebhook(ctx, w.ID); got.Active {
			t.Fatal("put did not store the change")
		}
		if page, more, _ := s.FindWebhooks(ctx, mft.Page{Limit: 1}); len(page) != 1 || !more {
			t.Fatalf("webhook page = %d, more %v", len(page), more)
		}
		must(t, s.DeleteWebhook(ctx, w.ID))
		if _, err := s.FindDelivery(ctx, ds[1].ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("a deleted webhook's delivery: %v, want it gone", err)
		}
		if _, err := s.FindDelivery(ctx, ds[2].ID); err != nil {
			t.Fatalf("another webhook's delivery: %v", err)
		}
		if pending, _ := s.PendingDeliveries(ctx); len(pending) != 1 || pending[0].ID != ds[2].ID {
			t.Fatalf("pending after the webhook's deletion = %v; want only the other webhook's", pending)
		}
		if all, _ := s.AllWebhooks(ctx); len(all) != 1 {
			t.Fatalf("%d webhooks left, want 1", len(all))
		}
		if err := s.DeleteWebhook(ctx, w.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second delete: %v", err)
		}
	})
}
