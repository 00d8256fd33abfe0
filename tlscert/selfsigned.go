package tlscert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"net"
	"path/filepath"
	"slices"
	"time"

	"depot/internal/atomicfile"
)

// Names of the self-signed certificate and its key in the data directory.
const (
	SelfSignedCert = "tls-selfsigned.crt"
	SelfSignedKey  = "tls-selfsigned.key"
)

// selfSignedLife is how long a made certificate is valid; it is made
// again at a start within renewBefore of its end.
const (
	selfSignedLife = 825 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour
)

// SelfSigned returns the self-signed certificate for hosts kept in dir,
// made (ECDSA P-256) on the first start, and again when it would expire
// within 30 days or does not name every host (public_url changed).
func SelfSigned(dir string, hosts []string, now time.Time) (*Source, error) {
	certFile, keyFile := filepath.Join(dir, SelfSignedCert), filepath.Join(dir, SelfSignedKey)
	s, err := Load(certFile, keyFile)
	if err == nil && covers(s.Leaf(), hosts) && now.Add(renewBefore).Before(s.Leaf().NotAfter) {
		return s, nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := makeSelfSigned(certFile, keyFile, hosts, now); err != nil {
		return nil, err
	}
	return Load(certFile, keyFile)
}

// covers says whether c names every host.
func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

func makeSelfSigned(certFile, keyFile string, hosts []string, now time.Time) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hosts[0], Organization: []string{"Depot (self-signed)"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(-time.Hour).Add(selfSignedLife), // 825 days in all
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	for _, h := range slices.Compact(slices.Sorted(slices.Values(hosts))) {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	// The key first, owner-only; each file complete before its name.
	if err := atomicfile.Write(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return err
	}
	return atomicfile.Write(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
