// Package coretest opens Depot's services without their servers, for the
// tests of the packages below the protocols: core.Open on a real data
// directory in a temporary folder with a real bbolt file, started, with
// an administrator whose key is AdminKey. It builds neither app nor
// server.
package coretest

import (
	"context"
	"io"
	"testing"
	"time"

	"depot/config"
	"depot/core"
	"depot/files"
	"depot/mft"
)

// AdminKey is the API key of admin@localhost.
const AdminKey = "test-admin-key-0123456789"

// Config returns the settings of test services on dir: the defaults with
// AdminKey.
func Config(dir string) *config.Config {
	cfg := config.Default()
	cfg.Data.Dir = dir
	cfg.HTTP.Listen, cfg.SFTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.AdminAPIKey = AdminKey
	return cfg
}

// Start opens the services on cfg (Config(tb.TempDir()) when nil) with
// fast retries and audit batches, applies each edit, starts them, and
// closes them when the test ends.
func Start(tb testing.TB, cfg *config.Config, edit ...func(*core.Services)) *core.Services {
	tb.Helper()
	if cfg == nil {
		cfg = Config(tb.TempDir())
	}
	s, err := core.Open(context.Background(), cfg, nil, io.Discard)
	if err != nil {
		tb.Fatal(err)
	}
	s.Engine.RetryBase, s.Engine.WebhookRetryBase = 10*time.Millisecond, 10*time.Millisecond
	s.AuditLog.Interval = 10 * time.Millisecond
	tb.Cleanup(func() { Close(s) })
	for _, e := range edit {
		e(s)
	}
	if err := s.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Close stops s within five seconds; closing twice is harmless.
func Close(s *core.Services) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.Close(ctx)
}

// AddUser creates an active user id with its home at /users/<id> and every
// protocol, after each edit, and returns it.
func AddUser(tb testing.TB, s *core.Services, id string, edit ...func(*mft.User)) *mft.User {
	tb.Helper()
	u := &mft.User{ID: id, Username: id, Email: id + "@example.com", Role: mft.RoleUser, Home: mft.HomeFor(id), Active: true,
		Protocols: mft.DefaultProtocols, Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{}}
	for _, e := range edit {
		e(u)
	}
	if err := s.Users.CreateUser(context.Background(), u); err != nil {
		tb.Fatal(err)
	}
	return u
}

// Actor is u as the file service sees a caller over the API.
func Actor(u *mft.User) files.Actor {
	return files.Actor{User: u, Protocol: mft.AuditAPI, IP: "127.0.0.1"}
}

// Events returns the audit log's events named event, once every event
// published so far is written.
func Events(tb testing.TB, s *core.Services, event string) []*mft.Event {
	tb.Helper()
	if err := s.AuditLog.Flush(); err != nil {
		tb.Fatal(err)
	}
	list, _, err := s.AuditStore.FindEvents(context.Background(), mft.AuditFilter{Event: event, Page: mft.Page{Limit: 1000}})
	if err != nil {
		tb.Fatal(err)
	}
	return list
}
