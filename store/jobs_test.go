package store_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

// A run is in the queue of the node that made it, and only that node
// writes it: a write naming another node is refused and changes nothing.
func TestJobs_RunsBelongToTheirNode(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewAutomationStore(db)
		r := &mft.Run{Automation: "au_1", Status: mft.RunQueued}
		must(t, s.CreateRun(ctx, r))
		if r.Node == "" || r.Node != db.Node() {
			t.Fatalf("run's node %q; want this node's, %q", r.Node, db.Node())
		}
		stale := *r
		stale.Node, stale.Status = "elsewhere", mft.RunSucceeded
		if err := s.PutRun(ctx, &stale); mft.ErrorCode(err) != mft.ECONFLICT {
			t.Fatalf("a write by another node: %v; want %s", err, mft.ECONFLICT)
		}
		if got, _ := s.FindRun(ctx, r.ID); got.Status != mft.RunQueued || got.Node != db.Node() {
			t.Fatalf("after the refused write: %s on %q", got.Status, got.Node)
		}
		d := []*mft.Delivery{{Webhook: "wh_1", Status: "queued"}}
		must(t, s.CreateDeliveries(ctx, d, func(string) string { return "{}" }))
		theirs := *d[0]
		theirs.Node, theirs.Status = "elsewhere", "delivered"
		if err := s.PutDelivery(ctx, &theirs); mft.ErrorCode(err) != mft.ECONFLICT {
			t.Fatalf("a delivery written by another node: %v; want %s", err, mft.ECONFLICT)
		}
		must(t, s.TakeDelivery(ctx, &theirs)) // redelivered here: this node's now
		if got, _ := s.FindDelivery(ctx, d[0].ID); got.Node != db.Node() || got.Status != "delivered" {
			t.Fatalf("after take: %s on %q", got.Status, got.Node)
		}
		if pending, _ := s.PendingDeliveries(ctx); len(pending) != 0 {
			t.Fatalf("%d pending deliveries after the only one was delivered", len(pending))
		}
	})
}

// After a restart, the runs and deliveries the last life left pending are
// adopted by the new one, the running ones queued again; finished ones
// stay as they are.
func TestJobs_AdoptedAfterARestart(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewAutomationStore(db)
		running := &mft.Run{Automation: "au_1", Status: mft.RunRunning}
		queued := &mft.Run{Automation: "au_1", Status: mft.RunQueued}
		done := &mft.Run{Automation: "au_1", Status: mft.RunSucceeded}
		for _, r := range []*mft.Run{running, queued, done} {
			must(t, s.CreateRun(ctx, r))
		}
		ds := []*mft.Delivery{{Webhook: "wh_1", Status: "queued"}}
		must(t, s.CreateDeliveries(ctx, ds, func(string) string { return "{}" }))
		if got, err := s.AdoptRuns(ctx); err != nil || len(got) != 0 {
			t.Fatalf("adopted from a live node: %v, %v", got, err)
		}
		old := db.Node()

		db = reopen(t, db)
		s = store.NewAutomationStore(db)
		if db.Node() == old {
			t.Fatalf("the new life has the old one's node %q", old)
		}
		runs, err := s.AdoptRuns(ctx)
		must(t, err)
		ids := []string{}
		for _, r := range runs {
			if r.Status != mft.RunQueued || r.Node != db.Node() {
				t.Errorf("adopted run %s: %s on %q; want queued on %q", r.ID, r.Status, r.Node, db.Node())
			}
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		want := []string{running.ID, queued.ID}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("adopted %v; want %v", ids, want)
		}
		if got, _ := s.FindRun(ctx, running.ID); got.Status != mft.RunQueued || got.Node != db.Node() {
			t.Fatalf("stored: %s on %q", got.Status, got.Node)
		}
		if again, _ := s.AdoptRuns(ctx); len(again) != 0 {
			t.Fatalf("adopted twice: %v", again)
		}
		dels, err := s.AdoptDeliveries(ctx)
		if err != nil || len(dels) != 1 || dels[0].ID != ds[0].ID || dels[0].Node != db.Node() {
			t.Fatalf("adopted deliveries %v, %v", dels, err)
		}
	})
}

// A schedule's tick is claimed once, whichever node asks first; a tick
// run is not queued while the last one is pending.
func TestJobs_TicksClaimedOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewAutomationStore(MustOpenDB(t))
		at := now.Add(time.Minute)
		claim := func(at time.Time, r *mft.Run) bool {
			t.Helper()
			ok, err := s.ClaimTick(ctx, "au_1", at, r)
			must(t, err)
			return ok
		}
		if !claim(at, nil) {
			t.Fatal("the first claim of a tick was refused")
		}
		if claim(at, nil) || claim(at.Add(-time.Minute), nil) {
			t.Fatal("a tick claimed twice, or an earlier one after it")
		}
		tickRun := func() *mft.Run {
			return &mft.Run{Automation: "au_1", Trigger: mft.TriggerSchedule, Status: mft.RunQueued, Files: []string{}}
		}
		first := tickRun()
		if !claim(at.Add(time.Minute), first) || first.ID == "" {
			t.Fatalf("a new tick with a run: not claimed (%q)", first.ID)
		}
		if got, err := s.FindRun(ctx, first.ID); err != nil || got.Status != mft.RunQueued {
			t.Fatalf("the tick's run: %v, %v", got, err)
		}
		if claim(at.Add(2*time.Minute), tickRun()) {
			t.Fatal("a tick run queued while the last is pending")
		}
		if pending, _ := s.PendingRuns(ctx); len(pending) != 1 {
			t.Fatalf("%d pending runs; want the first tick's only", len(pending))
		}
		first.Status = mft.RunSucceeded
		must(t, s.PutRun(ctx, first))
		if claim(at.Add(2*time.Minute), tickRun()) {
			t.Fatal("the busy tick was claimed again")
		}
		if !claim(at.Add(3*time.Minute), tickRun()) {
			t.Fatal("the next tick after the run ended got no run")
		}
	})
}

// A database from before the pending indexes (schema 1) gets them at
// its first open: its pending runs are found and adopted.
func TestJobs_MigratedDatabaseKeepsItsQueue(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		db := MustOpenDB(t)
		must(t, db.Close())
		putRaw(t, db, "Runs", "run_old", `{"id":"run_old","automation":"au_1","status":"running","attempt":1,"files":[],"steps":[]}`)
		putRaw(t, db, "Runs", "run_over", `{"id":"run_over","automation":"au_1","status":"failed","attempt":1,"files":[],"steps":[]}`)
		putRaw(t, db, "Deliveries", "dlv_old", `{"id":"dlv_old","webhook":"wh_1","status":"queued","attempts":[]}`)
		putRaw(t, db, "Meta", "schema_version", "1")
		db = mustOpen(t, &store.DB{Path: db.Path, DSN: db.DSN})
		s := store.NewAutomationStore(db)
		ctx := context.Background()
		runs, err := s.AdoptRuns(ctx)
		if err != nil || len(runs) != 1 || runs[0].ID != "run_old" || runs[0].Status != mft.RunQueued {
			t.Fatalf("adopted after the migration: %v, %v; want run_old queued", runs, err)
		}
		if ds, err := s.AdoptDeliveries(ctx); err != nil || len(ds) != 1 || ds[0].ID != "dlv_old" {
			t.Fatalf("deliveries adopted after the migration: %v, %v", ds, err)
		}
	})
}
