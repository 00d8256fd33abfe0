package files

import (
	"context"
	"path"
	"strings"
	"time"

	"depot/mft"
	"depot/remote"
)

// Backends serves the storage paths that live on a storage connection
// instead of the local disk (mount.Service).
type Backends interface {
	// Lookup returns the mount that serves storagePath, or nil.
	Lookup(ctx context.Context, storagePath string) (*mft.Mount, error)
	// Below returns the mounts directly inside the storage folder dir.
	Below(ctx context.Context, dir string) ([]*mft.Mount, error)
	// All returns every mount.
	All(ctx context.Context) ([]*mft.Mount, error)
	// Acquire lends a store of m's connection for one operation or
	// stream; release takes the operation's error.
	Acquire(ctx context.Context, m *mft.Mount) (remote.Tree, func(error), error)
}

// remoteTempPrefix starts the name an upload to a remote that renames
// atomically is written under; listings never show such names.
const remoteTempPrefix = remote.TempPrefix

// locate sets t.mount when t lives on a mount.
func (s *Service) locate(ctx context.Context, t *target) error {
	if s.Backends == nil {
		return nil
	}
	m, err := s.Backends.Lookup(ctx, t.storage)
	t.mount = m
	return err
}

// rpath is the path on the mount's connection of a storage path of t's
// mount.
func (t target) rpath(storage string) string {
	rest := strings.TrimPrefix(strings.TrimPrefix(storage, t.mount.Path), "/")
	return strings.Trim(path.Join(t.mount.Prefix, rest), "/")
}

// entryInfo is the FileInfo of a remote entry at a client path.
func entryInfo(clientPath string, e remote.Entry) mft.FileInfo {
	fi := mft.FileInfo{Name: path.Base(clientPath), Path: clientPath, Type: mft.TypeFile, Size: e.Size,
		ModifiedAt: e.ModTime.UTC().Truncate(time.Second)}
	if e.Dir {
		fi.Type, fi.Size = mft.TypeFolder, 0
	}
	if e.ModTime.IsZero() { // an S3 folder without a marker has no time: say 1970, as SFTPGo does
		fi.ModifiedAt = time.Unix(0, 0).UTC()
	}
	return fi
}

// withTree runs fn with a store of t's mount.
func (s *Service) withTree(ctx context.Context, t target, fn func(remote.Tree) error) error {
	tree, release, err := s.Backends.Acquire(ctx, t.mount)
	if err != nil {
		return s.remoteError(err, t.client)
	}
	err = fn(tree)
	release(err)
	return s.remoteError(err, t.client)
}

// remoteError words a remote's error for the client: a missing path as
// the client's path; a remote that fails is logged for the administrator
// in its own words (the connection, the remote path, the remote's error)
// and told to the client without them, so that a partner learns that the
// storage failed, not how Depot's storage is laid out. Each error is
// worded once, where it leaves the remote side.
func (s *Service) remoteError(err error, clientPath string) error {
	switch {
	case mft.ErrorCode(err) == mft.ENOTFOUND && strings.HasSuffix(mft.ErrorMessage(err), "on the remote."):
		return mft.Errorf(mft.ENOTFOUND, "%s does not exist.", clientPath)
	case mft.ErrorCode(err) == mft.EUNAVAILABLE:
		if s.Logger != nil {
			s.Logger.Warn("mounted storage failed", "path", clientPath, "err", mft.ErrorMessage(err))
		}
		return mft.Errorf(mft.EUNAVAILABLE, "The storage of %s failed or is not answering; try again later.", clientPath)
	}
	return err
}

// rstat describes a remote target. The root of a user's home is created
// on first use, as on the local disk.
func (s *Service) rstat(ctx context.Context, tree remote.Tree, t target) (remote.Entry, error) {
	e, err := tree.StatAny(ctx, t.rpath(t.storage))
	if mft.ErrorCode(err) == mft.ENOTFOUND && (t.storage == t.mount.Path || t.isTreeRoot() && t.base == t.view.home) {
		if err = tree.Mkdir(ctx, t.rpath(t.storage)); err == nil {
			return remote.Entry{Name: path.Base(t.storage), Dir: true, ModTime: s.Now()}, nil
		}
	}
	return e, err // worded by the caller (remoteError)
}

// mounted is a target on a storage connection mounted at or above it:
// every operation borrows one of the mount's connections (Backends). An
// upload streams to the remote under a temporary name or as a multipart
// upload, published only when complete.
type mounted struct {
	s *Service
	t target
}

func (m *mounted) close() {}

func (m *mounted) list(ctx context.Context) (out []mft.FileInfo, err error) {
	s, t := m.s, m.t
	err = s.withTree(ctx, t, func(tree remote.Tree) error {
		e, err := s.rstat(ctx, tree, t)
		if err != nil {
			return err
		}
		if !e.Dir {
			return mft.Errorf(mft.EINVALID, "%s is a file, not a folder.", t.client)
		}
		list, err := tree.List(ctx, t.rpath(t.storage))
		for _, x := range list {
			if !strings.HasPrefix(x.Name, remoteTempPrefix) {
				out = append(out, entryInfo(path.Join(t.client, x.Name), x))
			}
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.withMountsBelow(ctx, t, out) // below the storage root's mount
}

func (m *mounted) stat(ctx context.Context) (fi mft.FileInfo, err error) {
	s, t := m.s, m.t
	err = s.withTree(ctx, t, func(tree remote.Tree) error {
		e, err := s.rstat(ctx, tree, t)
		fi = entryInfo(t.client, e)
		return err
	})
	return fi, err
}

// mkdir creates a folder and its missing parents on the remote.
func (m *mounted) mkdir(ctx context.Context) (fi mft.FileInfo, err error) {
	s, t := m.s, m.t
	err = s.withTree(ctx, t, func(tree remote.Tree) error {
		if _, err := tree.StatAny(ctx, t.rpath(t.storage)); err == nil {
			return mft.Errorf(mft.ECONFLICT, "%s already exists.", t.client)
		} else if mft.ErrorCode(err) != mft.ENOTFOUND {
			return err
		}
		// Create from the highest missing folder down, within the mount.
		var missing []string
		for p := t.storage; mft.HasPathPrefix(p, t.mount.Path) && p != t.mount.Path; p = path.Dir(p) {
			if _, err := tree.StatAny(ctx, t.rpath(p)); err == nil {
				break
			}
			missing = append(missing, p)
		}
		for i := len(missing) - 1; i >= 0; i-- {
			if err := tree.MakeDir(ctx, t.rpath(missing[i])); err != nil {
				return err
			}
			s.dirs.add(dirKey(t.mount.ID, t.rpath(missing[i])))
		}
		fi = entryInfo(t.client, remote.Entry{Dir: true, ModTime: s.Now()})
		return nil
	})
	return fi, err
}

// remove deletes a remote file, or a folder (empty, or with recursive,
// everything in it, deepest first). Where the connection is mounted stays.
func (m *mounted) remove(ctx context.Context, recursive bool) (bool, int64, error) {
	s, t := m.s, m.t
	if t.storage == t.mount.Path {
		return false, 0, mft.Errorf(mft.EFORBIDDEN, "%s is where a storage connection is mounted and cannot be deleted.", t.client)
	}
	var removed remote.Entry
	err := s.withTree(ctx, t, func(tree remote.Tree) error {
		e, err := s.rstat(ctx, tree, t)
		if err != nil {
			return err
		}
		removed = e
		p := t.rpath(t.storage)
		if e.Dir {
			s.dirs.forget(dirKey(t.mount.ID, p))
		}
		switch {
		case !e.Dir:
			return tree.Remove(ctx, p)
		case recursive:
			return removeAll(ctx, tree, p)
		}
		err = tree.RemoveDir(ctx, p)
		if mft.ErrorCode(err) == mft.ECONFLICT {
			return mft.Errorf(mft.ECONFLICT, "%s is not empty; pass recursive=true to delete it with its contents.", t.client)
		}
		return err
	})
	return removed.Dir, removed.Size, err
}

// setTimes leaves the times to the remote, which keeps its own; the
// file must exist.
func (m *mounted) setTimes(ctx context.Context, atime, mtime time.Time) error {
	_, err := m.stat(ctx)
	return err
}

// removeAll removes a remote folder and everything in it.
func removeAll(ctx context.Context, tree remote.Tree, dir string) error {
	if err := removeContents(ctx, tree, dir); err != nil {
		return err
	}
	err := tree.RemoveDir(ctx, dir)
	if mft.ErrorCode(err) == mft.ENOTFOUND { // S3: a folder without a marker is gone with its last key
		return nil
	}
	return err
}

// removeContents removes everything in a remote folder.
func removeContents(ctx context.Context, tree remote.Tree, dir string) error {
	list, err := tree.List(ctx, dir)
	if err != nil {
		return err
	}
	for _, e := range list {
		p := path.Join(dir, e.Name)
		if e.Dir {
			err = removeAll(ctx, tree, p)
		} else {
			err = tree.Remove(ctx, p)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// open opens a remote file for reading.
func (m *mounted) open(ctx context.Context) (File, mft.FileInfo, error) {
	s, t := m.s, m.t
	tree, release, err := s.Backends.Acquire(ctx, t.mount)
	if err != nil {
		return nil, mft.FileInfo{}, s.remoteError(err, t.client)
	}
	e, err := s.rstat(ctx, tree, t)
	if err == nil && e.Dir {
		err = mft.Errorf(mft.EINVALID, "%s is a folder; list it instead.", t.client)
	}
	if err != nil {
		release(err)
		return nil, mft.FileInfo{}, s.remoteError(err, t.client)
	}
	f := &remoteFile{s: s, client: t.client, ctx: context.WithoutCancel(ctx), tree: tree, release: release, p: t.rpath(t.storage), size: e.Size}
	return f, entryInfo(t.client, e), nil
}

// sameAs: a rename within one mount is the remote's.
func (m *mounted) sameAs(o storage) bool {
	other, ok := o.(*mounted)
	return ok && other.t.mount.ID == m.t.mount.ID
}

// renameTo renames within one mount: the remote's own rename for a file
// (a copy and a delete on S3) and for a folder where it renames
// atomically; a folder on S3 is moved key by key.
func (m *mounted) renameTo(ctx context.Context, a Actor, to storage, replace bool) (mft.FileInfo, error) {
	s, src, dst := m.s, m.t, to.(*mounted).t
	var moved remote.Entry
	var size, replaced int64
	err := s.withTree(ctx, src, func(tree remote.Tree) error {
		e, err := s.rstat(ctx, tree, src)
		if err != nil {
			return err
		}
		moved, size = e, e.Size
		if parent := path.Dir(dst.storage); parent != dst.mount.Path && parent != dst.base {
			if pe, err := tree.StatAny(ctx, dst.rpath(parent)); err != nil || !pe.Dir {
				return mft.Errorf(mft.ENOTFOUND, "The folder %s does not exist.", path.Dir(dst.client))
			}
		}
		if e.Dir {
			if size, err = s.Usage.Usage(ctx, src.storage); err != nil {
				return err
			}
		}
		if err := s.checkMove(ctx, a, src, dst, size, e.Dir); err != nil {
			return err
		}
		switch old, err := tree.StatAny(ctx, dst.rpath(dst.storage)); {
		case err == nil && (!replace || old.Dir || e.Dir):
			return mft.Errorf(mft.ECONFLICT, "%s already exists.", dst.client)
		case err == nil:
			if err := dst.need(mft.PermOverwrite); err != nil {
				return err
			}
			replaced = old.Size
		case mft.ErrorCode(err) != mft.ENOTFOUND:
			return err
		}
		if e.Dir {
			s.dirs.forget(dirKey(src.mount.ID, src.rpath(src.storage)))
		}
		if e.Dir && !tree.Caps().AtomicRename {
			return moveTree(ctx, tree, src.rpath(src.storage), dst.rpath(dst.storage))
		}
		return tree.Rename(ctx, src.rpath(src.storage), dst.rpath(dst.storage))
	})
	if err != nil {
		return mft.FileInfo{}, err
	}
	s.renamed(ctx, a, src, dst, size, replaced, moved.Dir)
	return entryInfo(dst.client, moved), nil
}

// moveTree moves a folder of a store without folder renames (S3), file by
// file; a failure half way leaves both folders with part of the files,
// none lost.
func moveTree(ctx context.Context, tree remote.Tree, from, to string) error {
	if err := tree.MakeDir(ctx, to); err != nil {
		return err
	}
	list, err := tree.List(ctx, from)
	if err != nil {
		return err
	}
	for _, e := range list {
		if e.Dir {
			err = moveTree(ctx, tree, path.Join(from, e.Name), path.Join(to, e.Name))
		} else {
			err = tree.Rename(ctx, path.Join(from, e.Name), path.Join(to, e.Name))
		}
		if err != nil {
			return err
		}
	}
	if err := tree.RemoveDir(ctx, from); err != nil && mft.ErrorCode(err) != mft.ENOTFOUND {
		return err
	}
	return nil
}
