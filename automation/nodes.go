package automation

import (
	"context"

	"depot/mft"
)

// Nodes that share a database share the engine's work through it: a run
// or delivery is in the queue of the node that made it (the store names
// the node); a node writes a run only while the store still names it
// (mft.ECONFLICT otherwise: another node took it over); the runs and
// deliveries of a node that died are adopted by a live one (adopt); a
// schedule's tick is claimed by one node (tick); a source's file by one
// run (MarkProcessed). A node cut off from the database while working
// may see its run taken over and done again: runs are at least once.

// adopt queues the runs and deliveries no live node holds.
func (e *Engine) adopt(ctx context.Context) error {
	runs, err := e.Store.AdoptRuns(ctx)
	if err != nil {
		return err
	}
	deliveries, err := e.Store.AdoptDeliveries(ctx)
	if err != nil {
		return err
	}
	if len(runs)+len(deliveries) == 0 {
		return nil
	}
	e.mu.Lock()
	for _, r := range runs {
		e.runs.push(r)
	}
	for _, d := range deliveries {
		e.deliveries.push(d)
	}
	e.mu.Unlock()
	e.poke()
	return nil
}

// adoptEvery adopts what nodes that died left, every AdoptEvery.
func (e *Engine) adoptEvery() {
	e.every(e.AdoptEvery, func() {
		if err := e.adopt(e.ctx); err != nil && e.ctx.Err() == nil {
			e.Logger.Warn("runs of other nodes not adopted", "err", err)
		}
	})
}

// Changed is told that another node changed automations, webhooks or
// expectations: the engine reads them again.
func (e *Engine) Changed() {
	e.exp.mu.Lock()
	e.exp.fresh = false
	e.exp.mu.Unlock()
	if err := e.Reload(e.ctx); err != nil && e.ctx.Err() == nil {
		e.Logger.Warn("automations not reloaded after another node's change", "err", err)
	}
}

// lost reports whether err says another node holds the job now, and logs
// that this one lets it go.
func (e *Engine) lost(err error, what, id string) bool {
	if mft.ErrorCode(err) != mft.ECONFLICT {
		return false
	}
	e.Logger.Info(what+" taken over by another node; left to it", "id", id)
	return true
}
