package files

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	"depot/mft"
)

// List returns the entries of a folder, folders first then by name. A
// user's "/" also shows their mounts as folders.
func (s *Service) List(ctx context.Context, a Actor, clientPath string) ([]mft.FileInfo, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermList)
	if err != nil {
		return nil, err
	}
	var out []mft.FileInfo
	if t.mount != nil {
		out, err = s.rList(ctx, t)
	} else {
		out, err = s.listLocal(ctx, root, t)
		root.Close()
	}
	if err != nil {
		return nil, err
	}
	if t.client == "/" && !t.view.admin {
		for _, m := range t.view.mountNames() {
			out = slices.DeleteFunc(out, func(f mft.FileInfo) bool { return f.Name == m })
			if fi, err := s.statStorage(ctx, t.view.mounts[m].Path); err == nil && fi.Type == mft.TypeFolder {
				fi.Name, fi.Path = m, "/"+m
				out = append(out, fi)
			}
		}
	}
	slices.SortFunc(out, func(a, b mft.FileInfo) int {
		if a.Type != b.Type {
			return strings.Compare(b.Type, a.Type) // "folder" before "file"
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

// listLocal lists a folder on the local disk, with the mount points in it.
func (s *Service) listLocal(ctx context.Context, root *os.Root, t target) ([]mft.FileInfo, error) {
	dir, err := root.Open(rel(t.base, t.storage))
	if err != nil {
		return nil, fsError(err, t.client)
	}
	defer dir.Close()
	st, err := dir.Stat()
	if err != nil {
		return nil, fsError(err, t.client)
	}
	if !st.IsDir() {
		return nil, mft.Errorf(mft.EINVALID, "%s is a file, not a folder.", t.client)
	}
	entries, err := dir.ReadDir(-1)
	if err != nil {
		return nil, fsError(err, t.client)
	}
	out := make([]mft.FileInfo, 0, len(entries))
	for _, e := range entries {
		if e.Type()&fs.ModeSymlink != 0 || !(e.Type().IsRegular() || e.IsDir()) {
			continue // symlinks and devices planted on disk are never shown
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, info(path.Join(t.client, e.Name()), fi))
	}
	if s.Backends != nil {
		below, err := s.Backends.Below(ctx, t.storage)
		if err != nil {
			return nil, err
		}
		for _, m := range below {
			name := path.Base(m.Path)
			out = slices.DeleteFunc(out, func(f mft.FileInfo) bool { return f.Name == name })
			out = append(out, mft.FileInfo{Name: name, Path: path.Join(t.client, name), Type: mft.TypeFolder, ModifiedAt: m.CreatedAt.UTC().Truncate(time.Second)})
		}
	}
	return out, nil
}

// statStorage describes a storage path, on the local disk or a mount.
func (s *Service) statStorage(ctx context.Context, storage string) (mft.FileInfo, error) {
	t := target{client: storage, storage: storage, base: "/", view: &view{admin: true, home: "/"}}
	if err := s.locate(ctx, &t); err != nil {
		return mft.FileInfo{}, err
	}
	if t.mount != nil {
		return s.rStat(ctx, t)
	}
	fi, err := s.lstat(s.root, t)
	if err != nil {
		return mft.FileInfo{}, err
	}
	return info(storage, fi), nil
}

// Stat describes one file or folder.
func (s *Service) Stat(ctx context.Context, a Actor, clientPath string) (mft.FileInfo, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermList)
	if err != nil {
		return mft.FileInfo{}, err
	}
	if t.mount != nil {
		return s.rStat(ctx, t)
	}
	defer root.Close()
	fi, err := s.lstat(root, t)
	if err != nil {
		return mft.FileInfo{}, err
	}
	return info(t.client, fi), nil
}

// lstat stats a target without following a final symlink; symlinks and
// special files are reported as not existing.
func (s *Service) lstat(root *os.Root, t target) (fs.FileInfo, error) {
	fi, err := root.Lstat(rel(t.base, t.storage))
	if err != nil {
		return nil, fsError(err, t.client)
	}
	if !fi.Mode().IsRegular() && !fi.IsDir() {
		return nil, mft.Errorf(mft.ENOTFOUND, "%s does not exist.", t.client)
	}
	return fi, nil
}

// Open opens a file for download and emits file.downloaded. The caller
// closes the file.
func (s *Service) Open(ctx context.Context, a Actor, clientPath string) (File, mft.FileInfo, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermDownload)
	if err != nil {
		return nil, mft.FileInfo{}, err
	}
	if t.mount != nil {
		return s.rOpen(ctx, a, t)
	}
	defer root.Close()
	fi, err := s.lstat(root, t)
	if err != nil {
		return nil, mft.FileInfo{}, err
	}
	if fi.IsDir() {
		return nil, mft.FileInfo{}, mft.Errorf(mft.EINVALID, "%s is a folder; list it instead.", t.client)
	}
	f, err := root.OpenFile(rel(t.base, t.storage), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, mft.FileInfo{}, fsError(err, t.client)
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, mft.FileInfo{}, fsError(err, t.client)
	}
	s.publish(mft.Event{Event: mft.EventFileDownloaded, Path: t.storage, Size: fi.Size()}, a)
	return f, info(t.client, fi), nil
}

// Mkdir creates a folder and any missing parents. Returns ECONFLICT if it
// exists.
func (s *Service) Mkdir(ctx context.Context, a Actor, clientPath string) (_ mft.FileInfo, err error) {
	defer func() { err = s.refused(ctx, a, mft.EventFolderCreated, clientPath, err) }()
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermMkdir)
	if err != nil {
		return mft.FileInfo{}, err
	}
	if t.mount != nil {
		return s.rMkdir(ctx, a, t)
	}
	defer root.Close()
	name := rel(t.base, t.storage)
	if _, err := root.Lstat(name); err == nil {
		return mft.FileInfo{}, mft.Errorf(mft.ECONFLICT, "%s already exists.", t.client)
	}
	if err := root.MkdirAll(name, 0o700); err != nil {
		return mft.FileInfo{}, fsError(err, t.client)
	}
	fi, err := root.Stat(name)
	if err != nil {
		return mft.FileInfo{}, fsError(err, t.client)
	}
	s.publish(mft.Event{Event: mft.EventFolderCreated, Path: t.storage}, a)
	return info(t.client, fi), nil
}

// Remove deletes a file, or a folder that is empty or, with recursive,
// with its contents.
func (s *Service) Remove(ctx context.Context, a Actor, clientPath string, recursive bool) (err error) {
	defer func() { err = s.refused(ctx, a, mft.EventFileDeleted, clientPath, err) }()
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermDelete)
	if err != nil {
		return err
	}
	if t.isTreeRoot() {
		if root != nil {
			root.Close()
		}
		return mft.Errorf(mft.EFORBIDDEN, "%s is the root of your tree and cannot be deleted.", t.client)
	}
	if t.mount != nil {
		if t.storage == t.mount.Path {
			return mft.Errorf(mft.EFORBIDDEN, "%s is where a storage connection is mounted and cannot be deleted.", t.client)
		}
		return s.rRemove(ctx, a, t, recursive)
	}
	defer root.Close()
	name := rel(t.base, t.storage)
	fi, err := s.lstat(root, t)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if err := root.Remove(name); err != nil {
			return fsError(err, t.client)
		}
		s.addUsage(ctx, path.Dir(t.storage), -fi.Size())
		s.publish(mft.Event{Event: mft.EventFileDeleted, Path: t.storage, Size: fi.Size()}, a)
		return nil
	}
	size, _ := s.Usage.Usage(ctx, t.storage)
	if recursive {
		err = root.RemoveAll(name)
	} else {
		err = root.Remove(name)
	}
	if err != nil {
		return fsError(err, t.client)
	}
	_ = s.Usage.DeleteUsage(context.WithoutCancel(ctx), t.storage)
	s.publish(mft.Event{Event: mft.EventFolderDeleted, Path: t.storage, Size: size}, a)
	return nil
}

// Rename moves a file or folder. It needs rename permission at both ends,
// refuses to replace an existing target and to move a folder into itself.
func (s *Service) Rename(ctx context.Context, a Actor, from, to string) (mft.FileInfo, error) {
	return s.rename(ctx, a, from, to, false)
}

// Replace is Rename that atomically replaces a file at the target (POSIX
// rename semantics), which also needs overwrite permission there; a folder
// at the target is never replaced.
func (s *Service) Replace(ctx context.Context, a Actor, from, to string) (mft.FileInfo, error) {
	return s.rename(ctx, a, from, to, true)
}

func (s *Service) rename(ctx context.Context, a Actor, from, to string, replace bool) (_ mft.FileInfo, err error) {
	defer func() { err = s.refused(ctx, a, mft.EventFileRenamed, from, err) }()
	v, err := s.viewOf(ctx, a)
	if err != nil {
		return mft.FileInfo{}, err
	}
	src, err := v.resolve(from)
	if err != nil {
		return mft.FileInfo{}, err
	}
	dst, err := v.resolve(to)
	if err != nil {
		return mft.FileInfo{}, err
	}
	if err := src.need(mft.PermRename); err != nil {
		return mft.FileInfo{}, err
	}
	if err := dst.need(mft.PermRename); err != nil {
		return mft.FileInfo{}, err
	}
	if src.isTreeRoot() || dst.isTreeRoot() {
		return mft.FileInfo{}, mft.Errorf(mft.EFORBIDDEN, "The root of a tree cannot be renamed or replaced.")
	}
	if mft.HasPathPrefix(dst.storage, src.storage) {
		return mft.FileInfo{}, mft.Errorf(mft.EINVALID, "Cannot move %s into itself.", src.client)
	}
	if err := errors.Join(s.locate(ctx, &src), s.locate(ctx, &dst)); err != nil {
		return mft.FileInfo{}, err
	}
	switch {
	case src.mount != nil && src.storage == src.mount.Path, dst.mount != nil && dst.storage == dst.mount.Path:
		return mft.FileInfo{}, mft.Errorf(mft.EFORBIDDEN, "Where a storage connection is mounted cannot be renamed or replaced.")
	case src.mount != nil && dst.mount != nil && src.mount.ID == dst.mount.ID:
		return s.rRename(ctx, a, src, dst, replace)
	case src.mount != nil || dst.mount != nil:
		return s.moveAcross(ctx, a, src, dst, replace)
	}
	srcRoot, err := s.openTree(src)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer srcRoot.Close()
	dstRoot, err := s.openTree(dst)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer dstRoot.Close()
	fi, err := s.lstat(srcRoot, src)
	if err != nil {
		return mft.FileInfo{}, err
	}
	parent, err := dstRoot.Stat(rel(dst.base, path.Dir(dst.storage)))
	if err != nil || !parent.IsDir() {
		return mft.FileInfo{}, mft.Errorf(mft.ENOTFOUND, "The folder %s does not exist.", path.Dir(dst.client))
	}
	size := fi.Size()
	if fi.IsDir() {
		if size, err = s.Usage.Usage(ctx, src.storage); err != nil {
			return mft.FileInfo{}, err
		}
	}
	if err := s.checkMove(ctx, a, src, dst, size, fi.IsDir()); err != nil {
		return mft.FileInfo{}, err
	}
	var replaced int64
	if replace {
		if old, err := dstRoot.Lstat(rel(dst.base, dst.storage)); err == nil {
			if old.IsDir() || fi.IsDir() {
				return mft.FileInfo{}, mft.Errorf(mft.ECONFLICT, "%s already exists.", dst.client)
			}
			if err := dst.need(mft.PermOverwrite); err != nil {
				return mft.FileInfo{}, err
			}
			replaced = old.Size()
		}
	}
	if err := moveName(srcRoot, rel(src.base, src.storage), dstRoot, rel(dst.base, dst.storage), !replace); err != nil {
		return mft.FileInfo{}, fsError(err, dst.client)
	}
	s.renamed(ctx, a, src, dst, size, replaced, fi.IsDir())
	return info(dst.client, fi), nil
}

// renamed moves the usage of a renamed file or folder of size bytes
// (which replaced a file of replaced bytes) and records the event.
func (s *Service) renamed(ctx context.Context, a Actor, src, dst target, size, replaced int64, isDir bool) {
	if replaced > 0 {
		s.addUsage(ctx, path.Dir(dst.storage), -replaced)
	}
	if isDir {
		_ = s.Usage.MoveUsage(ctx, src.storage, dst.storage, size)
	} else {
		s.addUsage(ctx, path.Dir(src.storage), -size)
		s.addUsage(ctx, path.Dir(dst.storage), size)
	}
	s.publish(mft.Event{Event: mft.EventFileRenamed, Path: src.storage, NewPath: dst.storage, Size: size}, a)
}

// prepare resolves a client path for an actor, checks perm and opens the
// path's tree.
func (s *Service) prepare(ctx context.Context, a Actor, clientPath, perm string) (target, *os.Root, error) {
	v, err := s.viewOf(ctx, a)
	if err != nil {
		return target{}, nil, err
	}
	t, err := v.resolve(clientPath)
	if err != nil {
		return target{}, nil, err
	}
	if err := t.need(perm); err != nil {
		return target{}, nil, err
	}
	if err := s.locate(ctx, &t); err != nil || t.mount != nil {
		return t, nil, err // a mounted path has no local tree
	}
	root, err := s.openTree(t)
	if err != nil {
		return target{}, nil, err
	}
	return t, root, nil
}

// addUsage records a change of bytes below dir; a failure only makes the
// numbers stale until the next fsck, so it is not the client's error.
func (s *Service) addUsage(ctx context.Context, dir string, delta int64) {
	_ = s.Usage.AddUsage(context.WithoutCancel(ctx), dir, delta)
}

// moveName moves a name from one tree to another, replacing an existing
// target only if !noReplace. The parents are opened through their os.Root,
// so a symlink cannot redirect the move outside either tree.
func moveName(srcRoot *os.Root, srcName string, dstRoot *os.Root, dstName string, noReplace bool) error {
	sd, err := dirFD(srcRoot, path.Dir(srcName))
	if err != nil {
		return err
	}
	defer sd.Close()
	dd, err := dirFD(dstRoot, path.Dir(dstName))
	if err != nil {
		return err
	}
	defer dd.Close()
	return renameat(sd, path.Base(srcName), dd, path.Base(dstName), noReplace)
}
