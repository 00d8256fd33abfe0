package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"depot/mft"
)

var (
	bucketFiledrops       = []byte("Filedrops")
	bucketSubmissions     = []byte("Submissions")
	bucketSubmissionsKey  = []byte("Submissions.KeyHash")
	bucketMessages        = []byte("Messages")
	errSubmissionNotFound = mft.Errorf(mft.ENOTFOUND, "This upload key is not valid for this filedrop; open the filedrop again for a new one.")
)

// FiledropStore stores filedrops by name, and their submissions and
// messages.
type FiledropStore struct {
	db *DB
}

var (
	_ mft.FiledropStore   = (*FiledropStore)(nil)
	_ mft.SubmissionStore = (*FiledropStore)(nil)
)

// NewFiledropStore returns a FiledropStore backed by db.
func NewFiledropStore(db *DB) *FiledropStore { return &FiledropStore{db: db} }

// FindFiledrop returns ENOTFOUND if there is no filedrop of that name.
func (s *FiledropStore) FindFiledrop(ctx context.Context, name string) (*mft.Filedrop, error) {
	var f *mft.Filedrop
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		f, err = findFiledrop(tx, name)
		return err
	})
	return f, err
}

// FindFiledrops returns one page of filedrops ordered by name.
func (s *FiledropStore) FindFiledrops(ctx context.Context, page mft.Page) ([]*mft.Filedrop, bool, error) {
	var (
		out  []*mft.Filedrop
		more bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, more, err = list[mft.Filedrop](tx.Bucket(bucketFiledrops), page, nil)
		return err
	})
	return out, more, err
}

// CreateFiledrop validates and stores f.
func (s *FiledropStore) CreateFiledrop(ctx context.Context, f *mft.Filedrop) error {
	if err := f.Validate(); err != nil {
		return err
	}
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketFiledrops)
		if b.Get([]byte(filedropKey(f.Name))) != nil {
			return mft.Errorf(mft.ECONFLICT, "A filedrop named %s already exists.", f.Name)
		}
		f.CreatedAt = s.db.now()
		f.UpdatedAt = f.CreatedAt
		return put(b, filedropKey(f.Name), f)
	})
}

// UpdateFiledrop changes the set attributes; the name stays.
func (s *FiledropStore) UpdateFiledrop(ctx context.Context, name string, u mft.FiledropUpdate) (*mft.Filedrop, error) {
	var out *mft.Filedrop
	err := s.db.update(ctx, func(tx kvTx) error {
		f, err := findFiledrop(tx, name)
		if err != nil {
			return err
		}
		f.Apply(u)
		if err := f.Validate(); err != nil {
			return err
		}
		f.UpdatedAt = s.db.now()
		out = f
		return put(tx.Bucket(bucketFiledrops), filedropKey(f.Name), f)
	})
	return out, err
}

// DeleteFiledrop removes a filedrop; messages already delivered stay.
func (s *FiledropStore) DeleteFiledrop(ctx context.Context, name string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		if _, err := findFiledrop(tx, name); err != nil {
			return err
		}
		return tx.Bucket(bucketFiledrops).Delete([]byte(filedropKey(name)))
	})
}

// filedropKey is a filedrop's key: its name in lower case, so that a name
// is found in any case and two cannot differ only in case. Names were
// lower case only before, so older keys are the same.
func filedropKey(name string) string { return strings.ToLower(name) }

func findFiledrop(tx kvTx, name string) (*mft.Filedrop, error) {
	var f mft.Filedrop
	if ok, err := get(tx.Bucket(bucketFiledrops), filedropKey(name), &f); err != nil {
		return nil, err
	} else if !ok || name == "" {
		return nil, mft.Errorf(mft.ENOTFOUND, "Filedrop not found.")
	}
	return &f, nil
}

// newID returns prefix and a random suffix that sorts by creation time.
func newID(prefix string, t time.Time) string {
	return fmt.Sprintf("%s%013x%s", prefix, t.UnixMilli(), strings.ToLower(rand.Text()[:10]))
}

// CreateSubmission stores s with a new id, indexed by its key hash.
func (s *FiledropStore) CreateSubmission(ctx context.Context, sub *mft.Submission) error {
	if sub.KeyHash == "" || sub.Filedrop == "" {
		return mft.Errorf(mft.EINVALID, "a submission needs a key and a filedrop")
	}
	sub.CreatedAt = s.db.now()
	sub.ID = newID("sub_", sub.CreatedAt)
	return s.db.update(ctx, func(tx kvTx) error {
		if err := tx.Bucket(bucketSubmissionsKey).Put([]byte(sub.KeyHash), []byte(sub.ID)); err != nil {
			return err
		}
		return put(tx.Bucket(bucketSubmissions), sub.ID, sub)
	})
}

// FindSubmissionByKey returns the submission of a key for a filedrop.
func (s *FiledropStore) FindSubmissionByKey(ctx context.Context, filedrop, keyHash string) (*mft.Submission, error) {
	var sub *mft.Submission
	err := s.db.view(ctx, func(tx kvTx) error {
		id := tx.Bucket(bucketSubmissionsKey).Get([]byte(keyHash))
		if id == nil || keyHash == "" {
			return errSubmissionNotFound
		}
		var err error
		sub, err = findSubmission(tx, string(id))
		return err
	})
	if err != nil {
		return nil, err
	}
	switch {
	case sub.Filedrop != filedrop:
		return nil, errSubmissionNotFound
	case sub.Delivered:
		return nil, mft.Errorf(mft.EEXPIRED, "These files were already delivered; open the filedrop again to send more.")
	case !s.db.Now().Before(sub.ExpiresAt):
		return nil, mft.Errorf(mft.EEXPIRED, "This upload key has expired; open the filedrop again for a new one.")
	}
	return sub, nil
}

// AddAttachment records a complete upload, keeping the id of an earlier
// upload of the same filename.
func (s *FiledropStore) AddAttachment(ctx context.Context, id string, a mft.Attachment) (mft.Attachment, error) {
	err := s.db.update(ctx, func(tx kvTx) error {
		sub, err := findSubmission(tx, id)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(sub.Attachments, func(x mft.Attachment) bool { return x.Filename == a.Filename })
		if i >= 0 {
			a.ID = sub.Attachments[i].ID
			sub.Attachments[i] = a
		} else {
			a.ID = "att_" + strings.ToLower(rand.Text()[:16])
			sub.Attachments = append(sub.Attachments, a)
		}
		return put(tx.Bucket(bucketSubmissions), sub.ID, sub)
	})
	return a, err
}

// UpdateSubmission changes a submission through fn; an error from fn
// leaves it as it was, unless fn returns mft.Keep(err): then the change is
// stored and err returned.
func (s *FiledropStore) UpdateSubmission(ctx context.Context, id string, fn func(*mft.Submission) error) (*mft.Submission, error) {
	var out *mft.Submission
	var kept error
	err := s.db.update(ctx, func(tx kvTx) error {
		sub, err := findSubmission(tx, id)
		if err != nil {
			return err
		}
		if err := fn(sub); err != nil {
			var k *mft.KeepError
			if !errors.As(err, &k) {
				return err
			}
			kept = k.Err
		}
		out = sub
		return put(tx.Bucket(bucketSubmissions), sub.ID, sub)
	})
	if err == nil && kept != nil {
		return out, kept
	}
	return out, err
}

// Deliver marks the submission delivered and stores the message.
func (s *FiledropStore) Deliver(ctx context.Context, submissionID string, m *mft.Message) error {
	m.CreatedAt = s.db.now()
	m.ID = newID("msg_", m.CreatedAt)
	return s.db.update(ctx, func(tx kvTx) error {
		sub, err := findSubmission(tx, submissionID)
		if err != nil {
			return err
		}
		if sub.Delivered {
			return mft.Errorf(mft.ECONFLICT, "These files were already delivered.")
		}
		sub.Delivered = true
		if err := put(tx.Bucket(bucketSubmissions), sub.ID, sub); err != nil {
			return err
		}
		return put(tx.Bucket(bucketMessages), m.ID, m)
	})
}

// FindStaleSubmissions returns the undelivered submissions that expired
// before t.
func (s *FiledropStore) FindStaleSubmissions(ctx context.Context, t time.Time) ([]*mft.Submission, error) {
	var out []*mft.Submission
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, err = findAll(tx.Bucket(bucketSubmissions), func(sub *mft.Submission) bool { return sub.ExpiresAt.Before(t) })
		return err
	})
	return out, err
}

// DeleteSubmission forgets a submission and its key.
func (s *FiledropStore) DeleteSubmission(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		sub, err := findSubmission(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketSubmissionsKey).Delete([]byte(sub.KeyHash)); err != nil {
			return err
		}
		return tx.Bucket(bucketSubmissions).Delete([]byte(id))
	})
}

func findSubmission(tx kvTx, id string) (*mft.Submission, error) {
	var sub mft.Submission
	if ok, err := get(tx.Bucket(bucketSubmissions), id, &sub); err != nil {
		return nil, err
	} else if !ok {
		return nil, errSubmissionNotFound
	}
	return &sub, nil
}

// FindMessage returns ENOTFOUND if there is no such message.
func (s *FiledropStore) FindMessage(ctx context.Context, id string) (*mft.Message, error) {
	var m mft.Message
	err := s.db.view(ctx, func(tx kvTx) error {
		if ok, err := get(tx.Bucket(bucketMessages), id, &m); err != nil {
			return err
		} else if !ok || id == "" {
			return mft.Errorf(mft.ENOTFOUND, "Message not found.")
		}
		return nil
	})
	return &m, err
}

// FindMessagesFor returns the messages a user receives, newest first; the
// page's After is the last id of the previous page.
func (s *FiledropStore) FindMessagesFor(ctx context.Context, userID string, page mft.Page) ([]*mft.Message, bool, error) {
	return findNewest(s.db, ctx, bucketMessages, page, func(m *mft.Message) bool { return slices.Contains(m.Recipients, userID) })
}

// FindExpiredMessages returns the messages whose files expired before t.
func (s *FiledropStore) FindExpiredMessages(ctx context.Context, t time.Time) ([]*mft.Message, error) {
	var out []*mft.Message
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, err = findAll(tx.Bucket(bucketMessages), func(m *mft.Message) bool { return m.ExpiresAt.Before(t) })
		return err
	})
	return out, err
}

// DeleteMessage forgets a message.
func (s *FiledropStore) DeleteMessage(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		return tx.Bucket(bucketMessages).Delete([]byte(id))
	})
}
