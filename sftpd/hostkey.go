package sftpd

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	gossh "golang.org/x/crypto/ssh"
)

// hostKeyFiles are the host keys kept in the data directory, generated on
// first start and reused after.
var hostKeyFiles = []struct {
	name string
	gen  func() (crypto.Signer, error)
}{
	{"ssh_host_ed25519_key", func() (crypto.Signer, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}},
	{"ssh_host_rsa_key", func() (crypto.Signer, error) { return rsa.GenerateKey(rand.Reader, 3072) }},
}

// loadHostKeys reads the host keys from dir, creating missing ones (0600,
// OpenSSH format).
func loadHostKeys(dir string) ([]gossh.Signer, error) {
	var signers []gossh.Signer
	for _, hk := range hostKeyFiles {
		path := filepath.Join(dir, hk.name)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			data, err = newHostKey(path, hk.gen)
		}
		if err != nil {
			return nil, fmt.Errorf("sftpd: host key %s: %w", path, err)
		}
		s, err := gossh.ParsePrivateKey(data)
		if err != nil {
			return nil, fmt.Errorf("sftpd: host key %s: %w", path, err)
		}
		signers = append(signers, s)
	}
	return signers, nil
}

func newHostKey(path string, gen func() (crypto.Signer, error)) ([]byte, error) {
	key, err := gen()
	if err != nil {
		return nil, err
	}
	block, err := gossh.MarshalPrivateKey(key, "depot host key")
	if err != nil {
		return nil, err
	}
	data := pem.EncodeToMemory(block)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, err
	}
	return data, f.Close()
}
