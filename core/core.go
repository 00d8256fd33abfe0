// Package core wires the services below the protocols on one data
// directory: the store, files, auth, the exchange workflows, buckets,
// connections and mounts, the automation engine and the audit log. app
// builds the SFTP and HTTP servers on it (one wiring for depot serve, the
// commands and every test), and the tests of the lower packages use it
// through internal/coretest without building a server.
package core

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"depot/as2"
	"depot/auth"
	"depot/automation"
	"depot/bucket"
	"depot/config"
	"depot/connection"
	"depot/directory"
	"depot/dropzone"
	"depot/filedrop"
	"depot/files"
	"depot/ldapauth"
	"depot/link"
	"depot/mail"
	"depot/metrics"
	"depot/mft"
	"depot/mount"
	"depot/scan"
	"depot/store"
)

// AdminEmail is the first administrator created on an empty data
// directory.
const AdminEmail = "admin@localhost"

// Services is an opened data directory and the services built on it.
// Open builds them; Start starts the audit log and the automation engine;
// Close stops and releases. Fields may be adjusted between Open and Start
// (tests do).
type Services struct {
	Config *config.Config
	Logger *slog.Logger

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
	// WebSessions are the web client's sessions (for server.Server).
	WebSessions *auth.WebSessions

	Files    *files.Service
	Sealer   *auth.Sealer
	Defender *auth.Defender
	Auth     *auth.Authenticator
	// AuditLog writes events in batches; Events sends each event to it,
	// to the automation engine and to the metrics.
	AuditLog *store.AuditLog
	Events   mft.MultiSink
	Engine   *automation.Engine

	Filedrops *filedrop.Service
	Dropzones *dropzone.Service
	Links     *link.Service
	// Directory changes users, groups, permission and folder rules and
	// the settings, publishing each change.
	Directory *directory.Directory
	// LDAP checks passwords against the company directory; nil without
	// ldap.url.
	LDAP *ldapauth.Accounts
	// Bucket creates, changes and deletes buckets with what is theirs.
	Bucket *bucket.Service
	// Connections keeps storage connections and opens them.
	Connections *connection.Service
	Mounts      *mount.Service
	// AS2 is the AS2 station, its partners and messages.
	AS2 *as2.Service
	// Metrics counts for Prometheus.
	Metrics *metrics.Metrics

	// stops undo what Start did.
	stops Stops
}

// Open prepares the data directory (files/, tmp/, secret.key), opens the
// database, creates the first administrator if there are no users
// (printing its key to stdout) and builds every service.
func Open(ctx context.Context, cfg *config.Config, logger *slog.Logger, stdout io.Writer) (*Services, error) {
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
	if cfg.Database.Driver == "postgres" {
		db = store.NewPostgresDB(cfg.Database.DSN)
		db.Shared = cfg.Database.Shared
	}
	if err := db.Open(); err != nil {
		return nil, err
	}
	// Nodes sharing a PostgreSQL database must share secret.key too. (A
	// bbolt file sits beside its key; a depot.db restored without it still
	// starts, and its secrets are entered again.)
	if db.Driver() == "postgres" {
		if err := db.CheckSecretKey(ctx, sealer.KeyCheck()); err != nil {
			db.Close()
			return nil, err
		}
	}
	fsvc, err := files.Open(dir)
	if err != nil {
		db.Close()
		return nil, err
	}
	a := &Services{Config: cfg, Logger: logger, DB: db, Files: fsvc, Sealer: sealer,
		Users: store.NewUserStore(db), Groups: store.NewGroupStore(db), Tokens: store.NewTokenStore(db),
		Permissions: store.NewPermissionStore(db), Folders: store.NewFolderStore(db), Usage: store.NewUsageStore(db),
		Buckets: store.NewBucketStore(db), Automations: store.NewAutomationStore(db), AuditStore: store.NewAuditStore(db)}
	fsvc.Permissions, fsvc.Usage, fsvc.Folders, fsvc.Buckets = a.Permissions, a.Usage, a.Folders, a.Buckets
	fsvc.Sync, fsvc.Shared = cfg.Data.SyncUploads, cfg.Database.Shared
	if cfg.Database.Shared { // a chunked upload's pieces are in one node's staging
		fsvc.Pieces = store.NewPieceStore(db)
	}
	fsvc.Generation, fsvc.Users = db.AccessGeneration, a.Users
	if err := openScan(fsvc, cfg.Scan); err != nil {
		db.Close()
		return nil, err
	}
	fsvc.MaxPendingUploads = cfg.Data.MaxPendingUploads
	if err := a.bootstrapAdmin(ctx, stdout); err != nil {
		a.Close(ctx)
		return nil, err
	}
	a.build(urlKey)
	if cfg.LDAP.Enabled() {
		d, err := ldapauth.New(cfg.LDAP)
		if err != nil {
			a.Close(ctx)
			return nil, err
		}
		a.LDAP = &ldapauth.Accounts{Directory: d, Users: a.Directory.Users, Groups: a.Directory.Groups}
		a.Auth.Directory = a.LDAP
	}
	return a, nil
}

// AdoptEvery is how often a node on a shared database looks for the runs and
// deliveries of nodes that died: how long, at most, before another node
// takes them over.
var AdoptEvery = 2 * time.Second

// build wires the services above the store.
func (a *Services) build(urlKey []byte) {
	cfg, db := a.Config, a.DB
	a.AuditLog = &store.AuditLog{Service: a.AuditStore, Logger: a.Logger}
	a.Connections = &connection.Service{Store: store.NewConnectionStore(db), Sealer: a.Sealer}
	a.Mounts = &mount.Service{Store: store.NewMountStore(db), Connections: a.Connections, Empty: a.Files.Empty,
		Generation: db.AccessGeneration}
	a.Files.Backends = a.Mounts
	a.Engine = &automation.Engine{Store: a.Automations, Files: a.Files, Users: a.Users, Sealer: a.Sealer, Connections: a.Connections,
		Expectations: store.NewExpectationStore(db),
		Logger:       a.Logger, Workers: cfg.Automation.Workers, MaxQueued: cfg.Automation.MaxQueued}
	if cfg.Database.Shared { // other nodes share the queues
		a.Engine.AdoptEvery = AdoptEvery
	}
	a.Metrics = metrics.New()
	a.Events = mft.MultiSink{a.AuditLog, a.Engine, a.Metrics}
	a.Connections.Events, a.Mounts.Events = a.Events, a.Events
	a.Engine.Events, a.Files.Events, a.Files.Logger = a.Events, a.Events, a.Logger

	a.WebSessions = &auth.WebSessions{Store: store.NewWebSessionStore(db), TTL: cfg.Web.SessionTTL.D(), Idle: cfg.Web.SessionIdle.D()}
	a.Defender = auth.NewDefender(0, cfg.Defender.Window.D(), cfg.Defender.BanTime.D())
	bans := store.NewBanStore(db)
	a.Defender.Store, a.Defender.Logger = bans, a.Logger
	if cfg.Database.Shared { // guesses spread over the nodes count together
		a.Defender.Failures = bans
	}
	if cfg.Defender.Enabled {
		a.Defender.MaxFailures = cfg.Defender.MaxFailures
	}
	a.Defender.OnBan = func(b auth.Ban) {
		a.Logger.Warn("ip banned after failed logins", "ip", b.IP, "until", b.Until, "failures", b.Failures)
		a.Events.Publish(mft.Event{Event: mft.EventIPBanned, IP: b.IP, Protocol: mft.AuditSystem, Status: mft.StatusOK,
			Message: fmt.Sprintf("%d failed logins; banned until %s", b.Failures, b.Until.UTC().Format(time.RFC3339))})
	}
	a.Auth = &auth.Authenticator{Users: a.Users, Tokens: a.Tokens, Defender: a.Defender, Sealer: a.Sealer,
		TokenTTL: cfg.Auth.TokenTTL.D(), Now: time.Now, Events: a.Events, Buckets: a.Buckets}

	drops := store.NewFiledropStore(db)
	a.Filedrops = &filedrop.Service{Filedrops: drops, Submissions: drops, Users: a.Users, Files: a.Files,
		Events: a.Events, Logger: a.Logger, HoldingFiles: cfg.Filedrop.HoldingFiles, HoldingFilesPerAddress: cfg.Filedrop.HoldingFilesPerAddress}
	if cfg.SMTP.Host != "" {
		m := &mail.Sender{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password, From: cfg.SMTP.From, TLS: cfg.SMTP.TLS}
		a.Filedrops.Mailer, a.Engine.Mailer = m, m
	}
	a.Dropzones = &dropzone.Service{Store: store.NewDropzoneStore(db), Files: a.Files, Events: a.Events, URLKey: urlKey,
		Users: a.Users, Buckets: a.Buckets, Usage: a.Files.Usage}
	a.Links = &link.Service{Store: store.NewLinkStore(db), Users: a.Users, Files: a.Files, Events: a.Events}
	a.Engine.Links = a.Links
	a.Directory = directory.New(a.Users, a.Groups, a.Permissions, a.Folders, a.Buckets, a.Events)
	a.Directory.Users.Files, a.Directory.Users.Logger = a.Files, a.Logger
	a.Auth.TwoFactorRequired = a.Directory.TwoFactorRequired
	a.Bucket = &bucket.Service{Store: a.Buckets, Settings: a.Buckets, Files: a.Files, Events: a.Events, Logger: a.Logger, Now: time.Now}
	a.AS2 = &as2.Service{Store: store.NewAS2Store(db), Users: a.Users, Files: a.Files, Sealer: a.Sealer, Events: a.Events,
		Logger: a.Logger, PublicURL: cfg.HTTP.PublicURL, MaxMessage: cfg.AS2.MaxMessageMB << 20, MDNWait: cfg.AS2.MDNWait.D()}
	a.Connections.AS2, a.Engine.AS2 = a.AS2, a.AS2
}

// Start prepares storage (recounting usage after an unclean stop) and
// starts the audit log and the automation engine. On error, Close stops
// what was started.
func (a *Services) Start(ctx context.Context) error {
	if err := a.Files.Begin(ctx, a.Logger); err != nil {
		return err
	}
	// Any stop after this, also after a failed start, is a clean one; only
	// a crash leaves the marker behind.
	a.stops.Add(func(ctx context.Context) error {
		if err := a.Files.End(context.WithoutCancel(ctx)); err != nil {
			a.Logger.Warn("mark clean shutdown", "err", err)
		}
		return nil
	})
	a.AuditLog.Open()
	a.stops.Add(func(context.Context) error { a.AuditLog.Close(); return nil })
	if err := a.Defender.Load(ctx); err != nil {
		return err
	}
	// Another node's bans are read by one goroutine; changes that come
	// while it reads are read once more, together (a burst of bans costs
	// a few reads, not one each).
	changed, done := make(chan struct{}, 1), make(chan struct{})
	a.DB.OnChange(store.Bans, func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-changed:
				if err := a.Defender.Load(context.Background()); err != nil {
					a.Logger.Warn("bans not read after another node's change", "err", err)
				}
			}
		}
	}()
	a.stops.Add(func(context.Context) error { close(done); return nil })
	if err := a.Engine.Open(ctx); err != nil {
		return err
	}
	a.DB.OnChange(store.Automations, a.Engine.Changed)
	a.stops.Add(a.Engine.Close)
	a.stops.Add(func(context.Context) error { a.AS2.Close(); return nil })
	return nil
}

// Close stops what Start started (the engine, letting runs in flight end
// until ctx is done, then the audit log), records a clean stop and closes
// storage and the database. It is safe after a failed Open or Start, and
// without Start.
func (a *Services) Close(ctx context.Context) error {
	errs, ok := a.stops.Run(ctx)
	if !ok {
		return nil
	}
	if a.Mounts != nil {
		errs = append(errs, a.Mounts.Close())
	}
	errs = append(errs, a.Files.Close(), a.DB.Close())
	return errors.Join(errs...)
}

// openScan sets the file service's antivirus and quarantine.
func openScan(fsvc *files.Service, c config.Scan) error {
	scanner, err := scan.New(scan.Config{Engine: c.Engine, Address: c.Address, Timeout: c.Timeout.D(), MaxSize: c.MaxSizeMB << 20,
		ICAPMethod: c.ICAPMethod})
	if err != nil {
		return err
	}
	fsvc.Scanner = scanner
	fsvc.ScanPolicy = files.ScanPolicy{AllowUnscanned: c.OnError == "allow", AllowOversize: c.Oversize == "allow"}
	return fsvc.SetQuarantine(c.QuarantineMB << 20)
}
