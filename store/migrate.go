package store

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	bolt "go.etcd.io/bbolt"

	"depot/mft"
)

// Copied is how many records of one kind a migration copied.
type Copied struct {
	Bucket string
	N      int
}

// MigrateToPostgres copies every record of the bbolt database at path
// (which no server may have open) into the PostgreSQL database at dsn,
// which must hold no Depot records yet, in one transaction that commits
// only if each table then holds as many rows as its bucket. A second
// node cannot start on dsn meanwhile (the node lock).
func MigrateToPostgres(ctx context.Context, path, dsn string) ([]Copied, error) {
	src, err := openBolt(path, nil, &commitStats{})
	if err != nil {
		return nil, err
	}
	defer src.close()
	dst, err := openPostgres(ctx, dsn, &commitStats{}, nil, false)
	if err != nil {
		return nil, err
	}
	defer dst.close()

	var out []Copied
	err = src.db.View(func(btx *bolt.Tx) error {
		return pgx.BeginFunc(ctx, dst.pool, func(ptx pgx.Tx) error {
			for _, name := range allBuckets {
				c, err := copyBucket(ctx, btx.Bucket(name), ptx, name)
				if err != nil {
					return err
				}
				out = append(out, c)
			}
			return nil
		})
	})
	return out, err
}

// copyBucket streams one bucket into its empty table (COPY) and checks
// the count; Meta is merged, as opening the database wrote its version.
func copyBucket(ctx context.Context, b *bolt.Bucket, tx pgx.Tx, name []byte) (Copied, error) {
	table := tableName(name)
	c := Copied{Bucket: string(name), N: b.Stats().KeyN}
	if string(name) == string(bucketAudit) {
		return c, copyAudit(ctx, b, tx, c.N)
	}
	if string(name) == string(bucketMeta) {
		t := inTx(ctx, tx)
		dst := t.Bucket(name)
		err := b.ForEach(func(k, v []byte) error { return dst.Put(k, v) })
		return c, errors.Join(err, t.err)
	}
	var rows int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
		return c, err
	}
	if rows > 0 {
		return c, mft.Errorf(mft.ECONFLICT, "the PostgreSQL database already holds Depot records (%d in %s): migrate into an empty database", rows, table)
	}
	cur := b.Cursor()
	k, v := cur.First()
	n, err := tx.CopyFrom(ctx, pgx.Identifier{strings.Trim(table, `"`)}, []string{"h", "k", "v"}, pgx.CopyFromFunc(func() ([]any, error) {
		if k == nil {
			return nil, nil
		}
		row := []any{keyHash(k), k, nonNil(v)}
		k, v = cur.Next()
		return row, nil
	}))
	if err != nil {
		return c, fmt.Errorf("copy %s: %w", name, err)
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&rows); err != nil {
		return c, err
	}
	if int(n) != c.N || rows != c.N {
		return c, fmt.Errorf("copy %s: %d records in bbolt, %d copied, %d in the table: nothing was kept", name, c.N, n, rows)
	}
	return c, nil
}

// copyAudit copies the audit log into its table, a thousand events at a
// time, making the months' partitions first.
func copyAudit(ctx context.Context, b *bolt.Bucket, tx pgx.Tx, want int) error {
	var rows int
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM audit_events").Scan(&rows); err != nil {
		return err
	}
	if rows > 0 {
		return mft.Errorf(mft.ECONFLICT, "the PostgreSQL database already holds Depot records (%d audit events): migrate into an empty database", rows)
	}
	batch := make([]mft.Event, 0, 1000)
	made := map[string]bool{}
	flush := func() error {
		for _, ev := range batch { // in this transaction: it holds the table
			if name, _, _ := auditPartition(ev.Time); !made[name] {
				if err := makePartition(ctx, tx, ev.Time); err != nil {
					return err
				}
				made[name] = true
			}
		}
		err := copyEvents(ctx, tx, batch)
		batch = batch[:0]
		return err
	}
	err := b.ForEach(func(k, v []byte) error {
		var ev mft.Event
		if err := decode(k, v, &ev); err != nil {
			return err
		}
		if batch = append(batch, ev); len(batch) == cap(batch) {
			return flush()
		}
		return nil
	})
	if err == nil && len(batch) > 0 {
		err = flush()
	}
	if err != nil {
		return fmt.Errorf("copy Audit: %w", err)
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM audit_events").Scan(&rows); err != nil {
		return err
	}
	if rows != want {
		return fmt.Errorf("copy Audit: %d events in bbolt, %d in the table: nothing was kept", want, rows)
	}
	return nil
}
