package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"depot/auth"
)

func authorizedKey(t *testing.T, pub any) string {
	t.Helper()
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func TestNormalizeSSHKeys(t *testing.T) {
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	ed := authorizedKey(t, pub)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)

	got, err := auth.NormalizeSSHKeys([]string{"  " + ed + "  joe@laptop \n"})
	if err != nil || len(got) != 1 || got[0] != ed+" joe@laptop" {
		t.Fatalf("got %q, %v", got, err)
	}
	for name, lines := range map[string][]string{
		"garbage":   {"ssh-ed25519 notbase64"},
		"duplicate": {ed, ed + " again"},
		"options":   {`command="rm -rf /" ` + ed},
		"small rsa": {authorizedKey(t, &small.PublicKey)},
		"two keys":  {ed + "\n" + ed},
	} {
		if _, err := auth.NormalizeSSHKeys(lines); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
