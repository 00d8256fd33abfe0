package store_test

import (
	"context"
	"crypto/rand"
	"testing"
	"time"

	"depot/store"
)

// Changes are visible at once, written by Flush (or within FlushDelay),
// and moves and deletions take the pending changes along.
func TestUsageStore_WriteBehind(t *testing.T) { eachDriver(t, testUsageWriteBehind) }

func testUsageWriteBehind(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	s := store.NewUsageStore(db)
	s.FlushDelay = time.Hour // only explicit flushes in this test
	want := func(dir string, n int64) {
		t.Helper()
		if got, err := s.Usage(ctx, dir); err != nil || got != n {
			t.Fatalf("usage of %s = %d (%v), want %d", dir, got, err, n)
		}
	}
	for _, d := range []string{"/users/a/in", "/users/a/in", "/users/b"} {
		if err := s.AddUsage(ctx, d, 100); err != nil {
			t.Fatal(err)
		}
	}
	want("/users/a/in", 200)
	want("/users/a", 200)
	want("/", 300)
	if err := s.MoveUsage(ctx, "/users/a/in", "/users/b/in", 200); err != nil {
		t.Fatal(err)
	}
	want("/users/a", 0)
	want("/users/b", 300)
	want("/users/b/in", 200)
	if err := s.AddUsage(ctx, "/users/b/in", -50); err != nil {
		t.Fatal(err)
	}
	want("/users/b", 250)
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.AddUsage(ctx, "/users/c", 7); err != nil { // lost: never flushed
		t.Fatal(err)
	}
	db = reopen(t, db)
	s = store.NewUsageStore(db)
	want("/users/b", 250)
	want("/users/b/in", 150)
	want("/users/c", 0)
	want("/", 250)
	if err := s.DeleteUsage(ctx, "/users/b"); err != nil {
		t.Fatal(err)
	}
	want("/", 0)
}

// Without an explicit flush, changes reach the database within FlushDelay.
func TestUsageStore_FlushesOnItsOwn(t *testing.T) { eachDriver(t, testUsageFlushesOnItsOwn) }

func testUsageFlushesOnItsOwn(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	s := store.NewUsageStore(db)
	s.FlushDelay = time.Millisecond
	if err := s.AddUsage(ctx, "/users/a", 42); err != nil {
		t.Fatal(err)
	}
	other := store.NewUsageStore(db) // sees only what is in the database
	for {
		if n, _ := other.Usage(ctx, "/users/a"); n == 42 {
			break
		}
		time.Sleep(time.Millisecond)
	}
}

// A folder's path may be 4,096 bytes and not compress (a hostile partner
// makes one): its usage is kept, found and moved with its subfolders on
// both drivers (on PostgreSQL such a key is longer than a btree entry).
func TestUsageStore_LongPaths(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewUsageStore(MustOpenDB(t))
		long := "/users/a"
		for len(long) < 3900 {
			long += "/" + rand.Text()[:20] // incompressible
		}
		for _, d := range []string{long, long + "/x", long + "/y", "/users/a/short"} {
			must(t, s.AddUsage(ctx, d, 10))
		}
		must(t, s.Flush(ctx))
		want := func(dir string, n int64) {
			t.Helper()
			if got, err := s.Usage(ctx, dir); err != nil || got != n {
				t.Fatalf("usage of %.40s… = %d (%v), want %d", dir, got, err, n)
			}
		}
		want(long, 30)
		want("/users/a", 40)
		must(t, s.MoveUsage(ctx, long, "/users/b/moved", 30))
		want("/users/b/moved/x", 10)
		want("/users/a", 10)
		want(long+"/y", 0)
	})
}
