package automation

import (
	"context"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

	"depot/mft"
)

// tick is a schedule's firing, claimed by one node of those sharing the
// database: one run per new file of a local source, or one run with no
// file (a remote source's poll among them), unless the previous tick's is
// still queued or running: a slow poll is not overtaken by the next,
// which would fetch the same files.
func (e *Engine) tick(id string, sched cron.Schedule) {
	a := e.automation(id)
	if a == nil {
		return
	}
	at := lastTick(sched, e.Now())
	var r *mft.Run
	if a.Source == nil || a.Source.Remote() {
		r = &mft.Run{Automation: a.ID, Trigger: mft.TriggerSchedule, Status: mft.RunQueued, Attempt: 1,
			NotBefore: at, Files: []string{}} // due at its tick: the tick it is, for every node
	}
	claimed, err := e.Store.ClaimTick(e.ctx, a.ID, at, r)
	switch {
	case err != nil:
		e.Logger.Error("automation tick not claimed", "automation", a.ID, "err", err)
	case !claimed:
	case r == nil:
		e.sourceRuns(e.ctx, a, mft.TriggerSchedule)
	default:
		e.queue(r)
	}
}

// lastTick is the schedule's latest time not after now: the tick that is
// firing, named alike by every node whose clock is within a period of
// the others'.
func lastTick(s cron.Schedule, now time.Time) time.Time {
	t := s.Next(now.Add(-time.Minute))
	if t.After(now) { // a tick more than a minute late, or a clock behind
		return now.Truncate(time.Second)
	}
	for next := s.Next(t); !next.After(now); next = s.Next(t) {
		t = next
	}
	return t
}

// sourceRuns queues a run for each file of the source that the automation
// has not processed in its current version and that meets the conditions.
// A file is marked processed when its run is queued, so a slow run is not
// queued again by the next tick (nor by another node's).
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
		if mine, err := e.Store.MarkProcessed(ctx, a.ID, fi.Path, version); err != nil {
			e.Logger.Warn("automation source file not marked", "automation", a.ID, "path", fi.Path, "err", err)
			continue
		} else if !mine {
			continue // another run has it
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
