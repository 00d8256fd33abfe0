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
	Users mft.UserStore // one that publishes user.created
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
	switch mft.ErrorCode(err) {
	case "":
		return u, nil
	case mft.ENOTFOUND:
	default:
		return nil, err
	}
	c := a.cfg
	if !c.CreateUsers {
		return nil, mft.Errorf(mft.EFORBIDDEN, "No Depot account has the email %s; ask an administrator to make one.", id.Email)
	}
	u = &mft.User{Email: id.Email, Name: id.Name, Role: c.Role, Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{},
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
