package automation

import (
	"context"
	"fmt"

	"depot/mft"
)

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
