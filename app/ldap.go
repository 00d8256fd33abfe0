package app

import (
	"context"
	"time"

	"depot/mft"
)

// recheckLDAP checks the directory's accounts every ldap.recheck until
// ctx ends: one the directory no longer has is disabled (core's
// ldapauth.Accounts.Recheck; its web sessions end with it) and its SFTP
// and FTPS sessions are ended here.
func (a *App) recheckLDAP(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		origin := mft.WithOrigin(ctx, mft.Origin{Protocol: mft.AuditSystem})
		gone, err := a.LDAP.Recheck(origin)
		if err != nil {
			a.Logger.Warn("ldap recheck", "err", err)
		}
		for _, id := range gone {
			a.Logger.Info("directory account disabled: the directory no longer has it", "user", id)
			for _, s := range a.HTTP.Sessions.Sessions() {
				if s.User == id {
					a.HTTP.Sessions.EndSession(origin, s.ID)
				}
			}
		}
	}
}
