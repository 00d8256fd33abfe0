package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"depot/auth"
	"depot/internal/testtool"
	"depot/mft"
	"depot/store"
)

// accountWorld is an authenticator on a real database with one user
// whose password is "current password".
func accountWorld(t *testing.T) (*auth.Authenticator, *store.UserStore, *testtool.Events, *mft.User) {
	t.Helper()
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	users := store.NewUserStore(db)
	hash, err := auth.HashPassword("current password")
	if err != nil {
		t.Fatal(err)
	}
	u := &mft.User{ID: "joe", Email: "joe@example.test", Role: mft.RoleUser, Home: "/users/joe", Active: true, PasswordHash: hash,
		Protocols: []string{"sftp", "web"}, Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{}}
	if err := users.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	log := &testtool.Events{}
	a := &auth.Authenticator{Users: users, Defender: auth.NewDefender(3, time.Hour, time.Hour), Now: time.Now, Events: log}
	return a, users, log, u
}

var (
	joeIP  = netip.MustParseAddr("198.51.100.9")
	webCtx = mft.WithOrigin(context.Background(), mft.Origin{Actor: "joe", Protocol: mft.AuditWeb, IP: joeIP.String()})
)

func TestChangePassword(t *testing.T) {
	a, users, log, u := accountWorld(t)
	if err := a.ChangePassword(webCtx, u, joeIP, "wrong", "a new password"); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("wrong current password: %v, want EFORBIDDEN", err)
	}
	if n := len(log.Named(mft.EventUserLoginFailed)); n != 1 {
		t.Fatalf("%d failed logins audited, want 1", n)
	}
	if err := a.ChangePassword(webCtx, u, joeIP, "current password", "short"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("short new password: %v, want EINVALID", err)
	}
	stored, _ := users.FindUserByID(webCtx, "joe")
	if !auth.VerifyPassword(stored.PasswordHash, "current password") {
		t.Fatal("a refused change changed the password")
	}
	if err := a.ChangePassword(webCtx, u, joeIP, "current password", "a new password"); err != nil {
		t.Fatal(err)
	}
	stored, _ = users.FindUserByID(webCtx, "joe")
	if !auth.VerifyPassword(stored.PasswordHash, "a new password") || stored.SessionGeneration <= u.SessionGeneration {
		t.Fatal("the new password is not set, or the sessions did not end")
	}
	ev := log.Named(mft.EventUserUpdated)
	if len(ev) != 1 || ev[0].Changes["password"] != mft.SecretMarker || ev[0].Actor != "joe" || ev[0].Protocol != mft.AuditWeb {
		t.Fatalf("user.updated events = %+v", ev)
	}
	// Two more wrong guesses make three: the address is banned.
	for range 2 {
		a.ChangePassword(webCtx, stored, joeIP, "guess", "another password")
	}
	if err := a.ChangePassword(webCtx, stored, joeIP, "a new password", "another password"); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("after three wrong guesses: %v, want the ban (EFORBIDDEN)", err)
	}
}

func TestSSHKeys(t *testing.T) {
	a, users, log, u := accountWorld(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	line := authorizedKey(t, pub)
	k, _ := ssh.NewPublicKey(pub)
	fp := ssh.FingerprintSHA256(k)
	if err := a.AddSSHKey(webCtx, u, "ssh-ed25519 garbage"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("garbage key: %v", err)
	}
	if err := a.AddSSHKey(webCtx, u, line+" laptop"); err != nil {
		t.Fatal(err)
	}
	u, _ = users.FindUserByID(webCtx, "joe")
	if len(u.SSHKeys) != 1 {
		t.Fatalf("keys = %v", u.SSHKeys)
	}
	if err := a.AddSSHKey(webCtx, u, line+" again"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("the same key twice: %v", err)
	}
	full := *u
	for len(full.SSHKeys) < mft.MaxSSHKeys {
		full.SSHKeys = append(full.SSHKeys, line)
	}
	if err := a.AddSSHKey(webCtx, &full, line); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("one key too many: %v", err)
	}
	if err := a.RemoveSSHKey(webCtx, u, "SHA256:nosuch"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("removing a key not there: %v", err)
	}
	if err := a.RemoveSSHKey(webCtx, u, fp); err != nil {
		t.Fatal(err)
	}
	if u, _ = users.FindUserByID(webCtx, "joe"); len(u.SSHKeys) != 0 {
		t.Fatalf("keys after removal = %v", u.SSHKeys)
	}
	if n := len(log.Named(mft.EventUserUpdated)); n != 2 {
		t.Fatalf("%d user.updated events, want 2 (added, removed)", n)
	}
}
