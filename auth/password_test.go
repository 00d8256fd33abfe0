package auth_test

import (
	"strings"
	"testing"

	"depot/auth"
)

func TestPassword(t *testing.T) {
	hash, err := auth.HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string", hash)
	}
	if !auth.VerifyPassword(hash, "correct horse") {
		t.Fatal("the right password does not verify")
	}
	for _, wrong := range []string{"", "correct horse ", "Correct horse", strings.Repeat("x", 2000)} {
		if auth.VerifyPassword(hash, wrong) {
			t.Errorf("wrong password %q verifies", wrong)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2id$v=19$m=1,t=1,p=1$$", "$bcrypt$x$y$z$w"} {
		if auth.VerifyPassword(bad, "correct horse") {
			t.Errorf("malformed hash %q verifies", bad)
		}
	}
	again, _ := auth.HashPassword("correct horse")
	if again == hash {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
}

func TestKeys(t *testing.T) {
	a, b := auth.NewKey(), auth.NewKey()
	if len(a) != auth.KeyLen || a == b || strings.ContainsAny(a, ": ") {
		t.Fatalf("keys %q %q", a, b)
	}
	h := auth.HashKey(a)
	if len(h) != 64 || h == a {
		t.Fatalf("hash %q", h)
	}
	if !auth.KeyMatches(a, h) || auth.KeyMatches(b, h) {
		t.Fatal("KeyMatches disagrees with HashKey")
	}
}
