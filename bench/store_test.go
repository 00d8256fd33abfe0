// Package bench holds Depot's Go benchmarks; the scripts beside it drive
// the real binary. Results and the commands that produced them are in
// BENCHMARKS.md.
package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"depot/mft"
	"depot/store"
)

func openDB(b *testing.B) *store.UserStore {
	db := store.NewDB(filepath.Join(b.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return store.NewUserStore(db)
}

func benchUser(i int64) *mft.User {
	email := fmt.Sprintf("u%08d@example.com", i)
	id := mft.UserID(email, "")
	return &mft.User{ID: id, Email: email, Role: mft.RoleUser, Home: mft.HomeFor(id), Active: true, Protocols: mft.DefaultProtocols}
}

// BenchmarkCreateUser_Serial pays one bbolt commit (and fsync) per user.
func BenchmarkCreateUser_Serial(b *testing.B) { createSerial(b, openDB(b)) }

// createSerial creates users one after the other.
func createSerial(b *testing.B, users *store.UserStore) {
	ctx := context.Background()
	var i int64
	for b.Loop() {
		i++
		if err := users.CreateUser(ctx, benchUser(i)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateUser_Parallel lets bbolt's Batch share commits among
// concurrent creators, as concurrent API requests do.
func BenchmarkCreateUser_Parallel(b *testing.B) { createParallel(b, openDB(b)) }

// createParallel creates users from 8×GOMAXPROCS goroutines.
func createParallel(b *testing.B, users *store.UserStore) {
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := users.CreateUser(ctx, benchUser(n.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFindUsers reads one page of 100 and of 1,000 users out of 1,000.
func BenchmarkFindUsers(b *testing.B) {
	users := openDB(b)
	ctx := context.Background()
	for i := range int64(1000) {
		if err := users.CreateUser(ctx, benchUser(i)); err != nil {
			b.Fatal(err)
		}
	}
	for _, limit := range []int{100, 1000} {
		b.Run(fmt.Sprint(limit), func(b *testing.B) {
			for b.Loop() {
				if _, _, err := users.FindUsers(ctx, mft.UserFilter{Page: mft.Page{Limit: limit}}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
