// Package auth verifies who is calling: API keys, temporary tokens,
// argon2id passwords, the defender that bans IPs after failed logins, and
// per-caller rate limits.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"depot/mft"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (OWASP's recommendation: 19 MiB, 2 passes, 1 lane).
// They are stored in each hash, so changing them keeps old hashes valid.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16

	// MaxPasswordLen bounds the work one login attempt can cause.
	MaxPasswordLen = 1024
	// MinPasswordLen is the shortest password accepted when one is set.
	MinPasswordLen = 8
)

// HashPassword returns the argon2id hash of password in the PHC string
// format ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
func HashPassword(password string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: read random salt: %w", err)
	}
	key := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// HashNewPassword checks a password being set against the length rule
// and returns its hash; a password of the wrong length is EINVALID.
func HashNewPassword(password string) (string, error) {
	if n := len(password); n < MinPasswordLen || n > MaxPasswordLen {
		return "", mft.Errorf(mft.EINVALID, "password must have %d to %d characters", MinPasswordLen, MaxPasswordLen)
	}
	return HashPassword(password)
}

// dummyHash is verified against when a user does not exist, so that a
// failed login takes the same time whether or not the user is known.
var dummyHash, _ = HashPassword("depot-dummy-password")

// VerifyPassword reports whether password matches hash. An empty or
// malformed hash matches nothing but still costs one argon2id run.
func VerifyPassword(hash, password string) bool {
	if len(password) > MaxPasswordLen {
		return false
	}
	ok := true
	if hash == "" {
		hash, ok = dummyHash, false
	}
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		parts, ok = strings.Split(dummyHash, "$"), false
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 1<<20 || t > 16 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1 && ok
}
