package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"depot/app"
	"depot/config"
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
	if err := refuseSecondDepot(cfg, configPath); err != nil {
		return err
	}
	serveDebug(logger)
	app.TuneRuntime(cfg.Runtime)
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
	a, err := app.Open(ctx, cfg, logger, stdout)
	if err != nil {
		return err
	}
	a.Version = version
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := a.Close(sctx); err != nil {
			logger.Warn("requests or automation runs still going at the shutdown deadline were cut off (runs are retried at the next start)", "err", err)
		}
		logger.Info("stopped")
	}()
	if err := a.Start(ctx); err != nil {
		return err
	}
	srv, sftpSrv := a.HTTP, a.SFTP
	if u, err := url.Parse(srv.PublicURL); err == nil && config.LoopbackName(u.Hostname()) && !config.LoopbackListener(cfg.HTTP.Listen) {
		logger.Warn("http.public_url names " + srv.PublicURL + ", which only this machine reaches: links and filedrop pages handed out name it; set http.public_url")
	}
	if host := cfg.SFTPHost(); config.LoopbackName(host) && !config.LoopbackListener(cfg.SFTP.Listen) {
		logger.Warn("partners are told to connect over SFTP to " + host + ", which only this machine reaches (the Account page, bucket hosts); set sftp.public_host or http.public_url")
	}
	logger.Info("depot started", "version", version, "http", srv.ListenAddr().String(),
		"public_url", srv.PublicURL, "data", cfg.Data.Dir)
	logger.Info("sftp started", "addr", sftpSrv.ListenAddr().String())
	if a.FTP != nil {
		logger.Info("ftps started", "addr", a.FTP.ListenAddr().String(), "passive_ports", cfg.FTP.PassivePorts, "certificate", a.FTPCert.Fingerprint())
		if cfg.FTP.AllowPlain {
			logger.Warn("ftp.allow_plain is on: FTP clients may log in without TLS, and their passwords and files then cross the network in clear")
		}
	}
	if srv.MetricsAddr != "" {
		logger.Info("metrics served without a key", "addr", srv.MetricsAddr)
	}
	if a.TLS != nil {
		fmt.Fprintf(stdout, "HTTPS certificate SHA-256 fingerprint %s\n", a.TLS.Fingerprint())
		if srv.RedirectAddr != "" {
			logger.Info("plain http redirects to https", "addr", srv.RedirectAddr)
		}
	}
	dataDir, _ := filepath.Abs(cfg.Data.Dir)
	fmt.Fprintf(stdout, "Depot %s is serving the API on %s (public URL %s) and SFTP on %s, from the data directory %s.\n",
		version, srv.ListenAddr(), srv.PublicURL, sftpSrv.ListenAddr(), dataDir)
	for _, fp := range sftpSrv.HostKeyFingerprints() {
		fmt.Fprintf(stdout, "SFTP host key %s\n", fp)
	}

	go a.SweepEvery(ctx, time.Hour)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-hup:
			reload(a, logger)
		}
	}
	logger.Info("shutting down", "grace", shutdownGrace)
	return nil
}

// reload applies SIGHUP: the HTTPS certificate files are read again; a
// pair that does not load leaves the one served before.
func reload(a *app.App, logger *slog.Logger) {
	if a.TLS == nil {
		logger.Info("SIGHUP: nothing to reload (no HTTPS certificate)")
		return
	}
	if err := a.ReloadTLS(); err != nil {
		logger.Error("SIGHUP: the HTTPS certificate was not reloaded; the one before is still served", "err", err)
		return
	}
	logger.Info("SIGHUP: HTTPS certificate reloaded", "fingerprint", a.TLS.Fingerprint(), "not_after", a.TLS.Leaf().NotAfter)
}

// initData creates the data directory, secret key and first administrator
// without starting any server.
func initData(ctx context.Context, configPath, keyFile string, stdout io.Writer) error {
	cfg, err := config.Load(configPath, environ())
	if err != nil {
		return err
	}
	if keyFile != "" {
		cfg.AdminKeyFile = keyFile
	}
	a, err := app.Open(ctx, cfg, nil, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Data directory %s is ready.\n", cfg.Data.Dir)
	return a.Close(ctx)
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
	a, err := app.Open(ctx, cfg, nil, io.Discard)
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	bytes, count, err := a.Files.Fsck(ctx)
	if err != nil {
		return err
	}
	removed, err := a.Files.SweepStaging(0)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Storage holds %d files, %d bytes; usage recounted. %d leftover upload files removed.\n", count, bytes, removed)
	return a.Files.End(ctx)
}

// requireDB refuses to work on a data directory without a database, which
// would otherwise be created empty and reported on as if it were fine.
// installedConfig is the configuration the .deb installs and its service
// runs with.
var installedConfig = "/etc/depot/depot.toml"

// refuseSecondDepot refuses a start on the built-in data directory (no
// --config, no DEPOT_DATA_DIR) that would make a new Depot there while
// this machine has the package's Depot installed: that is a second Depot,
// started by hand in the wrong folder, with its own administrator and none
// of the installed one's users. `depot init` makes one on purpose; on a
// machine without the package, `depot serve` on defaults makes ./data.
func refuseSecondDepot(cfg *config.Config, configPath string) error {
	if configPath != "" || slices.ContainsFunc(environ(), func(v string) bool { return strings.HasPrefix(v, "DEPOT_DATA_DIR=") }) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(cfg.Data.Dir, "depot.db")); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := os.Stat(installedConfig); err != nil {
		return nil
	}
	abs, _ := filepath.Abs(cfg.Data.Dir)
	return fmt.Errorf("this machine has an installed Depot (%s), and %s holds none: starting here would make a second Depot. "+
		"Run the installed one (systemctl start depot, or depot serve --config %s), give this one's data.dir, "+
		"or make a new one here on purpose with `depot init`", installedConfig, abs, installedConfig)
}

func requireDB(cfg *config.Config) error {
	if cfg.Database.Driver == "postgres" {
		return nil // made at the first start, as the tables are
	}
	p := filepath.Join(cfg.Data.Dir, "depot.db")
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s has no database (%s): check data.dir, or create one with `depot init`", cfg.Data.Dir, p)
	}
	return nil
}
