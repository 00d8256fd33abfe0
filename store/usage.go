package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"path"

	bolt "go.etcd.io/bbolt"

	"depot/mft"
)

var bucketUsage = []byte("Usage")

// UsageService keeps, for every folder of the storage tree, the bytes
// stored below it. An upload adds its size to each ancestor in one batched
// transaction, so a quota check for a home or a folder is one lookup.
type UsageService struct {
	db *DB
}

var _ mft.UsageService = (*UsageService)(nil)

// NewUsageService returns a UsageService backed by db.
func NewUsageService(db *DB) *UsageService { return &UsageService{db: db} }

// Usage returns the bytes stored below dir.
func (s *UsageService) Usage(ctx context.Context, dir string) (int64, error) {
	var n int64
	err := s.db.view(ctx, func(tx *bolt.Tx) error {
		n = getUsage(tx.Bucket(bucketUsage), dir)
		return nil
	})
	return n, err
}

// AddUsage adds delta to dir and each of its ancestors.
func (s *UsageService) AddUsage(ctx context.Context, dir string, delta int64) error {
	if delta == 0 {
		return nil
	}
	return s.db.update(ctx, func(tx *bolt.Tx) error {
		return addUsage(tx.Bucket(bucketUsage), dir, delta)
	})
}

// MoveUsage re-keys the folder tree at from to to and moves size bytes
// from from's ancestors to to's.
func (s *UsageService) MoveUsage(ctx context.Context, from, to string, size int64) error {
	return s.db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsage)
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
func (s *UsageService) DeleteUsage(ctx context.Context, dir string) error {
	return s.db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketUsage)
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
func (s *UsageService) ReplaceUsage(ctx context.Context, usage map[string]int64) error {
	return s.db.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.DeleteBucket(bucketUsage); err != nil {
			return err
		}
		b, err := tx.CreateBucket(bucketUsage)
		if err != nil {
			return err
		}
		for k, v := range usage {
			if err := b.Put([]byte(k), encodeInt(v)); err != nil {
				return err
			}
		}
		return nil
	})
}

// addUsage adds delta to dir and every ancestor up to "/", never going
// below zero.
func addUsage(b *bolt.Bucket, dir string, delta int64) error {
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

func getUsage(b *bolt.Bucket, dir string) int64 { return decodeInt(b.Get([]byte(dir))) }

func encodeInt(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

func decodeInt(v []byte) int64 {
	if len(v) != 8 {
		return 0
	}
	return int64(binary.BigEndian.Uint64(v))
}
