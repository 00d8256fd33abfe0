// Package app is Depot's one wiring: it opens a data directory with
// core (store, files, auth, the exchange workflows, the automation
// engine) and builds the SFTP and HTTP servers on it, for `depot serve`,
// the other commands, the benchmarks and the tests that need a server.
package app

import (
	"context"
	"errors"
	"io"
	"log/slog"

	"depot/auth"
	"depot/config"
	"depot/core"
	"depot/davd"
	"depot/ftpd"
	"depot/oidcauth"
	"depot/server"
	"depot/sftpd"
	"depot/tlscert"
)

// AdminEmail is the first administrator created on an empty data
// directory.
const AdminEmail = core.AdminEmail

// App is an opened data directory, the services built on it and the
// servers that speak for them. Open builds everything without listening;
// Start serves; Close stops and releases. Fields may be adjusted between
// Open and Start (tests do).
type App struct {
	*core.Services
	// Version is reported by /healthz.
	Version string

	SFTP *sftpd.Server
	// FTP is the FTPS server, nil unless ftp.enabled; FTPCert its
	// certificate.
	FTP     *ftpd.Server
	FTPCert *tlscert.Source
	HTTP    *server.Server
	// TLS is the HTTPS certificate, when http.tls_cert or http.tls says so.
	TLS *tlscert.Source

	// stops undo what Start did.
	stops core.Stops
}

// Open opens the data directory and its services (core.Open, which
// creates the first administrator on an empty one, printing its key to
// stdout) and builds the servers on them.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, stdout io.Writer) (*App, error) {
	svc, err := core.Open(ctx, cfg, logger, stdout)
	if err != nil {
		return nil, err
	}
	a := &App{Services: svc}
	if err := a.build(); err != nil {
		a.Close(ctx)
		return nil, err
	}
	return a, nil
}

// build wires the servers on the services.
func (a *App) build() error {
	cfg, db := a.Config, a.DB
	a.SFTP = &sftpd.Server{
		Addr:                        cfg.SFTP.Listen,
		HostKeyDir:                  cfg.Data.Dir,
		Files:                       a.Files,
		Auth:                        a.Auth,
		Users:                       a.Users,
		Logger:                      a.Logger,
		Events:                      a.Events,
		IdleTimeout:                 cfg.SFTP.IdleTimeout.D(),
		MaxConnections:              cfg.SFTP.MaxConnections,
		MaxConnectionsPerUser:       cfg.SFTP.MaxConnectionsPerUser,
		MaxTransfers:                cfg.SFTP.MaxTransfers,
		MaxUnauthenticatedPerIP:     cfg.SFTP.MaxUnauthenticatedPerIP,
		LoginGrace:                  cfg.SFTP.LoginGraceTime.D(),
		Ciphers:                     cfg.SFTP.Ciphers,
		KeyExchanges:                cfg.SFTP.KeyExchanges,
		MACs:                        cfg.SFTP.MACs,
		SyncUploads:                 cfg.SFTP.SyncUploads,
		RequireSecondFactorWithKeys: cfg.SFTP.RequireSecondFactorWithKeys,
	}
	balancers, err := cfg.SFTP.ProxyProtocol()
	if err != nil {
		return err
	}
	a.SFTP.ProxyFrom = balancers
	proxies, err := cfg.HTTP.Proxies()
	if err != nil {
		return err
	}
	a.HTTP = &server.Server{
		Addr:              cfg.HTTP.Listen,
		PublicURL:         cfg.HTTP.PublicURL,
		TrustedProxies:    proxies,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
		IdleTimeout:       cfg.HTTP.IdleTimeout.D(),
		MaxJSONBytes:      cfg.HTTP.MaxJSONBytes,
		JSONBodyTimeout:   cfg.HTTP.JSONBodyTimeout.D(),
		MinUploadRate:     cfg.HTTP.MinUploadRate,
		MinUploadWindow:   cfg.HTTP.MinUploadWindow.D(),
		MaxUploads:        cfg.HTTP.MaxUploads,
		Logger:            a.Logger,
		Users:             a.Directory.Users,
		Groups:            a.Directory.Groups,
		Files:             a.Files,
		Perms:             a.Directory.Permissions,
		Folders:           a.Directory.Folders,
		Filedrops:         a.Filedrops,
		Dropzones:         a.Dropzones,
		Links:             a.Links,
		Buckets:           a.Bucket,
		Settings:          a.Directory.Settings,
		SFTPPublicHost:    cfg.SFTPHost(),
		Automations:       a.Automations,
		Connections:       a.Connections,
		Mounts:            a.Mounts,
		AS2:               a.AS2,
		AS2Settings:       server.AS2Settings{MaxMessage: cfg.AS2.MaxMessageMB << 20, Limiter: auth.NewRateLimiter(cfg.AS2.RateLimit, cfg.AS2.RateBurst)},
		Engine:            a.Engine,
		Events:            a.Events,
		Audit:             a.AuditStore,
		Auth:              a.Auth,
		Sessions:          a.SFTP,
		SFTP:              a.SFTP,
		Web:               a.WebSessions,
		Defender:          a.Defender,
		Limiter:           auth.NewRateLimiter(cfg.HTTP.RateLimit, cfg.HTTP.RateBurst),
		Backup:            db.Backup,
		Ping: func(ctx context.Context) error {
			return errors.Join(db.Ping(ctx), a.Files.Health())
		},
	}
	if db.Driver() == "postgres" {
		a.HTTP.Backup = nil // pg_dump's work: GET /admin/backup says so
	}
	if cfg.OIDC.Enabled() {
		p := oidcauth.New(cfg.OIDC, func() string { return a.HTTP.PublicURL + "/web/oidc/callback" })
		a.HTTP.SSO = &oidcauth.Accounts{Provider: p, Users: a.Directory.Users, Groups: a.Directory.Groups}
		if cfg.OIDC.RequireForAdmins {
			a.Auth.AdminsUseSSO = cfg.OIDC.Name
		}
	}
	a.HTTP.DAV = &davd.Handler{Files: a.Files, Auth: a.Auth, ClientIP: a.HTTP.ClientIP, Logger: a.Logger}
	a.HTTP.Metrics, a.HTTP.MetricsAddr, a.HTTP.Observe = a.Metrics.Handler(), cfg.Metrics.Listen, a.Metrics.ObserveHTTP
	a.gauges()
	if err := a.openTLS(cfg); err != nil {
		return err
	}
	return a.buildFTP(cfg)
}
