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
// among 10,000 users, and audit events stored in batches of 100.
func BenchmarkDrivers(b *testing.B) {
	ctx := context.Background()
	for _, driver := range []string{"bolt", "postgres"} {
		b.Run(driver+"/CreateUser_Serial", func(b *testing.B) { createSerial(b, store.NewUserStore(openDriver(b, driver))) })
		b.Run(driver+"/CreateUser_Parallel", func(b *testing.B) { createParallel(b, store.NewUserStore(openDriver(b, driver))) })
		b.Run(driver+"/FindUserByEmail_10k", func(b *testing.B) {
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
			for i := range int64(10000) {
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
				i = (i + 7919) % 10000
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
	}
}
