package mft

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Group collects users so that permissions can be granted to all of them.
type Group struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	// LDAPGroups are the company directory's groups (distinguished names)
	// whose people are made members at each directory login.
	LDAPGroups []string `json:"ldap_groups,omitempty"`
	// OIDCGroups are the single sign-on provider's group names (its
	// groups claim) whose people are made members at each sign-on.
	OIDCGroups []string `json:"oidc_groups,omitempty"`
	// RequireTwoFactor makes its members' password logins need a
	// two-factor code.
	RequireTwoFactor bool      `json:"require_two_factor,omitempty"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Validate reports the first problem with g as an EINVALID error.
func (g *Group) Validate() error {
	if g.Name == "" {
		return Errorf(EINVALID, "name is required")
	}
	if len(g.Name) > maxNameLen || !isPrintable(g.Name) {
		return Errorf(EINVALID, "name is too long or contains control characters")
	}
	if g.ID == "" || g.ID != Slug(g.ID) {
		return Errorf(EINVALID, "name %q must contain letters or digits", g.Name)
	}
	if len(g.Description) > 4096 || !isPrintable(g.Description) {
		return Errorf(EINVALID, "description is too long or contains control characters")
	}
	if len(g.LDAPGroups) > 100 {
		return Errorf(EINVALID, "ldap_groups holds at most 100 groups")
	}
	if len(g.OIDCGroups) > 100 {
		return Errorf(EINVALID, "oidc_groups holds at most 100 groups")
	}
	for _, n := range g.OIDCGroups {
		if n == "" || len(n) > 256 || !isPrintable(n) {
			return Errorf(EINVALID, "oidc_groups: %.80q is not a group name", n)
		}
	}
	for _, dn := range g.LDAPGroups {
		if dn == "" || len(dn) > 1024 || !isPrintable(dn) || !strings.Contains(dn, "=") {
			return Errorf(EINVALID, "ldap_groups: %.80q is not a distinguished name (such as cn=finance,ou=groups,dc=example,dc=com)", dn)
		}
	}
	return nil
}

// GroupUpdate holds the fields a partial update changes; nil means unchanged.
// The id stays the same when the name changes.
type GroupUpdate struct {
	Name             *string
	Description      *string
	LDAPGroups       *[]string
	OIDCGroups       *[]string
	RequireTwoFactor *bool
}

// GroupStore stores groups.
type GroupStore interface {
	// FindGroupByID returns ENOTFOUND if the group does not exist.
	FindGroupByID(ctx context.Context, id string) (*Group, error)
	// FindGroups returns one page of groups ordered by id and whether more follow.
	FindGroups(ctx context.Context, page Page) ([]*Group, bool, error)
	// CreateGroup stores g. Returns EINVALID if it is not valid or the id is taken.
	CreateGroup(ctx context.Context, g *Group) error
	// UpdateGroup returns ENOTFOUND or EINVALID.
	UpdateGroup(ctx context.Context, id string, upd GroupUpdate) (*Group, error)
	// DeleteGroup removes the group and takes it out of every member's
	// groups. Returns ENOTFOUND.
	DeleteGroup(ctx context.Context, id string) error
}

// MapGroups reads every group and returns the ids of those in says a
// person belongs to (sorted), and the ids of every group whose membership
// managed says a directory or provider decides.
func MapGroups(ctx context.Context, store GroupStore, managed, in func(*Group) bool) ([]string, map[string]bool, error) {
	out, ids := []string{}, map[string]bool{}
	p := Page{Limit: MaxLimit}
	for {
		groups, more, err := store.FindGroups(ctx, p)
		if err != nil {
			return nil, nil, err
		}
		for _, g := range groups {
			if managed(g) {
				ids[g.ID] = true
				if in(g) {
					out = append(out, g.ID)
				}
			}
		}
		if !more || len(groups) == 0 {
			break
		}
		p.After = groups[len(groups)-1].ID
	}
	slices.Sort(out)
	return out, ids, nil
}

// KeepGroups is mapped plus the groups of current that no directory or
// provider manages (an administrator's), sorted.
func KeepGroups(current, mapped []string, managed map[string]bool) []string {
	out := slices.Clone(mapped)
	for _, g := range current {
		if !managed[g] && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	slices.Sort(out)
	return out
}
