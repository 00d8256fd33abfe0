package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"depot/auth"
	"depot/internal/testtool"
	"depot/mft"
	"depot/store"
)

// keyWorld is an authenticator over a real database with joe, who has an
// API key, a password and an SSH key, and a bucket user.
func keyWorld(t *testing.T) (*auth.Authenticator, *testtool.Events, *mft.User, ssh.PublicKey, *store.BucketStore) {
	t.Helper()
	a, users, log, joe := accountWorld(t)
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a.Tokens, a.TokenTTL = store.NewTokenStore(db), time.Hour
	buckets := store.NewBucketStore(db)
	a.Buckets = buckets
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(pub)
	apiKey := "joe-api-key-0123456789abcdef"
	upd := []string{string(ssh.MarshalAuthorizedKey(key))}
	if _, err := users.UpdateUser(context.Background(), joe.ID, mft.UserUpdate{SSHKeys: &upd}); err != nil {
		t.Fatal(err)
	}
	if err := users.SetUserAPIKeyHash(context.Background(), joe.ID, auth.HashKey(apiKey)); err != nil {
		t.Fatal(err)
	}
	joe, _ = a.Users.FindUserByID(context.Background(), joe.ID)
	return a, log, joe, key, buckets
}

func TestAuthenticateKeyAndTokens(t *testing.T) {
	ctx := context.Background()
	a, log, joe, _, _ := keyWorld(t)
	if u, err := a.AuthenticateKey(ctx, "joe-api-key-0123456789abcdef", joeIP, "web"); err != nil || u.ID != joe.ID {
		t.Fatalf("the API key: %v, %v", u, err)
	}
	if !a.KnownKey(ctx, "joe-api-key-0123456789abcdef") || a.KnownKey(ctx, "guess") {
		t.Fatal("KnownKey")
	}
	if _, err := a.AuthenticateKey(ctx, "guess", joeIP, "api"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("a wrong key: %v", err)
	}
	if n := len(log.Named(mft.EventUserLoginFailed)); n != 1 {
		t.Fatalf("%d failures audited, want 1", n)
	}
	tok, expires, err := a.IssueToken(ctx, joe)
	if err != nil || expires.Sub(time.Now()) > time.Hour {
		t.Fatalf("token: %v, expires %v", err, expires)
	}
	if u, err := a.AuthenticateKey(ctx, tok, joeIP, "web"); err != nil || u.ID != joe.ID || !a.KnownKey(ctx, tok) {
		t.Fatalf("the temporary key: %v, %v", u, err)
	}
	if _, err := a.AuthenticateKey(ctx, tok, joeIP, "api"); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("a protocol the account may not use: %v", err)
	}
}

func TestLoginAndCheckUser(t *testing.T) {
	ctx := context.Background()
	a, log, joe, _, buckets := keyWorld(t)
	for _, login := range []string{"joe@example.test", "joe"} {
		if u, err := a.Login(ctx, login, "current password", joeIP, "web"); err != nil || u.ID != joe.ID {
			t.Fatalf("login as %s: %v, %v", login, u, err)
		}
	}
	if _, err := a.Login(ctx, "joe", "wrong", joeIP, "web"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("a wrong password: %v", err)
	}
	if _, err := a.Login(ctx, "nobody", "current password", joeIP, "web"); mft.ErrorCode(err) != mft.EUNAUTHORIZED || mft.ErrorMessage(err) != "Invalid email, username or password." {
		t.Fatalf("an unknown user: %v (the answer must not say which)", err)
	}
	if n := len(log.Named(mft.EventUserLogin)); n != 2 {
		t.Fatalf("%d logins audited", n)
	}
	past := time.Now().Add(-time.Hour)
	b := &mft.Bucket{Name: "b"}
	buckets.CreateBucket(ctx, b)
	for name, u := range map[string]mft.User{
		"disabled":   {Active: false},
		"expired":    {Active: true, ExpiresAt: &past},
		"address":    {Active: true, AllowedIPs: []string{"10.0.0.0/8"}},
		"protocol":   {Active: true, Protocols: []string{"sftp"}},
		"no bucket":  {Active: true, Bucket: "buc_gone"},
		"off bucket": {Active: true, Bucket: b.ID},
	} {
		if err := a.CheckUser(&u, joeIP, "web"); mft.ErrorCode(err) != mft.EFORBIDDEN {
			t.Errorf("%s: %v, want EFORBIDDEN", name, err)
		}
	}
	b.Active = true
	buckets.UpdateBucket(ctx, b, false)
	if err := a.CheckUser(&mft.User{Active: true, Bucket: b.ID}, joeIP, ""); err != nil {
		t.Fatalf("an active bucket's user: %v", err)
	}
}

// A key is found by user name, never counted as a guess; a connection
// that never authenticates is counted once, and enough of them ban.
func TestCheckPublicKey(t *testing.T) {
	ctx := context.Background()
	a, log, joe, key, _ := keyWorld(t)
	if u, err := a.CheckPublicKey(ctx, "joe", key, joeIP, "sftp"); err != nil || u.ID != joe.ID {
		t.Fatalf("joe's key: %v, %v", u, err)
	}
	other, _, _ := ed25519.GenerateKey(rand.Reader)
	otherKey, _ := ssh.NewPublicKey(other)
	if _, err := a.CheckPublicKey(ctx, "joe", otherKey, joeIP, "sftp"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("another key: %v", err)
	}
	if _, err := a.CheckPublicKey(ctx, "nobody", key, joeIP, "sftp"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("an unknown user: %v", err)
	}
	if n := len(log.Named(mft.EventUserLoginFailed)); n != 0 {
		t.Fatalf("offered keys counted %d failures", n)
	}
	for range 3 {
		a.RecordFailure("joe", joeIP, "sftp", "no key accepted")
	}
	if _, err := a.CheckPublicKey(ctx, "joe", key, joeIP, "sftp"); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("after three failed connections: %v, want the ban", err)
	}
	if err := a.LiftBan(webCtx, joeIP); err != nil {
		t.Fatal(err)
	}
	if ev := log.Named(mft.EventBanLifted); len(ev) != 1 || ev[0].Actor != "joe" || ev[0].Target != joeIP.String() {
		t.Fatalf("ban.lifted events = %+v", ev)
	}
	if _, err := a.CheckPublicKey(ctx, "joe", key, joeIP, "sftp"); err != nil {
		t.Fatalf("after the ban was lifted: %v", err)
	}
	if err := a.LiftBan(webCtx, joeIP); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("lifting a ban that is not there: %v", err)
	}
	a.RecordLogin(joe, joeIP, "sftp", "publickey")
}

// The secret key is made once (0600) and read again; the upload-URL key
// derived from it is stable.
func TestLoadSecret(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret.key")
	s1, url1, err := auth.LoadSecret(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("secret.key: %v, %d bytes", fi.Mode(), fi.Size())
	}
	s2, url2, err := auth.LoadSecret(p)
	if err != nil || string(url1) != string(url2) {
		t.Fatal("the key changed on the second load")
	}
	if plain, err := s2.Open(s1.Seal("x")); err != nil || plain != "x" {
		t.Fatal("a value sealed before does not open after")
	}
	os.WriteFile(p, []byte("short"), 0o600)
	if _, _, err := auth.LoadSecret(p); err == nil {
		t.Fatal("a short key loaded")
	}
}
