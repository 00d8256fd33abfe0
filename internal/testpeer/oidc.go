package testpeer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"depot/internal/testtool"
)

//go:embed oidc-provider.mjs
var oidcProviderScript []byte

// OIDC client and the people of the test provider (oidc-provider.mjs):
// alice and bob with verified emails, eve with an unverified one; any
// password signs in on its development pages.
const (
	OIDCClientID     = "depot"
	OIDCClientSecret = "depot-test-client-secret"
	oidcKeyID        = "depot-test"
)

// OIDCProvider is the npm package oidc-provider run by node on a free
// loopback port, signing with Key.
type OIDCProvider struct {
	*Process
	Issuer string
	Key    *rsa.PrivateKey
}

// StartOIDC starts the provider for Depot at base (its public URL): the
// redirect and back-channel logout URIs are under base/web/oidc/.
func StartOIDC(tb testing.TB, base string) *OIDCProvider {
	tb.Helper()
	node := tool(tb, "node")
	mod := testtool.File(tb, "DEPOT_OIDC_PROVIDER", "oidc-provider (npm)")
	dir := tb.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{privateJWK(key)}})
	os.WriteFile(filepath.Join(dir, "jwks.json"), jwks, 0o600)
	script := filepath.Join(dir, "oidc-provider.mjs")
	os.WriteFile(script, oidcProviderScript, 0o600)
	// 127.0.0.2: a host of its own, so that a browser keeps its cookies
	// apart from Depot's on 127.0.0.1 (cookies ignore ports).
	port := freePort(tb)
	p := &OIDCProvider{Issuer: fmt.Sprintf("http://127.0.0.2:%d", port), Key: key}
	p.Process = &Process{Port: port, bin: node, host: "127.0.0.2",
		env:  []string{"DEPOT_OIDC_PROVIDER=" + mod, "DEPOT_OIDC_JWKS=" + filepath.Join(dir, "jwks.json")},
		args: []string{script, fmt.Sprint(port), OIDCClientID, OIDCClientSecret, base + "/web/oidc/callback", base + "/web/oidc/backchannel-logout"}}
	p.Process.Start(tb)
	tb.Cleanup(p.Process.Stop)
	return p
}

// Sign makes a JWT of claims signed with key (the provider's, or another
// to forge one) under the provider's key id.
func Sign(key *rsa.PrivateKey, claims map[string]any) string {
	b64 := base64.RawURLEncoding.EncodeToString
	header, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": oidcKeyID})
	body, _ := json.Marshal(claims)
	signing := b64(header) + "." + b64(body)
	sum := sha256.Sum256([]byte(signing))
	sig, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	return signing + "." + b64(sig)
}

// privateJWK is key as a private JSON Web Key (RFC 7517).
func privateJWK(key *rsa.PrivateKey) map[string]string {
	b := func(i *big.Int) string { return base64.RawURLEncoding.EncodeToString(i.Bytes()) }
	key.Precompute()
	return map[string]string{"kty": "RSA", "kid": oidcKeyID, "use": "sig", "alg": "RS256",
		"n": b(key.N), "e": b(big.NewInt(int64(key.E))), "d": b(key.D), "p": b(key.Primes[0]), "q": b(key.Primes[1]),
		"dp": b(key.Precomputed.Dp), "dq": b(key.Precomputed.Dq), "qi": b(key.Precomputed.Qinv)}
}
