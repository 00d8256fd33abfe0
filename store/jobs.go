package store

import (
	"context"
	"slices"
	"time"

	"depot/mft"
)

// Runs and deliveries are the nodes' shared job queues. Each pending one
// (a run queued or running, a delivery queued) is in the queue of one
// node, named in its record and in a pending index beside it: the index
// is what a node reads to find the work of nodes that died (adopt), and
// what a restart reads instead of every run ever made.
var (
	bucketRunsPending       = []byte("Runs.Pending")       // run id → node
	bucketDeliveriesPending = []byte("Deliveries.Pending") // delivery id → node
	bucketTicks             = []byte("Ticks")              // automation → tick
)

// tick is a scheduled automation's last firing, recorded by the node that
// claimed it, and the run it queued without a file (if any).
type tick struct {
	At  time.Time `json:"at"`
	Run string    `json:"run,omitempty"`
}

func runPending(r *mft.Run) bool { return r.Status == mft.RunQueued || r.Status == mft.RunRunning }

func deliveryPending(d *mft.Delivery) bool { return d.Status == "queued" }

// putJob stores a run or delivery v and keeps its pending index entry.
func putJob(tx kvTx, bucket, pending []byte, id, node string, isPending bool, v any) error {
	if err := put(tx.Bucket(bucket), id, v); err != nil {
		return err
	}
	if isPending {
		return tx.Bucket(pending).Put([]byte(id), []byte(node))
	}
	return tx.Bucket(pending).Delete([]byte(id))
}

func putRun(tx kvTx, r *mft.Run) error {
	return putJob(tx, bucketRuns, bucketRunsPending, r.ID, r.Node, runPending(r), r)
}

func putDelivery(tx kvTx, d *mft.Delivery) error {
	return putJob(tx, bucketDeliveries, bucketDeliveriesPending, d.ID, d.Node, deliveryPending(d), d)
}

// held refuses to write a job over one that another node took over: the
// stored record names another node than the one writing.
func held[T any](tx kvTx, bucket []byte, id, node string, nodeOf func(*T) string, what string) error {
	old := new(T)
	ok, err := get(tx.Bucket(bucket), id, old)
	if err != nil || !ok {
		return err
	}
	if n := nodeOf(old); n != "" && n != node {
		return mft.Errorf(mft.ECONFLICT, "Another node took this %s over.", what)
	}
	return nil
}

// pendingOf reads the records a pending index names.
func pendingOf[T any](db *DB, ctx context.Context, bucket, pending []byte) ([]*T, error) {
	var out []*T
	err := db.view(ctx, func(tx kvTx) error {
		out = nil
		var ids []string
		if err := tx.Bucket(pending).ForEach(func(k, _ []byte) error {
			ids = append(ids, string(k))
			return nil
		}); err != nil {
			return err
		}
		for _, id := range ids {
			item := new(T)
			if ok, err := get(tx.Bucket(bucket), id, item); err != nil {
				return err
			} else if ok {
				out = append(out, item)
			}
		}
		return nil
	})
	return out, err
}

// adopt moves the pending jobs of nodes not alive to this node: take
// sets a record's node (and queues it again if it was running).
func adopt[T any](db *DB, ctx context.Context, bucket, pending []byte, take func(*T, string)) ([]*T, error) {
	live, err := db.LiveNodes(ctx)
	if err != nil {
		return nil, err
	}
	self := db.Node()
	var out []*T
	err = db.update(ctx, func(tx kvTx) error {
		out = nil
		var orphans []string
		if err := tx.Bucket(pending).ForEach(func(k, v []byte) error {
			if !slices.Contains(live, string(v)) {
				orphans = append(orphans, string(k))
			}
			return nil
		}); err != nil {
			return err
		}
		for _, id := range orphans {
			item := new(T)
			ok, err := get(tx.Bucket(bucket), id, item)
			if err != nil {
				return err
			}
			if !ok {
				if err := tx.Bucket(pending).Delete([]byte(id)); err != nil {
					return err
				}
				continue
			}
			take(item, self)
			if err := put(tx.Bucket(bucket), id, item); err != nil {
				return err
			}
			if err := tx.Bucket(pending).Put([]byte(id), []byte(self)); err != nil {
				return err
			}
			out = append(out, item)
		}
		return nil
	})
	return out, err
}

func (s *AutomationStore) PendingRuns(ctx context.Context) ([]*mft.Run, error) {
	return pendingOf[mft.Run](s.db, ctx, bucketRuns, bucketRunsPending)
}

func (s *AutomationStore) AdoptRuns(ctx context.Context) ([]*mft.Run, error) {
	return adopt(s.db, ctx, bucketRuns, bucketRunsPending, func(r *mft.Run, node string) {
		r.Node = node
		if r.Status == mft.RunRunning { // interrupted: from the start again
			r.Status = mft.RunQueued
		}
	})
}

func (s *AutomationStore) PendingDeliveries(ctx context.Context) ([]*mft.Delivery, error) {
	return pendingOf[mft.Delivery](s.db, ctx, bucketDeliveries, bucketDeliveriesPending)
}

func (s *AutomationStore) AdoptDeliveries(ctx context.Context) ([]*mft.Delivery, error) {
	return adopt(s.db, ctx, bucketDeliveries, bucketDeliveriesPending, func(d *mft.Delivery, node string) { d.Node = node })
}

// ClaimTick: see mft.AutomationStore.
func (s *AutomationStore) ClaimTick(ctx context.Context, automation string, at time.Time, r *mft.Run) (bool, error) {
	if r != nil {
		s.newRun(r)
	}
	at = at.UTC().Truncate(time.Microsecond)
	claimed := false
	err := s.db.update(ctx, func(tx kvTx) error {
		claimed = false
		var t tick
		if _, err := get(tx.Bucket(bucketTicks), automation, &t); err != nil {
			return err
		}
		if !t.At.Before(at) {
			return nil // another node's, or a clock behind
		}
		t.At = at
		if r != nil {
			if t.Run != "" && tx.Bucket(bucketRunsPending).Get([]byte(t.Run)) != nil {
				return put(tx.Bucket(bucketTicks), automation, t) // the last tick's run goes on
			}
			if err := putRun(tx, r); err != nil {
				return err
			}
			t.Run = r.ID
		}
		claimed = true
		return put(tx.Bucket(bucketTicks), automation, t)
	})
	return claimed, err
}

// migratePending builds the pending indexes of a database from before
// them (schema 1 → 2): its pending jobs name no node, so the first node
// to start adopts them.
func migratePending(tx kvTx) error {
	runs, err := findAll(tx.Bucket(bucketRuns), runPending)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if err := putRun(tx, r); err != nil {
			return err
		}
	}
	ds, err := findAll(tx.Bucket(bucketDeliveries), deliveryPending)
	if err != nil {
		return err
	}
	for _, d := range ds {
		if err := putDelivery(tx, d); err != nil {
			return err
		}
	}
	return nil
}
