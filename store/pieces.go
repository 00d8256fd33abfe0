package store

import (
	"context"
	"slices"
	"time"

	"depot/mft"
)

var bucketPieces = []byte("Pieces") // chunked upload id → the node holding its pieces

// PieceStore records which node holds the pieces of each unfinished
// chunked upload.
type PieceStore struct {
	db *DB
}

var _ mft.PieceStore = (*PieceStore)(nil)

// NewPieceStore returns a PieceStore backed by db.
func NewPieceStore(db *DB) *PieceStore { return &PieceStore{db: db} }

type heldPieces struct {
	Node string    `json:"node"`
	At   time.Time `json:"at"`
}

// HoldPieces records this node as the holder of upload id unless a live
// node holds it, and forgets the uploads held by nodes gone (their pieces
// went with their staging).
func (s *PieceStore) HoldPieces(ctx context.Context, id string) error {
	live, err := s.db.LiveNodes(ctx)
	if err != nil {
		return err
	}
	self := s.db.Node()
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketPieces)
		var held heldPieces
		if found, err := get(b, id, &held); err != nil {
			return err
		} else if found && held.Node != self && slices.Contains(live, held.Node) {
			return mft.Errorf(mft.ECONFLICT, "The other pieces of this upload went to another Depot node, which keeps them until the last one: send every piece of an upload to the same node (the load balancer must keep a client on one node).")
		}
		if _, err := deleteWhere(b, func(h *heldPieces) bool { return !slices.Contains(live, h.Node) }); err != nil {
			return err
		}
		return put(b, id, heldPieces{Node: self, At: s.db.Now()})
	})
}

func (s *PieceStore) DropPieces(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error { return tx.Bucket(bucketPieces).Delete([]byte(id)) })
}
