package oidcauth

import (
	"context"
	"slices"
	"strings"

	"depot/mft"
)

// Accounts finds the Depot account of a provider's identity: the one with
// its email (verified by the provider), or, when create_users allows, a
// new one from the template.
type Accounts struct {
	*Provider
	Users  mft.UserStore // one that publishes user.created and user.updated
	Groups mft.GroupStore
}

// Account returns the account of id.
func (a *Accounts) Account(ctx context.Context, id *Identity) (*mft.User, error) {
	if id.Email == "" || !id.EmailVerified {
		return nil, mft.Errorf(mft.EFORBIDDEN, "The sign-in provider did not vouch for an email address (email_verified); Depot finds accounts by it.")
	}
	u, err := a.Users.FindUserByEmail(ctx, strings.ToLower(id.Email))
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		u, err = a.Users.FindUserByEmail(ctx, id.Email)
	}
	mapped, managed, gerr := a.groupsOf(ctx, id.Groups)
	if gerr != nil {
		return nil, gerr
	}
	switch mft.ErrorCode(err) {
	case "":
		// Groups no provider group maps to stay as an administrator set them.
		groups := mft.KeepGroups(u.Groups, mapped, managed)
		old := slices.Sorted(slices.Values(u.Groups))
		if slices.Equal(groups, old) {
			return u, nil
		}
		return a.Users.UpdateUser(ctx, u.ID, mft.UserUpdate{Groups: &groups})
	case mft.ENOTFOUND:
	default:
		return nil, err
	}
	c := a.cfg
	if !c.CreateUsers {
		return nil, mft.Errorf(mft.EFORBIDDEN, "No Depot account has the email %s; ask an administrator to make one.", id.Email)
	}
	u = &mft.User{Email: id.Email, Name: id.Name, Role: c.Role, Groups: mapped, SSHKeys: []string{}, AllowedIPs: []string{},
		Protocols: slices.Clone(c.Protocols), QuotaMB: c.QuotaMB, Active: true}
	u.ID = mft.UserID(u.Email, "")
	u.Home = mft.HomeFor(u.ID)
	if err := a.Users.CreateUser(ctx, u); err != nil {
		if mft.ErrorCode(err) == mft.EINVALID || mft.ErrorCode(err) == mft.ECONFLICT {
			return nil, mft.Errorf(mft.EFORBIDDEN, "An account for %s cannot be made (%s); ask an administrator.", id.Email, mft.ErrorMessage(err))
		}
		return nil, err
	}
	return u, nil
}

// groupsOf returns the Depot groups whose oidc_groups name one of names
// (sorted), and every group that has oidc_groups.
func (a *Accounts) groupsOf(ctx context.Context, names []string) ([]string, map[string]bool, error) {
	return mft.MapGroups(ctx, a.Groups, func(g *mft.Group) bool { return len(g.OIDCGroups) > 0 },
		func(g *mft.Group) bool {
			return slices.ContainsFunc(g.OIDCGroups, func(n string) bool { return slices.Contains(names, n) })
		})
}
