package store

import (
	"context"
	"slices"
	"time"

	"depot/mft"
)

var (
	bucketBans     = []byte("Bans")     // address → ban
	bucketFailures = []byte("Failures") // address → its recent failed sign-ins
)

// maxFailuresKept bounds the failure times kept per address.
const maxFailuresKept = 1000

// BanStore keeps the defender's bans; every change is announced to the
// other nodes, whose defenders read the bans again.
type BanStore struct {
	db *DB
}

var (
	_ mft.BanStore     = (*BanStore)(nil)
	_ mft.FailureStore = (*BanStore)(nil)
)

// NewBanStore returns a BanStore backed by db.
func NewBanStore(db *DB) *BanStore { return &BanStore{db: db} }

func (s *BanStore) PutBan(ctx context.Context, b mft.Ban) error {
	return s.db.update(ctx, func(tx kvTx) error {
		if err := put(tx.Bucket(bucketBans), b.IP, b); err != nil {
			return err
		}
		if err := tx.Bucket(bucketFailures).Delete([]byte(b.IP)); err != nil {
			return err
		}
		return tx.Notify(bansChannel)
	})
}

func (s *BanStore) DeleteBansBefore(ctx context.Context, t time.Time) (n int, err error) {
	err = s.db.update(ctx, func(tx kvTx) error {
		n, err = deleteWhere(tx.Bucket(bucketBans), func(b *mft.Ban) bool { return !t.Before(b.Until) })
		return err
	})
	return n, err
}

func (s *BanStore) DeleteBan(ctx context.Context, ip string) (bool, error) {
	found := false
	err := s.db.update(ctx, func(tx kvTx) error {
		if err := tx.Bucket(bucketFailures).Delete([]byte(ip)); err != nil {
			return err
		}
		b := tx.Bucket(bucketBans)
		found = b.Get([]byte(ip)) != nil
		if !found {
			return nil
		}
		if err := b.Delete([]byte(ip)); err != nil {
			return err
		}
		return tx.Notify(bansChannel)
	})
	return found, err
}

func (s *BanStore) Bans(ctx context.Context) ([]mft.Ban, error) {
	var out []mft.Ban
	err := s.db.view(ctx, func(tx kvTx) error {
		out = nil
		return tx.Bucket(bucketBans).ForEach(func(k, v []byte) error {
			var b mft.Ban
			if err := decode(k, v, &b); err != nil {
				return err
			}
			out = append(out, b)
			return nil
		})
	})
	return out, err
}

// failures are an address's recent failed sign-ins, oldest first.
type failures struct {
	Times []time.Time `json:"times"`
}

func (s *BanStore) AddFailure(ctx context.Context, ip string, t time.Time, window time.Duration) (n int, err error) {
	err = s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketFailures)
		var f failures
		if _, err := get(b, ip, &f); err != nil {
			return err
		}
		f.Times = slices.DeleteFunc(f.Times, func(x time.Time) bool { return t.Sub(x) > window })
		f.Times = append(f.Times, t)
		if len(f.Times) > maxFailuresKept {
			f.Times = f.Times[len(f.Times)-maxFailuresKept:]
		}
		n = len(f.Times)
		return put(b, ip, f)
	})
	return n, err
}

func (s *BanStore) DeleteFailuresBefore(ctx context.Context, t time.Time) (n int, err error) {
	err = s.db.update(ctx, func(tx kvTx) error {
		n, err = deleteWhere(tx.Bucket(bucketFailures), func(f *failures) bool {
			return len(f.Times) == 0 || f.Times[len(f.Times)-1].Before(t)
		})
		return err
	})
	return n, err
}
