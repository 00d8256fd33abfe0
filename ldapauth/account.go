package ldapauth

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"depot/mft"
)

// Accounts is a directory that also keeps Depot's accounts of its people
// (auth.Directory): made at the first login from the template in
// ldap.role, protocols and quota_mb, with source "ldap"; their email, name
// and directory groups follow the directory at every login.
type Accounts struct {
	*Directory
	Users  mft.UserStore // one that publishes user.created and user.updated
	Groups mft.GroupStore
}

// Account makes the account of e, or brings existing (an account the
// directory made) up to date with it.
func (d *Accounts) Account(ctx context.Context, e *Entry, existing *mft.User) (*mft.User, error) {
	mapped, managed, err := d.groupsOf(ctx, e.Groups)
	if err != nil {
		return nil, err
	}
	if existing == nil {
		c := d.cfg
		u := &mft.User{Email: e.Email, Username: e.Login, Name: e.Name, Role: c.Role, Groups: mapped, Home: "",
			SSHKeys: []string{}, AllowedIPs: []string{}, Protocols: slices.Clone(c.Protocols), QuotaMB: c.QuotaMB,
			Active: true, Source: mft.SourceLDAP}
		u.ID = mft.UserID(u.Email, u.Username)
		u.Home = mft.HomeFor(u.ID)
		taken := mft.Errorf(mft.EFORBIDDEN, "The directory's %s has the id, email or username of an account of Depot's own; an administrator must rename or remove one of them.", e.Login)
		if _, err := d.Users.FindUserByID(ctx, u.ID); err == nil {
			return nil, taken
		}
		if err := d.Users.CreateUser(ctx, u); err != nil {
			if mft.ErrorCode(err) == mft.ECONFLICT {
				return nil, taken
			}
			return nil, err
		}
		return u, nil
	}
	// Groups no directory group maps to stay as an administrator set them.
	groups := mft.KeepGroups(existing.Groups, mapped, managed)
	upd := mft.UserUpdate{}
	if e.Email != existing.Email {
		upd.Email = &e.Email
	}
	if e.Name != existing.Name {
		upd.Name = &e.Name
	}
	if !slices.Equal(groups, slices.Sorted(slices.Values(existing.Groups))) {
		upd.Groups = &groups
	}
	if upd == (mft.UserUpdate{}) {
		return existing, nil
	}
	return d.Users.UpdateUser(ctx, existing.ID, upd)
}

// groupsOf returns the Depot groups that the directory groups dns map to
// (sorted), and every group that has a mapping.
func (d *Accounts) groupsOf(ctx context.Context, dns []string) ([]string, map[string]bool, error) {
	member := map[string]bool{}
	for _, dn := range dns {
		member[normalDN(dn)] = true
	}
	return mft.MapGroups(ctx, d.Groups, func(g *mft.Group) bool { return len(g.LDAPGroups) > 0 },
		func(g *mft.Group) bool {
			return slices.ContainsFunc(g.LDAPGroups, func(dn string) bool { return member[normalDN(dn)] })
		})
}

// normalDN compares distinguished names without case and the spaces
// around their commas and equals signs.
func normalDN(dn string) string {
	parts := strings.Split(strings.ToLower(dn), ",")
	for i, p := range parts {
		k, v, _ := strings.Cut(p, "=")
		parts[i] = strings.TrimSpace(k) + "=" + strings.TrimSpace(v)
	}
	return strings.Join(parts, ",")
}

// Recheck disables the accounts the directory made whose people it no
// longer has (removed, or left out by the filter, as disabled people
// are): their API keys, SSH keys and web sessions stop with them. It
// returns their ids. A directory that cannot be asked changes nothing.
func (d *Accounts) Recheck(ctx context.Context) ([]string, error) {
	var gone []string
	conn, err := d.connect(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	f := mft.UserFilter{Page: mft.Page{Limit: mft.MaxLimit}}
	for {
		users, more, err := d.Users.FindUsers(ctx, f)
		if err != nil {
			return gone, err
		}
		for _, u := range users {
			if u.Source != mft.SourceLDAP || !u.Active {
				continue
			}
			_, err := d.find(conn, cmp.Or(u.Username, u.Email))
			switch mft.ErrorCode(err) {
			case "":
				continue
			case mft.EUNAUTHORIZED: // not found
			default:
				return gone, err
			}
			off := false
			if _, err := d.Users.UpdateUser(ctx, u.ID, mft.UserUpdate{Active: &off}); err != nil {
				return gone, err
			}
			gone = append(gone, u.ID)
		}
		if !more || len(users) == 0 {
			return gone, nil
		}
		f.After = users[len(users)-1].ID
	}
}
