package store

import (
	"context"
	"slices"
	"strings"

	"depot/mft"
)

// UserStore stores users in bbolt with indexes on email, username and API
// key hash.
type UserStore struct {
	db *DB
}

var _ mft.UserStore = (*UserStore)(nil)

// NewUserStore returns a UserStore backed by db.
func NewUserStore(db *DB) *UserStore { return &UserStore{db: db} }

// FindUserByID returns ENOTFOUND if the user does not exist.
func (s *UserStore) FindUserByID(ctx context.Context, id string) (*mft.User, error) {
	var u *mft.User
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		u, err = findUserByID(tx, id)
		return err
	})
	return u, err
}

// FindUserByEmail returns ENOTFOUND if no user has that email.
func (s *UserStore) FindUserByEmail(ctx context.Context, email string) (*mft.User, error) {
	return s.findByIndex(ctx, bucketUsersEmail, strings.ToLower(email))
}

// FindUserByUsername returns ENOTFOUND if no user has that username.
func (s *UserStore) FindUserByUsername(ctx context.Context, username string) (*mft.User, error) {
	return s.findByIndex(ctx, bucketUsersUsername, strings.ToLower(username))
}

// FindUserByAPIKeyHash returns ENOTFOUND if no user has that key.
func (s *UserStore) FindUserByAPIKeyHash(ctx context.Context, hash string) (*mft.User, error) {
	return s.findByIndex(ctx, bucketUsersAPIKey, hash)
}

func (s *UserStore) findByIndex(ctx context.Context, index []byte, key string) (*mft.User, error) {
	var u *mft.User
	err := s.db.view(ctx, func(tx kvTx) error {
		id := tx.Bucket(index).Get([]byte(key))
		if id == nil || key == "" {
			return mft.Errorf(mft.ENOTFOUND, "User not found.")
		}
		var err error
		u, err = findUserByID(tx, string(id))
		return err
	})
	return u, err
}

// FindUsers returns one page of users ordered by id and whether more follow.
func (s *UserStore) FindUsers(ctx context.Context, f mft.UserFilter) ([]*mft.User, bool, error) {
	var (
		users []*mft.User
		more  bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		users, more, err = list(tx.Bucket(bucketUsers), f.Page, func(u *mft.User) bool {
			return (f.Group == "" || slices.Contains(u.Groups, f.Group)) &&
				(f.Bucket == "" || u.Bucket == f.Bucket)
		})
		return err
	})
	return users, more, err
}

// CountUsers returns the number of users.
func (s *UserStore) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.view(ctx, func(tx kvTx) error {
		n = tx.Bucket(bucketUsers).KeyN()
		return nil
	})
	return n, err
}

// CreateUser validates and stores u, setting its timestamps.
func (s *UserStore) CreateUser(ctx context.Context, u *mft.User) error {
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		u.CreatedAt = s.db.now()
		u.UpdatedAt = u.CreatedAt
		if err := u.Validate(); err != nil {
			return err
		}
		if tx.Bucket(bucketUsers).Get([]byte(u.ID)) != nil {
			return mft.Errorf(mft.EINVALID, "a user with id %q already exists", u.ID)
		}
		return saveUser(tx, u, nil)
	})
}

// UpdateUser applies upd and returns the updated user.
func (s *UserStore) UpdateUser(ctx context.Context, id string, upd mft.UserUpdate) (*mft.User, error) {
	var out *mft.User
	err := s.db.updateAccess(ctx, func(tx kvTx) error {
		old, err := findUserByID(tx, id)
		if err != nil {
			return err
		}
		u := *old
		u.Apply(upd)
		u.UpdatedAt = s.db.now()
		if err := u.Validate(); err != nil {
			return err
		}
		out = &u
		return saveUser(tx, &u, old)
	})
	return out, err
}

// SetUserAPIKeyHash replaces the user's API key; the old key stops working
// when the transaction commits.
func (s *UserStore) SetUserAPIKeyHash(ctx context.Context, id, hash string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		old, err := findUserByID(tx, id)
		if err != nil {
			return err
		}
		u := *old
		u.APIKeyHash = hash
		u.UpdatedAt = s.db.now()
		return saveUser(tx, &u, old)
	})
}

// RecordLogin stores the time and address of a successful login.
func (s *UserStore) RecordLogin(ctx context.Context, id, ip string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		u, err := findUserByID(tx, id)
		if err != nil {
			return err
		}
		now := s.db.now()
		u.LastLoginAt, u.LastLoginIP = &now, ip
		return put(tx.Bucket(bucketUsers), u.ID, u)
	})
}

// DeleteUser removes the user, its index entries and its dropzones, in
// one transaction.
func (s *UserStore) DeleteUser(ctx context.Context, id string) ([]string, error) {
	var dropzones []string
	err := s.db.updateAccess(ctx, func(tx kvTx) error {
		dropzones = nil // fn may run twice
		u, err := findUserByID(tx, id)
		if err != nil {
			return err
		}
		dropzones, err = deleteUserAndDropzones(tx, u)
		return err
	})
	return dropzones, err
}

// deleteUserAndDropzones removes u and its dropzones and returns their
// ids.
func deleteUserAndDropzones(tx kvTx, u *mft.User) ([]string, error) {
	owned, err := findAll(tx.Bucket(bucketDropzones), func(d *mft.Dropzone) bool { return d.Owner == u.ID })
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(owned))
	for _, d := range owned {
		if err := deleteDropzone(tx, d); err != nil {
			return nil, err
		}
		ids = append(ids, d.ID)
	}
	return ids, deleteUser(tx, u)
}

// deleteUser removes u with its index entries, tokens and permissions.
func deleteUser(tx kvTx, u *mft.User) error {
	if err := unindexUser(tx, u); err != nil {
		return err
	}
	if err := deleteTokensOf(tx, u.ID); err != nil {
		return err
	}
	if err := deletePermissionsOf(tx, "user:"+u.ID); err != nil {
		return err
	}
	return tx.Bucket(bucketUsers).Delete([]byte(u.ID))
}

func findUserByID(tx kvTx, id string) (*mft.User, error) {
	var u mft.User
	if ok, err := get(tx.Bucket(bucketUsers), id, &u); err != nil {
		return nil, err
	} else if !ok || id == "" {
		return nil, mft.Errorf(mft.ENOTFOUND, "User not found.")
	}
	return &u, nil
}

// saveUser checks references and uniqueness, then writes u and its indexes,
// replacing old's index entries when old is not nil.
func saveUser(tx kvTx, u, old *mft.User) error {
	for _, g := range u.Groups {
		if tx.Bucket(bucketGroups).Get([]byte(g)) == nil {
			return mft.Errorf(mft.EINVALID, "groups: group %q does not exist", g)
		}
	}
	if err := claim(tx, bucketUsersEmail, strings.ToLower(u.Email), u.ID, "email"); err != nil {
		return err
	}
	if err := claim(tx, bucketUsersUsername, strings.ToLower(u.Username), u.ID, "username"); err != nil {
		return err
	}
	if err := claim(tx, bucketUsersAPIKey, u.APIKeyHash, u.ID, "api key"); err != nil {
		return err
	}
	if old != nil {
		drop := func(index []byte, oldKey, newKey string) error {
			if oldKey != "" && oldKey != newKey {
				return tx.Bucket(index).Delete([]byte(oldKey))
			}
			return nil
		}
		if err := drop(bucketUsersEmail, strings.ToLower(old.Email), strings.ToLower(u.Email)); err != nil {
			return err
		}
		if err := drop(bucketUsersUsername, strings.ToLower(old.Username), strings.ToLower(u.Username)); err != nil {
			return err
		}
		if err := drop(bucketUsersAPIKey, old.APIKeyHash, u.APIKeyHash); err != nil {
			return err
		}
	}
	return put(tx.Bucket(bucketUsers), u.ID, u)
}

// claim points index key at id, failing with EINVALID if another id has it.
func claim(tx kvTx, index []byte, key, id, field string) error {
	if key == "" {
		return nil
	}
	b := tx.Bucket(index)
	if cur := b.Get([]byte(key)); cur != nil && string(cur) != id {
		if field == "api key" {
			return mft.Errorf(mft.EINVALID, "api key is already in use by another user")
		}
		return mft.Errorf(mft.EINVALID, "%s %q is already in use by another user", field, key)
	}
	return b.Put([]byte(key), []byte(id))
}

func unindexUser(tx kvTx, u *mft.User) error {
	for _, e := range []struct {
		index []byte
		key   string
	}{
		{bucketUsersEmail, strings.ToLower(u.Email)},
		{bucketUsersUsername, strings.ToLower(u.Username)},
		{bucketUsersAPIKey, u.APIKeyHash},
	} {
		if e.key == "" {
			continue
		}
		if err := tx.Bucket(e.index).Delete([]byte(e.key)); err != nil {
			return err
		}
	}
	return nil
}

// SetTOTP replaces the user's second factor; nil removes it.
func (s *UserStore) SetTOTP(ctx context.Context, id string, t *mft.TOTP) error {
	return s.db.update(ctx, func(tx kvTx) error {
		u, err := findUserByID(tx, id)
		if err != nil {
			return err
		}
		u.TOTP = t
		u.UpdatedAt = s.db.now()
		return put(tx.Bucket(bucketUsers), u.ID, u)
	})
}

// UseTOTP accepts a code once, in one transaction: two logins with the
// same code at once cannot both pass.
func (s *UserStore) UseTOTP(ctx context.Context, id string, step int64, recoveryHash string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		u, err := findUserByID(tx, id)
		if err != nil {
			return err
		}
		t := u.TOTP
		if t == nil || t.Secret == "" {
			return mft.Errorf(mft.EUNAUTHORIZED, "This account has no two-factor codes.")
		}
		switch {
		case recoveryHash != "":
			i := slices.Index(t.Recovery, recoveryHash)
			if i < 0 {
				return mft.Errorf(mft.EUNAUTHORIZED, "This recovery code is not valid or was used before.")
			}
			t.Recovery = slices.Delete(t.Recovery, i, i+1)
		case step <= t.LastStep:
			return mft.Errorf(mft.EUNAUTHORIZED, "This code was used before; wait for the next one.")
		default:
			t.LastStep = step
		}
		return put(tx.Bucket(bucketUsers), u.ID, u)
	})
}
