package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"depot/mft"
)

var bucketAudit = []byte("Audit")

// AuditStore stores the audit log, keyed by time-ordered ids.
type AuditStore struct {
	db  *DB
	seq atomic.Uint32
}

var _ mft.AuditStore = (*AuditStore)(nil)

// NewAuditStore returns an AuditStore backed by db.
func NewAuditStore(db *DB) *AuditStore { return &AuditStore{db: db} }

// auditID returns an id that sorts by time: nanoseconds then a sequence.
func (s *AuditStore) auditID(t time.Time) string {
	return fmt.Sprintf("%016x%08x", t.UnixNano(), s.seq.Add(1))
}

// AppendEvents stores events in one transaction, filling in id and time.
func (s *AuditStore) AppendEvents(ctx context.Context, events []mft.Event) error {
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = s.db.now()
		}
		if events[i].ID == "" {
			events[i].ID = s.auditID(events[i].Time)
		}
	}
	if pg := s.db.pg(); pg != nil {
		return pg.appendEvents(ctx, events)
	}
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketAudit)
		for i := range events {
			if err := put(b, events[i].ID, &events[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// FindEvent returns one event by its id.
func (s *AuditStore) FindEvent(ctx context.Context, id string) (*mft.Event, error) {
	if pg := s.db.pg(); pg != nil {
		return pg.findEvent(ctx, id)
	}
	return findOne[mft.Event](s.db, ctx, bucketAudit, id, "No audit event has that id.")
}

// FindEvents returns one page of matching events, oldest first (newest
// first with f.Newest).
func (s *AuditStore) FindEvents(ctx context.Context, f mft.AuditFilter) ([]*mft.Event, bool, error) {
	f.Page = f.Page.Normalize()
	if pg := s.db.pg(); pg != nil {
		return pg.findEvents(ctx, f)
	}
	var out []*mft.Event
	more := false
	err := s.db.view(ctx, func(tx kvTx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		if f.Newest {
			var err error
			out, more, err = newestEvents(c, f)
			return err
		}
		start := f.After
		if !f.From.IsZero() {
			if from := fmt.Sprintf("%016x", f.From.UnixNano()); from > start {
				start = from
			}
		}
		k, v := c.Seek([]byte(start))
		if k != nil && string(k) == f.After {
			k, v = c.Next()
		}
		for ; k != nil; k, v = c.Next() {
			var ev mft.Event
			if err := json.Unmarshal(v, &ev); err != nil {
				return fmt.Errorf("store: decode audit event %s: %w", k, err)
			}
			if !f.To.IsZero() && !ev.Time.Before(f.To) {
				return nil
			}
			if !f.Match(&ev) {
				continue
			}
			if len(out) == f.Limit {
				more = true
				return nil
			}
			out = append(out, &ev)
		}
		return nil
	})
	return out, more, err
}

// newestEvents walks the audit log from its end (or from before
// f.After) back to f.From.
func newestEvents(c kvCursor, f mft.AuditFilter) ([]*mft.Event, bool, error) {
	var out []*mft.Event
	k, v := c.Last()
	if f.After != "" {
		if k, v = c.Seek([]byte(f.After)); k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
	}
	for ; k != nil; k, v = c.Prev() {
		var ev mft.Event
		if err := json.Unmarshal(v, &ev); err != nil {
			return nil, false, fmt.Errorf("store: decode audit event %s: %w", k, err)
		}
		if !f.From.IsZero() && ev.Time.Before(f.From) {
			break
		}
		if !f.To.IsZero() && !ev.Time.Before(f.To) || !f.Match(&ev) {
			continue
		}
		if len(out) == f.Limit {
			return out, true, nil
		}
		out = append(out, &ev)
	}
	return out, false, nil
}

// DeleteEventsBefore removes events older than t.
func (s *AuditStore) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	if pg := s.db.pg(); pg != nil {
		return pg.deleteEventsBefore(ctx, t)
	}
	end := []byte(fmt.Sprintf("%016x", t.UnixNano()))
	n := 0
	err := s.db.update(ctx, func(tx kvTx) error {
		n = 0
		c := tx.Bucket(bucketAudit).Cursor()
		for k, _ := c.First(); k != nil && string(k) < string(end); k, _ = c.First() {
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// AuditLog is an mft.EventSink that writes events to the AuditStore in
// batches: one transaction per flush, never one fsync per event.
type AuditLog struct {
	Service  *AuditStore
	Logger   *slog.Logger
	Interval time.Duration // longest an event waits before it is written

	flushMu sync.Mutex // held while a batch is written, so Flush waits for one in flight
	mu      sync.Mutex
	pending []mft.Event
	// queued counts the events ever queued and written those ever
	// written (or failed); written moves is broadcast by closing and
	// replacing progress. failed remembers the last failed batches.
	queued, written uint64
	progress        chan struct{}
	failed          []failedBatch
	wake            chan struct{}
	closing         chan struct{}
	done            chan struct{}
	once            sync.Once
}

// maxAuditBatch is the most events written in one transaction.
const maxAuditBatch = 1000

// failedBatch is a range of events (by queue number) whose write failed.
type failedBatch struct {
	from, to uint64 // from < n <= to
	err      error
}

// Open starts the writer.
func (l *AuditLog) Open() {
	if l.Interval <= 0 {
		l.Interval = 100 * time.Millisecond
	}
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	l.wake = make(chan struct{}, 1)
	l.progress = make(chan struct{})
	l.closing = make(chan struct{})
	l.done = make(chan struct{})
	go l.run()
}

// Stamp gives ev its time (if unset) and audit id before it is published,
// so that every sink (webhooks too) sees the id it is stored under.
func (l *AuditLog) Stamp(ev *mft.Event) {
	if ev.Time.IsZero() {
		ev.Time = l.Service.db.now()
	}
	if ev.ID == "" {
		ev.ID = l.Service.auditID(ev.Time)
	}
}

// Publish queues ev for writing; it never blocks on the disk.
func (l *AuditLog) Publish(ev mft.Event) {
	if ev.Time.IsZero() {
		ev.Time = l.Service.db.now()
	}
	l.mu.Lock()
	l.pending = append(l.pending, ev)
	l.queued++
	full := len(l.pending) >= maxAuditBatch
	l.mu.Unlock()
	if full {
		l.kick()
	}
}

func (l *AuditLog) kick() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// PublishDurable queues ev and returns once it is stored: the writer
// commits at once, with every event queued meanwhile, so concurrent
// callers share one transaction (group commit).
func (l *AuditLog) PublishDurable(ctx context.Context, ev mft.Event) error {
	if ev.Time.IsZero() {
		ev.Time = l.Service.db.now()
	}
	l.mu.Lock()
	l.pending = append(l.pending, ev)
	l.queued++
	mine := l.queued
	l.mu.Unlock()
	l.kick()
	for {
		l.mu.Lock()
		done, progress := l.written >= mine, l.progress
		var err error
		for _, f := range l.failed {
			if f.from < mine && mine <= f.to {
				err = f.err
			}
		}
		l.mu.Unlock()
		if done {
			return err
		}
		select {
		case <-progress:
		case <-ctx.Done():
			return ctx.Err()
		case <-l.done:
			return errors.New("store: the audit log is closed")
		}
	}
}

// wrote records that n more events were written (err nil) or lost.
func (l *AuditLog) wrote(n int, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.failed = append(l.failed, failedBatch{l.written, l.written + uint64(n), err})
		if len(l.failed) > 64 {
			l.failed = l.failed[1:]
		}
	}
	l.written += uint64(n)
	close(l.progress)
	l.progress = make(chan struct{})
}

// Flush writes every queued event now; when it returns, every event
// published before the call is stored.
func (l *AuditLog) Flush() error {
	l.flushMu.Lock()
	defer l.flushMu.Unlock()
	for {
		l.mu.Lock()
		batch := l.pending
		if len(batch) > maxAuditBatch {
			batch = batch[:maxAuditBatch]
		}
		l.pending = l.pending[len(batch):]
		l.mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		err := l.Service.AppendEvents(context.Background(), batch)
		l.wrote(len(batch), err)
		if err != nil {
			return err
		}
	}
}

func (l *AuditLog) run() {
	defer close(l.done)
	t := time.NewTicker(l.Interval)
	defer t.Stop()
	for {
		select {
		case <-l.closing:
			if err := l.Flush(); err != nil {
				l.Logger.Error("audit log: write", "err", err)
			}
			return
		case <-t.C:
		case <-l.wake:
		}
		if err := l.Flush(); err != nil {
			l.Logger.Error("audit log: write", "err", err)
		}
	}
}

// Close writes what is queued and stops the writer.
func (l *AuditLog) Close() {
	l.once.Do(func() {
		close(l.closing)
		<-l.done
	})
}
