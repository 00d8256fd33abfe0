package dropzone

import (
	"context"

	"depot/mft"
)

// checkOwner returns EFORBIDDEN when d's owner can no longer take files
// through it: deleted, deactivated, expired, or their bucket deactivated.
// A token is the owner's delegate; it holds no more than they do.
func (s *Service) checkOwner(ctx context.Context, d *mft.Dropzone) (*mft.User, error) {
	if s.Users == nil {
		return nil, nil
	}
	u, err := s.Users.FindUserByID(ctx, d.Owner)
	switch {
	case mft.ErrorCode(err) == mft.ENOTFOUND:
		return nil, mft.Errorf(mft.EFORBIDDEN, "This dropzone's owner no longer has an account.")
	case err != nil:
		return nil, err
	case !u.Active || u.Expired(s.now()):
		return nil, mft.Errorf(mft.EFORBIDDEN, "This dropzone's owner can no longer receive files (their account is disabled or expired).")
	}
	if u.Bucket != "" && s.Buckets != nil {
		if b, err := s.Buckets.FindBucket(ctx, u.Bucket); err != nil || !b.Active {
			return nil, mft.Errorf(mft.EFORBIDDEN, "This dropzone's bucket is deactivated.")
		}
	}
	return u, nil
}

// checkBucketQuota returns EQUOTA when size more bytes reserved in a
// dropzone of bucket user u would take the bucket past its quota_mb,
// which its files and all its users' dropzones share.
func (s *Service) checkBucketQuota(ctx context.Context, u *mft.User, size int64) error {
	if u == nil || u.Bucket == "" || s.Buckets == nil || s.Usage == nil {
		return nil
	}
	b, err := s.Buckets.FindBucket(ctx, u.Bucket)
	if err != nil || b.QuotaMB == 0 {
		return err
	}
	used, err := s.Usage.Usage(ctx, mft.BucketRoot(b.ID))
	if err != nil {
		return err
	}
	err = s.eachOfBucket(ctx, b.ID, func(d *mft.Dropzone) error {
		n, err := s.Store.UsedBytes(ctx, d.ID)
		used += n
		return err
	})
	if err != nil {
		return err
	}
	if limit := b.QuotaMB << 20; used+size > limit {
		return mft.Errorf(mft.EQUOTA, "The bucket's quota of %d MB is used up by its files and dropzones (%d bytes left).", b.QuotaMB, max(limit-used, 0))
	}
	return nil
}

// eachOfBucket calls fn with every dropzone of every user of bucket.
func (s *Service) eachOfBucket(ctx context.Context, bucket string, fn func(*mft.Dropzone) error) error {
	users, err := s.bucketUsers(ctx, bucket)
	if err != nil {
		return err
	}
	for _, u := range users {
		if err := s.eachOwnedBy(ctx, u.ID, fn); err != nil {
			return err
		}
	}
	return nil
}

// bucketUsers returns every user of bucket.
func (s *Service) bucketUsers(ctx context.Context, bucket string) ([]*mft.User, error) {
	return mft.All(func(p mft.Page) ([]*mft.User, bool, error) {
		return s.Users.FindUsers(ctx, mft.UserFilter{Bucket: bucket, Page: p})
	}, func(u *mft.User) string { return u.ID })
}

// eachOwnedBy calls fn with every dropzone owner owns.
func (s *Service) eachOwnedBy(ctx context.Context, owner string, fn func(*mft.Dropzone) error) error {
	all, err := mft.All(func(p mft.Page) ([]*mft.Dropzone, bool, error) {
		return s.Store.FindDropzones(ctx, owner, p)
	}, func(d *mft.Dropzone) string { return d.ID })
	if err != nil {
		return err
	}
	for _, d := range all {
		if err := fn(d); err != nil {
			return err
		}
	}
	return nil
}
