package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"path"
	"sync"
	"time"

	"depot/mft"
)

var bucketUsage = []byte("Usage")

// UsageStore keeps, for every folder of the storage tree, the bytes
// stored below it, so a quota check for a home or a folder is one lookup.
//
// Uploads and deletions only add to an in-memory table of pending changes,
// which is written to the database within FlushDelay (and before any move,
// deletion or replacement of the table, in the same transaction): a small
// upload then costs no commit of its own. Readers see stored plus pending.
// Changes not yet written when the process dies are not lost in effect:
// after an unclean stop, depot serve recounts the table from the disk.
type UsageStore struct {
	db *DB
	// FlushDelay is how long a change may stay in memory; NewUsageStore
	// sets 100ms.
	FlushDelay time.Duration

	mu        sync.Mutex       // guards pending and scheduled; held while flushing
	pending   map[string]int64 // folder → bytes to add
	scheduled bool
}

var _ mft.UsageStore = (*UsageStore)(nil)

// NewUsageStore returns a UsageStore backed by db.
func NewUsageStore(db *DB) *UsageStore {
	return &UsageStore{db: db, FlushDelay: 100 * time.Millisecond, pending: map[string]int64{}}
}

// Usage returns the bytes stored below dir.
func (s *UsageStore) Usage(ctx context.Context, dir string) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	err := s.db.view(ctx, func(tx kvTx) error {
		n = getUsage(tx.Bucket(bucketUsage), dir)
		return nil
	})
	return max(n+s.pending[dir], 0), err
}

// AddUsage adds delta to dir and each of its ancestors.
func (s *UsageStore) AddUsage(ctx context.Context, dir string, delta int64) error {
	if delta == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for d := dir; ; d = path.Dir(d) {
		s.pending[d] += delta
		if d == "/" || d == "." {
			break
		}
	}
	if !s.scheduled {
		s.scheduled = true
		time.AfterFunc(s.FlushDelay, func() { _ = s.Flush(context.Background()) })
	}
	return nil
}

// Flush writes the pending changes to the database now.
func (s *UsageStore) Flush(ctx context.Context) error {
	return s.update(ctx, func(kvBucket) error { return nil })
}

// update runs fn on the usage table in one transaction with the pending
// changes applied first, which are then no longer pending.
func (s *UsageStore) update(ctx context.Context, fn func(b kvBucket) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scheduled = false
	pending := s.pending
	err := s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketUsage)
		for dir, delta := range pending {
			if err := b.Put([]byte(dir), encodeInt(max(getUsage(b, dir)+delta, 0))); err != nil {
				return err
			}
		}
		return fn(tx.Bucket(bucketUsage))
	})
	if err == nil {
		s.pending = map[string]int64{}
	}
	return err
}

// MoveUsage re-keys the folder tree at from to to and moves size bytes
// from from's ancestors to to's.
func (s *UsageStore) MoveUsage(ctx context.Context, from, to string, size int64) error {
	return s.update(ctx, func(b kvBucket) error {
		type kv struct {
			k string
			v int64
		}
		var moved []kv
		c := b.Cursor()
		prefix := []byte(from + "/")
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			moved = append(moved, kv{string(k), decodeInt(v)})
		}
		for _, e := range moved {
			if err := b.Delete([]byte(e.k)); err != nil {
				return err
			}
			if err := b.Put([]byte(to+e.k[len(from):]), encodeInt(e.v)); err != nil {
				return err
			}
		}
		if err := addUsage(b, from, -size); err != nil {
			return err
		}
		if err := b.Delete([]byte(from)); err != nil {
			return err
		}
		return addUsage(b, to, size)
	})
}

// DeleteUsage forgets the folder tree at dir and subtracts its bytes from
// its ancestors.
func (s *UsageStore) DeleteUsage(ctx context.Context, dir string) error {
	return s.update(ctx, func(b kvBucket) error {
		size := getUsage(b, dir)
		var keys [][]byte
		c := b.Cursor()
		prefix := []byte(dir + "/")
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		if err := addUsage(b, dir, -size); err != nil {
			return err
		}
		return b.Delete([]byte(dir))
	})
}

// ReplaceUsage replaces the whole table, as after a walk of the disk.
func (s *UsageStore) ReplaceUsage(ctx context.Context, usage map[string]int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.db.update(ctx, func(tx kvTx) error {
		if err := tx.ClearBucket(bucketUsage); err != nil {
			return err
		}
		b := tx.Bucket(bucketUsage)
		for k, v := range usage {
			if err := b.Put([]byte(k), encodeInt(v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		s.pending = map[string]int64{} // the walk saw them
	}
	return err
}

// addUsage adds delta to dir and every ancestor up to "/", never going
// below zero.
func addUsage(b kvBucket, dir string, delta int64) error {
	for {
		n := max(getUsage(b, dir)+delta, 0)
		if err := b.Put([]byte(dir), encodeInt(n)); err != nil {
			return err
		}
		if dir == "/" {
			return nil
		}
		dir = path.Dir(dir)
	}
}

func getUsage(b kvBucket, dir string) int64 { return decodeInt(b.Get([]byte(dir))) }

func encodeInt(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func decodeInt(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}
