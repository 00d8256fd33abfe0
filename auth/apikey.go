package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// KeyLen is the length of generated keys: 40 base32 characters (A–Z, 2–7),
// 200 bits of randomness, safe as the user part of `curl --user KEY:x`.
const KeyLen = 40

// MinKeyLen is the shortest key Depot accepts from DEPOT_ADMIN_API_KEY.
const MinKeyLen = 20

// NewKey returns a random API key.
func NewKey() string {
	return (rand.Text() + rand.Text())[:KeyLen]
}

// HashKey returns the hex SHA-256 of key, the form in which keys are stored.
func HashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// KeyMatches compares key with a stored hash in constant time.
func KeyMatches(key, hash string) bool {
	got := HashKey(key)
	return subtle.ConstantTimeCompare([]byte(got), []byte(hash)) == 1
}
