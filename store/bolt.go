package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"depot/mft"
)

// boltDriver keeps the database in one bbolt file.
type boltDriver struct {
	path  string
	now   func() time.Time
	stats *commitStats
	db    *bolt.DB

	// Group commit (see update): writers queue under queueMu; whoever
	// holds commitMu commits everything queued in one transaction.
	queueMu  sync.Mutex
	queue    []*write
	commitMu sync.Mutex

	// self names this process: the only node on the file.
	self string

	// writeErr is the disk error of the last commit that failed for one,
	// until a commit succeeds; ping reports it.
	writeErr atomicErr
}

// write is one queued update and where its result goes.
type write struct {
	fn   func(tx *bolt.Tx) error
	done chan error
}

func openBolt(path string, now func() time.Time, stats *commitStats) (*boltDriver, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: create data directory: %w", err)
	}
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store: %s is in use by another process (is depot serve running?)", path)
	} else if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	d := &boltDriver{path: path, now: now, stats: stats, db: bdb, self: strconv.Itoa(int(newNodeID()))}
	if err := bdb.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("store: create bucket %s: %w", name, err)
			}
		}
		return migrate(boltTx{tx}, nil) // the file lock keeps other processes out
	}); err != nil {
		bdb.Close()
		return nil, err
	}
	return d, nil
}

// migrate brings the schema version of a database whose buckets exist up
// to SchemaVersion, through migrations.
// migrate brings the schema of the database in tx to SchemaVersion;
// before it changes anything, alone (when not nil) reports an error if
// other processes are using the database (PostgreSQL: nodes of the
// release before, which would run on a schema they do not know).
func migrate(tx kvTx, alone func(from int) error) error {
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
	if version < SchemaVersion && version > 0 && alone != nil {
		if err := alone(version); err != nil {
			return err
		}
	}
	for ; version < SchemaVersion; version++ {
		if err := migrations[version](tx); err != nil {
			return fmt.Errorf("store: migrate schema %d to %d: %w", version, version+1, err)
		}
	}
	return meta.Put(keySchemaVersion, []byte(fmt.Sprint(SchemaVersion)))
}

func (d *boltDriver) close() error { return d.db.Close() }

func (d *boltDriver) node() string { return d.self }

// liveNodes is this one: the file's lock keeps every other process out.
func (d *boltDriver) liveNodes(context.Context) ([]string, error) { return []string{d.self}, nil }

// update runs fn in a write transaction, shared with concurrent writers so
// that they pay for one fsync: a writer queues fn, then whoever gets to
// commit first commits every queued fn in one transaction. A lone writer
// commits at once (bbolt's Batch would wait for company first); writers
// arriving during a commit form the next group. fn may run more than once
// and must only change state through tx.
func (d *boltDriver) update(ctx context.Context, fn func(tx kvTx) error) error {
	w := &write{fn: func(tx *bolt.Tx) error { return fn(boltTx{tx}) }, done: make(chan error, 1)}
	d.queueMu.Lock()
	d.queue = append(d.queue, w)
	d.queueMu.Unlock()

	d.commitMu.Lock()
	d.queueMu.Lock()
	group := d.queue
	d.queue = nil
	d.queueMu.Unlock()
	if len(group) > 0 { // else an earlier committer took w along
		d.commitGroup(group)
	}
	d.commitMu.Unlock()
	return d.diskError(<-w.done)
}

// diskError notes the outcome of a commit for ping, and turns a full disk
// into EQUOTA (507) with a message that names no host path. Nothing of a
// failed commit is kept.
func (d *boltDriver) diskError(err error) error {
	var errno syscall.Errno
	switch {
	case err == nil:
		d.writeErr.Store(nil)
		return nil
	case errors.As(err, new(*mft.Error)):
		return err
	case errors.As(err, &errno) && (errno == syscall.ENOSPC || errno == syscall.EDQUOT):
		d.writeErr.Store(err)
		return mft.Errorf(mft.EQUOTA, "The server's disk is full: the change was not saved. Ask the administrator to free space.")
	case errors.As(err, &errno) && (errno == syscall.EIO || errno == syscall.EROFS):
		d.writeErr.Store(err)
	}
	return err
}

// errRetrySolo rolls a group back when one of its writes fails, so that
// the others are not lost with it.
var errRetrySolo = errors.New("store: retry writes one by one")

// commitGroup commits the writes of a group in one transaction. If one of
// them fails, the group is rolled back and each write runs in its own
// transaction, so that each gets its own answer.
func (d *boltDriver) commitGroup(group []*write) {
	defer d.stats.add(time.Now())
	err := d.db.Update(func(tx *bolt.Tx) error {
		for _, w := range group {
			if err := w.fn(tx); err != nil {
				return errRetrySolo
			}
		}
		return nil
	})
	if errors.Is(err, errRetrySolo) {
		for _, w := range group {
			w.done <- d.db.Update(w.fn)
		}
		return
	}
	for _, w := range group {
		w.done <- err
	}
}

func (d *boltDriver) view(ctx context.Context, fn func(tx kvTx) error) error {
	return d.db.View(func(tx *bolt.Tx) error { return fn(boltTx{tx}) })
}

func (d *boltDriver) backup(w io.Writer) (int64, error) {
	var n int64
	err := d.db.View(func(tx *bolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	return n, err
}

func (d *boltDriver) size(context.Context) int64 {
	fi, err := os.Stat(d.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// ping checks that the file answers a read transaction and, after a
// commit failed on the disk, that it takes a small write again.
func (d *boltDriver) ping(ctx context.Context) error {
	err := d.view(ctx, func(tx kvTx) error {
		if tx.(boltTx).tx.Bucket(bucketMeta) == nil {
			return errors.New("store: meta bucket missing")
		}
		return nil
	})
	if err != nil || d.writeErr.Load() == nil {
		return err
	}
	err = d.update(ctx, func(tx kvTx) error {
		return tx.Bucket(bucketMeta).Put([]byte("health_probe"), []byte(d.now().UTC().Format(time.RFC3339)))
	})
	if err == nil {
		return nil
	}
	reason := "a disk error"
	var errno syscall.Errno
	if errors.As(d.writeErr.Load(), &errno) {
		reason = errno.Error()
	}
	return mft.Errorf(mft.EUNAVAILABLE, "The database cannot be written: %s.", reason)
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
	return (&boltDriver{db: bdb}).backup(w)
}
