package store

import (
	"context"

	"depot/mft"
)

var bucketConnections = []byte("Connections")

// ConnectionStore stores storage connections; their secrets arrive
// sealed and are stored as they are.
type ConnectionStore struct {
	db *DB
}

var _ mft.ConnectionStore = (*ConnectionStore)(nil)

// NewConnectionStore returns a ConnectionStore backed by db.
func NewConnectionStore(db *DB) *ConnectionStore { return &ConnectionStore{db: db} }

func (s *ConnectionStore) FindConnection(ctx context.Context, id string) (*mft.Connection, error) {
	return findOne[mft.Connection](s.db, ctx, bucketConnections, id, "Connection not found.")
}

func (s *ConnectionStore) FindConnections(ctx context.Context, page mft.Page) ([]*mft.Connection, bool, error) {
	return findPage[mft.Connection](s.db, ctx, bucketConnections, page)
}

func (s *ConnectionStore) CreateConnection(ctx context.Context, c *mft.Connection) error {
	c.CreatedAt = s.db.now()
	c.UpdatedAt = c.CreatedAt
	c.ID = newID("conn_", c.CreatedAt)
	return s.PutConnection(ctx, c)
}

func (s *ConnectionStore) PutConnection(ctx context.Context, c *mft.Connection) error {
	return s.db.update(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketConnections), c.ID, c) })
}

func (s *ConnectionStore) DeleteConnection(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketConnections)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Connection not found.")
		}
		if m, err := mountOf(tx, id); err != nil {
			return err
		} else if m != "" {
			return mft.Errorf(mft.ECONFLICT, "Connection %s serves mount %s; delete the mount first.", id, m)
		}
		return b.Delete([]byte(id))
	})
}
