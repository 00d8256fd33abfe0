package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strings"

	"depot/mft"
)

// view is what one actor can reach: their home at "/", mounts at
// "/<mount>", and the rules that decide permissions on storage paths.
type view struct {
	admin  bool
	home   string
	rules  []*mft.Permission          // includes the implicit home rule
	mounts map[string]*mft.Permission // mount name → rule
	// sess holds the trees opened for the view's targets (nil: none).
	sess *Session
}

// target is a resolved client path.
type target struct {
	client  string // as the actor sees it
	storage string // in the storage tree
	base    string // storage path of the tree it belongs to (home, mount or "/")
	view    *view
	// mount is set (by locate) when the storage path lives on a
	// connection, not on the local disk.
	mount *mft.Mount
}

// viewOf returns the actor's view: their session's, while the access
// generation has not changed since it was read, otherwise read now.
func (s *Service) viewOf(ctx context.Context, a Actor) (*view, error) {
	ss := a.Session
	if ss == nil || s.Generation == nil || a.User == nil {
		v, err := s.loadView(ctx, a)
		if v != nil {
			v.sess = ss
		}
		return v, err
	}
	gen := s.Generation() // before the reads, so that a change during them is seen next time
	if v := ss.cachedView(gen); v != nil {
		return v, nil
	}
	if s.Users != nil {
		u, err := s.Users.FindUserByID(ctx, a.User.ID)
		switch {
		case mft.ErrorCode(err) == mft.ENOTFOUND:
			return nil, mft.Errorf(mft.EUNAUTHORIZED, "This account no longer exists.")
		case err != nil:
			return nil, err
		case !u.Active:
			return nil, mft.Errorf(mft.EFORBIDDEN, "This account is disabled.")
		}
		a.User = u // the view follows the account as it is now
	}
	v, err := s.loadView(ctx, a)
	if err != nil {
		return nil, err
	}
	v.sess = ss
	ss.keepView(gen, v)
	return v, nil
}

// loadView reads the actor's rules.
func (s *Service) loadView(ctx context.Context, a Actor) (*view, error) {
	u := a.User
	if u == nil {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "Authentication required.")
	}
	if u.Role == mft.RoleAdmin {
		return &view{admin: true, home: "/"}, nil
	}
	if u.Bucket != "" && s.Buckets != nil {
		// Checked on every operation, so that deactivating a bucket stops
		// sessions already open.
		if b, err := s.Buckets.FindBucket(ctx, u.Bucket); err != nil || !b.Active {
			return nil, mft.Errorf(mft.EFORBIDDEN, "This account's bucket is deactivated.")
		}
	}
	subjects := []string{"user:" + u.ID}
	for _, g := range u.Groups {
		subjects = append(subjects, "group:"+g)
	}
	rules, err := s.Permissions.FindPermissionsForSubjects(ctx, subjects)
	if err != nil {
		return nil, err
	}
	v := &view{home: u.Home, mounts: map[string]*mft.Permission{}}
	v.rules = append(v.rules, &mft.Permission{Subject: "user:" + u.ID, Path: u.Home, Permissions: mft.AllPermissions})
	sort.Slice(rules, func(i, j int) bool { return rules[i].ID < rules[j].ID })
	for _, r := range rules {
		if u.Bucket != "" && !mft.HasPathPrefix(r.Path, mft.BucketRoot(u.Bucket)) {
			continue // a bucket's users reach nothing outside it
		}
		v.rules = append(v.rules, r)
		if r.Mount != "" {
			if _, taken := v.mounts[r.Mount]; !taken {
				v.mounts[r.Mount] = r
			}
		}
	}
	return v, nil
}

// resolve maps a client path to its storage path and tree.
func (v *view) resolve(clientPath string) (target, error) {
	p, err := CleanPath(clientPath)
	if err != nil {
		return target{}, err
	}
	if v.admin {
		return target{client: p, storage: p, base: "/", view: v}, nil
	}
	if p != "/" {
		first, rest, _ := strings.Cut(p[1:], "/")
		if m, ok := v.mounts[first]; ok {
			st := m.Path
			if rest != "" {
				st = joinStorage(m.Path, rest)
			}
			return target{client: p, storage: st, base: m.Path, view: v}, nil
		}
	}
	st := v.home
	if p != "/" {
		st = joinStorage(v.home, p[1:])
	}
	return target{client: p, storage: st, base: v.home, view: v}, nil
}

func joinStorage(base, rest string) string {
	if base == "/" {
		return "/" + rest
	}
	return base + "/" + rest
}

// allows reports whether the view grants perm on a storage path: the rules
// on the longest matching path decide, and no rule means no access.
func (v *view) allows(storage, perm string) bool {
	if v.admin {
		return true
	}
	best := -1
	granted := false
	for _, r := range v.rules {
		if !mft.HasPathPrefix(storage, r.Path) {
			continue
		}
		switch {
		case len(r.Path) > best:
			best, granted = len(r.Path), r.Allows(perm)
		case len(r.Path) == best:
			granted = granted || r.Allows(perm)
		}
	}
	return granted
}

// need returns EFORBIDDEN unless the target allows perm.
func (t target) need(perm string) error {
	if !t.view.allows(t.storage, perm) {
		return mft.Errorf(mft.EFORBIDDEN, "You do not have %s permission on %s.", perm, t.client)
	}
	return nil
}

// isTreeRoot reports whether the target is the root of its tree (the home
// itself, a mount point, or the admin's "/"), which cannot be removed or
// renamed.
// shown returns a storage path of t's tree as the actor sees it: a
// folder above the tree (a rule on /users, say) is shown as the tree's
// root, which is as far as the actor sees.
func (t target) shown(storage string) string {
	root := path.Join("/", strings.TrimSuffix(t.client, strings.TrimPrefix(t.storage, strings.TrimSuffix(t.base, "/"))))
	if !mft.HasPathPrefix(storage, t.base) {
		return root
	}
	return path.Join(root, strings.TrimPrefix(storage, strings.TrimSuffix(t.base, "/")))
}

func (t target) isTreeRoot() bool { return t.storage == t.base }

// mountNames lists the actor's mount points, sorted.
func (v *view) mountNames() []string {
	names := make([]string, 0, len(v.mounts))
	for n := range v.mounts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// openTree opens an os.Root at the target's tree, so that nothing the
// operation does, symlinks included, can leave that tree. A user's home is
// created on first use. With a session the tree is the session's (held:
// the caller must not close it), checked to still be the folder its path
// names.
func (s *Service) openTree(t target) (root *os.Root, held bool, err error) {
	if t.view.sess != nil {
		return t.view.sess.tree(rel("/", t.base), func() (*os.Root, error) { return s.openTreeNow(t) })
	}
	root, err = s.openTreeNow(t)
	return root, false, err
}

// openTreeNow is openTree without a session.
func (s *Service) openTreeNow(t target) (*os.Root, error) {
	name := rel("/", t.base)
	r, err := s.root.OpenRoot(name)
	if errors.Is(err, fs.ErrNotExist) && t.base == t.view.home {
		if err := s.root.MkdirAll(name, 0o700); err != nil {
			return nil, fsError(err, t.client)
		}
		r, err = s.root.OpenRoot(name)
	}
	if err != nil {
		return nil, fsError(err, t.client)
	}
	return r, nil
}

// Allowed returns which of perms the actor holds on a path, as the file
// operations would decide them, so that a client can offer only what
// will be permitted (the operations check again).
func (s *Service) Allowed(ctx context.Context, a Actor, clientPath string, perms ...string) (map[string]bool, error) {
	v, err := s.viewOf(ctx, a)
	if err != nil {
		return nil, err
	}
	t, err := v.resolve(clientPath)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(perms))
	for _, p := range perms {
		out[p] = v.allows(t.storage, p)
	}
	return out, nil
}

// AllowedEach is Allowed for each of clientPaths, with the actor's rules
// read once. Rename and delete are never allowed on the root of a tree (a
// home, a mount of a shared folder) or where a storage connection is
// mounted, which the operations refuse whatever the rules say.
func (s *Service) AllowedEach(ctx context.Context, a Actor, clientPaths []string, perms ...string) ([]map[string]bool, error) {
	v, err := s.viewOf(ctx, a)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]bool, len(clientPaths))
	for i, p := range clientPaths {
		t, err := v.resolve(p)
		if err != nil {
			return nil, err
		}
		fixed := t.isTreeRoot()
		if !fixed && s.Backends != nil {
			if m, err := s.Backends.Lookup(ctx, t.storage); err == nil && m != nil && m.Path == t.storage {
				fixed = true
			}
		}
		out[i] = make(map[string]bool, len(perms))
		for _, perm := range perms {
			out[i][perm] = v.allows(t.storage, perm) && !(fixed && (perm == mft.PermRename || perm == mft.PermDelete))
		}
	}
	return out, nil
}
