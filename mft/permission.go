package mft

import (
	"context"
	"slices"
	"strings"
	"time"
)

// Permission names.
const (
	PermList      = "list"
	PermDownload  = "download"
	PermUpload    = "upload"
	PermOverwrite = "overwrite"
	PermDelete    = "delete"
	PermRename    = "rename"
	PermMkdir     = "mkdir"
	PermShare     = "share"
)

// AllPermissions is every permission; a user has them all in their home.
var AllPermissions = []string{PermList, PermDownload, PermUpload, PermOverwrite, PermDelete, PermRename, PermMkdir, PermShare}

// Permission grants a user or a group permissions on a storage path and
// below. With Mount set the folder appears at /<Mount> in the subject's
// tree; without it the rule only refines what the subject already reaches.
type Permission struct {
	ID          string    `json:"id"`
	Subject     string    `json:"subject"`
	Path        string    `json:"path"`
	Permissions []string  `json:"permissions"`
	Mount       string    `json:"mount,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Validate reports the first problem with p as an EINVALID error.
func (p *Permission) Validate() error {
	kind, id, ok := strings.Cut(p.Subject, ":")
	if !ok || (kind != "user" && kind != "group") || id == "" || Slug(id) != id {
		return Errorf(EINVALID, "subject must be user:<id> or group:<id>")
	}
	if err := ValidateStoragePath("path", p.Path); err != nil {
		return err
	}
	if len(p.Permissions) == 0 {
		return Errorf(EINVALID, "permissions must name at least one of %s", strings.Join(AllPermissions, ", "))
	}
	for _, name := range p.Permissions {
		if !slices.Contains(AllPermissions, name) {
			return Errorf(EINVALID, "permissions: %q is not one of %s", name, strings.Join(AllPermissions, ", "))
		}
	}
	if p.Mount != "" {
		if err := ValidateStoragePath("mount", "/"+p.Mount); err != nil || strings.Contains(p.Mount, "/") {
			return Errorf(EINVALID, "mount must be one folder name without slashes, such as %q", "shared")
		}
	}
	return nil
}

// Allows reports whether the rule grants perm.
func (p *Permission) Allows(perm string) bool { return slices.Contains(p.Permissions, perm) }

// PermissionUpdate holds the fields a partial update changes.
type PermissionUpdate struct {
	Permissions *[]string
	Mount       *string
}

// PermissionStore stores permission rules.
type PermissionStore interface {
	// FindPermissionByID returns ENOTFOUND if the rule does not exist.
	FindPermissionByID(ctx context.Context, id string) (*Permission, error)
	// FindPermissions returns one page of rules ordered by id.
	FindPermissions(ctx context.Context, page Page) ([]*Permission, bool, error)
	// FindPermissionsForSubjects returns every rule for any of the subjects.
	FindPermissionsForSubjects(ctx context.Context, subjects []string) ([]*Permission, error)
	// CreatePermission returns EINVALID if p is invalid or its subject
	// already has a rule on the path or the mount name.
	CreatePermission(ctx context.Context, p *Permission) error
	// UpdatePermission returns ENOTFOUND or EINVALID.
	UpdatePermission(ctx context.Context, id string, upd PermissionUpdate) (*Permission, error)
	// DeletePermission returns ENOTFOUND.
	DeletePermission(ctx context.Context, id string) error
}
