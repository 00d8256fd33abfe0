package store_test

import (
	"context"
	"testing"

	"depot/internal/testpeer"
	"depot/mft"
	"depot/store"
)

// The pieces of a chunked upload are held by one node: another live node
// is refused; once the holder is gone, or has let the upload go, another
// node takes it.
func TestPostgres_PiecesHeldByOneNode(t *testing.T) {
	ctx := context.Background()
	dsn := testpeer.PostgresDSN(t)
	a := mustOpen(t, &store.DB{DSN: dsn, Shared: true})
	b := mustOpen(t, &store.DB{DSN: dsn, Shared: true})
	pa, pb := store.NewPieceStore(a), store.NewPieceStore(b)
	must(t, pa.HoldPieces(ctx, "u1"))
	must(t, pa.HoldPieces(ctx, "u1")) // its own, again
	if err := pb.HoldPieces(ctx, "u1"); mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("another live node's upload: %v; want ECONFLICT", err)
	}
	must(t, pa.DropPieces(ctx, "u1"))
	must(t, pb.HoldPieces(ctx, "u1"))
	must(t, pa.HoldPieces(ctx, "u2"))
	a.Close()
	must(t, pb.HoldPieces(ctx, "u2")) // a's pieces went with it
}
