package store

import (
	"context"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"depot/mft"
)

// pgDriver keeps the database in PostgreSQL: each bucket is a table
// (h, k, v) named after it (tableName, kvSchema), so that
// the same code and the same rules run on both drivers. Writes are
// SERIALIZABLE transactions, retried when PostgreSQL reports that a
// concurrent one got in the way.
type pgDriver struct {
	pool  *pgxpool.Pool
	stats *commitStats
	// sole holds the session lock that says a Depot node uses the
	// database: alone, or (shared) with other nodes that share it.
	sole *pgxpool.Conn
	// months are the audit partitions known to exist (pg_audit.go).
	months sync.Map
	// self is the payload of this process's notifications, which its own
	// listener skips (it heard of its changes at their commit).
	self string
	// nodeID names this node among those on the database: the listener's
	// connection holds the advisory lock (lockNodes, nodeID) while the
	// node lives, which is how the others know it does (liveNodes).
	nodeID int32
	// stopListening ends listen; listening is closed when it has.
	stopListening context.CancelFunc
	listening     chan struct{}
}

// Advisory lock keys: migrating the schema, being the database's only
// node, and (two keys: lockNodes and a node's id) being a live node.
const (
	lockMigrate = 0x6465706f74_01 // "depot" 1
	lockNode    = 0x6465706f74_02
	lockNodes   = 0x64657074 // "dept"
)

// tableName is the table of a bucket: "Users.Email" is users_email.
func tableName(bucket []byte) string { return pgx.Identifier{bucketTable(bucket)}.Sanitize() }

func bucketTable(bucket []byte) string {
	return strings.ToLower(strings.ReplaceAll(string(bucket), ".", "_"))
}

// A bucket's table keys its rows by h, the SHA-256 of the key, because a
// btree entry holds at most 2,704 bytes and a key (a folder's path, up to
// 4,096) may be longer; order comes from an index on the key's first
// orderPrefix bytes, ties (keys that long and alike) sorted after it.
// Ordering by (prefix, k) is ordering by k, and k >= s implies
// prefix(k) >= prefix(s), so the cursors' conditions on the prefix only
// let the index be used.
const (
	orderPrefix = "substring(k from 1 for 1024)"
	kvSchema    = "CREATE TABLE IF NOT EXISTS %[1]s (h bytea PRIMARY KEY, k bytea NOT NULL, v bytea NOT NULL);" +
		"CREATE INDEX IF NOT EXISTS %[2]s ON %[1]s (" + orderPrefix + ")"
)

// openPostgres connects, creates the tables and runs pending migrations
// under an advisory lock (nodes starting together migrate once). It then
// takes the node lock: alone, so that a second node on the database is
// refused, or shared with the other nodes that share it.
// With changed, the node listens for the others' notifications (changed
// is called with the channel) and holds its liveness lock.
func openPostgres(ctx context.Context, dsn string, stats *commitStats, changed func(channel string), shared bool) (*pgDriver, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: database.dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: database.dsn: %w", err)
	}
	d := &pgDriver{pool: pool, stats: stats, self: crand.Text(), nodeID: newNodeID()}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(lockMigrate)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, auditSchema); err != nil {
			return fmt.Errorf("store: create the audit table: %w", err)
		}
		for _, name := range allBuckets {
			if string(name) == string(bucketAudit) {
				continue // a table of its own (pg_audit.go)
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(kvSchema, tableName(name), pgx.Identifier{bucketTable(name) + "_order"}.Sanitize())); err != nil {
				return fmt.Errorf("store: create table %s: %w", tableName(name), err)
			}
		}
		t := inTx(ctx, tx)
		alone := func(from int) error { // no node holds the node lock, shared or not
			var free bool
			if err := tx.QueryRow(ctx, "SELECT pg_try_advisory_xact_lock($1)", int64(lockNode)).Scan(&free); err != nil {
				return err
			}
			if !free {
				return fmt.Errorf("store: depot nodes of an earlier release are using this database (schema version %d), and this release upgrades the schema to %d: stop every node, then start the upgraded ones", from, SchemaVersion)
			}
			return nil
		}
		if err := migrate(t, alone); err != nil {
			return err
		}
		return t.err
	})
	if err != nil {
		pool.Close()
		return nil, err
	}
	if d.sole, err = pool.Acquire(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL: %w", err)
	}
	lock, refusal := "pg_try_advisory_lock", "another depot node is using this database: to share it, set database.shared = true on every node"
	if shared {
		lock, refusal = "pg_try_advisory_lock_shared", "a depot node that does not share this database (database.shared = false) is using it"
	}
	var locked bool
	if err := d.sole.QueryRow(ctx, "SELECT "+lock+"($1)", int64(lockNode)).Scan(&locked); err != nil || !locked {
		d.close()
		if err == nil {
			err = errors.New(refusal)
		}
		return nil, fmt.Errorf("store: %w", err)
	}
	if changed != nil {
		if err := d.startListening(ctx, changed); err != nil {
			d.close()
			return nil, err
		}
	}
	return d, nil
}

func (d *pgDriver) close() error {
	if d.stopListening != nil {
		d.stopListening()
		<-d.listening
		d.stopListening = nil
	}
	if d.sole != nil {
		d.sole.Release()
		d.sole = nil
	}
	d.pool.Close() // again: nothing
	return nil
}

func (d *pgDriver) update(ctx context.Context, fn func(tx kvTx) error) error {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		err := d.run(ctx, "BEGIN ISOLATION LEVEL SERIALIZABLE", fn)
		if err == nil {
			d.stats.add(start)
			return nil
		}
		if !retryable(err) || attempt == maxAttempts {
			return unavailable(err)
		}
		// Two writers that met will likely meet again at once: wait a
		// random while, longer each time.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(rand.Int64N(int64(attempt) * int64(time.Millisecond)))):
		}
	}
}

// maxAttempts bounds the retries of a write that keeps meeting others.
const maxAttempts = 30

func (d *pgDriver) view(ctx context.Context, fn func(tx kvTx) error) error {
	return unavailable(d.run(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", fn))
}

// run runs fn in one transaction and commits it if fn and every
// statement it made succeeded. The transaction begins with fn's first
// statement (pgTx); one that made none ends without a word to the server.
func (d *pgDriver) run(ctx context.Context, begin string, fn func(tx kvTx) error) error {
	conn, err := d.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release() // a connection left inside a transaction is closed by the pool
	t := &pgTx{ctx: ctx, q: conn.Conn(), begin: begin, self: d.self}
	err = fn(t)
	if t.err != nil { // fn may have decided on a read that failed
		err = t.err
	}
	if t.begin != "" { // nothing was sent
		return err
	}
	if err != nil {
		_, rerr := conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		if rerr != nil {
			conn.Conn().Close(context.WithoutCancel(ctx))
		}
		return err
	}
	_, err = conn.Exec(ctx, "COMMIT")
	return err
}

// retryable reports whether a transaction failed only because a
// concurrent one got in the way, so that running it again may succeed.
// Every Put is an upsert, so a unique violation is such a meeting too.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01" || pe.Code == "23505")
}

// unavailable turns a lost or refused connection into EUNAVAILABLE (503),
// which names no host; answers of the entity code and PostgreSQL's own
// errors pass unchanged.
func unavailable(err error) error {
	var pe *pgconn.PgError
	switch {
	case err == nil, errors.As(err, new(*mft.Error)), errors.Is(err, context.Canceled),
		errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &pe) && !strings.HasPrefix(pe.Code, "08") && !strings.HasPrefix(pe.Code, "57P"):
		return err // a statement's error, not the connection's
	}
	return fmt.Errorf("%w (%v)", mft.Errorf(mft.EUNAVAILABLE, "The database cannot be reached; try again shortly."), err)
}

func (d *pgDriver) ping(ctx context.Context) error {
	return d.view(ctx, func(tx kvTx) error {
		tx.Bucket(bucketMeta).Get(keySchemaVersion)
		return nil
	})
}

func (d *pgDriver) backup(io.Writer) (int64, error) {
	return 0, mft.Errorf(mft.EINVALID, "The database is PostgreSQL: back it up with pg_dump.")
}

func (d *pgDriver) size(ctx context.Context) int64 {
	var n int64
	if err := d.pool.QueryRow(ctx, "SELECT pg_database_size(current_database())").Scan(&n); err != nil {
		return 0
	}
	return n
}
