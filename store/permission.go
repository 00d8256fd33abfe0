package store

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"

	"depot/mft"
)

var bucketPermissions = []byte("Permissions")

// PermissionStore stores permission rules.
type PermissionStore struct {
	db *DB
}

var _ mft.PermissionStore = (*PermissionStore)(nil)

// NewPermissionStore returns a PermissionStore backed by db.
func NewPermissionStore(db *DB) *PermissionStore { return &PermissionStore{db: db} }

// FindPermissionByID returns ENOTFOUND if the rule does not exist.
func (s *PermissionStore) FindPermissionByID(ctx context.Context, id string) (*mft.Permission, error) {
	var p *mft.Permission
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		p, err = findPermissionByID(tx, id)
		return err
	})
	return p, err
}

// FindPermissions returns one page of rules ordered by id.
func (s *PermissionStore) FindPermissions(ctx context.Context, page mft.Page) ([]*mft.Permission, bool, error) {
	var (
		out  []*mft.Permission
		more bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, more, err = list[mft.Permission](tx.Bucket(bucketPermissions), page, nil)
		return err
	})
	return out, more, err
}

// FindPermissionsForSubjects returns every rule for any of the subjects.
func (s *PermissionStore) FindPermissionsForSubjects(ctx context.Context, subjects []string) ([]*mft.Permission, error) {
	var out []*mft.Permission
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, err = findAll(tx.Bucket(bucketPermissions), func(p *mft.Permission) bool {
			return slices.Contains(subjects, p.Subject)
		})
		return err
	})
	return out, err
}

// CreatePermission validates and stores p with a new id.
func (s *PermissionStore) CreatePermission(ctx context.Context, p *mft.Permission) error {
	p.ID = "perm_" + strings.ToLower(rand.Text()[:16])
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		p.CreatedAt = s.db.now()
		p.UpdatedAt = p.CreatedAt
		return savePermission(tx, p)
	})
}

// UpdatePermission changes the permissions and mount of a rule.
func (s *PermissionStore) UpdatePermission(ctx context.Context, id string, upd mft.PermissionUpdate) (*mft.Permission, error) {
	var out *mft.Permission
	err := s.db.updateAccess(ctx, func(tx kvTx) error {
		p, err := findPermissionByID(tx, id)
		if err != nil {
			return err
		}
		if upd.Permissions != nil {
			p.Permissions = slices.Clone(*upd.Permissions)
		}
		if upd.Mount != nil {
			p.Mount = *upd.Mount
		}
		p.UpdatedAt = s.db.now()
		out = p
		return savePermission(tx, p)
	})
	return out, err
}

// DeletePermission removes a rule.
func (s *PermissionStore) DeletePermission(ctx context.Context, id string) error {
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		if _, err := findPermissionByID(tx, id); err != nil {
			return err
		}
		return tx.Bucket(bucketPermissions).Delete([]byte(id))
	})
}

// savePermission checks that the subject exists and has no other rule on
// the same path or mount name, then writes p.
func savePermission(tx kvTx, p *mft.Permission) error {
	if err := p.Validate(); err != nil {
		return err
	}
	kind, id, _ := strings.Cut(p.Subject, ":")
	bucket := bucketUsers
	if kind == "group" {
		bucket = bucketGroups
	}
	if tx.Bucket(bucket).Get([]byte(id)) == nil {
		return mft.Errorf(mft.EINVALID, "subject: %s %q does not exist", kind, id)
	}
	b := tx.Bucket(bucketPermissions)
	err := b.ForEach(func(k, v []byte) error {
		var other mft.Permission
		if err := decode(k, v, &other); err != nil {
			return err
		}
		if other.ID == p.ID || other.Subject != p.Subject {
			return nil
		}
		if other.Path == p.Path {
			return mft.Errorf(mft.EINVALID, "%s already has a rule on %s (%s); update that one", p.Subject, p.Path, other.ID)
		}
		if p.Mount != "" && strings.EqualFold(other.Mount, p.Mount) {
			return mft.Errorf(mft.EINVALID, "%s already has a mount named %q", p.Subject, p.Mount)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return put(b, p.ID, p)
}

func findPermissionByID(tx kvTx, id string) (*mft.Permission, error) {
	var p mft.Permission
	if ok, err := get(tx.Bucket(bucketPermissions), id, &p); err != nil {
		return nil, err
	} else if !ok || id == "" {
		return nil, mft.Errorf(mft.ENOTFOUND, "Permission not found.")
	}
	return &p, nil
}

// deletePermissionsOf removes every rule of a subject that is being deleted.
func deletePermissionsOf(tx kvTx, subject string) error {
	_, err := deleteWhere(tx.Bucket(bucketPermissions), func(p *mft.Permission) bool { return p.Subject == subject })
	return err
}
