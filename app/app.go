// Package app is Depot's one wiring: it opens a data directory and builds
// every service on it (store, files, auth, the exchange workflows, the
// automation engine, the SFTP and HTTP servers), for `depot serve`, the
// other commands, the benchmarks and every package's tests.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"depot/auth"
	"depot/automation"
	"depot/bucket"
	"depot/config"
	"depot/connection"
	"depot/dropzone"
	"depot/filedrop"
	"depot/files"
	"depot/internal/atomicfile"
	"depot/link"
	"depot/mail"
	"depot/metrics"
	"depot/mft"
	"depot/mount"
	"depot/server"
	"depot/sftpd"
	"depot/store"
	"depot/tlscert"
)

// AdminEmail is the first administrator created on an empty data
// directory.
const AdminEmail = "admin@localhost"

// App is an opened data directory and the services built on it. Open
// builds everything without listening; Start serves; Close stops and
// releases. Fields may be adjusted between Open and Start (tests do).
type App struct {
	Config *config.Config
	Logger *slog.Logger
	// Version is reported by /healthz.
	Version string

	DB          *store.DB
	Users       *store.UserStore
	Groups      *store.GroupStore
	Tokens      *store.TokenStore
	Permissions *store.PermissionStore
	Folders     *store.FolderStore
	Usage       *store.UsageStore
	Buckets     *store.BucketStore
	Automations *store.AutomationStore
	AuditStore  *store.AuditStore

	Files    *files.Service
	Sealer   *auth.Sealer
	Defender *auth.Defender
	Auth     *auth.Authenticator
	// AuditLog writes events in batches; Events sends each event to it and
	// to the automation engine.
	AuditLog *store.AuditLog
	Events   mft.MultiSink
	Engine   *automation.Engine

	Filedrops *filedrop.Service
	Dropzones *dropzone.Service
	Links     *link.Service
	// Connections keeps storage connections and opens them.
	Connections *connection.Service
	Mounts      *mount.Service

	SFTP *sftpd.Server
	HTTP *server.Server
	// TLS is the HTTPS certificate, when http.tls_cert or http.tls says so.
	TLS *tlscert.Source
	// Metrics counts for Prometheus.
	Metrics *metrics.Metrics

	// stops undo what Start did, last first.
	stops  []func(context.Context) error
	closed bool
}

// Open prepares the data directory (files/, tmp/, secret.key), opens the
// database, creates the first administrator if there are no users
// (printing its key to stdout) and builds every service.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, stdout io.Writer) (*App, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	dir := cfg.Data.Dir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	sealer, urlKey, err := auth.LoadSecret(filepath.Join(dir, "secret.key"))
	if err != nil {
		return nil, err
	}
	db := store.NewDB(filepath.Join(dir, "depot.db"))
	if err := db.Open(); err != nil {
		return nil, err
	}
	fsvc, err := files.Open(dir)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &App{Config: cfg, Logger: logger, DB: db, Files: fsvc, Sealer: sealer,
		Users: store.NewUserStore(db), Groups: store.NewGroupStore(db), Tokens: store.NewTokenStore(db),
		Permissions: store.NewPermissionStore(db), Folders: store.NewFolderStore(db), Usage: store.NewUsageStore(db),
		Buckets: store.NewBucketStore(db), Automations: store.NewAutomationStore(db), AuditStore: store.NewAuditStore(db)}
	fsvc.Permissions, fsvc.Usage, fsvc.Folders, fsvc.Buckets = a.Permissions, a.Usage, a.Folders, a.Buckets
	fsvc.Sync = cfg.Data.SyncUploads
	fsvc.MaxPendingUploads = cfg.Data.MaxPendingUploads
	if err := a.bootstrapAdmin(ctx, stdout); err != nil {
		a.Close(ctx)
		return nil, err
	}
	if err := a.build(urlKey); err != nil {
		a.Close(ctx)
		return nil, err
	}
	return a, nil
}

// build wires the services above the store.
func (a *App) build(urlKey []byte) error {
	cfg, db := a.Config, a.DB
	a.AuditLog = &store.AuditLog{Service: a.AuditStore, Logger: a.Logger}
	a.Connections = &connection.Service{Store: store.NewConnectionStore(db), Sealer: a.Sealer}
	a.Mounts = &mount.Service{Store: store.NewMountStore(db), Connections: a.Connections, LocalEmpty: a.Files.LocalEmpty}
	a.Files.Backends = a.Mounts
	a.Engine = &automation.Engine{Store: a.Automations, Files: a.Files, Users: a.Users, Sealer: a.Sealer, Connections: a.Connections,
		Logger: a.Logger, Workers: cfg.Automation.Workers, MaxQueued: cfg.Automation.MaxQueued}
	a.Metrics = metrics.New()
	a.Events = mft.MultiSink{a.AuditLog, a.Engine, a.Metrics}
	a.Engine.Events, a.Files.Events, a.Files.Logger = a.Events, a.Events, a.Logger

	a.Defender = auth.NewDefender(0, cfg.Defender.Window.D(), cfg.Defender.BanTime.D())
	if cfg.Defender.Enabled {
		a.Defender.MaxFailures = cfg.Defender.MaxFailures
	}
	a.Defender.OnBan = func(b auth.Ban) {
		a.Logger.Warn("ip banned after failed logins", "ip", b.IP, "until", b.Until, "failures", b.Failures)
		a.Events.Publish(mft.Event{Event: mft.EventIPBanned, IP: b.IP, Protocol: mft.AuditSystem, Status: mft.StatusOK,
			Message: fmt.Sprintf("%d failed logins; banned until %s", b.Failures, b.Until.UTC().Format(time.RFC3339))})
	}
	a.Auth = &auth.Authenticator{Users: a.Users, Tokens: a.Tokens, Defender: a.Defender,
		TokenTTL: cfg.Auth.TokenTTL.D(), Now: time.Now, Events: a.Events, Buckets: a.Buckets}

	drops := store.NewFiledropStore(db)
	a.Filedrops = &filedrop.Service{Filedrops: drops, Submissions: drops, Users: a.Users, Files: a.Files,
		Events: a.Events, Logger: a.Logger, HoldingFiles: cfg.Filedrop.HoldingFiles, HoldingFilesPerAddress: cfg.Filedrop.HoldingFilesPerAddress}
	if cfg.SMTP.Host != "" {
		a.Filedrops.Mailer = &mail.Sender{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password, From: cfg.SMTP.From, TLS: cfg.SMTP.TLS}
	}
	a.Dropzones = &dropzone.Service{Store: store.NewDropzoneStore(db), Files: a.Files, Events: a.Events, URLKey: urlKey,
		Users: a.Users, Buckets: a.Buckets, Usage: a.Files.Usage}
	a.Links = &link.Service{Store: store.NewLinkStore(db), Users: a.Users, Files: a.Files, Events: a.Events}

	a.SFTP = &sftpd.Server{
		Addr:                    cfg.SFTP.Listen,
		HostKeyDir:              cfg.Data.Dir,
		Files:                   a.Files,
		Auth:                    a.Auth,
		Users:                   a.Users,
		Logger:                  a.Logger,
		IdleTimeout:             cfg.SFTP.IdleTimeout.D(),
		MaxConnections:          cfg.SFTP.MaxConnections,
		MaxConnectionsPerUser:   cfg.SFTP.MaxConnectionsPerUser,
		MaxTransfers:            cfg.SFTP.MaxTransfers,
		MaxUnauthenticatedPerIP: cfg.SFTP.MaxUnauthenticatedPerIP,
		LoginGrace:              cfg.SFTP.LoginGraceTime.D(),
		Ciphers:                 cfg.SFTP.Ciphers,
		KeyExchanges:            cfg.SFTP.KeyExchanges,
		MACs:                    cfg.SFTP.MACs,
		SyncUploads:             cfg.SFTP.SyncUploads,
	}
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
		Users:             a.Users,
		Groups:            a.Groups,
		Files:             a.Files,
		Perms:             a.Permissions,
		Folders:           a.Folders,
		Filedrops:         a.Filedrops,
		Dropzones:         a.Dropzones,
		Links:             a.Links,
		Buckets: &bucket.Service{Store: a.Buckets, Settings: a.Buckets, Files: a.Files, Events: a.Events,
			Logger: a.Logger, Now: time.Now},
		Settings:       a.Buckets,
		SFTPPublicHost: cfg.SFTPHost(),
		Automations:    a.Automations,
		Connections:    a.Connections,
		Mounts:         a.Mounts,
		Engine:         a.Engine,
		Events:         a.Events,
		Audit:          a.AuditStore,
		Auth:           a.Auth,
		Sessions:       a.SFTP,
		SFTP:           a.SFTP,
		Web:            &auth.WebSessions{TTL: cfg.Web.SessionTTL.D(), Idle: cfg.Web.SessionIdle.D()},
		Defender:       a.Defender,
		Limiter:        auth.NewRateLimiter(cfg.HTTP.RateLimit, cfg.HTTP.RateBurst),
		Backup:         db.Backup,
		Ping: func(ctx context.Context) error {
			return errors.Join(db.Ping(ctx), a.Files.Health())
		},
	}
	a.HTTP.Metrics, a.HTTP.MetricsAddr, a.HTTP.Observe = a.Metrics.Handler(), cfg.Metrics.Listen, a.Metrics.ObserveHTTP
	a.gauges()
	return a.openTLS(cfg)
}

// bootstrapAdmin creates admin@localhost when the database has no users
// and prints its API key once (unless it came from DEPOT_ADMIN_API_KEY).
func (a *App) bootstrapAdmin(ctx context.Context, stdout io.Writer) error {
	n, err := a.Users.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	key, fromEnv := a.Config.AdminAPIKey, true
	if key == "" {
		key, fromEnv = auth.NewKey(), false
	}
	if abs, err := filepath.Abs(a.Config.Data.Dir); err == nil {
		fmt.Fprintf(stdout, "New data directory %s: a new Depot. (If you meant an existing one, stop and give its data.dir.)\n", abs)
	}
	id := mft.UserID(AdminEmail, "")
	u := &mft.User{
		ID: id, Email: AdminEmail, Name: "Administrator", Role: mft.RoleAdmin,
		Home: mft.HomeFor(id), APIKeyHash: auth.HashKey(key), Active: true,
		Protocols: slices.Clone(mft.AllProtocols), Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{},
	}
	// The key file first: if it cannot be written, no administrator
	// exists whose key is lost, and the next start tries again.
	toFile := !fromEnv && a.Config.AdminKeyFile != ""
	if toFile {
		if err := atomicfile.Write(a.Config.AdminKeyFile, []byte(key+"\n"), 0o600); err != nil {
			return fmt.Errorf("first administrator's key: %w", err)
		}
	}
	if err := a.Users.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("create first administrator: %w", err)
	}
	switch {
	case fromEnv:
		fmt.Fprintf(stdout, "Created administrator %s with the API key from DEPOT_ADMIN_API_KEY.\n", AdminEmail)
	case toFile:
		fmt.Fprintf(stdout, "Created administrator %s. Its API key is in %s (readable by its owner only).\n", AdminEmail, a.Config.AdminKeyFile)
	default:
		fmt.Fprintf(stdout, "Created administrator %s. API key (shown once, keep it safe):\n\n    %s\n\n", AdminEmail, key)
	}
	fmt.Fprintf(stdout, "It has no password yet, which the web client needs. With the server running, send\n"+
		"    PATCH /admin/users/%s {\"user\":{\"password\":\"…\"}} with its key;\n"+
		"with it stopped: depot admin set-password %s (the password on standard input).\n\n", id, AdminEmail)
	return nil
}
