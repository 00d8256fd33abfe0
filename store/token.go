package store

import (
	"context"

	"depot/mft"
)

// TokenStore stores temporary API keys by the hash of the key.
type TokenStore struct {
	db *DB
}

var _ mft.TokenStore = (*TokenStore)(nil)

// NewTokenStore returns a TokenStore backed by db.
func NewTokenStore(db *DB) *TokenStore { return &TokenStore{db: db} }

// CreateToken stores t, setting its creation time.
func (s *TokenStore) CreateToken(ctx context.Context, t *mft.Token) error {
	if t.Hash == "" || t.UserID == "" {
		return mft.Errorf(mft.EINVALID, "token needs a hash and a user")
	}
	return s.db.update(ctx, func(tx kvTx) error {
		t.CreatedAt = s.db.now()
		return put(tx.Bucket(bucketTokens), t.Hash, t)
	})
}

// FindTokenByHash returns ENOTFOUND for an unknown and EEXPIRED for an
// expired token.
func (s *TokenStore) FindTokenByHash(ctx context.Context, hash string) (*mft.Token, error) {
	var t mft.Token
	err := s.db.view(ctx, func(tx kvTx) error {
		ok, err := get(tx.Bucket(bucketTokens), hash, &t)
		if err != nil {
			return err
		} else if !ok || hash == "" {
			return mft.Errorf(mft.ENOTFOUND, "Token not found.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !s.db.Now().Before(t.ExpiresAt) {
		return nil, mft.Errorf(mft.EEXPIRED, "Token has expired.")
	}
	return &t, nil
}

// DeleteExpiredTokens removes tokens past their expiry.
func (s *TokenStore) DeleteExpiredTokens(ctx context.Context) (int, error) {
	n := 0
	now := s.db.Now()
	err := s.db.update(ctx, func(tx kvTx) error {
		var err error
		n, err = deleteTokensWhere(tx, func(t *mft.Token) bool { return !now.Before(t.ExpiresAt) })
		return err
	})
	return n, err
}

// deleteTokensOf removes a deleted user's temporary keys.
func deleteTokensOf(tx kvTx, userID string) error {
	_, err := deleteTokensWhere(tx, func(t *mft.Token) bool { return t.UserID == userID })
	return err
}

// deleteTokensWhere removes the tokens that match and returns how many.
func deleteTokensWhere(tx kvTx, match func(*mft.Token) bool) (int, error) {
	return deleteWhere(tx.Bucket(bucketTokens), match)
}
