// Package directory is the administration of the records that have no
// workflow of their own (users, groups, permission rules, folder rules,
// the appliance settings): their stores, each change publishing its
// event with the origin the context carries. The checks of each record
// are its Validate in mft and its store's transaction.
package directory

import (
	"context"
	"log/slog"
	"time"

	"depot/auth"
	"depot/dropzone"
	"depot/mft"
)

// changes publishes change events.
type changes struct {
	events mft.EventSink
	now    func() time.Time
}

func (c changes) publish(ctx context.Context, err error, event, target string) error {
	if err == nil && c.events != nil {
		c.events.Publish(mft.ChangeEvent(ctx, event, target, c.now()))
	}
	return err
}

// Users is a UserStore whose changes are published, with the workflow
// of creating and deleting an account.
type Users struct {
	mft.UserStore
	changes
	// Files removes a deleted user's dropzones' files; nil leaves them.
	Files Storage
	// Logger takes what no client is told (files left behind).
	Logger *slog.Logger
}

// Storage is where a deleted user's dropzones kept their files.
type Storage interface {
	RemoveStorage(ctx context.Context, storagePath string) error
}

// Groups is a GroupStore whose changes are published.
type Groups struct {
	mft.GroupStore
	changes
}

// Permissions is a PermissionStore whose changes are published.
type Permissions struct {
	mft.PermissionStore
	changes
}

// Folders is a FolderStore whose changes are published.
type Folders struct {
	mft.FolderStore
	changes
}

// Settings is a SettingsStore whose changes are published.
type Settings struct {
	mft.SettingsStore
	changes
}

// Directory holds the five, publishing to events.
type Directory struct {
	Users       *Users
	Groups      *Groups
	Permissions *Permissions
	Folders     *Folders
	Settings    *Settings
}

// New returns the directory over the stores.
func New(users mft.UserStore, groups mft.GroupStore, perms mft.PermissionStore, folders mft.FolderStore, settings mft.SettingsStore, events mft.EventSink) *Directory {
	c := changes{events: events, now: time.Now}
	return &Directory{Users: &Users{UserStore: users, changes: c}, Groups: &Groups{groups, c}, Permissions: &Permissions{perms, c},
		Folders: &Folders{folders, c}, Settings: &Settings{settings, c}}
}

func (s *Users) CreateUser(ctx context.Context, u *mft.User) error {
	return s.publish(ctx, s.UserStore.CreateUser(ctx, u), mft.EventUserCreated, u.ID)
}

func (s *Users) UpdateUser(ctx context.Context, id string, upd mft.UserUpdate) (*mft.User, error) {
	u, err := s.UserStore.UpdateUser(ctx, id, upd)
	return u, s.publish(ctx, err, mft.EventUserUpdated, id)
}

func (s *Users) DeleteUser(ctx context.Context, id string) ([]string, error) {
	dropzones, err := s.UserStore.DeleteUser(ctx, id)
	return dropzones, s.publish(ctx, err, mft.EventUserDeleted, id)
}

// Create stores a new user with a new API key, which it returns (only
// its hash is kept).
func (s *Users) Create(ctx context.Context, u *mft.User) (string, error) {
	key := auth.NewKey()
	u.APIKeyHash = auth.HashKey(key)
	if err := s.CreateUser(ctx, u); err != nil {
		return "", err
	}
	return key, nil
}

// NewAPIKey gives user id a new API key, which it returns; the old one
// stops working at once.
func (s *Users) NewAPIKey(ctx context.Context, id string) (string, error) {
	key := auth.NewKey()
	return key, s.SetUserAPIKeyHash(ctx, id, auth.HashKey(key))
}

// Delete removes user id (by asks; nobody deletes their own account)
// with their keys, permissions and dropzones in one transaction, then
// the dropzones' files: no dropzone token outlives its owner.
func (s *Users) Delete(ctx context.Context, by, id string) error {
	if id == by {
		return mft.Errorf(mft.EINVALID, "You cannot delete your own account.")
	}
	dropzones, err := s.DeleteUser(ctx, id)
	if err != nil {
		return err
	}
	for _, dz := range dropzones {
		if s.Files == nil {
			break
		}
		if err := s.Files.RemoveStorage(context.WithoutCancel(ctx), dropzone.Root+dz); err != nil && s.Logger != nil {
			s.Logger.Warn("user deleted; a dropzone's files could not be removed", "user", id, "dropzone", dz, "err", err)
		}
	}
	return nil
}

func (s *Users) SetUserAPIKeyHash(ctx context.Context, id, hash string) error {
	return s.publish(ctx, s.UserStore.SetUserAPIKeyHash(ctx, id, hash), mft.EventUserAPIKeyRegenerated, id)
}

func (s *Groups) CreateGroup(ctx context.Context, g *mft.Group) error {
	return s.publish(ctx, s.GroupStore.CreateGroup(ctx, g), mft.EventGroupCreated, g.ID)
}

func (s *Groups) UpdateGroup(ctx context.Context, id string, upd mft.GroupUpdate) (*mft.Group, error) {
	g, err := s.GroupStore.UpdateGroup(ctx, id, upd)
	return g, s.publish(ctx, err, mft.EventGroupUpdated, id)
}

func (s *Groups) DeleteGroup(ctx context.Context, id string) error {
	return s.publish(ctx, s.GroupStore.DeleteGroup(ctx, id), mft.EventGroupDeleted, id)
}

func (s *Permissions) CreatePermission(ctx context.Context, p *mft.Permission) error {
	return s.publish(ctx, s.PermissionStore.CreatePermission(ctx, p), mft.EventPermissionCreated, p.ID)
}

func (s *Permissions) UpdatePermission(ctx context.Context, id string, upd mft.PermissionUpdate) (*mft.Permission, error) {
	p, err := s.PermissionStore.UpdatePermission(ctx, id, upd)
	return p, s.publish(ctx, err, mft.EventPermissionUpdated, id)
}

func (s *Permissions) DeletePermission(ctx context.Context, id string) error {
	return s.publish(ctx, s.PermissionStore.DeletePermission(ctx, id), mft.EventPermissionDeleted, id)
}

func (s *Folders) CreateFolder(ctx context.Context, f *mft.Folder) error {
	return s.publish(ctx, s.FolderStore.CreateFolder(ctx, f), mft.EventFolderRuleCreated, f.ID)
}

func (s *Folders) UpdateFolder(ctx context.Context, id string, upd mft.FolderUpdate) (*mft.Folder, error) {
	f, err := s.FolderStore.UpdateFolder(ctx, id, upd)
	return f, s.publish(ctx, err, mft.EventFolderRuleUpdated, id)
}

func (s *Folders) DeleteFolder(ctx context.Context, id string) error {
	return s.publish(ctx, s.FolderStore.DeleteFolder(ctx, id), mft.EventFolderRuleDeleted, id)
}

func (s *Settings) PutSettings(ctx context.Context, st mft.Settings) error {
	return s.publish(ctx, s.SettingsStore.PutSettings(ctx, st), mft.EventSettingsUpdated, "settings")
}

// TwoFactorRequired reports whether u's password logins must use
// two-factor codes: an administrator while require_two_factor_for_admins
// is on, or a member of a group with require_two_factor.
func (d *Directory) TwoFactorRequired(ctx context.Context, u *mft.User) (bool, error) {
	if u.Role == mft.RoleAdmin {
		st, err := d.Settings.Settings(ctx)
		if err != nil {
			return false, err
		}
		if st.RequireTwoFactorAdmins {
			return true, nil
		}
	}
	for _, id := range u.Groups {
		g, err := d.Groups.FindGroupByID(ctx, id)
		if mft.ErrorCode(err) == mft.ENOTFOUND {
			continue
		}
		if err != nil {
			return false, err
		}
		if g.RequireTwoFactor {
			return true, nil
		}
	}
	return false, nil
}
