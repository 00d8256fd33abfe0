package auth_test

import (
	"bytes"
	"strings"
	"testing"

	"depot/auth"
	"depot/mft"
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

func TestSealer_KeepOrSeal(t *testing.T) {
	s, err := auth.NewSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	prev := s.Seal("old")
	if got := s.KeepOrSeal(mft.SecretMarker, prev); got != prev {
		t.Fatalf("marker: %q, want the previous value", got)
	}
	if got := s.KeepOrSeal("", prev); got != "" {
		t.Fatalf("empty: %q, want cleared", got)
	}
	got := s.KeepOrSeal("new", prev)
	if plain, err := s.Open(got); !auth.IsSealed(got) || err != nil || plain != "new" {
		t.Fatalf("new secret stored as %q (%q, %v)", got, plain, err)
	}
	var none *auth.Sealer
	if got := none.KeepOrSeal("v", prev); got != "v" {
		t.Fatalf("without a sealer: %q", got)
	}
}
