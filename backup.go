package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"depot/config"
	"depot/store"
	"depot/tlscert"
)

// backup writes a consistent snapshot of the database to out. A stopped
// server's file is read directly; a running server holds the file, so the
// snapshot is fetched from its GET /admin/backup with the admin key in
// DEPOT_API_KEY (or DEPOT_ADMIN_API_KEY).
func backup(ctx context.Context, configPath, out, baseURL string, stdout io.Writer) error {
	if out == "" {
		return errors.New("backup: --out FILE is required")
	}
	cfg, err := config.Load(configPath, environ())
	if err != nil {
		return err
	}
	if cfg.Database.Driver == "postgres" {
		return errors.New("backup: the database is PostgreSQL: back it up with pg_dump (and copy data.dir's secret.key and host keys as for bolt)")
	}
	if err := requireDB(cfg); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".depot-backup-*")
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()

	n, err := store.BackupFile(filepath.Join(cfg.Data.Dir, "depot.db"), tmp)
	if errors.Is(err, store.ErrLocked) {
		n, err = backupOverHTTP(ctx, cfg, baseURL, tmp)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	fmt.Fprintf(stdout, "Wrote %d bytes to %s.\n", n, out)
	return nil
}

func backupOverHTTP(ctx context.Context, cfg *config.Config, baseURL string, w io.Writer) (int64, error) {
	key := os.Getenv("DEPOT_API_KEY")
	if key == "" {
		key = cfg.AdminAPIKey
	}
	if key == "" {
		return 0, errors.New("the server is running and holds the database; set DEPOT_API_KEY to an administrator's key to back it up over HTTP")
	}
	client, scheme := http.DefaultClient, "http://"
	if cfg.HTTP.TLSOn() {
		scheme = "https://"
		if baseURL == "" {
			baseURL = cfg.HTTP.PublicURL // the name its certificate is for
		}
		if cfg.HTTP.TLS == "self-signed" { // trusted as the one in the data directory
			pool, err := x509.SystemCertPool()
			if err != nil {
				pool = x509.NewCertPool()
			}
			if pem, err := os.ReadFile(filepath.Join(cfg.Data.Dir, tlscert.SelfSignedCert)); err == nil {
				pool.AppendCertsFromPEM(pem)
			}
			client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, CipherSuites: tlscert.Suites}}}
		}
	}
	if baseURL == "" {
		host, port, _ := net.SplitHostPort(cfg.HTTP.Listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		baseURL = scheme + net.JoinHostPort(host, port)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(baseURL, "/")+"/admin/backup", nil)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(key, "x")
	resp, err := client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("the server is running but did not answer: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("GET /admin/backup: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return io.Copy(w, resp.Body)
}

// environ is the process environment; a variable so tests can replace it.
var environ = os.Environ
