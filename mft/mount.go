package mft

import (
	"context"
	"path"
	"strings"
	"time"
)

// Mount puts a storage path on a storage connection: every file and folder
// below Path lives on the connection, under Prefix (relative to the
// connection's own base path or prefix), instead of on the local disk.
// Users' homes, buckets and permission mounts that fall below Path are
// served by it without knowing. A mount at "/" (the storage root) puts
// every file on the connection, so that nodes sharing a database need no
// shared disk; mounts below it serve their own paths.
type Mount struct {
	ID         string    `json:"id"`
	Path       string    `json:"path"`
	Connection string    `json:"connection"`
	Prefix     string    `json:"prefix"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// IsRoot reports whether m is the storage root's mount.
func (m *Mount) IsRoot() bool { return m.Path == "/" }

// Overlaps reports whether m and o may not both exist: one lies inside the
// other, unless the outer one is the storage root's (whose mounts below
// it serve their own paths).
func (m *Mount) Overlaps(o *Mount) bool {
	if m.IsRoot() || o.IsRoot() {
		return m.Path == o.Path
	}
	return HasPathPrefix(m.Path, o.Path) || HasPathPrefix(o.Path, m.Path)
}

// Validate reports the first problem, naming the field, and cleans Path
// and Prefix.
func (m *Mount) Validate() error {
	p := path.Clean("/" + m.Path)
	switch {
	case m.Path == "" || !strings.HasPrefix(m.Path, "/"):
		return Errorf(EINVALID, "path is required: the storage path the connection serves, such as /users/usr_… or /shared/archive")
	case strings.ContainsAny(m.Path, "\x00\\") || strings.Contains(m.Path, ".."):
		return Errorf(EINVALID, "path may not contain \"..\", a backslash or NUL")
	case p == "/users" || p == "/buckets" || p == "/shared":
		return Errorf(EINVALID, "path must be the storage root (/) or below the top of the tree (a user's home, a bucket or a folder), not %s", p)
	case len(p) > 1024:
		return Errorf(EINVALID, "path is longer than 1024 bytes")
	case !strings.HasPrefix(m.Connection, "conn_"):
		return Errorf(EINVALID, "connection is required: the id (conn_…) of a storage connection")
	case strings.ContainsAny(m.Prefix, "\x00\\") || strings.Contains(m.Prefix, ".."):
		return Errorf(EINVALID, "prefix may not contain \"..\", a backslash or NUL")
	case len(m.Prefix) > 1024:
		return Errorf(EINVALID, "prefix is longer than 1024 bytes")
	}
	m.Path, m.Prefix = p, strings.Trim(path.Clean("/"+m.Prefix), "/")
	return nil
}

// MountStore stores mounts.
type MountStore interface {
	FindMount(ctx context.Context, id string) (*Mount, error)
	// FindMounts returns every mount (there are few: one per remote home,
	// bucket or shared folder).
	FindMounts(ctx context.Context) ([]*Mount, error)
	CreateMount(ctx context.Context, m *Mount) error
	DeleteMount(ctx context.Context, id string) error
}
