package auth

import (
	"context"
	"net/netip"
	"slices"

	"golang.org/x/crypto/ssh"

	"depot/mft"
)

// The changes users make to their own account. Each publishes
// user.updated with the origin the context carries and the fields it set
// (a password as mft.SecretMarker).

// ChangePassword sets u's password to pw after checking the current one,
// old. A wrong old password counts toward a ban of ip as a failed login
// does (EFORBIDDEN). The new password ends u's web sessions.
func (a *Authenticator) ChangePassword(ctx context.Context, u *mft.User, ip netip.Addr, old, pw string) error {
	if u.Source == mft.SourceLDAP {
		return mft.Errorf(mft.EINVALID, "Your password is the company directory's; change it there.")
	}
	done, err := a.Guard(ctx, ip)
	if err != nil {
		return err
	}
	ok := u.PasswordHash != "" && VerifyPassword(u.PasswordHash, old)
	done(!ok, u.ID, mft.OriginOf(ctx).Protocol, "wrong current password on the password form")
	if !ok {
		return mft.Errorf(mft.EFORBIDDEN, "The current password is not right.")
	}
	hash, err := HashNewPassword(pw)
	if err != nil {
		return err
	}
	return a.updateSelf(ctx, u, mft.UserUpdate{PasswordHash: &hash}, map[string]any{"password": mft.SecretMarker})
}

// AddSSHKey adds a public key (an authorized_keys line) to u's keys for
// SFTP, at most mft.MaxSSHKeys and each once.
func (a *Authenticator) AddSSHKey(ctx context.Context, u *mft.User, line string) error {
	if len(u.SSHKeys) >= mft.MaxSSHKeys {
		return mft.Errorf(mft.EINVALID, "You have %d keys, the most an account may have.", mft.MaxSSHKeys)
	}
	key, fp, err := NormalizeSSHKey(line)
	if err != nil {
		return mft.Errorf(mft.EINVALID, "That key cannot be used: %s.", mft.ErrorMessage(err))
	}
	if slices.ContainsFunc(u.SSHKeys, func(l string) bool { _, f, err := NormalizeSSHKey(l); return err == nil && f == fp }) {
		return mft.Errorf(mft.EINVALID, "You have this key already.")
	}
	keys := append(slices.Clone(u.SSHKeys), key)
	return a.updateSelf(ctx, u, mft.UserUpdate{SSHKeys: &keys}, map[string]any{"ssh_keys": keys})
}

// RemoveSSHKey removes u's public key with the SHA256 fingerprint fp.
func (a *Authenticator) RemoveSSHKey(ctx context.Context, u *mft.User, fp string) error {
	keys := slices.DeleteFunc(slices.Clone(u.SSHKeys), func(line string) bool {
		key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
		return err == nil && ssh.FingerprintSHA256(key) == fp
	})
	if len(keys) == len(u.SSHKeys) {
		return mft.Errorf(mft.ENOTFOUND, "You have no key %s.", fp)
	}
	return a.updateSelf(ctx, u, mft.UserUpdate{SSHKeys: &keys}, map[string]any{"ssh_keys": keys})
}

func (a *Authenticator) updateSelf(ctx context.Context, u *mft.User, upd mft.UserUpdate, fields map[string]any) error {
	if _, err := a.Users.UpdateUser(ctx, u.ID, upd); err != nil {
		return err
	}
	if a.Events != nil {
		ev := mft.ChangeEvent(ctx, mft.EventUserUpdated, u.ID, a.Now())
		ev.Changes = fields
		a.Events.Publish(ev)
	}
	return nil
}
