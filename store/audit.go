package store

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"depot/mft"
)

var bucketAudit = []byte("Audit")

// AuditService stores the audit log, keyed by time-ordered ids.
type AuditService struct {
	db  *DB
	seq atomic.Uint32
}

var _ mft.AuditService = (*AuditService)(nil)

// NewAuditService returns an AuditService backed by db.
func NewAuditService(db *DB) *AuditService { return &AuditService{db: db} }

// auditID returns an id that sorts by time: nanoseconds then a sequence.
func (s *AuditService) auditID(t time.Time) string {
	return fmt.Sprintf("%016x%08x", t.UnixNano(), s.seq.Add(1))
}

// AppendEvents stores events in one transaction, filling in id and time.
func (s *AuditService) AppendEvents(ctx context.Context, events []mft.Event) error {
	for i := range events {
		if events[i].Time.IsZero() {
			events[i].Time = s.db.now()
		}
		events[i].ID = s.auditID(events[i].Time)
	}
	return s.db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAudit)
		for i := range events {
			if err := put(b, events[i].ID, &events[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// FindEvents returns one page of matching events, oldest first.
func (s *AuditService) FindEvents(ctx context.Context, f mft.AuditFilter) ([]*mft.Event, bool, error) {
	f.Page = f.Page.Normalize()
	var out []*mft.Event
	more := false
	err := s.db.view(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
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

// DeleteEventsBefore removes events older than t.
func (s *AuditService) DeleteEventsBefore(ctx context.Context, t time.Time) (int, error) {
	end := []byte(fmt.Sprintf("%016x", t.UnixNano()))
	n := 0
	err := s.db.update(ctx, func(tx *bolt.Tx) error {
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

// AuditLog is an mft.EventSink that writes events to the AuditService in
// batches: one transaction per flush, never one fsync per event.
type AuditLog struct {
	Service  *AuditService
	Logger   *slog.Logger
	Interval time.Duration // longest an event waits before it is written

	flushMu sync.Mutex // held while a batch is written, so Flush waits for one in flight
	mu      sync.Mutex
	pending []mft.Event
	wake    chan struct{}
	closing chan struct{}
	done    chan struct{}
	once    sync.Once
}

// maxAuditBatch is the most events written in one transaction.
const maxAuditBatch = 1000

// Open starts the writer.
func (l *AuditLog) Open() {
	if l.Interval <= 0 {
		l.Interval = 100 * time.Millisecond
	}
	if l.Logger == nil {
		l.Logger = slog.New(slog.DiscardHandler)
	}
	l.wake = make(chan struct{}, 1)
	l.closing = make(chan struct{})
	l.done = make(chan struct{})
	go l.run()
}

// Publish queues ev for writing; it never blocks on the disk.
func (l *AuditLog) Publish(ev mft.Event) {
	if ev.Time.IsZero() {
		ev.Time = l.Service.db.now()
	}
	l.mu.Lock()
	l.pending = append(l.pending, ev)
	full := len(l.pending) >= maxAuditBatch
	l.mu.Unlock()
	if full {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
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
		if err := l.Service.AppendEvents(context.Background(), batch); err != nil {
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
