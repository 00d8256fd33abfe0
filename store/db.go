// Package store implements Depot's mft services on bbolt: one database file
// holds every entity, its secondary indexes and the schema version.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"depot/mft"
)

// SchemaVersion is the version of the layout this code reads and writes.
const SchemaVersion = 1

// Bucket names. Index buckets are named "<Entity>.<Field>".
var (
	bucketMeta          = []byte("Meta")
	bucketUsers         = []byte("Users")
	bucketUsersEmail    = []byte("Users.Email")
	bucketUsersUsername = []byte("Users.Username")
	bucketUsersAPIKey   = []byte("Users.APIKey")
	bucketGroups        = []byte("Groups")
	bucketTokens        = []byte("Tokens")

	allBuckets = [][]byte{bucketMeta, bucketUsers, bucketUsersEmail, bucketUsersUsername,
		bucketUsersAPIKey, bucketGroups, bucketTokens, bucketUsage, bucketAudit, bucketPermissions,
		bucketFolders, bucketFoldersPath, bucketFiledrops, bucketSubmissions, bucketSubmissionsKey, bucketMessages,
		bucketAutomations, bucketRuns, bucketProcessed, bucketWebhooks, bucketDeliveries, bucketBuckets,
		bucketDropzones, bucketDropzonesToken, bucketDropzoneFiles, bucketLinks, bucketConnections, bucketMounts,
		bucketAS2, bucketAS2Partners, bucketAS2PartnerID, bucketAS2Messages, bucketAS2MessageID, bucketExpectations}

	keySchemaVersion = []byte("schema_version")
)

// migrations[i] upgrades a database from schema version i to i+1. Version 0
// is an empty file.
var migrations = []func(tx *bolt.Tx) error{
	func(tx *bolt.Tx) error { return nil }, // 0 → 1: buckets are created by Open
}

// DB is the bbolt database holding all of Depot's metadata.
type DB struct {
	// Path is the database file.
	Path string
	// Now returns the current time; tests replace it to control timestamps.
	Now func() time.Time

	db *bolt.DB
	// commits and commitNanos count the group commits and their time.
	commits, commitNanos atomic.Int64

	// Group commit (see update): writers queue under queueMu; whoever
	// holds commitMu commits everything queued in one transaction.
	queueMu  sync.Mutex
	queue    []*write
	commitMu sync.Mutex

	// writeErr is the disk error of the last commit that failed for one,
	// until a commit succeeds; Ping reports it.
	writeErr atomic.Pointer[error]

	// access grows after every committed change to who may reach what
	// (users, groups, permissions, buckets, mounts): AccessGeneration.
	access atomic.Uint64
}

// AccessGeneration returns a number that grows after each committed
// change to users, groups, permissions, buckets or mounts. A reader that
// takes it before reading those may keep what it read until it changes.
func (db *DB) AccessGeneration() uint64 { return db.access.Load() }

// updateAccess is update for a change to who may reach what: the access
// generation grows once it is committed (not before, so that nobody keeps
// the old state under the new number).
func (db *DB) updateAccess(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	err := db.update(ctx, fn)
	db.access.Add(1)
	return err
}

// write is one queued update and where its result goes.
type write struct {
	fn   func(tx *bolt.Tx) error
	done chan error
}

// NewDB returns a DB for the file at path; call Open before use.
func NewDB(path string) *DB {
	return &DB{Path: path, Now: time.Now}
}

// Open opens (or creates) the database file, creates missing buckets and
// runs pending migrations.
func (db *DB) Open() error {
	if err := os.MkdirAll(filepath.Dir(db.Path), 0o700); err != nil {
		return fmt.Errorf("store: create data directory: %w", err)
	}
	bdb, err := bolt.Open(db.Path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("store: %s is in use by another process (is depot serve running?)", db.Path)
	} else if err != nil {
		return fmt.Errorf("store: open %s: %w", db.Path, err)
	}
	db.db = bdb
	if err := db.db.Update(db.migrate); err != nil {
		db.db.Close()
		return err
	}
	return nil
}

func (db *DB) migrate(tx *bolt.Tx) error {
	for _, name := range allBuckets {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("store: create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	version := 0
	if v := meta.Get(keySchemaVersion); v != nil {
		if err := json.Unmarshal(v, &version); err != nil {
			return fmt.Errorf("store: read schema version: %w", err)
		}
	}
	if version > SchemaVersion {
		return fmt.Errorf("store: database schema version %d is newer than this depot (%d); upgrade depot", version, SchemaVersion)
	}
	for ; version < SchemaVersion; version++ {
		if err := migrations[version](tx); err != nil {
			return fmt.Errorf("store: migrate schema %d to %d: %w", version, version+1, err)
		}
	}
	return meta.Put(keySchemaVersion, []byte(fmt.Sprint(SchemaVersion)))
}

// Close closes the database file.
func (db *DB) Close() error {
	if db.db == nil {
		return nil
	}
	return db.db.Close()
}

// Backup writes a consistent snapshot of the whole database to w while the
// database stays usable, and returns the number of bytes written.
func (db *DB) Backup(w io.Writer) (int64, error) {
	var n int64
	err := db.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

// BackupSize returns the size a backup written now would have.
func (db *DB) BackupSize() int64 {
	var n int64
	_ = db.db.View(func(tx *bolt.Tx) error { n = tx.Size(); return nil })
	return n
}

// CommitStats returns how many group commits were made and the seconds
// they took in all (the metrics' commit latency).
func (db *DB) CommitStats() (int64, float64) {
	return db.commits.Load(), time.Duration(db.commitNanos.Load()).Seconds()
}

// now returns the clock's time in UTC, truncated to microseconds so that it
// survives a JSON round trip unchanged.
func (db *DB) now() time.Time {
	return db.Now().UTC().Truncate(time.Microsecond)
}

// update runs fn in a write transaction, shared with concurrent writers so
// that they pay for one fsync: a writer queues fn, then whoever gets to
// commit first commits every queued fn in one transaction. A lone writer
// commits at once (bbolt's Batch would wait for company first); writers
// arriving during a commit form the next group. fn may run more than once
// and must only change state through tx.
func (db *DB) update(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w := &write{fn: fn, done: make(chan error, 1)}
	db.queueMu.Lock()
	db.queue = append(db.queue, w)
	db.queueMu.Unlock()

	db.commitMu.Lock()
	db.queueMu.Lock()
	group := db.queue
	db.queue = nil
	db.queueMu.Unlock()
	if len(group) > 0 { // else an earlier committer took w along
		db.commitGroup(group)
	}
	db.commitMu.Unlock()
	return db.diskError(<-w.done)
}

// diskError notes the outcome of a commit for Ping, and turns a full disk
// into EQUOTA (507) with a message that names no host path. Nothing of a
// failed commit is kept.
func (db *DB) diskError(err error) error {
	var errno syscall.Errno
	switch {
	case err == nil:
		db.writeErr.Store(nil)
		return nil
	case errors.As(err, new(*mft.Error)):
		return err
	case errors.As(err, &errno) && (errno == syscall.ENOSPC || errno == syscall.EDQUOT):
		db.writeErr.Store(&err)
		return mft.Errorf(mft.EQUOTA, "The server's disk is full: the change was not saved. Ask the administrator to free space.")
	case errors.As(err, &errno) && (errno == syscall.EIO || errno == syscall.EROFS):
		db.writeErr.Store(&err)
	}
	return err
}

// errRetrySolo rolls a group back when one of its writes fails, so that
// the others are not lost with it.
var errRetrySolo = errors.New("store: retry writes one by one")

// commitGroup commits the writes of a group in one transaction. If one of
// them fails, the group is rolled back and each write runs in its own
// transaction, so that each gets its own answer.
func (db *DB) commitGroup(group []*write) {
	start := time.Now()
	defer func() {
		db.commits.Add(1)
		db.commitNanos.Add(int64(time.Since(start)))
	}()
	err := db.db.Update(func(tx *bolt.Tx) error {
		for _, w := range group {
			if err := w.fn(tx); err != nil {
				return errRetrySolo
			}
		}
		return nil
	})
	if errors.Is(err, errRetrySolo) {
		for _, w := range group {
			w.done <- db.db.Update(w.fn)
		}
		return
	}
	for _, w := range group {
		w.done <- err
	}
}

// view runs fn in a read transaction.
func (db *DB) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.db.View(fn)
}

func get(b *bolt.Bucket, key string, v any) (bool, error) {
	data := b.Get([]byte(key))
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("store: decode %s: %w", key, err)
	}
	return true, nil
}

// decode unmarshals the value v of key k.
func decode(k, v []byte, dst any) error {
	if err := json.Unmarshal(v, dst); err != nil {
		return fmt.Errorf("store: decode %s: %w", k, err)
	}
	return nil
}

func put(b *bolt.Bucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", key, err)
	}
	return b.Put([]byte(key), data)
}

// list decodes one page of b's values in key order, skipping those keep
// rejects, and reports whether more follow.
func list[T any](b *bolt.Bucket, page mft.Page, keep func(*T) bool) ([]*T, bool, error) {
	page = page.Normalize()
	var out []*T
	c := b.Cursor()
	k, v := c.First()
	if page.After != "" {
		k, v = c.Seek([]byte(page.After))
		if k != nil && string(k) == page.After {
			k, v = c.Next()
		}
	}
	for ; k != nil; k, v = c.Next() {
		item := new(T)
		if err := json.Unmarshal(v, item); err != nil {
			return nil, false, fmt.Errorf("store: decode %s: %w", k, err)
		}
		if keep != nil && !keep(item) {
			continue
		}
		if len(out) == page.Limit {
			return out, true, nil
		}
		out = append(out, item)
	}
	return out, false, nil
}

// findAll decodes every value of b that keep accepts, in key order.
func findAll[T any](b *bolt.Bucket, keep func(*T) bool) ([]*T, error) {
	var out []*T
	err := b.ForEach(func(k, v []byte) error {
		item := new(T)
		if err := json.Unmarshal(v, item); err != nil {
			return fmt.Errorf("store: decode %s: %w", k, err)
		}
		if keep(item) {
			out = append(out, item)
		}
		return nil
	})
	return out, err
}

// deleteWhere removes the values of b that match and returns how many.
func deleteWhere[T any](b *bolt.Bucket, match func(*T) bool) (int, error) {
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		item := new(T)
		if err := json.Unmarshal(v, item); err != nil {
			return fmt.Errorf("store: decode %s: %w", k, err)
		}
		if match(item) {
			keys = append(keys, append([]byte(nil), k...))
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return len(keys), nil
}

// ErrLocked is returned by BackupFile when a running server holds the file.
var ErrLocked = errors.New("store: database is in use by a running server")

// BackupFile writes a consistent snapshot of the database file at path to w
// without changing it. It returns ErrLocked if a server has the file open.
func BackupFile(path string, w io.Writer) (int64, error) {
	if _, err := os.Stat(path); err != nil {
		return 0, fmt.Errorf("store: %w", err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second, ReadOnly: true})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return 0, ErrLocked
	} else if err != nil {
		return 0, fmt.Errorf("store: open %s: %w", path, err)
	}
	defer bdb.Close()
	db := &DB{Path: path, db: bdb}
	return db.Backup(w)
}

// Ping checks that the database answers a read transaction.
func (db *DB) Ping(ctx context.Context) error {
	err := db.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta) == nil {
			return errors.New("store: meta bucket missing")
		}
		return nil
	})
	if err != nil || db.writeErr.Load() == nil {
		return err
	}
	// The last commit failed on the disk: try a small write, which clears
	// the state once the disk takes writes again.
	err = db.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put([]byte("health_probe"), []byte(db.now().UTC().Format(time.RFC3339)))
	})
	if err == nil {
		return nil
	}
	reason := "a disk error"
	if last := db.writeErr.Load(); last != nil {
		var errno syscall.Errno
		if errors.As(*last, &errno) {
			reason = errno.Error()
		}
	}
	return mft.Errorf(mft.EUNAVAILABLE, "The database cannot be written: %s.", reason)
}
