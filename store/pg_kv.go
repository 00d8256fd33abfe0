package store

import (
	"context"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// pgTx is a PostgreSQL transaction as a kvTx. A statement that fails is
// kept in err, the transaction is not committed, and err is its answer:
// Get cannot return an error, so the code that read "not found" from a
// failed Get never has its decision stored.
type pgTx struct {
	ctx context.Context
	tx  pgx.Tx
	err error
}

func (t *pgTx) fail(err error) error {
	if t.err == nil {
		t.err = err
	}
	return err
}

func (t *pgTx) Bucket(name []byte) kvBucket { return pgBucket{t: t, table: tableName(name)} }

func (t *pgTx) ClearBucket(name []byte) error {
	return pgBucket{t: t, table: tableName(name)}.exec("DELETE FROM " + tableName(name))
}

// pgBucket is one bucket's table in a transaction.
type pgBucket struct {
	t     *pgTx
	table string
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
	if _, err := b.t.tx.Exec(b.t.ctx, sql, args...); err != nil {
		return b.t.fail(err)
	}
	return nil
}

func (b pgBucket) Get(key []byte) []byte {
	if b.t.err != nil {
		return nil
	}
	var v []byte
	err := b.t.tx.QueryRow(b.t.ctx, "SELECT v FROM "+b.table+" WHERE k = $1", key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		b.t.fail(err)
		return nil
	}
	return nonNil(v)
}

func (b pgBucket) Put(key, value []byte) error {
	return b.exec("INSERT INTO "+b.table+" (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
		nonNil(key), nonNil(value))
}

func (b pgBucket) Delete(key []byte) error {
	return b.exec("DELETE FROM "+b.table+" WHERE k = $1", key)
}

func (b pgBucket) KeyN() int {
	if b.t.err != nil {
		return 0
	}
	var n int
	if err := b.t.tx.QueryRow(b.t.ctx, "SELECT count(*) FROM "+b.table).Scan(&n); err != nil {
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
	order := " ORDER BY k"
	if desc {
		order += " DESC"
	}
	args := []any{}
	if where != "" {
		args = append(args, from)
	}
	rows, err := t.tx.Query(t.ctx, "SELECT k, v FROM "+c.b.table+where+order+" LIMIT "+strconv.Itoa(pgBatch), args...)
	if err != nil {
		t.fail(err)
		return nil, nil
	}
	for rows.Next() {
		var p kvPair
		if err := rows.Scan(&p.k, &p.v); err != nil {
			rows.Close()
			t.fail(err)
			return nil, nil
		}
		p.k, p.v = nonNil(p.k), nonNil(p.v)
		c.items = append(c.items, p)
	}
	if err := rows.Err(); err != nil {
		t.fail(err)
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

func (c *pgCursor) First() ([]byte, []byte)           { return c.load("", nil, false) }
func (c *pgCursor) Last() ([]byte, []byte)            { return c.load("", nil, true) }
func (c *pgCursor) Seek(seek []byte) ([]byte, []byte) { return c.load(" WHERE k >= $1", seek, false) }

func (c *pgCursor) Next() ([]byte, []byte) { return c.step(false) }
func (c *pgCursor) Prev() ([]byte, []byte) { return c.step(true) }

// step moves one key on in the direction desc.
func (c *pgCursor) step(desc bool) ([]byte, []byte) {
	cmp := " WHERE k > $1"
	if desc {
		cmp = " WHERE k < $1"
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
