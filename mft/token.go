package mft

import (
	"context"
	"time"
)

// Token is a temporary API key handed out by a password login. Only the
// SHA-256 hash of the key is stored.
type Token struct {
	Hash      string    `json:"hash"`
	UserID    string    `json:"user_id"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// TokenStore stores temporary API keys.
type TokenStore interface {
	// CreateToken stores t.
	CreateToken(ctx context.Context, t *Token) error
	// FindTokenByHash returns ENOTFOUND if no token has that hash, and
	// EEXPIRED if it has expired.
	FindTokenByHash(ctx context.Context, hash string) (*Token, error)
	// DeleteExpiredTokens removes tokens past their expiry and returns how many.
	DeleteExpiredTokens(ctx context.Context) (int, error)
}
