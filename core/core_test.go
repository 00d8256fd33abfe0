package core_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"depot/auth"
	"depot/config"
	"depot/core"
	"depot/mft"
)

// A new data directory gets the first administrator, whose key is printed
// once; opening it again creates none and prints nothing.
func TestOpen_FirstAdministratorOnce(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Data.Dir = t.TempDir()
	var out bytes.Buffer
	s, err := core.Open(ctx, cfg, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	printed := out.String()
	if !strings.Contains(printed, "New data directory") || !strings.Contains(printed, "shown once") {
		t.Fatalf("banner:\n%s", printed)
	}
	key := ""
	for _, line := range strings.Split(printed, "\n") {
		if l := strings.TrimSpace(line); strings.HasPrefix(line, "    ") && l != "" && !strings.Contains(l, " ") {
			key = l
		}
	}
	admin, err := s.Users.FindUserByAPIKeyHash(ctx, auth.HashKey(key))
	if err != nil || admin.Email != core.AdminEmail || admin.Role != mft.RoleAdmin {
		t.Fatalf("the printed key %q finds %+v, %v", key, admin, err)
	}
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Defender.Store.PutBan(ctx, mft.Ban{IP: "192.0.2.9", Until: time.Now().Add(-time.Second)}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := s.WebSessions.Store.CreateWebSession(ctx, "ended", &mft.WebSession{UserID: admin.ID, Created: old, Seen: old}, 10,
		func(*mft.WebSession) bool { return false }); err != nil {
		t.Fatal(err)
	}
	s.Sweep(ctx)
	if bans, err := s.Defender.Store.Bans(ctx); err != nil || len(bans) != 0 {
		t.Fatalf("bans after the sweep: %v, %v; want the run-out one gone", bans, err)
	}
	if n, err := s.WebSessions.Len(ctx); err != nil || n != 0 {
		t.Fatalf("%d web sessions after the sweep, %v; want the ended one gone", n, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("a second Close: %v", err)
	}

	out.Reset()
	again, err := core.Open(ctx, cfg, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close(ctx)
	if out.Len() != 0 {
		t.Fatalf("a second open printed:\n%s", out.String())
	}
	if n, _ := again.Users.CountUsers(ctx); n != 1 {
		t.Fatalf("%d users, want the one administrator", n)
	}
}

// The key from DEPOT_ADMIN_API_KEY (cfg.AdminAPIKey) is used and not
// printed; a data directory in use by another process is refused.
func TestOpen_KeyFromConfigAndBusyDirectory(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default()
	cfg.Data.Dir, cfg.AdminAPIKey = t.TempDir(), "a-key-from-the-environment-0123"
	var out bytes.Buffer
	s, err := core.Open(ctx, cfg, nil, &out)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	if strings.Contains(out.String(), cfg.AdminAPIKey) || !strings.Contains(out.String(), "DEPOT_ADMIN_API_KEY") {
		t.Fatalf("banner:\n%s", out.String())
	}
	if _, err := s.Users.FindUserByAPIKeyHash(ctx, auth.HashKey(cfg.AdminAPIKey)); err != nil {
		t.Fatal(err)
	}
	if _, err := core.Open(ctx, cfg, nil, &out); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("second open of a busy directory: %v", err)
	}
}
