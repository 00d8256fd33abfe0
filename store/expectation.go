package store

import (
	"context"

	"depot/mft"
)

var bucketExpectations = []byte("Expectations")

// ExpectationStore stores expected files and their windows' history.
type ExpectationStore struct {
	db *DB
}

var _ mft.ExpectationStore = (*ExpectationStore)(nil)

// NewExpectationStore returns an ExpectationStore backed by db.
func NewExpectationStore(db *DB) *ExpectationStore { return &ExpectationStore{db: db} }

func (s *ExpectationStore) FindExpectation(ctx context.Context, id string) (*mft.Expectation, error) {
	return findOne[mft.Expectation](s.db, ctx, bucketExpectations, id, "Expectation not found.")
}

func (s *ExpectationStore) FindExpectations(ctx context.Context, page mft.Page) ([]*mft.Expectation, bool, error) {
	return findPage[mft.Expectation](s.db, ctx, bucketExpectations, page)
}

func (s *ExpectationStore) CreateExpectation(ctx context.Context, e *mft.Expectation) error {
	e.CreatedAt = s.db.now()
	e.UpdatedAt = e.CreatedAt
	e.ID = newID("exp_", e.CreatedAt)
	return s.PutExpectation(ctx, e)
}

func (s *ExpectationStore) PutExpectation(ctx context.Context, e *mft.Expectation) error {
	return s.db.updateAutomations(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketExpectations), e.ID, e) })
}

func (s *ExpectationStore) UpdateExpectation(ctx context.Context, id string, fn func(*mft.Expectation) bool) error {
	return s.db.update(ctx, func(tx kvTx) error {
		x := new(mft.Expectation)
		if ok, err := get(tx.Bucket(bucketExpectations), id, x); err != nil {
			return err
		} else if !ok {
			return mft.Errorf(mft.ENOTFOUND, "Expectation not found.")
		}
		if !fn(x) {
			return nil
		}
		return put(tx.Bucket(bucketExpectations), id, x)
	})
}

func (s *ExpectationStore) DeleteExpectation(ctx context.Context, id string) error {
	return s.db.updateAutomations(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketExpectations)
		if b.Get([]byte(id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "Expectation not found.")
		}
		return b.Delete([]byte(id))
	})
}
