package store_test

import (
	"context"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

// Finished runs and deliveries past the retention are forgotten; queued
// and recent ones stay.
func TestAutomationStore_DeleteFinishedBefore(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewAutomationStore(MustOpenDB(t))
		old, recent := now.Add(-48*time.Hour), now.Add(-time.Hour)
		for _, r := range []*mft.Run{
			{Automation: "au_1", Status: mft.RunSucceeded, FinishedAt: &old},
			{Automation: "au_1", Status: mft.RunFailed, FinishedAt: &recent},
			{Automation: "au_1", Status: mft.RunQueued},
		} {
			if err := s.CreateRun(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CreateDeliveries(ctx, []*mft.Delivery{{Webhook: "wh_1", Status: "delivered", DoneAt: &old}, {Webhook: "wh_1", Status: "queued"}}, func(id string) string { return "{}" }); err != nil {
			t.Fatal(err)
		}
		n, err := s.DeleteFinishedBefore(ctx, now.Add(-24*time.Hour))
		if err != nil || n != 2 {
			t.Fatalf("deleted %d (%v), want 2", n, err)
		}
		runs, _, _ := s.FindRuns(ctx, "au_1", mft.Page{})
		pending, _ := s.PendingDeliveries(ctx)
		if len(runs) != 2 || len(pending) != 1 {
			t.Fatalf("%d runs and %d pending deliveries left, want 2 and 1", len(runs), len(pending))
		}
	})
}
