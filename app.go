package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"depot/auth"
	"depot/config"
	"depot/files"
	"depot/mft"
	"depot/store"
)

// adminEmail is the first administrator created on an empty data directory.
const adminEmail = "admin@localhost"

// app holds the opened data directory and the services built on it.
type app struct {
	cfg     *config.Config
	db      *store.DB
	users   *store.UserService
	groups  *store.GroupService
	tokens  *store.TokenService
	perms   *store.PermissionService
	fold    *store.FolderService
	drops   *store.FiledropService
	autos   *store.AutomationService
	buckets *store.BucketService
	zones   *store.DropzoneService
	links   *store.LinkService
	usage   *store.UsageService
	audit   *store.AuditService
	files   *files.Service
}

// openApp prepares the data directory (files/, tmp/, secret.key), opens the
// database and creates the first administrator if there are no users.
func openApp(ctx context.Context, cfg *config.Config, stdout io.Writer) (*app, error) {
	dir := cfg.Data.Dir
	for _, sub := range []string{dir, filepath.Join(dir, "files"), filepath.Join(dir, "tmp")} {
		if err := os.MkdirAll(sub, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", sub, err)
		}
	}
	if err := ensureSecret(filepath.Join(dir, "secret.key")); err != nil {
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
	a := &app{cfg: cfg, db: db, users: store.NewUserService(db), groups: store.NewGroupService(db),
		tokens: store.NewTokenService(db), perms: store.NewPermissionService(db), fold: store.NewFolderService(db), usage: store.NewUsageService(db),
		drops: store.NewFiledropService(db), autos: store.NewAutomationService(db),
		buckets: store.NewBucketService(db), zones: store.NewDropzoneService(db),
		links: store.NewLinkService(db),
		audit: store.NewAuditService(db), files: fsvc}
	fsvc.Permissions, fsvc.Usage, fsvc.Folders, fsvc.Buckets = a.perms, a.usage, a.fold, a.buckets
	fsvc.Sync = cfg.Data.SyncUploads
	if err := a.bootstrapAdmin(ctx, stdout); err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

func (a *app) close() error { return errors.Join(a.files.Close(), a.db.Close()) }

// ensureSecret creates the 32-byte key that encrypts secrets at rest.
func ensureSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// sealer returns the Sealer of secrets at rest, keyed by secret.key, and
// the key that signs upload URLs, derived from it.
func (a *app) sealer() (*auth.Sealer, []byte, error) {
	key, err := os.ReadFile(filepath.Join(a.cfg.Data.Dir, "secret.key"))
	if err != nil {
		return nil, nil, err
	}
	s, err := auth.NewSealer(key)
	m := hmac.New(sha256.New, key)
	m.Write([]byte("depot upload URLs"))
	return s, m.Sum(nil), err
}

// bootstrapAdmin creates admin@localhost when the database has no users and
// prints its API key once (unless it came from DEPOT_ADMIN_API_KEY).
func (a *app) bootstrapAdmin(ctx context.Context, stdout io.Writer) error {
	n, err := a.users.CountUsers(ctx)
	if err != nil || n > 0 {
		return err
	}
	key, fromEnv := a.cfg.AdminAPIKey, true
	if key == "" {
		key, fromEnv = auth.NewKey(), false
	}
	u := &mft.User{
		ID: mft.UserID(adminEmail, ""), Email: adminEmail, Name: "Administrator", Role: mft.RoleAdmin,
		Home: mft.HomeFor(mft.UserID(adminEmail, "")), APIKeyHash: auth.HashKey(key), Active: true,
		Protocols: slices.Clone(mft.AllProtocols), Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{},
	}
	if err := a.users.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("create first administrator: %w", err)
	}
	if fromEnv {
		fmt.Fprintf(stdout, "Created administrator %s with the API key from DEPOT_ADMIN_API_KEY.\n", adminEmail)
	} else {
		fmt.Fprintf(stdout, "Created administrator %s. API key (shown once, keep it safe):\n\n    %s\n\n", adminEmail, key)
	}
	return nil
}

// newLogger returns the structured logger the configuration asks for.
func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		// Durations as "1.5s", as in the text format, not nanoseconds.
		opts.ReplaceAttr = func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		}
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
