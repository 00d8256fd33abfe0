package core

import (
	"context"
	"time"

	"depot/files"
)

// Sweep runs one pass of retention: expired temporary keys, audit events
// and automation runs past audit.retention, files past their folder's
// retention, abandoned upload pieces, unconfirmed or expired dropzone
// files and expired filedrop submissions and deliveries. Each part logs
// its own failure and the pass goes on.
func (a *Services) Sweep(ctx context.Context) {
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
		{"bans that ran out and old failed sign-ins deleted", a.Defender.Sweep},
		{"ended web sessions deleted", a.WebSessions.Sweep},
		{"AS2 messages past retention deleted", func(ctx context.Context) (int, error) { return a.AS2.Store.DeleteAS2MessagesBefore(ctx, cutoff) }},
		{"AS2 certificates expiring within 30 days (as2.certificate.expiring)", a.AS2.CheckExpiry},
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
func (a *Services) SweepEvery(ctx context.Context, interval time.Duration) {
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
