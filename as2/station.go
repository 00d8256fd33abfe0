// Package as2 is Depot's AS2 (RFC 4130) station: it receives partners'
// signed and encrypted messages into the file service and answers their
// receipts (MDNs), and sends files to partners for the automations'
// upload action, checking the receipts that come back. The station and
// partners are kept here; the HTTP routes that carry the messages are
// the server's, which hands each request to Inbound or InboundMDN.
package as2

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Service is the AS2 station and its partners.
type Service struct {
	Store  mft.AS2Store
	Users  mft.UserStore
	Files  *files.Service
	Sealer *auth.Sealer
	// Events receives the as2.* events; nil drops them.
	Events mft.EventSink
	// PublicURL is Depot's public base URL: asynchronous MDNs for what
	// Depot sends are asked to come to PublicURL + "/as2/mdn".
	PublicURL string
	// MaxMessage caps a message's size, in and out (and what a compressed
	// one may inflate to).
	MaxMessage int64
	// MDNWait bounds how long a send waits for an asynchronous MDN.
	MDNWait time.Duration
	// Client posts messages and asynchronous MDNs; nil: a default one.
	Client *http.Client
	Logger *slog.Logger
	// Now is the clock (tests move it); nil: time.Now.
	Now func() time.Time

	waitMu  sync.Mutex
	waiting map[string]chan struct{} // outbound Message-ID → closed when its MDN came
	warned  map[string]string        // certificate → the day CheckExpiry last warned of it
	async   sync.WaitGroup
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// Describe parses a PEM certificate and tells about it.
func (s *Service) Describe(pemCert string) (*mft.CertificateInfo, error) {
	c, err := parseCert(pemCert)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(c.Raw)
	fp := make([]string, len(sum))
	for i, b := range sum {
		fp[i] = fmt.Sprintf("%02X", b)
	}
	return &mft.CertificateInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotBefore: c.NotBefore.UTC(),
		NotAfter: c.NotAfter.UTC(), Fingerprint: strings.Join(fp, ":"), Expired: s.now().After(c.NotAfter)}, nil
}

func parseCert(pemCert string) (*x509.Certificate, error) {
	b, _ := pem.Decode([]byte(pemCert))
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, mft.Errorf(mft.EINVALID, "a certificate must be PEM (-----BEGIN CERTIFICATE-----)")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, mft.Errorf(mft.EINVALID, "the certificate cannot be parsed: %v", err)
	}
	if _, ok := c.PublicKey.(*rsa.PublicKey); !ok {
		return nil, mft.Errorf(mft.EINVALID, "the certificate's key must be RSA: AS2's CMS encryption is RSA key transport")
	}
	return c, nil
}

// station is the station with its key opened.
type station struct {
	mft.AS2Station
	cert *x509.Certificate
	key  *rsa.PrivateKey
}

// Station returns the station as stored (the key sealed).
func (s *Service) Station(ctx context.Context) (*mft.AS2Station, error) {
	return s.Store.FindAS2Station(ctx)
}

// Partner returns one partner.
func (s *Service) Partner(ctx context.Context, id string) (*mft.AS2Partner, error) {
	return s.Store.FindAS2Partner(ctx, id)
}

// Partners returns a page of partners.
func (s *Service) Partners(ctx context.Context, page mft.Page) ([]*mft.AS2Partner, bool, error) {
	return s.Store.FindAS2Partners(ctx, page)
}

// Messages returns a page of the messages received and sent.
func (s *Service) Messages(ctx context.Context, f mft.AS2Filter) ([]*mft.AS2Message, bool, error) {
	return s.Store.FindAS2Messages(ctx, f)
}

// PutStation changes the station's id or keys.
func (s *Service) PutStation(ctx context.Context, ch mft.AS2StationChange) (*mft.AS2Station, error) {
	st, err := s.Store.FindAS2Station(ctx)
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		st, err = &mft.AS2Station{}, nil
	}
	if err != nil {
		return nil, err
	}
	if ch.AS2ID != nil {
		st.AS2ID = *ch.AS2ID
	}
	if !mft.ValidAS2ID(st.AS2ID) {
		return nil, mft.Errorf(mft.EINVALID, "as2_id is required: 1 to 128 printable ASCII characters, no quote or backslash")
	}
	switch {
	case ch.Generate && (ch.Certificate != nil || ch.PrivateKey != nil):
		return nil, mft.Errorf(mft.EINVALID, "send generate or a certificate and private_key, not both")
	case ch.Generate:
		if ch.Days < 0 || ch.Days > 3650 {
			return nil, mft.Errorf(mft.EINVALID, "days must be 1 to 3650")
		}
		certPEM, keyPEM, err := generate(st.AS2ID, ch.Days, s.now())
		if err != nil {
			return nil, err
		}
		st.Certificate, st.PrivateKey = certPEM, s.Sealer.Seal(keyPEM)
	case ch.Certificate != nil || ch.PrivateKey != nil:
		if ch.Certificate == nil || ch.PrivateKey == nil || *ch.PrivateKey == mft.SecretMarker {
			return nil, mft.Errorf(mft.EINVALID, "send certificate and private_key together (PEM)")
		}
		cert, err := parseCert(*ch.Certificate)
		if err != nil {
			return nil, err
		}
		key, err := parseKey(*ch.PrivateKey)
		if err != nil {
			return nil, err
		}
		if !key.Public().(*rsa.PublicKey).Equal(cert.PublicKey) {
			return nil, mft.Errorf(mft.EINVALID, "private_key is not the key of certificate")
		}
		st.Certificate, st.PrivateKey = *ch.Certificate, s.Sealer.Seal(*ch.PrivateKey)
	case st.Certificate == "":
		return nil, mft.Errorf(mft.EINVALID, "the station needs a key: send \"generate\": true, or certificate and private_key (PEM)")
	}
	if err := s.Store.PutAS2Station(ctx, st); err != nil {
		return nil, err
	}
	mft.PublishChange(ctx, s.Events, mft.EventAS2StationUpdated, st.AS2ID)
	return st, nil
}

func parseKey(pemKey string) (*rsa.PrivateKey, error) {
	b, _ := pem.Decode([]byte(pemKey))
	if b == nil {
		return nil, mft.Errorf(mft.EINVALID, "private_key must be PEM (-----BEGIN PRIVATE KEY----- or RSA PRIVATE KEY)")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, mft.Errorf(mft.EINVALID, "private_key cannot be parsed: %v", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, mft.Errorf(mft.EINVALID, "private_key must be an RSA key")
	}
	return rk, nil
}

// generate makes a 3072-bit RSA key and a self-signed certificate for
// signing and encryption, as AS2 partners exchange them.
func generate(as2ID string, days int, now time.Time) (certPEM, keyPEM string, err error) {
	if days == 0 {
		days = 730
	}
	key, err := rsa.GenerateKey(rand.Reader, 3072)
	if err != nil {
		return "", "", err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return "", "", err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: as2ID, Organization: []string{"Depot AS2"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(0, 0, days),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageContentCommitment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", "", err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})), nil
}

// open loads the station with its key unsealed.
func (s *Service) open(ctx context.Context) (*station, error) {
	st, err := s.Store.FindAS2Station(ctx)
	if err != nil {
		return nil, err
	}
	cert, err := parseCert(st.Certificate)
	if err != nil {
		return nil, err
	}
	plain, err := s.Sealer.Open(st.PrivateKey)
	if err != nil {
		return nil, mft.Errorf(mft.EINTERNAL, "the AS2 station's key cannot be unsealed with this secret.key")
	}
	key, err := parseKey(plain)
	if err != nil {
		return nil, err
	}
	return &station{AS2Station: *st, cert: cert, key: key}, nil
}
