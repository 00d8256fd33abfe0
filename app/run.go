package app

import (
	"context"
	"errors"
	"time"

	"depot/files"
)

// Start prepares storage (recounting usage after an unclean stop), starts
// the audit log and the automation engine, then the SFTP and HTTP
// listeners. On error, Close stops what was started.
func (a *App) Start(ctx context.Context) error {
	if err := a.Files.Begin(ctx, a.Logger); err != nil {
		return err
	}
	// Any stop after this, also after a failed start, is a clean one; only
	// a crash leaves the marker behind.
	a.onClose(func(ctx context.Context) error {
		if err := a.Files.End(context.WithoutCancel(ctx)); err != nil {
			a.Logger.Warn("mark clean shutdown", "err", err)
		}
		return nil
	})
	a.AuditLog.Open()
	a.onClose(func(context.Context) error { a.AuditLog.Close(); return nil })
	if err := a.Engine.Open(ctx); err != nil {
		return err
	}
	a.onClose(a.Engine.Close)
	if err := a.SFTP.Open(); err != nil {
		return err
	}
	a.HTTP.Version = a.Version
	if err := a.HTTP.Open(); err != nil {
		a.SFTP.Close(ctx)
		return err
	}
	a.Filedrops.PublicURL = a.HTTP.PublicURL
	a.onClose(func(ctx context.Context) error {
		// Both servers drain at once: requests and transfers in flight may
		// finish until ctx is done.
		sftpDone := make(chan error, 1)
		go func() { sftpDone <- a.SFTP.Close(ctx) }()
		return errors.Join(a.HTTP.Close(ctx), <-sftpDone)
	})
	return nil
}

// onClose adds a step to Close; steps run last added first.
func (a *App) onClose(stop func(context.Context) error) { a.stops = append(a.stops, stop) }

// Close stops what Start started (the servers, letting work in flight
// finish until ctx is done, then the engine and the audit log), records a
// clean stop and closes storage and the database. It is safe after a
// failed Open or Start, and without Start.
func (a *App) Close(ctx context.Context) error {
	if a.closed {
		return nil
	}
	a.closed = true
	var errs []error
	for i := len(a.stops) - 1; i >= 0; i-- {
		errs = append(errs, a.stops[i](ctx))
	}
	a.stops = nil
	if a.Mounts != nil {
		errs = append(errs, a.Mounts.Close())
	}
	errs = append(errs, a.Files.Close(), a.DB.Close())
	return errors.Join(errs...)
}

// Sweep runs one pass of retention: expired temporary keys, audit events
// and automation runs past audit.retention, files past their folder's
// retention, abandoned upload pieces, unconfirmed or expired dropzone
// files and expired filedrop submissions and deliveries. Each part logs
// its own failure and the pass goes on.
func (a *App) Sweep(ctx context.Context) {
	log := a.Logger
	if _, err := a.Tokens.DeleteExpiredTokens(ctx); err != nil && ctx.Err() == nil {
		log.Warn("sweep expired tokens", "err", err)
	}
	cutoff := time.Now().Add(-a.Config.Audit.Retention.D())
	steps := []struct {
		what string
		run  func(context.Context) (int, error)
	}{
		{"audit events past retention deleted", func(ctx context.Context) (int, error) { return a.AuditStore.DeleteEventsBefore(ctx, cutoff) }},
		{"automation runs and webhook deliveries past retention deleted", func(ctx context.Context) (int, error) {
			return a.Automations.DeleteFinishedBefore(ctx, cutoff)
		}},
		{"files past their folder's retention deleted", a.Files.ExpireFiles},
		{"abandoned staging files and upload pieces removed", func(context.Context) (int, error) { return a.Files.SweepStaging(files.StagingTTL) }},
		{"incomplete uploads to mounted storage aborted", func(ctx context.Context) (int, error) { return a.Mounts.Sweep(ctx, files.StagingTTL) }},
		{"unconfirmed or expired dropzone files removed", a.Dropzones.Sweep},
		{"expired filedrop submissions and deliveries removed", a.Filedrops.Sweep},
	}
	for _, s := range steps {
		if n, err := s.run(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep failed: "+s.what, "err", err)
		} else if n > 0 {
			log.Info(s.what, "count", n)
		}
	}
}

// SweepEvery runs Sweep at once and then every interval until ctx is done.
func (a *App) SweepEvery(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		a.Sweep(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
