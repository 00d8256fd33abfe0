package mft

import (
	"context"
	"strings"
	"time"
)

// Protocols that appear in the audit log.
const (
	AuditAPI        = "api"
	AuditSFTP       = "sftp"
	AuditFTP        = "ftp"
	AuditWebDAV     = "webdav"
	AuditWeb        = "web"
	AuditAutomation = "automation"
	AuditSystem     = "system"
)

// Outcomes of an audited action.
const (
	StatusOK     = "ok"
	StatusDenied = "denied"
	StatusError  = "error"
)

// Event is something that happened: an upload, a login, a deletion. Every
// event goes to the audit log; webhooks and automations subscribe to them.
type Event struct {
	ID       string    `json:"id"`
	Time     time.Time `json:"time"`
	Event    string    `json:"event"`
	Actor    string    `json:"actor,omitempty"`
	Bucket   string    `json:"bucket,omitempty"`
	Protocol string    `json:"protocol"`
	IP       string    `json:"ip,omitempty"`
	Path     string    `json:"path,omitempty"`
	NewPath  string    `json:"new_path,omitempty"`
	Size     int64     `json:"size,omitempty"`
	SHA256   string    `json:"sha256,omitempty"`
	Status   string    `json:"status"`
	Message  string    `json:"message,omitempty"`
	// Target is the id of what an administrative change changed; Changes
	// are the fields it set, with their new values (secrets as "(set)").
	Target  string         `json:"target,omitempty"`
	Changes map[string]any `json:"changes,omitempty"`
	// Depth counts the automations that led to this event (0: a person
	// or system did it); it bounds chains of automations.
	Depth int `json:"depth,omitempty"`
}

// EventSink receives events. Publish must not block for long: sinks queue
// and batch.
type EventSink interface {
	Publish(ev Event)
}

// AuditFilter selects audit events; zero fields match everything.
type AuditFilter struct {
	Page
	From, To   time.Time
	Event      string
	Actor      string
	Bucket     string
	PathPrefix string
	Protocol   string
	Status     string
	// Newest lists newest first; After is then the event the page
	// continues before.
	Newest bool
}

// Match reports whether ev passes the filter (ignoring the page).
func (f AuditFilter) Match(ev *Event) bool {
	return (f.From.IsZero() || !ev.Time.Before(f.From)) &&
		(f.To.IsZero() || ev.Time.Before(f.To)) &&
		(f.Event == "" || ev.Event == f.Event || strings.HasSuffix(f.Event, ".*") && strings.HasPrefix(ev.Event, f.Event[:len(f.Event)-1])) &&
		(f.Actor == "" || ev.Actor == f.Actor) &&
		(f.Bucket == "" || ev.Bucket == f.Bucket) &&
		(f.Protocol == "" || ev.Protocol == f.Protocol) &&
		(f.Status == "" || ev.Status == f.Status) &&
		(f.PathPrefix == "" || HasPathPrefix(ev.Path, f.PathPrefix) || HasPathPrefix(ev.NewPath, f.PathPrefix))
}

// HasPathPrefix reports whether slash path p is prefix itself or inside it.
func HasPathPrefix(p, prefix string) bool {
	if prefix == "/" {
		return len(p) > 0 && p[0] == '/'
	}
	return p == prefix || len(p) > len(prefix) && p[:len(prefix)] == prefix && p[len(prefix)] == '/'
}

// AuditStore stores the audit log.
type AuditStore interface {
	// AppendEvents stores events, giving each a time-ordered id.
	AppendEvents(ctx context.Context, events []Event) error
	// FindEvents returns one page of matching events, oldest first, and
	// whether more follow.
	FindEvents(ctx context.Context, filter AuditFilter) ([]*Event, bool, error)
	// DeleteEventsBefore removes events older than t and returns how many.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int, error)
	// FindEvent returns one event by its id (ENOTFOUND).
	FindEvent(ctx context.Context, id string) (*Event, error)
}
