// Package tlscert holds the certificate the HTTPS listener serves: read
// from PEM files and read again on Reload (SIGHUP) without a restart, or
// made once for the server's own host names (self-signed) and kept in the
// data directory, as the SSH host keys are.
package tlscert

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
)

// Source serves a certificate to the TLS handshake. Connections keep the
// certificate they started with; a reload applies to new ones.
type Source struct {
	certFile, keyFile string
	cert              atomic.Pointer[tls.Certificate]
}

// Load reads a certificate chain and its key (PEM files).
func Load(certFile, keyFile string) (*Source, error) {
	s := &Source{certFile: certFile, keyFile: keyFile}
	if err := s.Reload(); err != nil {
		return nil, err
	}
	return s, nil
}

// Reload reads the files again; when they do not make a usable pair the
// certificate served stays the one before, and the error says why.
func (s *Source) Reload() error {
	c, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate %s with key %s: %w", s.certFile, s.keyFile, err)
	}
	if c.Leaf == nil || len(c.Certificate) == 0 {
		return errors.New("tls certificate: no certificate in " + s.certFile)
	}
	s.cert.Store(&c)
	return nil
}

// Suites are the TLS 1.2 cipher suites Depot offers and accepts: ECDHE
// with AEAD only (Go's defaults also hold ECDHE with CBC). TLS 1.3's
// suites are all AEAD and not configurable.
var Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Config is the listener's TLS: 1.2 (ECDHE with AEAD suites only) and
// 1.3, HTTP/2 and HTTP/1.1.
func (s *Source) Config() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		CipherSuites: Suites,
		NextProtos:   []string{"h2", "http/1.1"},
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return s.cert.Load(), nil
		},
	}
}

// Leaf is the certificate served now.
func (s *Source) Leaf() *x509.Certificate { return s.cert.Load().Leaf }

// Fingerprint is the SHA-256 of the served certificate as openssl prints
// it (x509 -fingerprint -sha256): colon-separated upper-case hex.
func (s *Source) Fingerprint() string { return Fingerprint(s.Leaf()) }

// Fingerprint is c's SHA-256 fingerprint as openssl prints it.
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}
