package server

import (
	"time"

	"depot/mft"
)

// The wire form of the entities whose stored form has no secrets. They
// are kept apart from the stored structs so that a change to storage is
// not a change to the API: a new stored field appears on the wire only
// when it is added here. Times stay as the stored instants.

type groupView struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Description string   `json:"description"`
	LDAPGroups  []string `json:"ldap_groups"`
	OIDCGroups  []string `json:"oidc_groups"`
	// RequireTwoFactor: members' password logins need a two-factor code.
	RequireTwoFactor bool      `json:"require_two_factor"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

func newGroupView(g *mft.Group) groupView {
	return groupView{ID: g.ID, Name: g.Name, Description: g.Description, LDAPGroups: append([]string{}, g.LDAPGroups...), OIDCGroups: append([]string{}, g.OIDCGroups...), RequireTwoFactor: g.RequireTwoFactor,
		CreatedAt: g.CreatedAt, UpdatedAt: g.UpdatedAt}
}

type permissionView struct {
	ID          string    `json:"id"`
	Subject     string    `json:"subject"`
	Path        string    `json:"path"`
	Permissions []string  `json:"permissions"`
	Mount       string    `json:"mount,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func newPermissionView(p *mft.Permission) permissionView {
	return permissionView{ID: p.ID, Subject: p.Subject, Path: p.Path, Permissions: p.Permissions, Mount: p.Mount,
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt}
}

type folderView struct {
	ID                string    `json:"id"`
	Path              string    `json:"path"`
	AllowedExtensions []string  `json:"allowed_extensions"`
	BlockedExtensions []string  `json:"blocked_extensions"`
	MaxFileSize       int64     `json:"max_file_size"`
	QuotaMB           int64     `json:"quota_mb"`
	RetentionDays     int       `json:"retention_days"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

func newFolderView(f *mft.Folder) folderView {
	return folderView{ID: f.ID, Path: f.Path, AllowedExtensions: f.AllowedExtensions, BlockedExtensions: f.BlockedExtensions,
		MaxFileSize: f.MaxFileSize, QuotaMB: f.QuotaMB, RetentionDays: f.RetentionDays, CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt}
}

type runView struct {
	ID         string     `json:"id"`
	Automation string     `json:"automation"`
	Trigger    string     `json:"trigger"`
	Status     string     `json:"status"`
	Attempt    int        `json:"attempt"`
	Files      []string   `json:"files"`
	Event      *mft.Event `json:"event,omitempty"`
	Steps      []mft.Step `json:"steps"`
	Error      string     `json:"error,omitempty"`
	Depth      int        `json:"depth,omitempty"`
	NotBefore  time.Time  `json:"not_before"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Node       string     `json:"node,omitempty"`
}

func newRunView(r *mft.Run) runView {
	return runView{ID: r.ID, Automation: r.Automation, Trigger: r.Trigger, Status: r.Status, Attempt: r.Attempt,
		Files: r.Files, Event: r.Event, Steps: r.Steps, Error: r.Error, Depth: r.Depth, NotBefore: r.NotBefore,
		CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Node: r.Node}
}

type settingsView struct {
	AllowBucketDeletion    bool `json:"allow_bucket_deletion"`
	RequireTwoFactorAdmins bool `json:"require_two_factor_for_admins"`
}

func newSettingsView(s mft.Settings) settingsView {
	return settingsView{AllowBucketDeletion: s.AllowBucketDeletion, RequireTwoFactorAdmins: s.RequireTwoFactorAdmins}
}

// viewsOf converts a page of entities to their wire form.
func viewsOf[T, V any](list []T, view func(T) V) []V {
	out := make([]V, len(list))
	for i, v := range list {
		out[i] = view(v)
	}
	return out
}
