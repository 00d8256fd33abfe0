package store

import (
	"context"
	"crypto/rand"
	"strings"

	bolt "go.etcd.io/bbolt"

	"depot/mft"
)

var (
	bucketBuckets = []byte("Buckets")
	keySettings   = []byte("settings")
)

// BucketService stores buckets and the appliance settings.
type BucketService struct {
	db *DB
}

var (
	_ mft.BucketService   = (*BucketService)(nil)
	_ mft.SettingsService = (*BucketService)(nil)
)

// NewBucketService returns a BucketService backed by db.
func NewBucketService(db *DB) *BucketService { return &BucketService{db: db} }

func (s *BucketService) FindBucket(ctx context.Context, id string) (*mft.Bucket, error) {
	return findOne[mft.Bucket](s.db, ctx, bucketBuckets, id, "Bucket not found.")
}

func (s *BucketService) FindBuckets(ctx context.Context, page mft.Page) ([]*mft.Bucket, bool, error) {
	return findPage[mft.Bucket](s.db, ctx, bucketBuckets, page)
}

// CreateBucket validates b and stores it with a new id.
func (s *BucketService) CreateBucket(ctx context.Context, b *mft.Bucket) error {
	if err := b.Validate(); err != nil {
		return err
	}
	b.CreatedAt = s.db.now()
	b.UpdatedAt = b.CreatedAt
	b.ID = "buc_" + strings.ToLower(rand.Text()[:16])
	return s.PutBucket(ctx, b)
}

// PutBucket validates and stores b as it is.
func (s *BucketService) PutBucket(ctx context.Context, b *mft.Bucket) error {
	if err := b.Validate(); err != nil {
		return err
	}
	return s.db.update(ctx, func(tx *bolt.Tx) error { return put(tx.Bucket(bucketBuckets), b.ID, b) })
}

func (s *BucketService) DeleteBucket(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBuckets)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Bucket not found.")
		}
		return b.Delete([]byte(id))
	})
}

// Settings returns the stored settings, or the defaults.
func (s *BucketService) Settings(ctx context.Context) (mft.Settings, error) {
	out := mft.Settings{AllowBucketDeletion: true}
	err := s.db.view(ctx, func(tx *bolt.Tx) error {
		_, err := get(tx.Bucket(bucketMeta), string(keySettings), &out)
		return err
	})
	return out, err
}

func (s *BucketService) PutSettings(ctx context.Context, st mft.Settings) error {
	return s.db.update(ctx, func(tx *bolt.Tx) error { return put(tx.Bucket(bucketMeta), string(keySettings), st) })
}
