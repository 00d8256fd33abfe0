package tlscert_test

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/tlscert"
)

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

// The self-signed certificate is made once, names every host, lives 825
// days and is made again when a host is added or its end is near.
func TestSelfSigned(t *testing.T) {
	dir := t.TempDir()
	s, err := tlscert.SelfSigned(dir, []string{"depot.example.test", "127.0.0.1"}, now)
	if err != nil {
		t.Fatal(err)
	}
	leaf := s.Leaf()
	if leaf.VerifyHostname("depot.example.test") != nil || leaf.VerifyHostname("127.0.0.1") != nil {
		t.Fatal("the certificate does not name its hosts")
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 826*24*time.Hour {
		t.Fatalf("valid for %v, more than 825 days", life)
	}
	if fi, _ := os.Stat(filepath.Join(dir, tlscert.SelfSignedKey)); fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v", fi.Mode().Perm())
	}
	fp := s.Fingerprint()
	sum := sha256.Sum256(leaf.Raw)
	if want := strings.ToUpper(hex.EncodeToString(sum[:2])) + ":"; len(fp) != 95 || !strings.HasPrefix(fp, want[:2]+":"+want[2:4]) {
		t.Fatalf("fingerprint %q, want openssl's colon-separated upper-case hex of the sha256", fp)
	}
	same, _ := tlscert.SelfSigned(dir, []string{"depot.example.test"}, now.Add(24*time.Hour))
	if same.Fingerprint() != fp {
		t.Fatal("the certificate was made again although it still serves")
	}
	more, _ := tlscert.SelfSigned(dir, []string{"depot.example.test", "other.example.test"}, now)
	if more.Fingerprint() == fp || more.Leaf().VerifyHostname("other.example.test") != nil {
		t.Fatal("a new host did not make a new certificate")
	}
	late, _ := tlscert.SelfSigned(dir, []string{"depot.example.test", "other.example.test"}, more.Leaf().NotAfter.Add(-24*time.Hour))
	if late.Fingerprint() == more.Fingerprint() {
		t.Fatal("a certificate a day from its end was kept")
	}
}

// A reload that finds no usable pair keeps serving the certificate
// before; the listener speaks TLS 1.2+ with AEAD suites only.
func TestReloadAndConfig(t *testing.T) {
	dir := t.TempDir()
	if _, err := tlscert.SelfSigned(dir, []string{"127.0.0.1"}, time.Now()); err != nil {
		t.Fatal(err)
	}
	cert, key := filepath.Join(dir, tlscert.SelfSignedCert), filepath.Join(dir, tlscert.SelfSignedKey)
	s, err := tlscert.Load(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	fp := s.Fingerprint()
	os.WriteFile(cert, []byte("not a certificate"), 0o600)
	if err := s.Reload(); err == nil {
		t.Fatal("a broken certificate reloaded")
	}
	if s.Fingerprint() != fp {
		t.Fatal("a failed reload changed the certificate served")
	}
	if _, err := tlscert.Load(filepath.Join(dir, "missing.crt"), key); err == nil {
		t.Fatal("a missing file loaded")
	}

	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	dial := func(cfg *tls.Config) error {
		cfg.InsecureSkipVerify = true
		c, err := tls.DialWithDialer(&net.Dialer{}, "tcp", ln.Addr().String(), cfg)
		if err == nil {
			c.Close()
		}
		return err
	}
	if err := dial(&tls.Config{MaxVersion: tls.VersionTLS11}); err == nil {
		t.Error("TLS 1.1 was accepted")
	}
	if err := dial(&tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}); err == nil {
		t.Error("a CBC suite was accepted")
	}
	if err := dial(&tls.Config{MaxVersion: tls.VersionTLS12}); err != nil {
		t.Errorf("TLS 1.2 with AEAD: %v", err)
	}
}
