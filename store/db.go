// Package store implements Depot's mft services on an ordered key-value
// transaction (kv.go): bbolt's, where one database file holds every
// entity, its secondary indexes and the schema version, or PostgreSQL's,
// where each bucket is a table (pg.go).
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"depot/mft"
)

// SchemaVersion is the version of the layout this code reads and writes.
const SchemaVersion = 2

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
		bucketAS2, bucketAS2Partners, bucketAS2PartnerID, bucketAS2Messages, bucketAS2MessageID, bucketExpectations,
		bucketRunsPending, bucketDeliveriesPending, bucketTicks, bucketWebSessions, bucketWebSessionsUser, bucketBans, bucketPieces, bucketFailures}

	keySchemaVersion = []byte("schema_version")
)

// migrations[i] upgrades a database from schema version i to i+1. Version 0
// is an empty database.
var migrations = []func(tx kvTx) error{
	func(tx kvTx) error { return nil }, // 0 → 1: buckets are created by Open
	migratePending,                     // 1 → 2: the job queues' pending indexes
}

// DB is the database holding all of Depot's metadata: a bbolt file
// (NewDB) or a PostgreSQL database (NewPostgresDB).
type DB struct {
	// Path is the bbolt file; empty on PostgreSQL.
	Path string
	// DSN is the PostgreSQL connection string; empty on bbolt.
	DSN string
	// Now returns the current time; tests replace it to control timestamps.
	Now func() time.Time

	driver driver
	stats  commitStats

	// Shared lets other nodes that share it open the database at once
	// (PostgreSQL); without it a second node is refused, and a node
	// without it is refused by nodes that share the database.
	Shared bool

	// access grows after every committed change to who may reach what
	// (users, groups, permissions, buckets, mounts): AccessGeneration.
	access atomic.Uint64

	// on holds what to call when another node changed something of a
	// kind (OnChange), by channel.
	mu sync.Mutex
	on map[string][]func()
}

// driver is where a DB keeps its buckets.
type driver interface {
	// update runs fn in a write transaction. fn may run more than once
	// (a group commit that failed, a serialization failure) and must only
	// change state through tx.
	update(ctx context.Context, fn func(tx kvTx) error) error
	// view runs fn in a read-only transaction that sees one snapshot.
	view(ctx context.Context, fn func(tx kvTx) error) error
	ping(ctx context.Context) error
	// node names this process among the nodes on the database;
	// liveNodes names those alive now, this one among them.
	node() string
	liveNodes(ctx context.Context) ([]string, error)
	backup(w io.Writer) (int64, error)
	size(ctx context.Context) int64
	close() error
}

// commitStats counts write transactions and their time, for the metrics.
type commitStats struct{ n, nanos atomic.Int64 }

// add counts one commit that began at start.
func (s *commitStats) add(start time.Time) {
	s.n.Add(1)
	s.nanos.Add(int64(time.Since(start)))
}

// atomicErr holds an error that goroutines share.
type atomicErr struct{ p atomic.Pointer[error] }

func (a *atomicErr) Store(err error) {
	if err == nil {
		a.p.Store(nil)
	} else {
		a.p.Store(&err)
	}
}

func (a *atomicErr) Load() error {
	if p := a.p.Load(); p != nil {
		return *p
	}
	return nil
}

// AccessGeneration returns a number that grows after each committed
// change to users, groups, permissions, buckets or mounts. A reader that
// takes it before reading those may keep what it read until it changes.
func (db *DB) AccessGeneration() uint64 { return db.access.Load() }

// changed is told of another process's change on channel.
func (db *DB) changed(channel string) {
	if channel == accessChannel {
		db.access.Add(1)
	}
	db.mu.Lock()
	fns := db.on[channel]
	db.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// Kinds of change another node may make, for OnChange.
const (
	// Automations: automations, webhooks or expectations.
	Automations = automationsChannel
	// Bans: the defender's bans.
	Bans = bansChannel
)

// OnChange has fn called (on a goroutine of the store's) whenever another
// node may have changed what kind names (Automations, Bans): at each of
// its changes, and whenever this node may have missed one.
func (db *DB) OnChange(kind string, fn func()) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if db.on == nil {
		db.on = map[string][]func(){}
	}
	db.on[kind] = append(db.on[kind], fn)
}

// Node names this process among the nodes on the database.
func (db *DB) Node() string { return db.driver.node() }

// LiveNodes names the nodes alive on the database, this one among them:
// on bbolt, which one process holds, only this one.
func (db *DB) LiveNodes(ctx context.Context) ([]string, error) { return db.driver.liveNodes(ctx) }

// updateAccess is update for a change to who may reach what: the access
// generation grows once it is committed (not before, so that nobody keeps
// the old state under the new number).
func (db *DB) updateAccess(ctx context.Context, fn func(tx kvTx) error) error {
	err := db.update(ctx, func(tx kvTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Notify(accessChannel) // other processes on the database grow theirs
	})
	db.access.Add(1)
	return err
}

// updateAutomations is update for a change to automations, webhooks or
// expectations, which the other nodes' engines then load again.
func (db *DB) updateAutomations(ctx context.Context, fn func(tx kvTx) error) error {
	return db.update(ctx, func(tx kvTx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return tx.Notify(automationsChannel)
	})
}

// NewDB returns a DB for the bbolt file at path; call Open before use.
func NewDB(path string) *DB {
	return &DB{Path: path, Now: time.Now}
}

// NewPostgresDB returns a DB for the PostgreSQL database at dsn (a URL or
// key=value connection string); call Open before use.
func NewPostgresDB(dsn string) *DB {
	return &DB{DSN: dsn, Now: time.Now}
}

// Open opens (or creates) the database, creates missing buckets and runs
// pending migrations.
func (db *DB) Open() error {
	var err error
	if db.DSN != "" {
		db.driver, err = openPostgres(context.Background(), db.DSN, &db.stats, db.changed, db.Shared)
	} else {
		db.driver, err = openBolt(db.Path, db.Now, &db.stats)
	}
	return err
}

// Close closes the database.
func (db *DB) Close() error {
	if db.driver == nil {
		return nil
	}
	return db.driver.close()
}

// pg returns the PostgreSQL driver, or nil on bbolt.
func (db *DB) pg() *pgDriver {
	d, _ := db.driver.(*pgDriver)
	return d
}

// Driver names where the database is: "bolt" or "postgres".
func (db *DB) Driver() string {
	if db.DSN != "" {
		return "postgres"
	}
	return "bolt"
}

// Backup writes a consistent snapshot of the whole database to w while the
// database stays usable, and returns the number of bytes written.
func (db *DB) Backup(w io.Writer) (int64, error) { return db.driver.backup(w) }

// keySecretCheck holds the KeyCheck of the secret.key that sealed the
// database's secrets.
var keySecretCheck = []byte("secret_key_check")

// CheckSecretKey compares check, the KeyCheck of the secret.key this node
// was started with, with the one the database was first used with (and
// notes it on the first start). Another key is refused: every sealed
// secret in the database would be unreadable with it.
func (db *DB) CheckSecretKey(ctx context.Context, check string) error {
	return db.update(ctx, func(tx kvTx) error {
		meta := tx.Bucket(bucketMeta)
		switch had := meta.Get(keySecretCheck); {
		case had == nil:
			return meta.Put(keySecretCheck, []byte(check))
		case string(had) != check:
			return errors.New("this node's secret.key is not the one the database's secrets were sealed with: " +
				"give every node the same data.dir/secret.key (copy it from the first node) and start again")
		}
		return nil
	})
}

// Size returns the bytes the database takes: its file, or what
// PostgreSQL reports for the database; 0 when that cannot be read.
func (db *DB) Size(ctx context.Context) int64 { return db.driver.size(ctx) }

// CommitStats returns how many commits were made and the seconds they
// took in all (the metrics' commit latency); on bbolt a commit carries
// every write queued meanwhile.
func (db *DB) CommitStats() (int64, float64) {
	return db.stats.n.Load(), time.Duration(db.stats.nanos.Load()).Seconds()
}

// Ping checks that the database answers, and takes writes again after a
// failed one.
func (db *DB) Ping(ctx context.Context) error { return db.driver.ping(ctx) }

// now returns the clock's time in UTC, truncated to microseconds so that it
// survives a JSON round trip unchanged.
func (db *DB) now() time.Time {
	return db.Now().UTC().Truncate(time.Microsecond)
}

// update runs fn in a write transaction (see driver.update).
func (db *DB) update(ctx context.Context, fn func(tx kvTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.driver.update(ctx, fn)
}

// view runs fn in a read transaction.
func (db *DB) view(ctx context.Context, fn func(tx kvTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.driver.view(ctx, fn)
}

func get(b kvBucket, key string, v any) (bool, error) {
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

func put(b kvBucket, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: encode %s: %w", key, err)
	}
	return b.Put([]byte(key), data)
}

// list decodes one page of b's values in key order, skipping those keep
// rejects, and reports whether more follow.
func list[T any](b kvBucket, page mft.Page, keep func(*T) bool) ([]*T, bool, error) {
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
func findAll[T any](b kvBucket, keep func(*T) bool) ([]*T, error) {
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
func deleteWhere[T any](b kvBucket, match func(*T) bool) (int, error) {
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
