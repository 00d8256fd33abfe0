package mft

import (
	"context"
	"path"
	"slices"
	"strings"
	"time"
)

// Expectation events: the files came in their window, came after it, or
// did not come by its end.
const (
	EventExpectationMet    = "expectation.met"
	EventExpectationLate   = "expectation.late"
	EventExpectationMissed = "expectation.missed"

	EventExpectationCreated = "expectation.created"
	EventExpectationUpdated = "expectation.updated"
	EventExpectationDeleted = "expectation.deleted"
)

// Window states.
const (
	WindowOpen    = "open"
	WindowOnTime  = "on_time"
	WindowLate    = "late"
	WindowMissing = "missing"
)

// Weekdays are the day names a window takes, Sunday first as time.Weekday.
var Weekdays = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

// Expectation is a file a partner owes: "a file matching *.csv arrives
// below /users/acme/in between 04:00 and 06:00 on weekdays (Europe/Berlin),
// at least one, at least 1 KiB".
type Expectation struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Enabled   bool   `json:"enabled"`
	Path      string `json:"path" depot:"path"`
	Pattern   string `json:"pattern"`
	Recursive bool   `json:"recursive"`
	// Days (mon … sun; weekdays when empty), From and To ("HH:MM", To
	// after From) in Timezone (UTC when empty).
	Days     []string `json:"days"`
	From     string   `json:"from"`
	To       string   `json:"to"`
	Timezone string   `json:"timezone,omitempty"`
	MinCount int      `json:"min_count"`
	MinSize  int64    `json:"min_size"`
	// History is the windows so far, newest first (at most HistoryLen).
	History   []Window  `json:"history"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HistoryLen bounds an expectation's history.
const HistoryLen = 100

// Window is one window of an expectation and what came.
type Window struct {
	Start  time.Time  `json:"start"`
	End    time.Time  `json:"end"`
	Status string     `json:"status"`
	Files  []string   `json:"files"`
	MetAt  *time.Time `json:"met_at,omitempty"`
}

// Validate reports the first problem, naming the field; it fills the
// defaults.
func (e *Expectation) Validate() error {
	if len(e.Days) == 0 {
		e.Days = []string{"mon", "tue", "wed", "thu", "fri"}
	}
	if e.MinCount == 0 {
		e.MinCount = 1
	}
	from, errF := time.Parse("15:04", e.From)
	to, errT := time.Parse("15:04", e.To)
	_, errZ := time.LoadLocation(e.Timezone)
	switch {
	case strings.TrimSpace(e.Name) == "" || len(e.Name) > 200:
		return Errorf(EINVALID, "name is required (at most 200 characters)")
	case e.Path == "" || e.Path[0] != '/':
		return Errorf(EINVALID, "path is required: the storage folder files arrive in, such as /users/acme/in")
	case e.Pattern == "":
		return Errorf(EINVALID, "pattern is required: a glob of file names, such as *.csv")
	case errF != nil || errT != nil || !to.After(from):
		return Errorf(EINVALID, "from and to are required: times of day as HH:MM, to after from (such as 04:00 and 06:00)")
	case errZ != nil:
		return Errorf(EINVALID, "timezone %q is not a time zone (such as Europe/Berlin)", e.Timezone)
	case e.MinCount < 0 || e.MinCount > 10000 || e.MinSize < 0:
		return Errorf(EINVALID, "min_count must be 1 to 10000 and min_size not negative")
	}
	if _, err := path.Match(e.Pattern, ""); err != nil || strings.Contains(e.Pattern, "/") {
		return Errorf(EINVALID, "pattern %q is not a glob of names", e.Pattern)
	}
	for _, d := range e.Days {
		if !slices.Contains(Weekdays, d) {
			return Errorf(EINVALID, "days takes mon, tue, wed, thu, fri, sat and sun, not %q", d)
		}
	}
	return nil
}

// Matches reports whether a file at storage path p is one expected.
func (e *Expectation) Matches(p string) bool {
	dir := path.Dir(p)
	if dir != e.Path && !(e.Recursive && HasPathPrefix(dir, e.Path)) {
		return false
	}
	ok, _ := path.Match(strings.ToLower(e.Pattern), strings.ToLower(path.Base(p)))
	return ok
}

// WindowOf returns the window that holds t, or the last one that ended
// before it (ok false when there was none in the week before).
func (e *Expectation) WindowOf(t time.Time) (start, end time.Time, inside, ok bool) {
	loc, err := time.LoadLocation(e.Timezone)
	if err != nil {
		loc = time.UTC
	}
	lt := t.In(loc)
	from, _ := time.Parse("15:04", e.From)
	to, _ := time.Parse("15:04", e.To)
	for back := 0; back <= 7; back++ {
		d := lt.AddDate(0, 0, -back)
		if !slices.Contains(e.Days, Weekdays[d.Weekday()]) {
			continue
		}
		s := time.Date(d.Year(), d.Month(), d.Day(), from.Hour(), from.Minute(), 0, 0, loc)
		en := time.Date(d.Year(), d.Month(), d.Day(), to.Hour(), to.Minute(), 0, 0, loc)
		switch {
		case !t.Before(s) && t.Before(en):
			return s, en, true, true
		case !t.Before(en):
			return s, en, false, true
		}
	}
	return time.Time{}, time.Time{}, false, false
}

// OnTimeRate is the share of the finished windows of the history that
// were on time, 0 to 1 (0 with none).
func (e *Expectation) OnTimeRate() float64 {
	done, on := 0, 0
	for _, w := range e.History {
		if w.Status != WindowOpen {
			done++
			if w.Status == WindowOnTime {
				on++
			}
		}
	}
	if done == 0 {
		return 0
	}
	return float64(on) / float64(done)
}

// ExpectationStore stores expectations with their history.
type ExpectationStore interface {
	FindExpectation(ctx context.Context, id string) (*Expectation, error)
	FindExpectations(ctx context.Context, page Page) ([]*Expectation, bool, error)
	CreateExpectation(ctx context.Context, e *Expectation) error
	PutExpectation(ctx context.Context, e *Expectation) error
	// UpdateExpectation reads the expectation id, has fn change it, and
	// stores it if fn says it changed, in one transaction: what nodes that
	// share the database record in its windows at once is all kept. fn
	// may run more than once and must only change its argument.
	UpdateExpectation(ctx context.Context, id string, fn func(*Expectation) bool) error
	DeleteExpectation(ctx context.Context, id string) error
}
