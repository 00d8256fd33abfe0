package automation

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"depot/mft"
)

// expectations keeps the expected files' windows: a file that arrives is
// counted in its window (on time) or in the last one (late); at a
// window's end the checker marks it missing. Events: expectation.met,
// expectation.late, expectation.missed.
type expectations struct {
	mu sync.Mutex // serializes the read-modify-write of histories
	// index is what a file is matched against (no history), loaded on
	// first use and after each change: an upload costs no store read
	// unless it matches.
	index []mft.Expectation
	fresh bool
}

// matching returns the ids of the enabled expectations p matches.
// e.exp.mu is held.
func (e *Engine) matching(ctx context.Context, p string) []string {
	if !e.exp.fresh {
		e.exp.index = e.exp.index[:0]
		for x := range e.eachExpectation(ctx) {
			x.History = nil
			e.exp.index = append(e.exp.index, *x)
		}
		e.exp.fresh = true
	}
	var ids []string
	for i := range e.exp.index {
		if x := &e.exp.index[i]; x.Enabled && x.Matches(p) {
			ids = append(ids, x.ID)
		}
	}
	return ids
}

// maxWindowFiles bounds the files a window lists.
const maxWindowFiles = 100

// expectFile counts an arrived file in the windows of the expectations
// it matches.
func (e *Engine) expectFile(ev mft.Event) {
	if e.Expectations == nil || e.ctx == nil || (ev.Event != mft.EventFileUploaded && ev.Event != mft.EventFileRenamed) || ev.Status != mft.StatusOK {
		return
	}
	p := ev.Path
	if ev.NewPath != "" {
		p = ev.NewPath
	}
	t := e.Now() // the engine's clock, which the checker uses too (the event was just stamped)
	ctx := e.ctx
	e.exp.mu.Lock()
	defer e.exp.mu.Unlock()
	for _, id := range e.matching(ctx, p) {
		var announce func() // the event of the window's change, once stored
		err := e.Expectations.UpdateExpectation(ctx, id, func(x *mft.Expectation) bool {
			announce = nil
			start, end, inside, ok := x.WindowOf(t)
			if !ok {
				return false
			}
			w := window(x, start, end)
			counts := ev.Size >= x.MinSize
			if counts && len(w.Files) < maxWindowFiles {
				w.Files = append(w.Files, p)
			}
			if (w.Status == mft.WindowOpen || w.Status == mft.WindowMissing) && len(w.Files) >= x.MinCount {
				at := t.UTC()
				w.MetAt = &at
				event, what := mft.EventExpectationMet, "came on time"
				if w.Status = mft.WindowOnTime; !inside {
					event, what, w.Status = mft.EventExpectationLate, "came late, after the window", mft.WindowLate
				}
				xc, wc := *x, *w
				announce = func() { e.expectationEvent(&xc, &wc, event, mft.StatusOK, what) }
			}
			return true
		})
		if err != nil {
			e.Logger.Error("expectation not stored", "expectation", id, "err", err)
		} else if announce != nil {
			announce()
		}
	}
}

// window returns x's history entry for the window starting at start,
// made (open, or missing when it has ended) if there is none.
func window(x *mft.Expectation, start, end time.Time) *mft.Window {
	for i := range x.History {
		if x.History[i].Start.Equal(start) {
			return &x.History[i]
		}
	}
	x.History = slices.Insert(x.History, 0, mft.Window{Start: start.UTC(), End: end.UTC(), Status: mft.WindowOpen, Files: []string{}})
	if len(x.History) > mft.HistoryLen {
		x.History = x.History[:mft.HistoryLen]
	}
	return &x.History[0]
}

// CheckExpectations marks the last window of each expectation that has
// ended without its files missing, and publishes expectation.missed. The
// engine runs it every ExpectationCheck; tests call it with their clock.
func (e *Engine) CheckExpectations(ctx context.Context) {
	if e.Expectations == nil {
		return
	}
	now := e.Now()
	e.exp.mu.Lock()
	defer e.exp.mu.Unlock()
	for listed := range e.eachExpectation(ctx) {
		if !listed.Enabled {
			continue
		}
		var announce func()
		err := e.Expectations.UpdateExpectation(ctx, listed.ID, func(x *mft.Expectation) bool {
			announce = nil
			start, end, inside, ok := x.WindowOf(now)
			if !x.Enabled || !ok || inside || !end.After(x.CreatedAt) {
				return false
			}
			w := window(x, start, end)
			if w.Status != mft.WindowOpen {
				return false // met, or marked missing by another node
			}
			w.Status = mft.WindowMissing
			xc, wc := *x, *w
			announce = func() { e.expectationEvent(&xc, &wc, mft.EventExpectationMissed, mft.StatusError, "did not come") }
			return true
		})
		if err != nil && mft.ErrorCode(err) != mft.ENOTFOUND {
			e.Logger.Error("expectation not stored", "expectation", listed.ID, "err", err)
		} else if announce != nil {
			announce()
		}
	}
}

// ExpectationCheck is how often window ends are checked.
const ExpectationCheck = 30 * time.Second

// checkExpectations runs CheckExpectations until the engine stops.
func (e *Engine) checkExpectations() {
	e.every(ExpectationCheck, func() { e.CheckExpectations(e.ctx) })
}

// every calls fn every d until the engine stops; it is one of the
// engine's goroutines (e.wg).
func (e *Engine) every(d time.Duration, fn func()) {
	defer e.wg.Done()
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-e.stopping:
			return
		case <-t.C:
			fn()
		}
	}
}

// eachExpectation yields every expectation as stored now.
func (e *Engine) eachExpectation(ctx context.Context) func(func(*mft.Expectation) bool) {
	return func(yield func(*mft.Expectation) bool) {
		for after := ""; ; {
			list, more, err := e.Expectations.FindExpectations(ctx, mft.Page{After: after, Limit: mft.MaxLimit})
			if err != nil {
				e.Logger.Error("expectations not read", "err", err)
				return
			}
			for _, x := range list {
				if !yield(x) {
					return
				}
				after = x.ID
			}
			if !more {
				return
			}
		}
	}
}

func (e *Engine) expectationEvent(x *mft.Expectation, w *mft.Window, event, status, what string) {
	if e.Events == nil {
		return
	}
	loc, _ := time.LoadLocation(x.Timezone)
	msg := fmt.Sprintf("%s: %d file(s) matching %s in %s between %s and %s on %s (%s) %s; %d arrived",
		x.Name, x.MinCount, x.Pattern, x.Path, x.From, x.To, w.Start.In(loc).Format(time.DateOnly), loc, what, len(w.Files))
	e.Events.Publish(mft.Event{Event: event, Time: e.Now().UTC(), Protocol: mft.AuditSystem, Status: status, Target: x.ID,
		Path: x.Path, Message: msg})
}

// CreateExpectation validates and stores x.
func (e *Engine) CreateExpectation(ctx context.Context, x *mft.Expectation) error {
	if err := x.Validate(); err != nil {
		return err
	}
	x.History = []mft.Window{}
	e.exp.mu.Lock()
	e.exp.fresh = false
	err := e.Expectations.CreateExpectation(ctx, x)
	e.exp.mu.Unlock()
	if err != nil {
		return err
	}
	e.publishChange(ctx, mft.EventExpectationCreated, x.ID)
	return nil
}

// UpdateExpectation stores next in place of old, keeping its history.
func (e *Engine) UpdateExpectation(ctx context.Context, old, next *mft.Expectation) error {
	if err := next.Validate(); err != nil {
		return err
	}
	e.exp.mu.Lock()
	defer e.exp.mu.Unlock()
	fresh, err := e.Expectations.FindExpectation(ctx, old.ID)
	if err != nil {
		return err
	}
	next.ID, next.CreatedAt, next.History, next.UpdatedAt = old.ID, old.CreatedAt, fresh.History, e.Now().UTC()
	e.exp.fresh = false
	if err := e.Expectations.PutExpectation(ctx, next); err != nil {
		return err
	}
	e.publishChange(ctx, mft.EventExpectationUpdated, next.ID)
	return nil
}

// DeleteExpectation removes an expectation and its history.
func (e *Engine) DeleteExpectation(ctx context.Context, id string) error {
	e.exp.mu.Lock()
	e.exp.fresh = false
	err := e.Expectations.DeleteExpectation(ctx, id)
	e.exp.mu.Unlock()
	if err != nil {
		return err
	}
	e.publishChange(ctx, mft.EventExpectationDeleted, id)
	return nil
}
