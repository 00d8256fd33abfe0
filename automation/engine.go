// Package automation runs Depot's workflows: event, scheduled (robfig/cron)
// and manual automations whose actions rename, copy, move, delete, encrypt
// and decrypt files through the files service or call webhooks; and
// webhooks that receive events as signed POSTs. Runs and deliveries are
// stored before they are worked on, so a crash loses none.
package automation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"depot/auth"
	"depot/connection"
	"depot/files"
	"depot/mft"
)

// MaxDepth bounds chains of automations triggered by files other
// automations wrote, so that two automations cannot feed each other
// forever.
const MaxDepth = 4

// WebhookRetryFor is how long a failing webhook delivery is retried.
const WebhookRetryFor = 24 * time.Hour

// Engine queues and runs automations and webhook deliveries. Set the
// exported fields, then call Open.
type Engine struct {
	Store mft.AutomationService
	Files *files.Service
	// Users resolves the groups of an event's user for group conditions.
	Users  mft.UserService
	Sealer *auth.Sealer
	// ObserveWebhook, when set, is told of each delivery attempt.
	ObserveWebhook func(delivered bool, d time.Duration)
	// Connections opens the remotes of upload and download actions.
	Connections *connection.Service
	// Events receives automation.succeeded and automation.failed (the
	// audit log and the engine itself, through the same fan-out as every
	// other event); nil drops them.
	Events mft.EventSink
	Logger *slog.Logger
	// Workers is how many runs and deliveries are worked on at once.
	Workers int
	// MaxQueued bounds the runs waiting that RunNow adds to: beyond it
	// RunNow is EUNAVAILABLE (runs of events and schedules always queue).
	// 0 means 1000.
	MaxQueued int
	// RetryBase is the first retry delay of a failed run, doubled on each
	// attempt; WebhookRetryBase likewise for deliveries.
	RetryBase        time.Duration
	WebhookRetryBase time.Duration
	// Client sends webhooks; Open sets one with timeouts, no redirects to
	// other hosts.
	Client *http.Client
	Now    func() time.Time

	mu          sync.Mutex
	automations []*mft.Automation
	webhooks    []*mft.Webhook
	runs        *queue[*mft.Run]
	deliveries  *queue[*mft.Delivery]
	busy        int
	wake        chan struct{}
	cron        *cron.Cron
	entries     map[string]cron.EntryID
	closed      bool
	stopping    chan struct{}
	ctx         context.Context
	cancel      context.CancelFunc
	wg          sync.WaitGroup
	partials    partials
	// ticking holds the automations whose tick run without a file is
	// queued or running.
	ticking map[string]bool
}

// Open loads automations and webhooks, requeues runs a crash interrupted,
// starts the schedules and the workers.
func (e *Engine) Open(ctx context.Context) error {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.Workers <= 0 {
		e.Workers = 4
	}
	if e.MaxQueued <= 0 {
		e.MaxQueued = 1000
	}
	if e.RetryBase <= 0 {
		e.RetryBase = 5 * time.Second
	}
	if e.WebhookRetryBase <= 0 {
		e.WebhookRetryBase = 10 * time.Second
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Client == nil {
		e.Client = newClient()
	}
	e.wake = make(chan struct{}, 1)
	e.stopping = make(chan struct{})
	e.entries = map[string]cron.EntryID{}
	e.ticking = map[string]bool{}
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.cron = cron.New(cron.WithParser(parser), cron.WithLocation(time.UTC))
	if err := e.Reload(ctx); err != nil {
		return err
	}
	runs, err := e.Store.PendingRuns(ctx)
	if err != nil {
		return err
	}
	for _, r := range runs {
		if r.Status == mft.RunRunning { // interrupted by a crash: try again
			r.Status = mft.RunQueued
			if err := e.Store.PutRun(ctx, r); err != nil {
				return err
			}
		}
	}
	deliveries, err := e.Store.PendingDeliveries(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	e.runs = newQueue(func(r *mft.Run) time.Time { return r.NotBefore })
	e.deliveries = newQueue(func(d *mft.Delivery) time.Time { return d.NotBefore })
	for _, r := range runs {
		e.runs.push(r)
		if r.Trigger == mft.TriggerSchedule && len(r.Files) == 0 {
			e.ticking[r.Automation] = true
		}
	}
	for _, d := range deliveries {
		e.deliveries.push(d)
	}
	e.mu.Unlock()
	e.cron.Start()
	e.wg.Add(1)
	go e.dispatch()
	e.poke()
	return nil
}

// Close stops the schedules, starts nothing new, and lets the runs and
// deliveries in progress finish until ctx is done; then it cancels them.
// What is queued or cut off stays stored and goes on at the next start.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.mu.Unlock()
	<-e.cron.Stop().Done()
	close(e.stopping)
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	defer e.partials.drop("")
	defer e.cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		e.cancel()
		<-done
		return ctx.Err()
	}
}

// Reload reads automations and webhooks again after a change and
// reschedules the scheduled automations.
func (e *Engine) Reload(ctx context.Context) error {
	autos, err := e.Store.AllAutomations(ctx)
	if err != nil {
		return err
	}
	hooks, err := e.Store.AllWebhooks(ctx)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.automations, e.webhooks = autos, hooks
	for id, entry := range e.entries {
		e.cron.Remove(entry)
		delete(e.entries, id)
	}
	for _, a := range autos {
		if !a.Enabled || a.Trigger != mft.TriggerSchedule {
			continue
		}
		sched, err := Schedule(a.Schedule, a.Timezone)
		if err != nil {
			e.Logger.Warn("automation schedule does not parse", "automation", a.ID, "err", err)
			continue
		}
		id := a.ID
		e.entries[id] = e.cron.Schedule(sched, cron.FuncJob(func() { e.tick(id) }))
	}
	return nil
}

// automation returns the loaded automation with id.
func (e *Engine) automation(id string) *mft.Automation {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, a := range e.automations {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// Publish receives every event: it queues a run of each enabled event
// automation that wants it and a delivery to each webhook that wants it.
func (e *Engine) Publish(ev mft.Event) {
	e.mu.Lock()
	autos, hooks := e.automations, e.webhooks
	e.mu.Unlock()
	ctx := e.ctx
	for _, a := range autos {
		if !a.Enabled || a.Trigger != mft.TriggerEvent || !slices.Contains(a.Events, ev.Event) {
			continue
		}
		if ev.Actor == actorID(a.ID) {
			continue // never on its own output
		}
		if ev.Depth >= MaxDepth {
			e.Logger.Warn("automation not run: too many automations in a chain", "automation", a.ID, "event", ev.Event, "path", ev.Path)
			continue
		}
		if !matchEvent(a.Conditions, ev, e.Now(), e.groupsOf) {
			continue
		}
		evc := ev
		r := &mft.Run{Automation: a.ID, Trigger: mft.TriggerEvent, Status: mft.RunQueued, Attempt: 1,
			Event: &evc, Depth: ev.Depth + 1, NotBefore: e.Now(), Files: []string{}}
		if ev.Path != "" && (ev.Event == mft.EventFileUploaded || ev.Event == mft.EventFileRenamed) {
			p := ev.Path
			if ev.NewPath != "" {
				p = ev.NewPath
			}
			r.Files = []string{p}
		}
		e.enqueueRun(ctx, r)
	}
	var ds []*mft.Delivery
	for _, w := range hooks {
		if w.Matches(ev) {
			ds = append(ds, &mft.Delivery{Webhook: w.ID, Event: ev.Event, Status: "queued", NotBefore: e.Now()})
		}
	}
	if len(ds) > 0 {
		if err := e.Store.CreateDeliveries(ctx, ds, func(id string) string { return payload(id, ev) }); err != nil {
			e.Logger.Error("webhook deliveries not stored", "event", ev.Event, "err", err)
			return
		}
		e.mu.Lock()
		for _, d := range ds {
			e.deliveries.push(d)
		}
		e.mu.Unlock()
		e.poke()
	}
}

// RunNow queues a manual run of an automation (any trigger) and returns
// it: on the file at storage path path when one is given, else a
// scheduled automation with a source processes its new files. An
// automation whose actions need a file and that gets none is EINVALID at
// once, rather than a run that fails.
func (e *Engine) RunNow(ctx context.Context, a *mft.Automation, path string) (*mft.Run, error) {
	if n := e.Queued(); n >= e.MaxQueued {
		return nil, mft.Errorf(mft.EUNAVAILABLE, "%d automation runs are waiting, the most automation.max_queued allows; try again later.", n)
	}
	files := []string{}
	switch {
	case path != "":
		if err := mft.ValidateStoragePath("path", path); err != nil {
			return nil, err
		}
		files = []string{path}
	case a.Source != nil && !a.Source.Remote():
		runs := e.sourceRuns(ctx, a, mft.TriggerManual)
		if len(runs) > 0 {
			return runs[0], nil
		}
		if a.NeedsFile() {
			return nil, mft.Errorf(mft.EINVALID, "%s has no new file to work on; send {\"path\": \"…\"} to run it on one.", a.Source.Path)
		}
	case a.NeedsFile():
		return nil, mft.Errorf(mft.EINVALID, "This automation's actions work on a file: send {\"path\": \"/users/…/file.csv\"} (a storage path) to run it on one.")
	}
	r := &mft.Run{Automation: a.ID, Trigger: mft.TriggerManual, Status: mft.RunQueued, Attempt: 1,
		NotBefore: e.Now(), Files: files}
	if err := e.enqueueRun(ctx, r); err != nil {
		return nil, err
	}
	return r, nil
}

// tick is a schedule's firing: one run per new file of a local source, or
// one run with no file (a remote source's poll among them), unless the
// previous tick's is still queued or running: a slow poll is not
// overtaken by the next, which would fetch the same files.
func (e *Engine) tick(id string) {
	a := e.automation(id)
	if a == nil {
		return
	}
	if a.Source != nil && !a.Source.Remote() {
		e.sourceRuns(e.ctx, a, mft.TriggerSchedule)
		return
	}
	e.mu.Lock()
	busy := e.ticking[a.ID]
	if !busy {
		e.ticking[a.ID] = true
	}
	e.mu.Unlock()
	if busy {
		return
	}
	if e.enqueueRun(e.ctx, &mft.Run{Automation: a.ID, Trigger: mft.TriggerSchedule, Status: mft.RunQueued, Attempt: 1,
		NotBefore: e.Now(), Files: []string{}}) != nil {
		e.ticked(a.ID)
	}
}

// ticked notes that an automation's tick run is over.
func (e *Engine) ticked(automation string) {
	e.mu.Lock()
	delete(e.ticking, automation)
	e.mu.Unlock()
}

// sourceRuns queues a run for each file of the source that the automation
// has not processed in its current version and that meets the conditions.
// A file is marked processed when its run is queued, so a slow run is not
// queued again by the next tick.
func (e *Engine) sourceRuns(ctx context.Context, a *mft.Automation, trigger string) []*mft.Run {
	var out []*mft.Run
	list, err := e.walk(ctx, a.Source.Path, a.Source.Recursive)
	if err != nil {
		e.Logger.Warn("automation source not listed", "automation", a.ID, "path", a.Source.Path, "err", err)
		return nil
	}
	now := e.Now()
	for _, fi := range list {
		version := fmt.Sprintf("%d:%d", fi.Size, fi.ModifiedAt.UnixNano())
		if done, err := e.Store.Processed(ctx, a.ID, fi.Path, version); err != nil || done {
			continue
		}
		if !matchFile(a.Conditions, fi, now) {
			continue
		}
		if err := e.Store.MarkProcessed(ctx, a.ID, fi.Path, version); err != nil {
			e.Logger.Warn("automation source file not marked", "automation", a.ID, "path", fi.Path, "err", err)
			continue
		}
		r := &mft.Run{Automation: a.ID, Trigger: trigger, Status: mft.RunQueued, Attempt: 1, NotBefore: now, Files: []string{fi.Path}}
		if e.enqueueRun(ctx, r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// walk lists the files below dir (storage paths), descending if recursive.
func (e *Engine) walk(ctx context.Context, dir string, recursive bool) ([]mft.FileInfo, error) {
	list, err := e.Files.List(ctx, systemActor("", 0), dir)
	if err != nil {
		return nil, err
	}
	var out []mft.FileInfo
	for _, fi := range list {
		switch {
		case fi.Type == mft.TypeFile:
			out = append(out, fi)
		case recursive:
			sub, err := e.walk(ctx, fi.Path, true)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		}
	}
	return out, nil
}

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
	queued := *r // the caller keeps r; the workers change their own copy
	e.mu.Lock()
	e.runs.push(&queued)
	e.mu.Unlock()
	e.poke()
	return nil
}

// Redeliver queues a delivery again now.
func (e *Engine) Redeliver(ctx context.Context, d *mft.Delivery) error {
	d.Status, d.NotBefore, d.DoneAt = "queued", e.Now(), nil
	if err := e.Store.PutDelivery(ctx, d); err != nil {
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
		e.Logger.Error("automation run not stored", "run", r.ID, "err", err)
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
	if perr != nil || over { // no next attempt
		if !over {
			e.dropRun(ctx, r.ID)
		}
		if r.Trigger == mft.TriggerSchedule && len(r.Files) == 0 {
			e.ticked(r.Automation)
		}
	}
	if perr != nil {
		e.Logger.Error("automation run not stored", "run", r.ID, "err", perr)
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
	case mft.RunFailed:
		e.Logger.Warn("automation run failed", "automation", r.Automation, "run", r.ID, "err", err)
		e.publish(mft.EventAutomationFailed, r, err.Error())
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

// groupsOf returns the groups of a user id, none if it is not a user.
func (e *Engine) groupsOf(id string) []string {
	if e.Users == nil {
		return nil
	}
	u, err := e.Users.FindUserByID(e.ctx, id)
	if err != nil {
		return nil
	}
	return u.Groups
}

// actorID is how an automation appears in events.
func actorID(automation string) string { return "automation:" + automation }

// systemActor is the actor of an automation's file operations: it sees
// the whole storage tree (paths are storage paths).
func systemActor(automation string, depth int) files.Actor {
	return files.Actor{User: &mft.User{ID: actorID(automation), Role: mft.RoleAdmin, Home: "/", Active: true},
		Protocol: mft.AuditAutomation, Depth: depth}
}
