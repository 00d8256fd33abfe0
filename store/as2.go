package store

import (
	"context"
	"time"

	"depot/mft"
)

var (
	bucketAS2          = []byte("AS2")               // "station" → the station
	bucketAS2Partners  = []byte("AS2Partners")       // id → partner
	bucketAS2PartnerID = []byte("AS2Partners.AS2ID") // AS2 id → partner id
	bucketAS2Messages  = []byte("AS2Messages")       // id (time-ordered) → message
	// bucketAS2MessageID makes a message id unique per direction and
	// partner: "<direction>\x00<partner>\x00<Message-ID>" → message id.
	bucketAS2MessageID = []byte("AS2Messages.MessageID")
)

const keyAS2Station = "station"

// AS2Store keeps the AS2 station, partners and messages.
type AS2Store struct {
	db *DB
}

var _ mft.AS2Store = (*AS2Store)(nil)

// NewAS2Store returns an AS2Store backed by db.
func NewAS2Store(db *DB) *AS2Store { return &AS2Store{db: db} }

// FindAS2Station returns the station, ENOTFOUND before one is set.
func (s *AS2Store) FindAS2Station(ctx context.Context) (*mft.AS2Station, error) {
	return findOne[mft.AS2Station](s.db, ctx, bucketAS2, keyAS2Station, "No AS2 station is set up yet; PUT /admin/as2/station first.")
}

func (s *AS2Store) PutAS2Station(ctx context.Context, st *mft.AS2Station) error {
	st.UpdatedAt = s.db.now()
	return s.db.update(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketAS2), keyAS2Station, st) })
}

func (s *AS2Store) FindAS2Partner(ctx context.Context, id string) (*mft.AS2Partner, error) {
	return findOne[mft.AS2Partner](s.db, ctx, bucketAS2Partners, id, "AS2 partner not found.")
}

func (s *AS2Store) FindAS2PartnerByAS2ID(ctx context.Context, as2ID string) (*mft.AS2Partner, error) {
	var id string
	err := s.db.view(ctx, func(tx kvTx) error {
		id = string(tx.Bucket(bucketAS2PartnerID).Get([]byte(as2ID)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.FindAS2Partner(ctx, id)
}

func (s *AS2Store) FindAS2Partners(ctx context.Context, page mft.Page) ([]*mft.AS2Partner, bool, error) {
	return findPage[mft.AS2Partner](s.db, ctx, bucketAS2Partners, page)
}

func (s *AS2Store) CreateAS2Partner(ctx context.Context, p *mft.AS2Partner) error {
	p.CreatedAt = s.db.now()
	p.UpdatedAt = p.CreatedAt
	p.ID = newID("as2p_", p.CreatedAt)
	return s.PutAS2Partner(ctx, p)
}

// PutAS2Partner stores p; an AS2 id another partner has is ECONFLICT.
func (s *AS2Store) PutAS2Partner(ctx context.Context, p *mft.AS2Partner) error {
	if !p.CreatedAt.IsZero() && p.UpdatedAt.Before(p.CreatedAt) {
		p.UpdatedAt = p.CreatedAt
	}
	return s.db.update(ctx, func(tx kvTx) error {
		idx, b := tx.Bucket(bucketAS2PartnerID), tx.Bucket(bucketAS2Partners)
		if owner := idx.Get([]byte(p.AS2ID)); owner != nil && string(owner) != p.ID {
			return mft.Errorf(mft.ECONFLICT, "Partner %s already has the AS2 id %q.", owner, p.AS2ID)
		}
		var old mft.AS2Partner
		if ok, err := get(b, p.ID, &old); err != nil {
			return err
		} else if ok && old.AS2ID != p.AS2ID {
			if err := idx.Delete([]byte(old.AS2ID)); err != nil {
				return err
			}
		}
		if err := idx.Put([]byte(p.AS2ID), []byte(p.ID)); err != nil {
			return err
		}
		return put(b, p.ID, p)
	})
}

// DeleteAS2Partner removes the partner; its messages stay for the record.
func (s *AS2Store) DeleteAS2Partner(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketAS2Partners)
		var p mft.AS2Partner
		if ok, err := get(b, id, &p); err != nil {
			return err
		} else if !ok {
			return mft.Errorf(mft.ENOTFOUND, "AS2 partner not found.")
		}
		if err := tx.Bucket(bucketAS2PartnerID).Delete([]byte(p.AS2ID)); err != nil {
			return err
		}
		return b.Delete([]byte(id))
	})
}

func messageKey(direction, partner, messageID string) []byte {
	return []byte(direction + "\x00" + partner + "\x00" + messageID)
}

// RecordAS2Message stores a new message. One that did not fail claims
// its Message-ID for the partner and direction: a second is ECONFLICT.
func (s *AS2Store) RecordAS2Message(ctx context.Context, m *mft.AS2Message) error {
	m.CreatedAt = s.db.now()
	m.ID = newID("as2m_", m.CreatedAt)
	return s.db.update(ctx, func(tx kvTx) error {
		if m.Status != mft.AS2Failed {
			idx := tx.Bucket(bucketAS2MessageID)
			k := messageKey(m.Direction, m.Partner, m.MessageID)
			if idx.Get(k) != nil {
				return mft.Errorf(mft.ECONFLICT, "Message %s was received before.", m.MessageID)
			}
			if err := idx.Put(k, []byte(m.ID)); err != nil {
				return err
			}
		}
		return put(tx.Bucket(bucketAS2Messages), m.ID, m)
	})
}

// PutAS2Message updates a recorded message (its MDN, its state).
func (s *AS2Store) PutAS2Message(ctx context.Context, m *mft.AS2Message) error {
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketAS2Messages)
		if b.Get([]byte(m.ID)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "AS2 message not found.")
		}
		return put(b, m.ID, m)
	})
}

func (s *AS2Store) FindAS2Message(ctx context.Context, direction, partner, messageID string) (*mft.AS2Message, error) {
	var id string
	err := s.db.view(ctx, func(tx kvTx) error {
		id = string(tx.Bucket(bucketAS2MessageID).Get(messageKey(direction, partner, messageID)))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return findOne[mft.AS2Message](s.db, ctx, bucketAS2Messages, id, "AS2 message not found.")
}

// FindAS2Messages pages through the messages, oldest first.
func (s *AS2Store) FindAS2Messages(ctx context.Context, f mft.AS2Filter) ([]*mft.AS2Message, bool, error) {
	var (
		out  []*mft.AS2Message
		more bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, more, err = list(tx.Bucket(bucketAS2Messages), f.Page, func(m *mft.AS2Message) bool {
			return (f.Partner == "" || m.Partner == f.Partner) && (f.Direction == "" || m.Direction == f.Direction)
		})
		return err
	})
	return out, more, err
}

// DeleteAS2MessagesBefore removes the messages recorded before t, with
// the Message-IDs they claimed; ids are time-ordered, so it stops at the
// first newer one.
func (s *AS2Store) DeleteAS2MessagesBefore(ctx context.Context, t time.Time) (int, error) {
	n := 0
	cutoff := newID("as2m_", t)
	err := s.db.update(ctx, func(tx kvTx) error {
		b, idx := tx.Bucket(bucketAS2Messages), tx.Bucket(bucketAS2MessageID)
		var keys [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil && string(k) < cutoff; k, v = c.Next() {
			var m mft.AS2Message
			if err := decode(k, v, &m); err != nil {
				return err
			}
			if mk := messageKey(m.Direction, m.Partner, m.MessageID); string(idx.Get(mk)) == m.ID {
				if err := idx.Delete(mk); err != nil {
					return err
				}
			}
			keys = append(keys, append([]byte(nil), k...))
		}
		for _, k := range keys {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		n = len(keys)
		return nil
	})
	return n, err
}
