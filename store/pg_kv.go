package store

import (
	"context"
	"crypto/sha256"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// pgTx is a PostgreSQL transaction as a kvTx. A statement that fails is
// kept in err, the transaction is not committed, and err is its answer:
// Get cannot return an error, so the code that read "not found" from a
// failed Get never has its decision stored.
//
// A transaction of pgDriver.run begins lazily: BEGIN goes to PostgreSQL in
// one round trip with the first statement (pgx.Batch), so that a lookup
// pays three round trips (BEGIN and a read, a read, COMMIT) instead of
// four, and a transaction that reads nothing pays none.
type pgTx struct {
	ctx context.Context
	q   querier
	// begin is the BEGIN statement still to send with the first
	// statement; "" once sent (or when q is a transaction already).
	begin string
	// self names this process in its access notifications (pg_listen.go).
	self string
	err  error
}

// querier is a connection or a transaction.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// inTx wraps an open pgx transaction.
func inTx(ctx context.Context, tx pgx.Tx) *pgTx { return &pgTx{ctx: ctx, q: tx} }

// firstStatement sends BEGIN and sql together and returns the results,
// positioned on sql's; the caller reads them and closes them.
func (t *pgTx) firstStatement(sql string, args []any) (pgx.BatchResults, error) {
	b := &pgx.Batch{}
	b.Queue(t.begin)
	b.Queue(sql, args...)
	br := t.q.SendBatch(t.ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	t.begin = ""
	return br, nil
}

// exec runs a statement that returns no rows.
func (t *pgTx) exec(sql string, args ...any) (pgconn.CommandTag, error) {
	if t.begin == "" {
		return t.q.Exec(t.ctx, sql, args...)
	}
	br, err := t.firstStatement(sql, args)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	return tag, errors.Join(err, br.Close())
}

// queryRow runs a statement that returns at most one row into dest.
func (t *pgTx) queryRow(sql string, args []any, dest ...any) error {
	if t.begin == "" {
		return t.q.QueryRow(t.ctx, sql, args...).Scan(dest...)
	}
	br, err := t.firstStatement(sql, args)
	if err != nil {
		return err
	}
	err = br.QueryRow().Scan(dest...)
	if cerr := br.Close(); err == nil || errors.Is(err, pgx.ErrNoRows) && cerr != nil {
		err = cerr
	}
	return err
}

// query runs a statement and calls each for every row, read whole.
func (t *pgTx) query(sql string, args []any, each func(pgx.Rows) error) error {
	var rows pgx.Rows
	var br pgx.BatchResults
	if t.begin == "" {
		var err error
		if rows, err = t.q.Query(t.ctx, sql, args...); err != nil {
			return err
		}
	} else {
		var err error
		if br, err = t.firstStatement(sql, args); err != nil {
			return err
		}
		rows, _ = br.Query() // its error comes from rows.Err
	}
	var err error
	for rows.Next() && err == nil {
		err = each(rows)
	}
	rows.Close()
	err = errors.Join(err, rows.Err())
	if br != nil {
		err = errors.Join(err, br.Close())
	}
	return err
}

func (t *pgTx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *pgTx) Bucket(name []byte) kvBucket { return pgBucket{t: t, table: tableName(name)} }

func (t *pgTx) Notify(channel string) error {
	if _, err := t.exec("SELECT pg_notify($1, $2)", channel, t.self); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *pgTx) ClearBucket(name []byte) error {
	return pgBucket{t: t, table: tableName(name)}.exec("DELETE FROM " + tableName(name))
}

// pgBucket is one bucket's table in a transaction.
type pgBucket struct {
	t     *pgTx
	table string
}

// keyHash is the h of a key (kvSchema).
func keyHash(key []byte) []byte {
	h := sha256.Sum256(key)
	return h[:]
}

// pgBatch is how many rows a cursor or ForEach reads at a time.
const pgBatch = 128

// nonNil keeps an empty value apart from a missing one, as bbolt does.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (b pgBucket) exec(sql string, args ...any) error {
	if b.t.err != nil {
		return b.t.err
	}
	if _, err := b.t.exec(sql, args...); err != nil {
		return b.t.fail(err)
	}
	return nil
}

func (b pgBucket) Get(key []byte) []byte {
	if b.t.err != nil {
		return nil
	}
	var v []byte
	err := b.t.queryRow("SELECT v FROM "+b.table+" WHERE h = $1", []any{keyHash(key)}, &v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		b.t.fail(err)
		return nil
	}
	return nonNil(v)
}

func (b pgBucket) Put(key, value []byte) error {
	return b.exec("INSERT INTO "+b.table+" (h, k, v) VALUES ($1, $2, $3) ON CONFLICT (h) DO UPDATE SET v = EXCLUDED.v",
		keyHash(key), nonNil(key), nonNil(value))
}

func (b pgBucket) Delete(key []byte) error {
	return b.exec("DELETE FROM "+b.table+" WHERE h = $1", keyHash(key))
}

func (b pgBucket) KeyN() int {
	if b.t.err != nil {
		return 0
	}
	var n int
	if err := b.t.queryRow("SELECT count(*) FROM "+b.table, nil, &n); err != nil {
		b.t.fail(err)
	}
	return n
}

func (b pgBucket) ForEach(fn func(k, v []byte) error) error {
	c := &pgCursor{b: b}
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return b.t.err
}

func (b pgBucket) Cursor() kvCursor { return &pgCursor{b: b} }

// pgCursor walks a table in batches of pgBatch rows, read whole before
// the caller sees the first (so the caller may run statements between
// moves), in the direction of the last move; changing direction reads
// again from the current key.
type pgCursor struct {
	b     pgBucket
	items []kvPair
	i     int  // the current item; len(items) when past the end
	desc  bool // items are in descending key order
	full  bool // the batch was full: more rows may follow it
}

type kvPair struct{ k, v []byte }

func (c *pgCursor) load(where string, from []byte, desc bool) ([]byte, []byte) {
	c.items, c.i, c.desc, c.full = c.items[:0], 0, desc, false
	t := c.b.t
	if t.err != nil {
		return nil, nil
	}
	order := " ORDER BY " + orderPrefix + ", k"
	if desc {
		order = " ORDER BY " + orderPrefix + " DESC, k DESC"
	}
	args := []any{}
	if where != "" {
		args = append(args, from)
	}
	err := t.query("SELECT k, v FROM "+c.b.table+where+order+" LIMIT "+strconv.Itoa(pgBatch), args, func(rows pgx.Rows) error {
		var p kvPair
		if err := rows.Scan(&p.k, &p.v); err != nil {
			return err
		}
		c.items = append(c.items, kvPair{nonNil(p.k), nonNil(p.v)})
		return nil
	})
	if err != nil {
		t.fail(err)
		c.items = c.items[:0]
		return nil, nil
	}
	c.full = len(c.items) == pgBatch
	return c.current()
}

func (c *pgCursor) current() ([]byte, []byte) {
	if c.i < len(c.items) {
		return c.items[c.i].k, c.items[c.i].v
	}
	return nil, nil
}

func (c *pgCursor) First() ([]byte, []byte) { return c.load("", nil, false) }
func (c *pgCursor) Last() ([]byte, []byte)  { return c.load("", nil, true) }
func (c *pgCursor) Seek(seek []byte) ([]byte, []byte) {
	return c.load(" WHERE "+orderPrefix+" >= substring($1::bytea from 1 for 1024) AND k >= $1", seek, false)
}

func (c *pgCursor) Next() ([]byte, []byte) { return c.step(false) }
func (c *pgCursor) Prev() ([]byte, []byte) { return c.step(true) }

// step moves one key on in the direction desc.
func (c *pgCursor) step(desc bool) ([]byte, []byte) {
	cmp := " WHERE " + orderPrefix + " >= substring($1::bytea from 1 for 1024) AND k > $1"
	if desc {
		cmp = " WHERE " + orderPrefix + " <= substring($1::bytea from 1 for 1024) AND k < $1"
	}
	if c.desc != desc { // turning round: read again from the current key
		if c.i >= len(c.items) {
			return nil, nil
		}
		return c.load(cmp, c.items[c.i].k, desc)
	}
	if c.i >= len(c.items) {
		return nil, nil
	}
	c.i++
	if c.i < len(c.items) || !c.full {
		return c.current()
	}
	return c.load(cmp, c.items[len(c.items)-1].k, desc)
}

func (c *pgCursor) Delete() error {
	k, _ := c.current()
	if k == nil {
		return nil
	}
	return c.b.Delete(k)
}
