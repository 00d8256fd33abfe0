package store

import (
	"context"
	"crypto/rand"
	"time"

	"depot/mft"
)

var bucketLinks = []byte("Links")

// LinkStore stores shared links.
type LinkStore struct {
	db *DB
}

var _ mft.LinkStore = (*LinkStore)(nil)

// NewLinkStore returns a LinkStore backed by db.
func NewLinkStore(db *DB) *LinkStore { return &LinkStore{db: db} }

// CreateLink stores l with a new unguessable id (130 random bits).
func (s *LinkStore) CreateLink(ctx context.Context, l *mft.Link) error {
	l.CreatedAt = s.db.now()
	l.ID = rand.Text()
	return s.db.update(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketLinks), l.ID, l) })
}

func (s *LinkStore) FindLink(ctx context.Context, id string) (*mft.Link, error) {
	return findOne[mft.Link](s.db, ctx, bucketLinks, id, "This link does not exist.")
}

func (s *LinkStore) FindLinks(ctx context.Context, by string, page mft.Page) ([]*mft.Link, bool, error) {
	var (
		out  []*mft.Link
		more bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, more, err = list(tx.Bucket(bucketLinks), page, func(l *mft.Link) bool { return by == "" || l.CreatedBy == by })
		return err
	})
	return out, more, err
}

func (s *LinkStore) DeleteLink(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketLinks)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "This link does not exist.")
		}
		return b.Delete([]byte(id))
	})
}

func (s *LinkStore) ClaimDownload(ctx context.Context, id string, now time.Time) (*mft.Link, error) {
	var out mft.Link
	err := s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketLinks)
		if ok, err := get(b, id, &out); err != nil {
			return err
		} else if !ok {
			return mft.Errorf(mft.ENOTFOUND, "This link does not exist.")
		}
		switch {
		case out.Expired(now):
			return mft.Errorf(mft.EEXPIRED, "This link has expired.")
		case out.MaxDownloads > 0 && out.Downloads >= out.MaxDownloads:
			return mft.Errorf(mft.EEXPIRED, "This link has reached its %d downloads.", out.MaxDownloads)
		}
		out.Downloads++
		return put(b, id, &out)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}
