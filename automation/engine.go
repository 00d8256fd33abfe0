// Package automation runs Depot's workflows: event, scheduled (robfig/cron)
// and manual automations whose actions rename, copy, move, delete, encrypt
// and decrypt files through the files service or call webhooks; and
// webhooks that receive events as signed POSTs. Runs and deliveries are
// stored before they are worked on, so a crash loses none.
package automation

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/robfig/cron/v3"

	"depot/auth"
	"depot/connection"
	"depot/files"
	"depot/link"
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
	Store mft.AutomationStore
	Files *files.Service
	// Users resolves the groups of an event's user for group conditions.
	Users  mft.UserStore
	Sealer *auth.Sealer
	// ObserveWebhook, when set, is told of each delivery attempt.
	ObserveWebhook func(delivered bool, d time.Duration)
	// Connections opens the remotes of upload and download actions.
	Connections *connection.Service
	// AS2 sends the files of upload actions whose connection is as2.
	AS2 AS2Sender
	// Mailer sends the email action's messages and the notify lists'
	// notices (nil: no [smtp] host); Links makes the links an email gives
	// for a file too large to attach, at PublicURL.
	Mailer    Mailer
	Links     *link.Service
	PublicURL string
	// Expectations are the expected files whose windows the engine keeps.
	Expectations mft.ExpectationStore
	exp          expectations
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
	// AdoptEvery is how often the engine looks for the runs and
	// deliveries of nodes that died, to finish them (nodes sharing a
	// database); 0: only at Open, for what this node's previous life left.
	AdoptEvery time.Duration
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
}

// Open loads automations and webhooks, adopts the runs and deliveries
// that no live node holds (those a crash interrupted), starts the
// schedules and the workers.
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
	e.ctx, e.cancel = context.WithCancel(context.WithoutCancel(ctx))
	e.cron = cron.New(cron.WithParser(parser), cron.WithLocation(time.UTC))
	if err := e.Reload(ctx); err != nil {
		return err
	}
	e.mu.Lock()
	e.runs = newQueue(func(r *mft.Run) time.Time { return r.NotBefore })
	e.deliveries = newQueue(func(d *mft.Delivery) time.Time { return d.NotBefore })
	e.mu.Unlock()
	if err := e.adopt(ctx); err != nil {
		return err
	}
	e.cron.Start()
	e.wg.Add(1)
	go e.dispatch()
	if e.Expectations != nil {
		e.wg.Add(1)
		go e.checkExpectations()
	}
	if e.AdoptEvery > 0 {
		e.wg.Add(1)
		go e.adoptEvery()
	}
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
		e.entries[id] = e.cron.Schedule(sched, cron.FuncJob(func() { e.tick(id, sched) }))
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
	e.expectFile(ev)
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
