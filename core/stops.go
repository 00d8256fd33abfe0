package core

import "context"

// Stops are the steps that undo a start, run once, last added first.
type Stops struct {
	steps []func(context.Context) error
	done  bool
}

// Add adds a step.
func (s *Stops) Add(stop func(context.Context) error) { s.steps = append(s.steps, stop) }

// Run runs the steps, last added first, and returns their errors; ok is
// false, and nothing runs, when they ran before.
func (s *Stops) Run(ctx context.Context) (errs []error, ok bool) {
	if s.done {
		return nil, false
	}
	s.done = true
	for i := len(s.steps) - 1; i >= 0; i-- {
		errs = append(errs, s.steps[i](ctx))
	}
	s.steps = nil
	return errs, true
}
