package auth_test

import (
	"bytes"
	"strings"
	"testing"

	"depot/auth"
)

func TestSealer(t *testing.T) {
	s, err := auth.NewSealer(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("passphrase")
	if !auth.IsSealed(sealed) || strings.Contains(sealed, "passphrase") || s.Seal(sealed) != sealed || s.Seal("") != "" {
		t.Fatalf("sealed %q", sealed)
	}
	if got, err := s.Open(sealed); err != nil || got != "passphrase" {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := auth.NewSealer(bytes.Repeat([]byte{8}, 32))
	if _, err := other.Open(sealed); err == nil {
		t.Fatal("opened with another key")
	}
	if _, err := s.Open(sealed[:len(sealed)-4] + "AAAA"); err == nil {
		t.Fatal("opened a damaged value")
	}
	if _, err := auth.NewSealer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}
