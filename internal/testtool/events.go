package testtool

import (
	"sync"

	"depot/mft"
)

// Events is an mft.EventSink that keeps every event published to it, for
// tests to read back.
type Events struct {
	mu     sync.Mutex
	events []mft.Event
}

func (e *Events) Publish(ev mft.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events = append(e.events, ev)
}

// All returns the events so far, oldest first.
func (e *Events) All() []mft.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]mft.Event(nil), e.events...)
}

// Named returns the events named name, oldest first.
func (e *Events) Named(name string) []mft.Event {
	var out []mft.Event
	for _, ev := range e.All() {
		if ev.Event == name {
			out = append(out, ev)
		}
	}
	return out
}

// Last returns the newest event (the zero Event when there is none).
func (e *Events) Last() mft.Event {
	all := e.All()
	if len(all) == 0 {
		return mft.Event{}
	}
	return all[len(all)-1]
}
