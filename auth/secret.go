package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// LoadSecret reads the 32-byte key at path that seals secrets at rest,
// creating it on first use, and returns the Sealer keyed by it and the key
// that signs upload URLs, derived from it.
func LoadSecret(path string) (*Sealer, []byte, error) {
	if err := ensureSecret(path); err != nil {
		return nil, nil, err
	}
	key, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	s, err := NewSealer(key)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %s: %w", path, err)
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("depot upload URLs"))
	return s, m.Sum(nil), nil
}

// ensureSecret creates the key file if it does not exist.
func ensureSecret(path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(secret); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
