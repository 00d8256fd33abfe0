package store

import (
	"context"
	"slices"

	"depot/mft"
)

// GroupStore stores groups.
type GroupStore struct {
	db *DB
}

var _ mft.GroupStore = (*GroupStore)(nil)

// NewGroupStore returns a GroupStore backed by db.
func NewGroupStore(db *DB) *GroupStore { return &GroupStore{db: db} }

// FindGroupByID returns ENOTFOUND if the group does not exist.
func (s *GroupStore) FindGroupByID(ctx context.Context, id string) (*mft.Group, error) {
	var g *mft.Group
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		g, err = findGroupByID(tx, id)
		return err
	})
	return g, err
}

// FindGroups returns one page of groups ordered by id.
func (s *GroupStore) FindGroups(ctx context.Context, page mft.Page) ([]*mft.Group, bool, error) {
	var (
		groups []*mft.Group
		more   bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		groups, more, err = list[mft.Group](tx.Bucket(bucketGroups), page, nil)
		return err
	})
	return groups, more, err
}

// CreateGroup validates and stores g.
func (s *GroupStore) CreateGroup(ctx context.Context, g *mft.Group) error {
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		g.CreatedAt = s.db.now()
		g.UpdatedAt = g.CreatedAt
		if err := g.Validate(); err != nil {
			return err
		}
		if tx.Bucket(bucketGroups).Get([]byte(g.ID)) != nil {
			return mft.Errorf(mft.EINVALID, "a group with id %q already exists", g.ID)
		}
		return put(tx.Bucket(bucketGroups), g.ID, g)
	})
}

// UpdateGroup changes name and description; the id stays.
func (s *GroupStore) UpdateGroup(ctx context.Context, id string, upd mft.GroupUpdate) (*mft.Group, error) {
	var out *mft.Group
	err := s.db.updateAccess(ctx, func(tx kvTx) error {
		g, err := findGroupByID(tx, id)
		if err != nil {
			return err
		}
		if upd.Name != nil {
			g.Name = *upd.Name
		}
		if upd.Description != nil {
			g.Description = *upd.Description
		}
		if upd.LDAPGroups != nil {
			g.LDAPGroups = *upd.LDAPGroups
		}
		if upd.OIDCGroups != nil {
			g.OIDCGroups = *upd.OIDCGroups
		}
		if upd.RequireTwoFactor != nil {
			g.RequireTwoFactor = *upd.RequireTwoFactor
		}
		g.UpdatedAt = s.db.now()
		if err := g.Validate(); err != nil {
			return err
		}
		out = g
		return put(tx.Bucket(bucketGroups), g.ID, g)
	})
	return out, err
}

// DeleteGroup removes the group and takes it out of every member's groups
// in the same transaction.
func (s *GroupStore) DeleteGroup(ctx context.Context, id string) error {
	return s.db.updateAccess(ctx, func(tx kvTx) error {
		if _, err := findGroupByID(tx, id); err != nil {
			return err
		}
		users := tx.Bucket(bucketUsers)
		var members []*mft.User
		err := users.ForEach(func(k, v []byte) error {
			var u mft.User
			if err := decode(k, v, &u); err != nil {
				return err
			}
			if slices.Contains(u.Groups, id) {
				members = append(members, &u)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, u := range members {
			u.Groups = slices.DeleteFunc(u.Groups, func(g string) bool { return g == id })
			if err := put(users, u.ID, u); err != nil {
				return err
			}
		}
		if err := deletePermissionsOf(tx, "group:"+id); err != nil {
			return err
		}
		return tx.Bucket(bucketGroups).Delete([]byte(id))
	})
}

func findGroupByID(tx kvTx, id string) (*mft.Group, error) {
	var g mft.Group
	if ok, err := get(tx.Bucket(bucketGroups), id, &g); err != nil {
		return nil, err
	} else if !ok || id == "" {
		return nil, mft.Errorf(mft.ENOTFOUND, "Group not found.")
	}
	return &g, nil
}
