package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"depot/internal/testpeer"
	"depot/mft"
	"depot/store"
)

// The PostgreSQL rows of BENCHMARKS.md run on a cluster with durability
// on, as bbolt's commits are synced.
func TestMain(m *testing.M) {
	testpeer.PostgresDurable = true
	testpeer.PostgresMain(m)
}

// openDriver opens a new database of the driver "bolt" or "postgres".
func openDriver(b *testing.B, driver string) *store.DB {
	db := store.NewDB(filepath.Join(b.TempDir(), "depot.db"))
	if driver == "postgres" {
		db = store.NewPostgresDB(testpeer.PostgresDSN(b))
	}
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkDrivers compares the two drivers on the same machine: users
// created one at a time and by 16 concurrent creators (8×GOMAXPROCS), a lookup by email
// among 100,000 users, audit events stored in batches of 100, and the newest 100 events of
// one of 100 actors among 100,000.
func BenchmarkDrivers(b *testing.B) {
	ctx := context.Background()
	for _, driver := range []string{"bolt", "postgres"} {
		b.Run(driver+"/CreateUser_Serial", func(b *testing.B) { createSerial(b, store.NewUserStore(openDriver(b, driver))) })
		b.Run(driver+"/CreateUser_Parallel", func(b *testing.B) { createParallel(b, store.NewUserStore(openDriver(b, driver))) })
		b.Run(driver+"/FindUserByEmail_100k", func(b *testing.B) {
			users := store.NewUserStore(openDriver(b, driver))
			fill := make(chan int64)
			done := make(chan error, 16)
			for range 16 {
				go func() {
					for i := range fill {
						if err := users.CreateUser(ctx, benchUser(i)); err != nil {
							done <- err
							return
						}
					}
					done <- nil
				}()
			}
			for i := range int64(100000) {
				fill <- i
			}
			close(fill)
			for range 16 {
				if err := <-done; err != nil {
					b.Fatal(err)
				}
			}
			var i int64
			for b.Loop() {
				i = (i + 7919) % 100000
				if _, err := users.FindUserByEmail(ctx, fmt.Sprintf("u%08d@example.com", i)); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(driver+"/AppendEvents_100", func(b *testing.B) {
			audit := store.NewAuditStore(openDriver(b, driver))
			batch := make([]mft.Event, 100)
			for b.Loop() {
				for i := range batch {
					batch[i] = mft.Event{Event: mft.EventFileUploaded, Time: time.Now().UTC(), Actor: "u1", Protocol: "sftp", Status: "ok", Path: "/users/u1/in/f.csv"}
				}
				if err := audit.AppendEvents(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
		})
		b.Run(driver+"/FindEvents_Newest100OfOneActor_100k", func(b *testing.B) {
			audit := store.NewAuditStore(openDriver(b, driver))
			batch := make([]mft.Event, 1000)
			start := time.Now().UTC().Add(-time.Hour)
			for n := range 100 { // 100,000 events of 100 actors, over an hour
				for i := range batch {
					batch[i] = mft.Event{Event: mft.EventFileUploaded, Time: start.Add(time.Duration(n*1000+i) * 30 * time.Millisecond),
						Actor: fmt.Sprintf("u%d", i%100), Protocol: "sftp", Status: "ok", Path: "/users/u1/in/f.csv"}
				}
				if err := audit.AppendEvents(ctx, batch); err != nil {
					b.Fatal(err)
				}
			}
			for b.Loop() {
				got, _, err := audit.FindEvents(ctx, mft.AuditFilter{Page: mft.Page{Limit: 100}, Actor: "u7", Newest: true})
				if err != nil || len(got) != 100 {
					b.Fatalf("%d events, %v", len(got), err)
				}
			}
		})
	}
}
