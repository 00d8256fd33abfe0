package mft

import (
	"context"
	"slices"
	"time"
)

// Run statuses.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
)

// Run is one execution of an automation, on one file or none.
type Run struct {
	ID         string     `json:"id"`
	Automation string     `json:"automation"`
	Trigger    string     `json:"trigger"`
	Status     string     `json:"status"`
	Attempt    int        `json:"attempt"`
	Files      []string   `json:"files"`
	Event      *Event     `json:"event,omitempty"`
	Steps      []Step     `json:"steps"`
	Error      string     `json:"error,omitempty"`
	Depth      int        `json:"depth,omitempty"`
	NotBefore  time.Time  `json:"not_before"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	// Node is the Depot node whose queue holds the run: the one that
	// queued it, or took it over when that one died.
	Node string `json:"node,omitempty"`
}

// Step is what one action of a run did.
type Step struct {
	Action     string `json:"action"`
	Input      string `json:"input"`
	Output     string `json:"output"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
	// Of an upload or download: the connection, the remote path and the
	// bytes that crossed.
	Connection string `json:"connection,omitempty"`
	Remote     string `json:"remote,omitempty"`
	Bytes      int64  `json:"bytes,omitempty"`
	// Of an http action: the answer's status and the first KiB of its body.
	Status   int    `json:"status,omitempty"`
	Response string `json:"response,omitempty"`
}

// Webhook sends events to a URL.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events"`
	Paths     []string  `json:"paths"`
	Bucket    string    `json:"bucket,omitempty"`
	Secret    string    `json:"secret,omitempty"` // encrypted at rest
	Active    bool      `json:"active"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Matches reports whether the webhook wants ev.
func (w *Webhook) Matches(ev Event) bool {
	if !w.Active {
		return false
	}
	if !slices.Contains(w.Events, "*") && !slices.Contains(w.Events, ev.Event) {
		return false
	}
	if w.Bucket != "" && ev.Bucket != w.Bucket {
		return false
	}
	if len(w.Paths) > 0 {
		for _, p := range w.Paths {
			if ev.Path != "" && HasPathPrefix(ev.Path, p) {
				return true
			}
		}
		return false
	}
	return true
}

// Delivery is one event on its way to a webhook, with every attempt.
type Delivery struct {
	ID        string     `json:"id"`
	Webhook   string     `json:"webhook"`
	Event     string     `json:"event"`
	Payload   string     `json:"payload"` // the exact JSON body that is signed
	Status    string     `json:"status"`  // queued, delivered, failed
	Attempts  []Attempt  `json:"attempts"`
	NotBefore time.Time  `json:"not_before"`
	CreatedAt time.Time  `json:"created_at"`
	DoneAt    *time.Time `json:"done_at,omitempty"`
	// Node is the Depot node whose queue holds the delivery (see Run).
	Node string `json:"node,omitempty"`
}

// Attempt is one POST of a delivery.
type Attempt struct {
	Time       time.Time `json:"time"`
	StatusCode int       `json:"status_code"`
	DurationMS int64     `json:"duration_ms"`
	Error      string    `json:"error,omitempty"`
}

// AutomationStore stores automations, their runs (the job queue),
// webhooks and their deliveries.
type AutomationStore interface {
	FindAutomation(ctx context.Context, id string) (*Automation, error)
	FindAutomations(ctx context.Context, page Page) ([]*Automation, bool, error)
	AllAutomations(ctx context.Context) ([]*Automation, error)
	CreateAutomation(ctx context.Context, a *Automation) error
	PutAutomation(ctx context.Context, a *Automation) error
	DeleteAutomation(ctx context.Context, id string) error

	// CreateRun stores a new run in this node's queue (r.Node).
	CreateRun(ctx context.Context, r *Run) error
	// PutRun stores r; it is ECONFLICT if another node took the run over
	// since r was read (so that a node never works on, or writes over, a
	// run it no longer holds).
	PutRun(ctx context.Context, r *Run) error
	FindRun(ctx context.Context, id string) (*Run, error)
	// FindRuns returns an automation's runs, newest first.
	FindRuns(ctx context.Context, automation string, page Page) ([]*Run, bool, error)
	// PendingRuns returns the runs queued or (after a crash) running.
	PendingRuns(ctx context.Context) ([]*Run, error)
	// AdoptRuns moves the pending runs of nodes no longer alive (this
	// node's previous life after a restart among them) to this node's
	// queue, those that were running queued again, and returns them.
	AdoptRuns(ctx context.Context) ([]*Run, error)
	// ClaimTick records that a schedule fired at at, unless some node
	// recorded that tick (or a later one) already: whether this call did.
	// With r, a run of the tick, r is created too unless the automation's
	// previous tick run is still pending; claimed is then whether r was.
	ClaimTick(ctx context.Context, automation string, at time.Time, r *Run) (claimed bool, err error)
	// MarkProcessed records that an automation processed a file in this
	// version (size and time), unless it was recorded already: whether
	// this call did (of two nodes that try, one gets true). Processed
	// tells whether it was.
	MarkProcessed(ctx context.Context, automation, path, version string) (bool, error)
	Processed(ctx context.Context, automation, path, version string) (bool, error)

	FindWebhook(ctx context.Context, id string) (*Webhook, error)
	FindWebhooks(ctx context.Context, page Page) ([]*Webhook, bool, error)
	AllWebhooks(ctx context.Context) ([]*Webhook, error)
	CreateWebhook(ctx context.Context, w *Webhook) error
	PutWebhook(ctx context.Context, w *Webhook) error
	DeleteWebhook(ctx context.Context, id string) error

	// CreateDeliveries gives each delivery an id and its payload
	// (body(id)) and stores them all in one transaction.
	CreateDeliveries(ctx context.Context, ds []*Delivery, body func(id string) string) error
	// PutDelivery stores d; ECONFLICT if another node took it over since
	// d was read (see PutRun).
	PutDelivery(ctx context.Context, d *Delivery) error
	// TakeDelivery stores d in this node's queue, whoever held it.
	TakeDelivery(ctx context.Context, d *Delivery) error
	FindDelivery(ctx context.Context, id string) (*Delivery, error)
	// FindDeliveries returns a webhook's deliveries, newest first.
	FindDeliveries(ctx context.Context, webhook string, page Page) ([]*Delivery, bool, error)
	PendingDeliveries(ctx context.Context) ([]*Delivery, error)
	// AdoptDeliveries is AdoptRuns for deliveries.
	AdoptDeliveries(ctx context.Context) ([]*Delivery, error)
	// DeleteFinishedBefore forgets runs and deliveries that ended before
	// t (the audit retention) and returns how many.
	DeleteFinishedBefore(ctx context.Context, t time.Time) (int, error)
}
