package store_test

import (
	"context"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

func TestTokenService(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		tokens := store.NewTokenStore(db)
		if err := tokens.CreateToken(ctx, &mft.Token{Hash: "live", UserID: "u", ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if err := tokens.CreateToken(ctx, &mft.Token{Hash: "old", UserID: "u", ExpiresAt: now.Add(-time.Second)}); err != nil {
			t.Fatal(err)
		}
		if tok, err := tokens.FindTokenByHash(ctx, "live"); err != nil || tok.UserID != "u" {
			t.Fatalf("live token: %v %v", tok, err)
		}
		if _, err := tokens.FindTokenByHash(ctx, "old"); mft.ErrorCode(err) != mft.EEXPIRED {
			t.Fatalf("expired token: err = %v, want EEXPIRED", err)
		}
		if _, err := tokens.FindTokenByHash(ctx, "nope"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("unknown token: err = %v, want ENOTFOUND", err)
		}
		if n, err := tokens.DeleteExpiredTokens(ctx); err != nil || n != 1 {
			t.Fatalf("sweep removed %d (%v), want 1", n, err)
		}
		if _, err := tokens.FindTokenByHash(ctx, "old"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("swept token: err = %v, want ENOTFOUND", err)
		}
	})
}
