package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"time"

	"depot/auth"
	"depot/automation"
	"depot/config"
	"depot/files"
	"depot/mail"
	"depot/mft"
	"depot/server"
	"depot/sftpd"
	"depot/store"
)

// shutdownGrace is how long requests in flight may run after a signal.
const shutdownGrace = 30 * time.Second

// serve runs the servers until ctx is cancelled, then shuts down gracefully.
func serve(ctx context.Context, configPath string, stdout, stderr io.Writer) error {
	cfg, err := config.Load(configPath, environ())
	if err != nil {
		return err
	}
	logger := newLogger(cfg.Log, stderr)
	for _, name := range config.UnknownEnv(environ()) {
		logger.Warn("unknown environment variable ignored: it names no setting (see config.example.toml)", "name", name)
	}
	serveDebug(logger)
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set && cfg.Runtime.MemoryLimitMB > 0 {
		debug.SetMemoryLimit(cfg.Runtime.MemoryLimitMB << 20)
	}
	if path := os.Getenv("DEPOT_CPU_PROFILE"); path != "" { // for diagnosis: a CPU profile of the whole run
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	a, err := openApp(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer a.close()
	if err := a.startFiles(ctx, logger); err != nil {
		return err
	}
	// Any return, also a failed start, is a clean stop; only a crash
	// leaves the marker behind.
	defer func() {
		if err := a.markClean(); err != nil {
			logger.Warn("mark clean shutdown", "err", err)
		}
	}()

	auditLog := &store.AuditLog{Service: a.audit, Logger: logger}
	auditLog.Open()
	defer auditLog.Close()
	sealer, urlKey, err := a.sealer()
	if err != nil {
		return err
	}
	// Every event goes to the audit log and to the automation engine
	// (automations and webhooks).
	engine := &automation.Engine{Store: a.autos, Files: a.files, Users: a.users, Sealer: sealer, Logger: logger,
		Workers: cfg.Automation.Workers}
	events := mft.MultiSink{auditLog, engine}
	engine.Events = events
	a.files.Events = events
	if err := engine.Open(ctx); err != nil {
		return err
	}
	defer func() {
		ectx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := engine.Close(ectx); err != nil {
			logger.Warn("automation runs still going at the shutdown deadline are retried at the next start", "err", err)
		}
	}()

	defender := auth.NewDefender(0, cfg.Defender.Window.D(), cfg.Defender.BanTime.D())
	if cfg.Defender.Enabled {
		defender.MaxFailures = cfg.Defender.MaxFailures
	}
	defender.OnBan = func(b auth.Ban) {
		logger.Warn("ip banned after failed logins", "ip", b.IP, "until", b.Until, "failures", b.Failures)
		events.Publish(mft.Event{Event: mft.EventIPBanned, IP: b.IP, Protocol: mft.AuditSystem, Status: mft.StatusOK,
			Message: fmt.Sprintf("%d failed logins; banned until %s", b.Failures, b.Until.UTC().Format(time.RFC3339))})
	}
	var proxies []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxies {
		pr, _ := mft.ParsePrefix(p) // validated by config
		proxies = append(proxies, pr)
	}
	authn := &auth.Authenticator{Users: a.users, Tokens: a.tokens, Defender: defender,
		TokenTTL: cfg.Auth.TokenTTL.D(), Now: time.Now, Events: events, Buckets: a.buckets}
	sftpSrv := &sftpd.Server{
		Addr:                    cfg.SFTP.Listen,
		HostKeyDir:              cfg.Data.Dir,
		Files:                   a.files,
		Auth:                    authn,
		Users:                   a.users,
		Logger:                  logger,
		IdleTimeout:             cfg.SFTP.IdleTimeout.D(),
		MaxConnections:          cfg.SFTP.MaxConnections,
		MaxConnectionsPerUser:   cfg.SFTP.MaxConnectionsPerUser,
		MaxTransfers:            cfg.SFTP.MaxTransfers,
		MaxUnauthenticatedPerIP: cfg.SFTP.MaxUnauthenticatedPerIP,
		LoginGrace:              cfg.SFTP.LoginGraceTime.D(),
		Ciphers:                 cfg.SFTP.Ciphers,
		SyncUploads:             cfg.SFTP.SyncUploads,
	}
	if err := sftpSrv.Open(); err != nil {
		return err
	}
	srv := &server.Server{
		Addr:              cfg.HTTP.Listen,
		PublicURL:         cfg.HTTP.PublicURL,
		TrustedProxies:    proxies,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
		IdleTimeout:       cfg.HTTP.IdleTimeout.D(),
		MaxJSONBytes:      cfg.HTTP.MaxJSONBytes,
		JSONBodyTimeout:   cfg.HTTP.JSONBodyTimeout.D(),
		MinUploadRate:     cfg.HTTP.MinUploadRate,
		MinUploadWindow:   cfg.HTTP.MinUploadWindow.D(),
		Version:           version,
		Logger:            logger,
		Users:             a.users,
		Groups:            a.groups,
		Files:             a.files,
		Perms:             a.perms,
		Folders:           a.fold,
		Filedrops:         a.drops,
		Buckets:           a.buckets,
		Dropzones:         a.zones,
		Links:             a.links,
		URLKey:            urlKey,
		Settings:          a.buckets,
		SFTPPublicHost:    cfg.SFTP.PublicHost,
		Automations:       a.autos,
		Engine:            engine,
		CheckSchedule:     automation.CheckSchedule,
		Sealer:            sealer,
		Events:            events,
		Submissions:       a.drops,
		Audit:             a.audit,
		Auth:              authn,
		Sessions:          sftpSrv,
		Defender:          defender,
		Limiter:           auth.NewRateLimiter(cfg.HTTP.RateLimit, cfg.HTTP.RateBurst),
		Backup:            a.db.Backup,
		Ping: func(ctx context.Context) error {
			return errors.Join(a.db.Ping(ctx), a.files.Health())
		},
	}
	if cfg.SMTP.Host != "" {
		srv.Mailer = &mail.Sender{Host: cfg.SMTP.Host, Port: cfg.SMTP.Port, Username: cfg.SMTP.Username,
			Password: cfg.SMTP.Password, From: cfg.SMTP.From, TLS: cfg.SMTP.TLS}
	}
	if err := srv.Open(); err != nil {
		sftpSrv.Close(ctx)
		return err
	}
	logger.Info("depot started", "version", version, "http", srv.ListenAddr().String(),
		"public_url", srv.PublicURL, "data", cfg.Data.Dir)
	logger.Info("sftp started", "addr", sftpSrv.ListenAddr().String())
	fmt.Fprintf(stdout, "Depot %s is serving the API on %s (public URL %s) and SFTP on %s.\n", version, srv.ListenAddr(), srv.PublicURL, sftpSrv.ListenAddr())
	for _, fp := range sftpSrv.HostKeyFingerprints() {
		fmt.Fprintf(stdout, "SFTP host key %s\n", fp)
	}
	if cfg.HTTP.PublicURL == "" {
		logger.Warn("http.public_url is not set: links and filedrop pages handed out name " + srv.PublicURL + ", which other machines may not reach")
	}

	go sweep(ctx, a, srv, logger)
	<-ctx.Done()
	logger.Info("shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	sftpDone := make(chan error, 1)
	go func() { sftpDone <- sftpSrv.Close(sctx) }()
	if err := srv.Close(sctx); err != nil {
		logger.Warn("requests still running at the shutdown deadline were cut off", "err", err)
	}
	if err := <-sftpDone; err != nil {
		logger.Warn("sftp shutdown", "err", err)
	}
	logger.Info("stopped")
	return nil
}

// sweep deletes expired temporary keys, audit events past their retention,
// files past their folder's retention, abandoned upload pieces and
// expired filedrop submissions and deliveries, at start
// and then every hour.
func sweep(ctx context.Context, a *app, srv *server.Server, logger *slog.Logger) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if _, err := a.tokens.DeleteExpiredTokens(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("sweep expired tokens", "err", err)
		}
		cutoff := time.Now().Add(-a.cfg.Audit.Retention.D())
		if n, err := a.audit.DeleteEventsBefore(ctx, cutoff); err != nil && ctx.Err() == nil {
			logger.Warn("sweep audit log", "err", err)
		} else if n > 0 {
			logger.Info("audit events past retention deleted", "count", n)
		}
		if n, err := a.autos.DeleteFinishedBefore(ctx, cutoff); err != nil && ctx.Err() == nil {
			logger.Warn("sweep automation runs and webhook deliveries", "err", err)
		} else if n > 0 {
			logger.Info("automation runs and webhook deliveries past retention deleted", "count", n)
		}
		if n, err := a.files.ExpireFiles(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("sweep files past retention", "err", err)
		} else if n > 0 {
			logger.Info("files past their folder's retention deleted", "count", n)
		}
		if _, err := a.files.SweepStaging(files.StagingTTL); err != nil {
			logger.Warn("sweep staging files", "err", err)
		}
		if n, err := srv.SweepDropzones(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("sweep dropzones", "err", err)
		} else if n > 0 {
			logger.Info("unconfirmed or expired dropzone files removed", "count", n)
		}
		if n, err := srv.SweepFiledrops(ctx); err != nil && ctx.Err() == nil {
			logger.Warn("sweep filedrop uploads and deliveries", "err", err)
		} else if n > 0 {
			logger.Info("expired filedrop submissions and deliveries removed", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// initData creates the data directory, secret key and first administrator
// without starting any server.
func initData(ctx context.Context, configPath string, stdout io.Writer) error {
	cfg, err := config.Load(configPath, environ())
	if err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Data directory %s is ready.\n", cfg.Data.Dir)
	return a.close()
}

// runningMarker exists in the data directory while a server runs; finding
// it at start-up means the last run did not shut down cleanly.
const runningMarker = "depot.running"

// startFiles prepares storage for serving: after an unclean stop it
// recounts usage from the disk; it always removes leftover staging files
// (no upload can be running yet) and marks the data directory in use.
func (a *app) startFiles(ctx context.Context, logger *slog.Logger) error {
	marker := filepath.Join(a.cfg.Data.Dir, runningMarker)
	if _, err := os.Stat(marker); err == nil {
		logger.Warn("the last run did not stop cleanly; recounting storage usage")
		bytes, count, err := a.files.Fsck(ctx)
		if err != nil {
			return fmt.Errorf("recount storage usage: %w", err)
		}
		logger.Info("storage usage recounted", "files", count, "bytes", bytes)
	}
	if n, err := a.files.SweepStaging(0); err != nil {
		logger.Warn("remove leftover staging files", "err", err)
	} else if n > 0 {
		logger.Info("leftover staging files removed", "count", n)
	}
	return os.WriteFile(marker, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600)
}

// markClean writes the pending usage changes and records a clean
// shutdown; if the usage cannot be written, the next start recounts it.
func (a *app) markClean() error {
	if err := a.usage.Flush(context.Background()); err != nil {
		return fmt.Errorf("write storage usage: %w", err)
	}
	err := os.Remove(filepath.Join(a.cfg.Data.Dir, runningMarker))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// fsck recounts storage usage and removes leftover upload files. The
// database lock keeps it from running beside a server.
func fsck(ctx context.Context, configPath string, stdout io.Writer) error {
	cfg, err := config.Load(configPath, environ())
	if err != nil {
		return err
	}
	if err := requireDB(cfg); err != nil {
		return err
	}
	a, err := openApp(ctx, cfg, io.Discard)
	if err != nil {
		return err
	}
	defer a.close()
	bytes, count, err := a.files.Fsck(ctx)
	if err != nil {
		return err
	}
	removed, err := a.files.SweepStaging(0)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Storage holds %d files, %d bytes; usage recounted. %d leftover upload files removed.\n", count, bytes, removed)
	return a.markClean()
}

// requireDB refuses to work on a data directory without a database, which
// would otherwise be created empty and reported on as if it were fine.
func requireDB(cfg *config.Config) error {
	p := filepath.Join(cfg.Data.Dir, "depot.db")
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s has no database (%s): check data.dir, or create one with `depot init`", cfg.Data.Dir, p)
	}
	return nil
}
