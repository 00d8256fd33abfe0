package store

import (
	bolt "go.etcd.io/bbolt"
)

// The entity code of this package runs on a small ordered key-value
// transaction, so that one implementation of every rule (indexes,
// references between entities, counters moved in the same transaction as
// the record) serves both drivers: bbolt's own transactions (below), and
// PostgreSQL's, where each bucket is a table of (k, v) rows (pg.go).

// kvTx is a transaction: its buckets, each an ordered map of bytes to
// bytes. A read-only transaction refuses writes.
type kvTx interface {
	Bucket(name []byte) kvBucket
	// ClearBucket removes every key of the named bucket.
	ClearBucket(name []byte) error
	// Notify tells the other processes on the database, once the
	// transaction commits, of a change of the kind channel names (a
	// PostgreSQL NOTIFY; nothing on bbolt, which one process holds).
	Notify(channel string) error
}

// kvBucket is one bucket in a transaction. Get's result is valid until
// the transaction ends.
type kvBucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() kvCursor
	// ForEach calls fn for each key in order; fn must not change the bucket.
	ForEach(fn func(k, v []byte) error) error
	// KeyN returns the number of keys.
	KeyN() int
}

// kvCursor walks a bucket in key order, as a bbolt cursor does: each move
// returns the key and value it lands on, or nil keys past either end.
type kvCursor interface {
	First() (key, value []byte)
	Last() (key, value []byte)
	Seek(seek []byte) (key, value []byte)
	Next() (key, value []byte)
	Prev() (key, value []byte)
	// Delete removes the key the cursor is on.
	Delete() error
}

// boltTx is a bbolt transaction as a kvTx.
type boltTx struct{ tx *bolt.Tx }

func (t boltTx) Bucket(name []byte) kvBucket { return boltBucket{t.tx.Bucket(name)} }

func (t boltTx) Notify(string) error { return nil }

func (t boltTx) ClearBucket(name []byte) error {
	if err := t.tx.DeleteBucket(name); err != nil {
		return err
	}
	_, err := t.tx.CreateBucket(name)
	return err
}

// boltBucket is a bbolt bucket as a kvBucket.
type boltBucket struct{ b *bolt.Bucket }

func (b boltBucket) Get(key []byte) []byte                    { return b.b.Get(key) }
func (b boltBucket) Put(key, value []byte) error              { return b.b.Put(key, value) }
func (b boltBucket) Delete(key []byte) error                  { return b.b.Delete(key) }
func (b boltBucket) Cursor() kvCursor                         { return b.b.Cursor() }
func (b boltBucket) ForEach(fn func(k, v []byte) error) error { return b.b.ForEach(fn) }
func (b boltBucket) KeyN() int                                { return b.b.Stats().KeyN }
