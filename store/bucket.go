package store

import (
	"context"
	"crypto/rand"
	"strings"
	"time"

	"depot/mft"
)

var (
	bucketBuckets = []byte("Buckets")
	keySettings   = []byte("settings")
)

// BucketStore stores buckets and the appliance settings.
type BucketStore struct {
	db *DB
}

var (
	_ mft.BucketStore   = (*BucketStore)(nil)
	_ mft.SettingsStore = (*BucketStore)(nil)
)

// NewBucketStore returns a BucketStore backed by db.
func NewBucketStore(db *DB) *BucketStore { return &BucketStore{db: db} }

func (s *BucketStore) FindBucket(ctx context.Context, id string) (*mft.Bucket, error) {
	return findOne[mft.Bucket](s.db, ctx, bucketBuckets, id, "Bucket not found.")
}

func (s *BucketStore) FindBuckets(ctx context.Context, page mft.Page) ([]*mft.Bucket, bool, error) {
	return findPage[mft.Bucket](s.db, ctx, bucketBuckets, page)
}

// CreateBucket validates b and stores it with a new id and, when it has a
// quota, the folder rule at its root that holds it, in one transaction.
func (s *BucketStore) CreateBucket(ctx context.Context, b *mft.Bucket) error {
	if err := b.Validate(); err != nil {
		return err
	}
	b.CreatedAt = s.db.now()
	b.UpdatedAt = b.CreatedAt
	b.ID = "buc_" + strings.ToLower(rand.Text()[:16])
	rule := "fld_" + strings.ToLower(rand.Text()[:16])
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		if err := syncQuotaRule(tx, b, rule, b.CreatedAt); err != nil {
			return err
		}
		return put(tx.Bucket(bucketBuckets), b.ID, b)
	})
}

// UpdateBucket validates and stores b as it is, with its root's quota
// rule and, with endSessions, every user's sessions ended, in one
// transaction.
func (s *BucketStore) UpdateBucket(ctx context.Context, b *mft.Bucket, endSessions bool) error {
	if err := b.Validate(); err != nil {
		return err
	}
	b.UpdatedAt = s.db.now()
	rule := "fld_" + strings.ToLower(rand.Text()[:16])
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		if tx.Bucket(bucketBuckets).Get([]byte(b.ID)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Bucket not found.")
		}
		if err := syncQuotaRule(tx, b, rule, b.UpdatedAt); err != nil {
			return err
		}
		if endSessions {
			users, err := usersOfBucket(tx, b.ID)
			if err != nil {
				return err
			}
			for _, old := range users {
				u := *old
				u.Apply(mft.UserUpdate{EndSessions: true})
				u.UpdatedAt = b.UpdatedAt
				if err := saveUser(tx, &u, old); err != nil {
					return err
				}
			}
		}
		return put(tx.Bucket(bucketBuckets), b.ID, b)
	})
}

// syncQuotaRule keeps the folder rule at b's root holding b's quota, so
// that all its users count together: created (with id rule) when there is
// a quota and no rule yet, updated when there is one.
func syncQuotaRule(tx kvTx, b *mft.Bucket, rule string, now time.Time) error {
	f, err := folderAt(tx, mft.BucketRoot(b.ID))
	switch {
	case err != nil:
		return err
	case f == nil && b.QuotaMB > 0:
		return createFolder(tx, &mft.Folder{ID: rule, Path: mft.BucketRoot(b.ID), QuotaMB: b.QuotaMB}, now)
	case f != nil && f.QuotaMB != b.QuotaMB:
		f.QuotaMB, f.UpdatedAt = b.QuotaMB, now
		return put(tx.Bucket(bucketFolders), f.ID, f)
	}
	return nil
}

// DeleteBucket removes a bucket with everything of it the database holds,
// in one transaction: a failure leaves it whole.
func (s *BucketStore) DeleteBucket(ctx context.Context, id string) ([]string, error) {
	var dropzones []string
	err := s.db.updateAccess(ctx, func(tx kvTx) error {
		dropzones = nil // fn may run twice
		b := tx.Bucket(bucketBuckets)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Bucket not found.")
		}
		users, err := usersOfBucket(tx, id)
		if err != nil {
			return err
		}
		for _, u := range users {
			owned, err := deleteUserAndDropzones(tx, u)
			if err != nil {
				return err
			}
			dropzones = append(dropzones, owned...)
		}
		rules, err := foldersBelow(tx, mft.BucketRoot(id))
		if err != nil {
			return err
		}
		for _, f := range rules {
			if err := deleteFolder(tx, f); err != nil {
				return err
			}
		}
		return b.Delete([]byte(id))
	})
	return dropzones, err
}

// usersOfBucket returns every user of the bucket id.
func usersOfBucket(tx kvTx, id string) ([]*mft.User, error) {
	return findAll(tx.Bucket(bucketUsers), func(u *mft.User) bool { return u.Bucket == id })
}

// Settings returns the stored settings, or the defaults.
func (s *BucketStore) Settings(ctx context.Context) (mft.Settings, error) {
	out := mft.Settings{AllowBucketDeletion: true}
	err := s.db.view(ctx, func(tx kvTx) error {
		_, err := get(tx.Bucket(bucketMeta), string(keySettings), &out)
		return err
	})
	return out, err
}

func (s *BucketStore) PutSettings(ctx context.Context, st mft.Settings) error {
	return s.db.update(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketMeta), string(keySettings), st) })
}
