package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"depot/mft"
	"depot/store"

	"github.com/jackc/pgx/v5"
)

func auditEvents(t *testing.T, s *store.AuditStore) {
	t.Helper()
	var evs []mft.Event
	for i := range 10 {
		ev := mft.Event{Event: mft.EventFileUploaded, Actor: "joe", Path: fmt.Sprintf("/users/joe/%d", i), Protocol: "sftp",
			Status: mft.StatusOK, Time: now.Add(time.Duration(i) * time.Minute)}
		if i%2 == 1 {
			ev.Event, ev.Actor, ev.Path, ev.Status = mft.EventUserLoginFailed, "ann", "", mft.StatusDenied
		}
		evs = append(evs, ev)
	}
	must(t, s.AppendEvents(context.Background(), evs))
}

func TestAuditStore_FindEvents(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewAuditStore(MustOpenDB(t))
		auditEvents(t, s)
		all, more, err := s.FindEvents(ctx, mft.AuditFilter{})
		if err != nil || len(all) != 10 || more {
			t.Fatalf("all = %d, more %v, %v", len(all), more, err)
		}
		for i := 1; i < len(all); i++ {
			if !all[i].Time.After(all[i-1].Time) || all[i].ID <= all[i-1].ID {
				t.Fatal("events are not oldest first by time-ordered id")
			}
		}
		for name, tc := range map[string]struct {
			f    mft.AuditFilter
			want int
		}{
			"event":       {mft.AuditFilter{Event: mft.EventUserLoginFailed}, 5},
			"actor":       {mft.AuditFilter{Actor: "joe"}, 5},
			"path prefix": {mft.AuditFilter{PathPrefix: "/users/joe"}, 5},
			"status":      {mft.AuditFilter{Status: mft.StatusDenied}, 5},
			"from, to":    {mft.AuditFilter{From: now.Add(2 * time.Minute), To: now.Add(5 * time.Minute)}, 3},
			"newest":      {mft.AuditFilter{Newest: true, From: now.Add(8 * time.Minute)}, 2},
		} {
			got, _, err := s.FindEvents(ctx, tc.f)
			if err != nil || len(got) != tc.want {
				t.Errorf("%s: %d events (%v), want %d", name, len(got), err, tc.want)
			}
		}
		first, more, _ := s.FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 4}, Actor: "joe"})
		next, more2, _ := s.FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 4, After: first[3].ID}, Actor: "joe"})
		if len(first) != 4 || !more || len(next) != 1 || more2 || next[0].Path != "/users/joe/8" {
			t.Fatalf("paging: %d (more %v) then %d (more %v)", len(first), more, len(next), more2)
		}
		newest, _, _ := s.FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 2}, Newest: true})
		back, _, _ := s.FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 2, After: newest[1].ID}, Newest: true})
		if newest[0].Path != "" || newest[1].Path != "/users/joe/8" || len(back) != 2 || !back[0].Time.Before(newest[1].Time) {
			t.Fatalf("newest first paging went wrong: %v then %v", newest, back)
		}
		n, err := s.DeleteEventsBefore(ctx, now.Add(5*time.Minute))
		if err != nil || n != 5 {
			t.Fatalf("deleted %d (%v), want 5", n, err)
		}
		if left, _, _ := s.FindEvents(ctx, mft.AuditFilter{}); len(left) != 5 || left[0].Time.Before(now.Add(5*time.Minute)) {
			t.Fatalf("left = %d", len(left))
		}
	})
}

// The log writes in batches; Flush and PublishDurable return once what
// was published is stored, and Close writes what is queued.
func TestAuditLog(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewAuditStore(MustOpenDB(t))
		l := &store.AuditLog{Service: s, Interval: time.Hour}
		l.Open()
		ev := mft.Event{Event: mft.EventFileDeleted, Path: "/x"}
		l.Stamp(&ev)
		if ev.ID == "" || !ev.Time.Equal(now) {
			t.Fatalf("stamped = %+v", ev)
		}
		l.Publish(ev)
		must(t, l.Flush())
		if got, _, _ := s.FindEvents(ctx, mft.AuditFilter{}); len(got) != 1 || got[0].ID != ev.ID {
			t.Fatalf("after flush: %v", got)
		}
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				if err := l.PublishDurable(ctx, mft.Event{Event: mft.EventFileUploaded, Path: fmt.Sprintf("/d/%d", i)}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got, _, _ := s.FindEvents(ctx, mft.AuditFilter{PathPrefix: "/d"}); len(got) != 20 {
			t.Fatalf("%d durable events stored, want 20", len(got))
		}
		l.Publish(mft.Event{Event: mft.EventFileUploaded, Path: "/last"})
		l.Close()
		if got, _, _ := s.FindEvents(ctx, mft.AuditFilter{PathPrefix: "/last"}); len(got) != 1 {
			t.Fatal("Close did not write the queued event")
		}
		if err := l.PublishDurable(ctx, mft.Event{Event: mft.EventFileUploaded}); err == nil {
			t.Fatal("a closed log took a durable event")
		}
	})
}

// Filters the first test does not try, over events of three months (on
// PostgreSQL, three partitions): an event prefix, a path prefix met by
// the new path of a rename, a bucket, one event by id; retention takes
// whole months and part of one (on PostgreSQL, dropping the old months).
func TestAuditStore_AcrossMonths(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewAuditStore(db)
		jan := time.Date(2027, 1, 20, 0, 0, 0, 0, time.UTC)
		var evs []mft.Event
		for i := range 9 { // 20 Jan, 29 Jan, 7 Feb, … 3 Apr
			evs = append(evs, mft.Event{Event: mft.EventFileUploaded, Actor: "joe", Protocol: "sftp", Status: mft.StatusOK,
				Path: fmt.Sprintf("/users/joe/%d", i), Time: jan.Add(time.Duration(i) * 9 * 24 * time.Hour)})
		}
		evs[2].Event, evs[2].Path, evs[2].NewPath = mft.EventFileRenamed, "/tmp/x", "/archive/x"
		evs[3].Event, evs[3].Bucket = mft.EventUserLoginFailed, "buc_1"
		must(t, s.AppendEvents(ctx, evs))
		for name, tc := range map[string]struct {
			f    mft.AuditFilter
			want int
		}{
			"event prefix":      {mft.AuditFilter{Event: "user.*"}, 1},
			"path via new path": {mft.AuditFilter{PathPrefix: "/archive"}, 1},
			"path root":         {mft.AuditFilter{PathPrefix: "/"}, 9},
			"path not a prefix": {mft.AuditFilter{PathPrefix: "/users/jo"}, 0},
			"bucket":            {mft.AuditFilter{Bucket: "buc_1"}, 1},
			"february":          {mft.AuditFilter{From: time.Date(2027, 2, 1, 0, 0, 0, 0, time.UTC), To: time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)}, 3},
		} {
			if got, _, err := s.FindEvents(ctx, tc.f); err != nil || len(got) != tc.want {
				t.Errorf("%s: %d events (%v), want %d", name, len(got), err, tc.want)
			}
		}
		if ev, err := s.FindEvent(ctx, evs[4].ID); err != nil || ev.Path != "/users/joe/4" {
			t.Fatalf("by id: %v, %v", ev, err)
		}
		if _, err := s.FindEvent(ctx, "nope"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("an unknown id: %v", err)
		}
		n, err := s.DeleteEventsBefore(ctx, time.Date(2027, 2, 10, 0, 0, 0, 0, time.UTC))
		if err != nil || n != 3 { // two of January, 7 February
			t.Fatalf("retention deleted %d (%v), want 3", n, err)
		}
		if left, _, _ := s.FindEvents(ctx, mft.AuditFilter{}); len(left) != 6 || left[0].Path != "/users/joe/3" {
			t.Fatalf("after retention: %d events, first %v", len(left), left)
		}
		if db.DSN != "" {
			if got := partitions(t, db.DSN); got != "audit_events_202702,audit_events_202703,audit_events_202704" {
				t.Fatalf("partitions after retention: %s", got)
			}
		}
	})
}

// partitions lists the audit table's partitions on PostgreSQL.
func partitions(t *testing.T, dsn string) string {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	must(t, err)
	defer conn.Close(ctx)
	var got string
	must(t, conn.QueryRow(ctx, `SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i
		JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'audit_events'::regclass`).Scan(&got))
	return got
}

// A batch larger than one statement takes (COPY on PostgreSQL) is stored
// whole, as a small one is.
func TestAuditStore_ManyAtOnce(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewAuditStore(MustOpenDB(t))
		for _, n := range []int{1, 20, 21, 500} {
			evs := make([]mft.Event, n)
			for i := range evs {
				evs[i] = mft.Event{Event: mft.EventFileUploaded, Actor: fmt.Sprintf("batch-%d", n), Protocol: "api", Status: mft.StatusOK}
			}
			must(t, s.AppendEvents(ctx, evs))
			got, more, err := s.FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 1000}, Actor: fmt.Sprintf("batch-%d", n)})
			if err != nil || more || len(got) != n || got[0].ID != evs[0].ID || got[n-1].ID != evs[n-1].ID {
				t.Fatalf("a batch of %d: %d stored (%v)", n, len(got), err)
			}
		}
	})
}
