package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

// BenchmarkCeiling measures the metadata limits of one node on one bbolt
// file: BENCH_USERS (100,000) users created by 16 concurrent creators,
// then a login lookup and a page of 100 among them; BENCH_EVENTS
// (1,000,000) audit events published by 8 goroutines through the audit
// log (as the file service does), then the newest 100 of one user's
// among them. For the scaling plan in README.md.
// Run: go test -run '^$' -bench Ceiling -benchtime 1x -timeout 60m ./bench
func BenchmarkCeiling(b *testing.B) {
	nUsers, nEvents := envInt("BENCH_USERS", 100000), envInt("BENCH_EVENTS", 1000000)
	ctx := context.Background()
	db := store.NewDB(filepath.Join(b.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	users := store.NewUserStore(db)

	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(nUsers); i = next.Add(1) {
				if err := users.CreateUser(ctx, benchUser(i)); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	fmt.Printf("%d users created by 16 clients: %.1fs, %.0f users/s\n", nUsers, secs, float64(nUsers)/secs)
	lookup := timeOp(1000, func(i int) {
		if _, err := users.FindUserByEmail(ctx, fmt.Sprintf("u%08d@example.com", 1+i*97%nUsers)); err != nil {
			b.Fatal(err)
		}
	})
	page := timeOp(100, func(i int) {
		if _, _, err := users.FindUsers(ctx, mft.UserFilter{Page: mft.Page{Limit: 100, After: benchUser(int64(1 + i*997%nUsers)).ID}}); err != nil {
			b.Fatal(err)
		}
	})
	fmt.Printf("with %d users: a login lookup by email %v, a page of 100 %v\n", nUsers, lookup, page)

	audit := store.NewAuditStore(db)
	log := &store.AuditLog{Service: audit, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	log.Open()
	start = time.Now()
	next.Store(0)
	for range 8 {
		wg.Go(func() {
			for i := next.Add(1); i <= int64(nEvents); i = next.Add(1) {
				log.Publish(mft.Event{Event: mft.EventFileUploaded, Time: time.Now().UTC(), Actor: benchUser(i % 1000).ID,
					Protocol: "sftp", IP: "192.0.2.1", Path: fmt.Sprintf("/users/%s/in/f%d.csv", benchUser(i%1000).ID, i), Size: 4096,
					SHA256: "0e4b4b5b3c3f0e4b4b5b3c3f0e4b4b5b3c3f0e4b4b5b3c3f0e4b4b5b3c3f0e4b"})
			}
		})
	}
	wg.Wait()
	if err := log.Flush(); err != nil {
		b.Fatal(err)
	}
	secs = time.Since(start).Seconds()
	log.Close()
	fmt.Printf("%d audit events published by 8 goroutines and stored: %.1fs, %.0f events/s\n", nEvents, secs, float64(nEvents)/secs)
	newest := timeOp(20, func(i int) {
		if _, _, err := audit.FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 100}, Newest: true, Actor: benchUser(int64(i)).ID}); err != nil {
			b.Fatal(err)
		}
	})
	fmt.Printf("with %d events: the newest 100 of one user's %v\n", nEvents, newest)
}

// timeOp returns the mean time of n calls of f.
func timeOp(n int, f func(i int)) time.Duration {
	start := time.Now()
	for i := range n {
		f(i)
	}
	return time.Since(start) / time.Duration(n)
}
