package store

import (
	"context"

	"depot/mft"
)

var bucketMounts = []byte("Mounts")

// MountStore stores the mounts of storage paths on connections.
type MountStore struct {
	db *DB
}

var _ mft.MountStore = (*MountStore)(nil)

// NewMountStore returns a MountStore backed by db.
func NewMountStore(db *DB) *MountStore { return &MountStore{db: db} }

func (s *MountStore) FindMount(ctx context.Context, id string) (*mft.Mount, error) {
	return findOne[mft.Mount](s.db, ctx, bucketMounts, id, "Mount not found.")
}

func (s *MountStore) FindMounts(ctx context.Context) ([]*mft.Mount, error) {
	return findEvery[mft.Mount](s.db, ctx, bucketMounts, func(*mft.Mount) bool { return true })
}

// CreateMount stores m after checking, in the same transaction, that its
// connection exists and that it neither contains nor lies inside another
// mount (one path has one storage), the storage root's aside.
func (s *MountStore) CreateMount(ctx context.Context, m *mft.Mount) error {
	m.CreatedAt = s.db.now()
	m.UpdatedAt = m.CreatedAt
	m.ID = newID("mnt_", m.CreatedAt)
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		if tx.Bucket(bucketConnections).Get([]byte(m.Connection)) == nil {
			return mft.Errorf(mft.EINVALID, "connection %s does not exist", m.Connection)
		}
		all, err := findAll(tx.Bucket(bucketMounts), func(*mft.Mount) bool { return true })
		if err != nil {
			return err
		}
		for _, o := range all {
			if m.Overlaps(o) {
				return mft.Errorf(mft.ECONFLICT, "%s overlaps mount %s of %s; a path has one storage", m.Path, o.ID, o.Path)
			}
		}
		return put(tx.Bucket(bucketMounts), m.ID, m)
	})
}

func (s *MountStore) DeleteMount(ctx context.Context, id string) error {
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketMounts)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Mount not found.")
		}
		return b.Delete([]byte(id))
	})
}

// mountOf returns the id of a mount on connection id, or "".
func mountOf(tx kvTx, conn string) (string, error) {
	all, err := findAll(tx.Bucket(bucketMounts), func(m *mft.Mount) bool { return m.Connection == conn })
	if err != nil || len(all) == 0 {
		return "", err
	}
	return all[0].ID, nil
}
