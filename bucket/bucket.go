// Package bucket is the workflow of buckets, the isolated spaces of one
// customer each: creating, changing and deleting one with its users,
// dropzones, quota rule and files, and keeping its users inside it.
package bucket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"depot/dropzone"
	"depot/files"
	"depot/mft"
)

// Storage is where a bucket's files live.
type Storage interface {
	Detach(ctx context.Context, storagePath string) (*files.Detached, error)
}

// Service creates, changes and deletes buckets.
type Service struct {
	Store    mft.BucketStore
	Settings mft.SettingsStore
	Files    Storage
	// Events receives bucket.created, .updated and .deleted; nil drops them.
	Events mft.EventSink
	// Logger takes what no client is told (leftovers of a deletion).
	Logger *slog.Logger
	Now    func() time.Time
}

// Update is a change to a bucket; nil fields stay.
type Update struct {
	Name    *string
	Active  *bool
	QuotaMB *int64
}

// Find returns a bucket.
func (s *Service) Find(ctx context.Context, id string) (*mft.Bucket, error) {
	return s.Store.FindBucket(ctx, id)
}

// List returns a page of buckets, ordered by id, and whether more follow.
func (s *Service) List(ctx context.Context, p mft.Page) ([]*mft.Bucket, bool, error) {
	return s.Store.FindBuckets(ctx, p)
}

// Create stores a new bucket, with the rule that holds its quota.
func (s *Service) Create(ctx context.Context, b *mft.Bucket) error {
	if err := s.Store.CreateBucket(ctx, b); err != nil {
		return err
	}
	s.publish(ctx, mft.EventBucketCreated, b)
	return nil
}

// Update changes a bucket; deactivating it locks its users out at once,
// their open web sessions ended for good.
func (s *Service) Update(ctx context.Context, id string, upd Update) (*mft.Bucket, error) {
	if upd.Name == nil && upd.Active == nil && upd.QuotaMB == nil {
		return nil, mft.Errorf(mft.EINVALID, "send name, active or quota_mb to change")
	}
	b, err := s.Store.FindBucket(ctx, id)
	if err != nil {
		return nil, err
	}
	deactivate := upd.Active != nil && !*upd.Active
	set(&b.Name, upd.Name)
	set(&b.Active, upd.Active)
	set(&b.QuotaMB, upd.QuotaMB)
	if err := s.Store.UpdateBucket(ctx, b, deactivate); err != nil {
		return nil, err
	}
	s.publish(ctx, mft.EventBucketUpdated, b)
	return b, nil
}

// Delete removes a bucket with its users, their dropzones, its folder
// rules and its files, unless the allow_bucket_deletion setting forbids
// it. The files are taken out of reach first and the records removed in
// one transaction; if that fails, the files are put back and the bucket
// stays whole.
func (s *Service) Delete(ctx context.Context, id string) error {
	st, err := s.Settings.Settings(ctx)
	if err != nil {
		return err
	}
	if !st.AllowBucketDeletion {
		return mft.Errorf(mft.EFORBIDDEN, "Bucket deletion is turned off (allow_bucket_deletion in /admin/settings).")
	}
	b, err := s.Store.FindBucket(ctx, id)
	if err != nil {
		return err
	}
	root, err := s.Files.Detach(ctx, mft.BucketRoot(id))
	if err != nil {
		return err
	}
	dropzones, err := s.Store.DeleteBucket(ctx, id)
	if err != nil {
		if rerr := root.Restore(); rerr != nil {
			return errors.Join(err, fmt.Errorf("bucket: put the files of %s back: %w", id, rerr))
		}
		return err
	}
	// The bucket is gone; what cannot be removed now is a leftover the
	// next start removes (local) or an administrator does (mounted).
	s.discard(ctx, id, mft.BucketRoot(id), root)
	for _, dz := range dropzones {
		d, err := s.Files.Detach(ctx, dropzone.Root+dz)
		if err != nil {
			s.leftover(id, dropzone.Root+dz, err)
			continue
		}
		s.discard(ctx, id, dropzone.Root+dz, d)
	}
	s.publish(ctx, mft.EventBucketDeleted, b)
	return nil
}

func (s *Service) discard(ctx context.Context, bucket, storage string, d *files.Detached) {
	if err := d.Discard(context.WithoutCancel(ctx)); err != nil {
		s.leftover(bucket, storage, err)
	}
}

func (s *Service) leftover(bucket, storage string, err error) {
	if s.Logger != nil {
		s.Logger.Warn("bucket deleted; some of its files could not be removed", "bucket", bucket, "path", storage, "err", err)
	}
}

func (s *Service) publish(ctx context.Context, event string, b *mft.Bucket) {
	if s.Events == nil {
		return
	}
	ev := mft.ChangeEvent(ctx, event, b.ID, s.Now())
	ev.Bucket, ev.Message = b.ID, b.Name
	s.Events.Publish(ev)
}

// Confine refuses a role or home that would take a user of bucket out of
// it.
func Confine(bucket string, role, home *string) error {
	if role != nil && *role != mft.RoleUser {
		return mft.Errorf(mft.EINVALID, "role: a bucket's users cannot be administrators")
	}
	if home != nil && !mft.HasPathPrefix(*home, mft.BucketRoot(bucket)) {
		return mft.Errorf(mft.EINVALID, "home must be inside the bucket (%s)", mft.BucketRoot(bucket))
	}
	if home != nil && strings.Contains(*home, "..") {
		return mft.Errorf(mft.EINVALID, "home must not contain ..")
	}
	return nil
}

func set[T any](dst *T, src *T) {
	if src != nil {
		*dst = *src
	}
}
