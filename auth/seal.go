package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"

	"depot/mft"
)

// sealPrefix marks a sealed value, so that a value is never sealed twice
// nor mistaken for plain text.
const sealPrefix = "sealed:v1:"

// Sealer encrypts secrets kept at rest (webhook secrets, PGP private keys
// and passphrases) with AES-256-GCM under the data directory's secret.key.
type Sealer struct {
	aead cipher.AEAD
	// check names the key without revealing it (KeyCheck).
	check string
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, errors.New("auth: the secret key must be 32 bytes")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("depot key check"))
	return &Sealer{aead: aead, check: hex.EncodeToString(m.Sum(nil))}, nil
}

// KeyCheck is a value that names the key without revealing it: equal for
// the same secret.key, different for another. The database keeps the one
// its secrets were sealed with, so that a node started with another key
// is refused instead of failing on every sealed secret.
func (s *Sealer) KeyCheck() string { return s.check }

// Seal encrypts plain; "" and already sealed values are returned as they are.
func (s *Sealer) Seal(plain string) string {
	if plain == "" || IsSealed(plain) {
		return plain
	}
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := s.aead.Seal(nonce, nonce, []byte(plain), []byte(sealPrefix))
	return sealPrefix + base64.RawStdEncoding.EncodeToString(out)
}

// KeepOrSeal is the stored value of a secret a client sent: the previous
// one when it sent mft.SecretMarker back (what a read shows), else v
// sealed. Without a Sealer values are kept as they are.
func (s *Sealer) KeepOrSeal(v, prev string) string {
	switch {
	case v == mft.SecretMarker:
		return prev
	case s == nil:
		return v
	}
	return s.Seal(v)
}

// Open decrypts a sealed value; a value that is not sealed is returned as
// it is.
func (s *Sealer) Open(sealed string) (string, error) {
	if !IsSealed(sealed) {
		return sealed, nil
	}
	data, err := base64.RawStdEncoding.DecodeString(strings.TrimPrefix(sealed, sealPrefix))
	if err != nil || len(data) < s.aead.NonceSize() {
		return "", errors.New("auth: sealed value is damaged")
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, data[:n], data[n:], []byte(sealPrefix))
	if err != nil {
		return "", errors.New("auth: sealed value does not open with this secret.key")
	}
	return string(plain), nil
}

// IsSealed reports whether v was made by Seal.
func IsSealed(v string) bool { return strings.HasPrefix(v, sealPrefix) }
