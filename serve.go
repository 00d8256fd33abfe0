package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	"depot/auth"
	"depot/config"
	"depot/mft"
	"depot/server"
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
	a, err := openApp(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	defer a.close()

	auditLog := &store.AuditLog{Service: a.audit, Logger: logger}
	auditLog.Open()
	defer auditLog.Close()
	a.files.Events = auditLog

	defender := auth.NewDefender(0, cfg.Defender.Window.D(), cfg.Defender.BanTime.D())
	if cfg.Defender.Enabled {
		defender.MaxFailures = cfg.Defender.MaxFailures
	}
	defender.OnBan = func(b auth.Ban) {
		logger.Warn("ip banned after failed logins", "ip", b.IP, "until", b.Until, "failures", b.Failures)
		auditLog.Publish(mft.Event{Event: mft.EventIPBanned, IP: b.IP, Protocol: mft.AuditSystem, Status: mft.StatusOK,
			Message: fmt.Sprintf("%d failed logins; banned until %s", b.Failures, b.Until.UTC().Format(time.RFC3339))})
	}
	var proxies []netip.Prefix
	for _, p := range cfg.HTTP.TrustedProxies {
		pr, _ := mft.ParsePrefix(p) // validated by config
		proxies = append(proxies, pr)
	}
	srv := &server.Server{
		Addr:              cfg.HTTP.Listen,
		PublicURL:         cfg.HTTP.PublicURL,
		TrustedProxies:    proxies,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout.D(),
		IdleTimeout:       cfg.HTTP.IdleTimeout.D(),
		MaxJSONBytes:      cfg.HTTP.MaxJSONBytes,
		Version:           version,
		Logger:            logger,
		Users:             a.users,
		Groups:            a.groups,
		Files:             a.files,
		Perms:             a.perms,
		Audit:             a.audit,
		Auth: &auth.Authenticator{Users: a.users, Tokens: a.tokens, Defender: defender,
			TokenTTL: cfg.Auth.TokenTTL.D(), Now: time.Now, Events: auditLog},
		Defender: defender,
		Limiter:  auth.NewRateLimiter(cfg.HTTP.RateLimit, cfg.HTTP.RateBurst),
		Backup:   a.db.Backup,
		Ping:     a.db.Ping,
	}
	if err := srv.Open(); err != nil {
		return err
	}
	logger.Info("depot started", "version", version, "http", srv.ListenAddr().String(),
		"public_url", srv.PublicURL, "data", cfg.Data.Dir)
	fmt.Fprintf(stdout, "Depot %s is serving the API on %s (public URL %s).\n", version, srv.ListenAddr(), srv.PublicURL)

	go sweep(ctx, a, logger)
	<-ctx.Done()
	logger.Info("shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Close(sctx); err != nil {
		logger.Warn("requests still running at the shutdown deadline were cut off", "err", err)
	}
	logger.Info("stopped")
	return nil
}

// sweep deletes expired temporary keys and audit events past their
// retention, at start and then every hour.
func sweep(ctx context.Context, a *app, logger *slog.Logger) {
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
