package oidcauth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"
	"time"

	"depot/config"
	"depot/internal/testpeer"
)

// An ID token counts only signed by the provider's key, for this client,
// unexpired and with this sign-in's nonce; a logout token only signed,
// with the back-channel event and no nonce, and recent.
func TestTokensFromTheProviderOnly(t *testing.T) {
	op := testpeer.StartOIDC(t, "http://127.0.0.1:1")
	cfg := config.Default().OIDC
	cfg.Issuer, cfg.ClientID, cfg.ClientSecret = op.Issuer, testpeer.OIDCClientID, testpeer.OIDCClientSecret
	p := New(cfg, func() string { return "http://127.0.0.1:1/web/oidc/callback" })
	ctx := context.Background()
	pr, err := p.discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	now := time.Now().Unix()
	id := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": op.Issuer, "aud": testpeer.OIDCClientID, "sub": "alice", "iat": now, "exp": now + 300,
			"nonce": "n1", "email": "alice@example.com", "email_verified": true, "name": "Alice"}
		if edit != nil {
			edit(c)
		}
		return c
	}
	got, err := p.verify(ctx, pr, testpeer.Sign(op.Key, id(nil)), "n1")
	if err != nil || got.Subject != "alice" || got.Email != "alice@example.com" || !got.EmailVerified {
		t.Fatalf("a right ID token: %+v %v", got, err)
	}
	for name, c := range map[string]struct {
		raw, nonce, why string
	}{
		"forged":       {testpeer.Sign(other, id(nil)), "n1", "signature"},
		"expired":      {testpeer.Sign(op.Key, id(func(c map[string]any) { c["exp"] = now - 60 })), "n1", "expired"},
		"another aud":  {testpeer.Sign(op.Key, id(func(c map[string]any) { c["aud"] = "someone-else" })), "n1", "audience"},
		"another iss":  {testpeer.Sign(op.Key, id(func(c map[string]any) { c["iss"] = "http://evil.example" })), "n1", "different provider"},
		"replayed":     {testpeer.Sign(op.Key, id(nil)), "n2", "nonce"},
		"not even JWT": {"abc.def", "n1", "malformed"},
	} {
		if _, err := p.verify(ctx, pr, c.raw, c.nonce); err == nil || !strings.Contains(strings.ToLower(err.Error()), c.why) {
			t.Errorf("%s ID token: %v, want an error about %s", name, err, c.why)
		}
	}

	logout := func(edit func(map[string]any)) map[string]any {
		c := map[string]any{"iss": op.Issuer, "aud": testpeer.OIDCClientID, "sub": "alice", "sid": "s1", "iat": now, "jti": "j1",
			"events": map[string]any{backchannelEvent: map[string]any{}}}
		if edit != nil {
			edit(c)
		}
		return c
	}
	if sub, sid, err := p.Logout(ctx, testpeer.Sign(op.Key, logout(nil))); err != nil || sub != "alice" || sid != "s1" {
		t.Fatalf("a right logout token: %q %q %v", sub, sid, err)
	}
	for name, raw := range map[string]string{
		"forged":      testpeer.Sign(other, logout(nil)),
		"no event":    testpeer.Sign(op.Key, logout(func(c map[string]any) { delete(c, "events") })),
		"a nonce":     testpeer.Sign(op.Key, logout(func(c map[string]any) { c["nonce"] = "n" })),
		"old":         testpeer.Sign(op.Key, logout(func(c map[string]any) { c["iat"] = now - 3600 })),
		"nobody":      testpeer.Sign(op.Key, logout(func(c map[string]any) { delete(c, "sub"); delete(c, "sid") })),
		"an ID token": testpeer.Sign(op.Key, id(nil)),
	} {
		if _, _, err := p.Logout(ctx, raw); err == nil {
			t.Errorf("%s logout token accepted", name)
		}
	}
}
