package files

import (
	"context"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"

	"depot/mft"
)

// List returns the entries of a folder, folders first then by name. A
// user's "/" also shows their mounts as folders.
func (s *Service) List(ctx context.Context, a Actor, clientPath string) ([]mft.FileInfo, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermList)
	if err != nil {
		return nil, err
	}
	defer root.Close()
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
	if t.client == "/" && !t.view.admin {
		for _, m := range t.view.mountNames() {
			out = slices.DeleteFunc(out, func(f mft.FileInfo) bool { return f.Name == m })
			mt := t.view.mounts[m]
			if fi, err := s.root.Stat(rel("/", mt.Path)); err == nil && fi.IsDir() {
				out = append(out, info("/"+m, fi))
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

// Stat describes one file or folder.
func (s *Service) Stat(ctx context.Context, a Actor, clientPath string) (mft.FileInfo, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermList)
	if err != nil {
		return mft.FileInfo{}, err
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
func (s *Service) Open(ctx context.Context, a Actor, clientPath string) (*os.File, mft.FileInfo, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermDownload)
	if err != nil {
		return nil, mft.FileInfo{}, err
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
	defer root.Close()
	if t.isTreeRoot() {
		return mft.Errorf(mft.EFORBIDDEN, "%s is the root of your tree and cannot be deleted.", t.client)
	}
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
	if replaced > 0 {
		s.addUsage(ctx, path.Dir(dst.storage), -replaced)
	}
	if fi.IsDir() {
		_ = s.Usage.MoveUsage(ctx, src.storage, dst.storage, size)
	} else {
		s.addUsage(ctx, path.Dir(src.storage), -size)
		s.addUsage(ctx, path.Dir(dst.storage), size)
	}
	s.publish(mft.Event{Event: mft.EventFileRenamed, Path: src.storage, NewPath: dst.storage, Size: size}, a)
	return info(dst.client, fi), nil
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
