package automation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"depot/mft"
)

// Queued returns how many runs wait for a worker (retries included).
func (e *Engine) Queued() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.runs.items)
}

// enqueueRun stores a run and hands it to the workers.
func (e *Engine) enqueueRun(ctx context.Context, r *mft.Run) error {
	if err := e.Store.CreateRun(ctx, r); err != nil {
		e.Logger.Error("automation run not stored", "automation", r.Automation, "err", err)
		return err
	}
	e.queue(r)
	return nil
}

// queue hands a stored run to the workers.
func (e *Engine) queue(r *mft.Run) {
	queued := *r // the caller keeps r; the workers change their own copy
	e.mu.Lock()
	e.runs.push(&queued)
	e.mu.Unlock()
	e.poke()
}

// Redeliver queues a delivery again now, in this node's queue.
func (e *Engine) Redeliver(ctx context.Context, d *mft.Delivery) error {
	d.Status, d.NotBefore, d.DoneAt = "queued", e.Now(), nil
	if err := e.Store.TakeDelivery(ctx, d); err != nil {
		return err
	}
	queued := *d // the caller keeps d; the workers change their own copy
	queued.Attempts = slices.Clone(d.Attempts)
	e.mu.Lock()
	e.deliveries.push(&queued)
	e.mu.Unlock()
	e.poke()
	return nil
}

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// dispatch hands due runs and deliveries to at most Workers goroutines.
func (e *Engine) dispatch() {
	defer e.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		next := e.startDue()
		timer.Reset(next)
		select {
		case <-e.stopping:
			return
		case <-e.wake:
		case <-timer.C:
		}
	}
}

// startDue starts what is due and returns how long until the next item is.
func (e *Engine) startDue() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.Now()
	wait := time.Hour
	if e.closed {
		return wait
	}
	for e.busy < e.Workers {
		t, ok := e.runs.next()
		if !ok || t.After(now) {
			break
		}
		r := e.runs.pop()
		e.start(func() { e.execute(r) })
	}
	for e.busy < e.Workers {
		t, ok := e.deliveries.next()
		if !ok || t.After(now) {
			break
		}
		d := e.deliveries.pop()
		e.start(func() { e.deliver(d) })
	}
	for _, next := range []func() (time.Time, bool){e.runs.next, e.deliveries.next} {
		if t, ok := next(); ok {
			wait = min(wait, max(t.Sub(now), time.Millisecond))
		}
	}
	return wait
}

// start runs job in a worker; e.mu is held.
func (e *Engine) start(job func()) {
	e.busy++
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		job()
		e.mu.Lock()
		e.busy--
		e.mu.Unlock()
		e.poke()
	}()
}

// execute runs the actions of a run and records the outcome; a failure is
// retried with exponential backoff up to the automation's attempts.
func (e *Engine) execute(r *mft.Run) {
	ctx := e.ctx
	a := e.automation(r.Automation)
	if a == nil {
		a, _ = e.Store.FindAutomation(ctx, r.Automation)
	}
	now := e.Now()
	r.Status, r.StartedAt, r.Steps, r.Error = mft.RunRunning, &now, []mft.Step{}, ""
	if err := e.Store.PutRun(ctx, r); err != nil {
		if !e.lost(err, "automation run", r.ID) {
			e.Logger.Error("automation run not stored", "run", r.ID, "err", err)
		}
		return
	}
	var err error
	if a == nil {
		err = errors.New("the automation was deleted")
	} else {
		err = e.runActions(ctx, a, r)
	}
	if ctx.Err() != nil {
		// Shutting down: leave it running; the next start retries it.
		return
	}
	done := e.Now()
	switch {
	case err == nil:
		r.Status, r.FinishedAt = mft.RunSucceeded, &done
	case a != nil && r.Attempt < a.Retry.Attempts:
		r.Status, r.Error = mft.RunQueued, err.Error()
		r.NotBefore = done.Add(e.RetryBase << (r.Attempt - 1))
		r.Attempt++
	default:
		r.Status, r.Error, r.FinishedAt = mft.RunFailed, err.Error(), &done
	}
	over := r.Status != mft.RunQueued
	if over {
		// What broken uploads left on remotes goes before the run says
		// it is over.
		e.dropRun(ctx, r.ID)
	}
	perr := e.Store.PutRun(ctx, r)
	if perr != nil && !over { // no next attempt
		e.dropRun(ctx, r.ID)
	}
	if perr != nil {
		if !e.lost(perr, "automation run", r.ID) {
			e.Logger.Error("automation run not stored", "run", r.ID, "err", perr)
		}
		return
	}
	switch r.Status {
	case mft.RunQueued:
		e.Logger.Warn("automation run failed; will retry", "automation", r.Automation, "run", r.ID, "attempt", r.Attempt-1, "err", err)
		e.mu.Lock()
		e.runs.push(r)
		e.mu.Unlock()
	case mft.RunSucceeded:
		e.publish(mft.EventAutomationSucceeded, r, "")
		e.notify(a, r)
	case mft.RunFailed:
		e.Logger.Warn("automation run failed", "automation", r.Automation, "run", r.ID, "err", err)
		e.publish(mft.EventAutomationFailed, r, err.Error())
		e.notify(a, r)
	}
}

func (e *Engine) publish(event string, r *mft.Run, msg string) {
	if e.Events == nil {
		return
	}
	status := mft.StatusOK
	if event == mft.EventAutomationFailed {
		status = mft.StatusError
	}
	path := ""
	if len(r.Files) > 0 {
		path = r.Files[0]
	}
	e.Events.Publish(mft.Event{Event: event, Time: e.Now().UTC(), Actor: actorID(r.Automation), Protocol: mft.AuditAutomation,
		Path: path, Status: status, Message: fmt.Sprintf("run %s: %s", r.ID, msg), Depth: r.Depth})
}
