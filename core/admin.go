package core

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"depot/auth"
	"depot/internal/atomicfile"
	"depot/mft"
)

// bootstrapAdmin creates admin@localhost when the database has no users
// and prints its API key once (unless it came from DEPOT_ADMIN_API_KEY).
func (a *Services) bootstrapAdmin(ctx context.Context, stdout io.Writer) error {
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
		Protocols: slices.Clone(mft.DefaultProtocols), Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{},
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
