package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"depot/mft"
)

var (
	bucketAutomations = []byte("Automations")
	bucketRuns        = []byte("Runs")      // run id (time-ordered) → run (jobs.go)
	bucketProcessed   = []byte("Processed") // automation \x00 path → version
	bucketWebhooks    = []byte("Webhooks")
	bucketDeliveries  = []byte("Deliveries") // delivery id (time-ordered) → delivery
)

// AutomationStore stores automations, runs, webhooks and deliveries.
// Runs and deliveries are the job queues: they are written before they
// are worked on, so a crash loses none.
type AutomationStore struct {
	db *DB
}

var _ mft.AutomationStore = (*AutomationStore)(nil)

// NewAutomationStore returns an AutomationStore backed by db.
func NewAutomationStore(db *DB) *AutomationStore { return &AutomationStore{db: db} }

func (s *AutomationStore) FindAutomation(ctx context.Context, id string) (*mft.Automation, error) {
	return findOne[mft.Automation](s.db, ctx, bucketAutomations, id, "Automation not found.")
}

func (s *AutomationStore) FindAutomations(ctx context.Context, page mft.Page) ([]*mft.Automation, bool, error) {
	return findPage[mft.Automation](s.db, ctx, bucketAutomations, page)
}

func (s *AutomationStore) AllAutomations(ctx context.Context) ([]*mft.Automation, error) {
	return findEvery[mft.Automation](s.db, ctx, bucketAutomations, func(*mft.Automation) bool { return true })
}

// CreateAutomation stores a with a new id.
func (s *AutomationStore) CreateAutomation(ctx context.Context, a *mft.Automation) error {
	a.CreatedAt = s.db.now()
	a.UpdatedAt = a.CreatedAt
	a.ID = newID("au_", a.CreatedAt)
	return s.PutAutomation(ctx, a)
}

// PutAutomation stores a as it is.
func (s *AutomationStore) PutAutomation(ctx context.Context, a *mft.Automation) error {
	return s.db.updateAutomations(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketAutomations), a.ID, a) })
}

// DeleteAutomation removes an automation and what it processed; its runs
// stay for the record.
func (s *AutomationStore) DeleteAutomation(ctx context.Context, id string) error {
	return s.db.updateAutomations(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketAutomations)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Automation not found.")
		}
		if err := deletePrefix(tx.Bucket(bucketProcessed), id+"\x00"); err != nil {
			return err
		}
		if err := tx.Bucket(bucketTicks).Delete([]byte(id)); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
}

// CreateRun stores a queued run with a new time-ordered id, in this
// node's queue.
func (s *AutomationStore) CreateRun(ctx context.Context, r *mft.Run) error {
	s.newRun(r)
	return s.db.update(ctx, func(tx kvTx) error { return putRun(tx, r) })
}

// newRun gives r its id, time and node.
func (s *AutomationStore) newRun(r *mft.Run) {
	r.CreatedAt = s.db.now()
	r.ID = newID("run_", r.CreatedAt)
	r.Node = s.db.Node()
}

func (s *AutomationStore) PutRun(ctx context.Context, r *mft.Run) error {
	return s.db.update(ctx, func(tx kvTx) error {
		if err := held(tx, bucketRuns, r.ID, r.Node, func(r *mft.Run) string { return r.Node }, "run"); err != nil {
			return err
		}
		return putRun(tx, r)
	})
}

func (s *AutomationStore) FindRun(ctx context.Context, id string) (*mft.Run, error) {
	return findOne[mft.Run](s.db, ctx, bucketRuns, id, "Run not found.")
}

func (s *AutomationStore) FindRuns(ctx context.Context, automation string, page mft.Page) ([]*mft.Run, bool, error) {
	return findNewest(s.db, ctx, bucketRuns, page, func(r *mft.Run) bool { return r.Automation == automation })
}

func (s *AutomationStore) MarkProcessed(ctx context.Context, automation, path, version string) (bool, error) {
	marked := false
	err := s.db.update(ctx, func(tx kvTx) error {
		b, key := tx.Bucket(bucketProcessed), []byte(automation+"\x00"+path)
		marked = string(b.Get(key)) != version
		if !marked {
			return nil
		}
		return b.Put(key, []byte(version))
	})
	return marked, err
}

func (s *AutomationStore) Processed(ctx context.Context, automation, path, version string) (bool, error) {
	done := false
	err := s.db.view(ctx, func(tx kvTx) error {
		done = string(tx.Bucket(bucketProcessed).Get([]byte(automation+"\x00"+path))) == version
		return nil
	})
	return done, err
}

func (s *AutomationStore) FindWebhook(ctx context.Context, id string) (*mft.Webhook, error) {
	return findOne[mft.Webhook](s.db, ctx, bucketWebhooks, id, "Webhook not found.")
}

func (s *AutomationStore) FindWebhooks(ctx context.Context, page mft.Page) ([]*mft.Webhook, bool, error) {
	return findPage[mft.Webhook](s.db, ctx, bucketWebhooks, page)
}

func (s *AutomationStore) AllWebhooks(ctx context.Context) ([]*mft.Webhook, error) {
	return findEvery(s.db, ctx, bucketWebhooks, func(*mft.Webhook) bool { return true })
}

func (s *AutomationStore) CreateWebhook(ctx context.Context, w *mft.Webhook) error {
	w.CreatedAt = s.db.now()
	w.UpdatedAt = w.CreatedAt
	w.ID = newID("wh_", w.CreatedAt)
	return s.PutWebhook(ctx, w)
}

func (s *AutomationStore) PutWebhook(ctx context.Context, w *mft.Webhook) error {
	return s.db.updateAutomations(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketWebhooks), w.ID, w) })
}

// DeleteWebhook removes a webhook and its deliveries.
func (s *AutomationStore) DeleteWebhook(ctx context.Context, id string) error {
	return s.db.updateAutomations(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketWebhooks)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Webhook not found.")
		}
		var gone [][]byte
		if _, err := deleteWhere(tx.Bucket(bucketDeliveries), func(d *mft.Delivery) bool {
			if d.Webhook == id {
				gone = append(gone, []byte(d.ID))
			}
			return d.Webhook == id
		}); err != nil {
			return err
		}
		for _, k := range gone {
			if err := tx.Bucket(bucketDeliveriesPending).Delete(k); err != nil {
				return err
			}
		}
		return b.Delete([]byte(id))
	})
}

// CreateDeliveries stores new deliveries, with their ids and payloads, in
// one transaction.
func (s *AutomationStore) CreateDeliveries(ctx context.Context, ds []*mft.Delivery, body func(id string) string) error {
	now := s.db.now()
	for _, d := range ds {
		d.CreatedAt = now
		d.ID = newID("dlv_", now)
		d.Payload = body(d.ID)
		d.Node = s.db.Node()
	}
	return s.db.update(ctx, func(tx kvTx) error {
		for _, d := range ds {
			if err := putDelivery(tx, d); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *AutomationStore) PutDelivery(ctx context.Context, d *mft.Delivery) error {
	return s.db.update(ctx, func(tx kvTx) error {
		if err := held(tx, bucketDeliveries, d.ID, d.Node, func(d *mft.Delivery) string { return d.Node }, "delivery"); err != nil {
			return err
		}
		return putDelivery(tx, d)
	})
}

func (s *AutomationStore) TakeDelivery(ctx context.Context, d *mft.Delivery) error {
	d.Node = s.db.Node()
	return s.db.update(ctx, func(tx kvTx) error { return putDelivery(tx, d) })
}

func (s *AutomationStore) FindDelivery(ctx context.Context, id string) (*mft.Delivery, error) {
	return findOne[mft.Delivery](s.db, ctx, bucketDeliveries, id, "Delivery not found.")
}

func (s *AutomationStore) FindDeliveries(ctx context.Context, webhook string, page mft.Page) ([]*mft.Delivery, bool, error) {
	return findNewest(s.db, ctx, bucketDeliveries, page, func(d *mft.Delivery) bool { return d.Webhook == webhook })
}

// DeleteFinishedBefore forgets finished runs and deliveries older than t.
func (s *AutomationStore) DeleteFinishedBefore(ctx context.Context, t time.Time) (int, error) {
	n := 0
	err := s.db.update(ctx, func(tx kvTx) error {
		runs, err := deleteWhere(tx.Bucket(bucketRuns), func(r *mft.Run) bool { return r.FinishedAt != nil && r.FinishedAt.Before(t) })
		if err != nil {
			return err
		}
		ds, err := deleteWhere(tx.Bucket(bucketDeliveries), func(d *mft.Delivery) bool { return d.DoneAt != nil && d.DoneAt.Before(t) })
		n = runs + ds
		return err
	})
	return n, err
}

// findOne decodes the value at id or answers ENOTFOUND with msg.
func findOne[T any](db *DB, ctx context.Context, bucket []byte, id, msg string) (*T, error) {
	v := new(T)
	err := db.view(ctx, func(tx kvTx) error {
		ok, err := get(tx.Bucket(bucket), id, v)
		if err != nil {
			return err
		} else if !ok || id == "" {
			return mft.Errorf(mft.ENOTFOUND, "%s", msg)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return v, nil
}

func findPage[T any](db *DB, ctx context.Context, bucket []byte, page mft.Page) ([]*T, bool, error) {
	var (
		out  []*T
		more bool
	)
	err := db.view(ctx, func(tx kvTx) error {
		var err error
		out, more, err = list[T](tx.Bucket(bucket), page, nil)
		return err
	})
	return out, more, err
}

func findEvery[T any](db *DB, ctx context.Context, bucket []byte, keep func(*T) bool) ([]*T, error) {
	var out []*T
	err := db.view(ctx, func(tx kvTx) error {
		var err error
		out, err = findAll(tx.Bucket(bucket), keep)
		return err
	})
	return out, err
}

// findNewest returns one page of a time-ordered bucket, newest first; the
// page's After is the last id of the previous page.
func findNewest[T any](db *DB, ctx context.Context, bucket []byte, page mft.Page, keep func(*T) bool) ([]*T, bool, error) {
	page = page.Normalize()
	var out []*T
	more := false
	err := db.view(ctx, func(tx kvTx) error {
		c := tx.Bucket(bucket).Cursor()
		k, v := c.Last()
		if page.After != "" {
			c.Seek([]byte(page.After))
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			item := new(T)
			if err := json.Unmarshal(v, item); err != nil {
				return fmt.Errorf("store: decode %s: %w", k, err)
			}
			if !keep(item) {
				continue
			}
			if len(out) == page.Limit {
				more = true
				return nil
			}
			out = append(out, item)
		}
		return nil
	})
	return out, more, err
}

// deletePrefix removes every key of b that starts with prefix.
func deletePrefix(b kvBucket, prefix string) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
