package app

import (
	"context"
	"errors"
)

// Start starts the services (core's Start), then the SFTP, FTPS (when
// enabled) and HTTP listeners. On error, Close stops what was started.
func (a *App) Start(ctx context.Context) error {
	if err := a.Services.Start(ctx); err != nil {
		return err
	}
	if err := a.SFTP.Open(); err != nil {
		return err
	}
	if a.FTP != nil {
		if err := a.FTP.Open(); err != nil {
			a.SFTP.Close(ctx)
			return err
		}
	}
	a.HTTP.Version = a.Version
	if err := a.HTTP.Open(); err != nil {
		a.SFTP.Close(ctx)
		if a.FTP != nil {
			a.FTP.Close(ctx)
		}
		return err
	}
	a.Filedrops.PublicURL, a.AS2.PublicURL, a.Engine.PublicURL = a.HTTP.PublicURL, a.HTTP.PublicURL, a.HTTP.PublicURL
	if a.LDAP != nil {
		rctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); a.recheckLDAP(rctx, a.Config.LDAP.Recheck.D()) }()
		a.stops.Add(func(context.Context) error { cancel(); <-done; return nil })
	}
	a.stops.Add(func(ctx context.Context) error {
		// Both servers drain at once: requests and transfers in flight may
		// finish until ctx is done.
		sftpDone, ftpDone := make(chan error, 1), make(chan error, 1)
		go func() { sftpDone <- a.SFTP.Close(ctx) }()
		go func() {
			if a.FTP == nil {
				ftpDone <- nil
				return
			}
			ftpDone <- a.FTP.Close(ctx)
		}()
		return errors.Join(a.HTTP.Close(ctx), <-sftpDone, <-ftpDone)
	})
	return nil
}

// Close stops the servers (letting work in flight finish until ctx is
// done), then the services (core's Close). It is safe after a failed
// Open or Start, and without Start.
func (a *App) Close(ctx context.Context) error {
	errs, ok := a.stops.Run(ctx)
	if !ok {
		return nil
	}
	return errors.Join(append(errs, a.Services.Close(ctx))...)
}
