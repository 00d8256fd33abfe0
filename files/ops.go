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
	t, st, err := s.prepare(ctx, a, clientPath, mft.PermList)
	if err != nil {
		return nil, err
	}
	out, err := st.list(ctx)
	st.close()
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

// statStorage describes a storage path, on the local disk or a mount.
func (s *Service) statStorage(ctx context.Context, storage string) (mft.FileInfo, error) {
	_, st, err := s.storageAt(ctx, storage, "")
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer st.close()
	return st.stat(ctx)
}

// Stat describes one file or folder.
func (s *Service) Stat(ctx context.Context, a Actor, clientPath string) (mft.FileInfo, error) {
	_, st, err := s.prepare(ctx, a, clientPath, mft.PermList)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer st.close()
	return st.stat(ctx)
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
	t, st, err := s.prepare(ctx, a, clientPath, mft.PermDownload)
	if err != nil {
		return nil, mft.FileInfo{}, err
	}
	defer st.close()
	f, fi, err := st.open(ctx)
	if err != nil {
		return nil, mft.FileInfo{}, err
	}
	s.publish(mft.Event{Event: mft.EventFileDownloaded, Path: t.storage, Size: fi.Size}, a)
	return f, fi, nil
}

// Mkdir creates a folder and any missing parents. Returns ECONFLICT if it
// exists.
func (s *Service) Mkdir(ctx context.Context, a Actor, clientPath string) (_ mft.FileInfo, err error) {
	defer func() { err = s.refused(ctx, a, mft.EventFolderCreated, clientPath, err) }()
	t, st, err := s.prepare(ctx, a, clientPath, mft.PermMkdir)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer st.close()
	fi, err := st.mkdir(ctx)
	if err != nil {
		return mft.FileInfo{}, err
	}
	s.publish(mft.Event{Event: mft.EventFolderCreated, Path: t.storage}, a)
	return fi, nil
}

// Remove deletes a file, or a folder that is empty or, with recursive,
// with its contents.
func (s *Service) Remove(ctx context.Context, a Actor, clientPath string, recursive bool) (err error) {
	defer func() { err = s.refused(ctx, a, mft.EventFileDeleted, clientPath, err) }()
	t, st, err := s.prepare(ctx, a, clientPath, mft.PermDelete)
	if err != nil {
		return err
	}
	defer st.close()
	if t.isTreeRoot() {
		return mft.Errorf(mft.EFORBIDDEN, "%s is the root of your tree and cannot be deleted.", t.client)
	}
	dir, size, err := st.remove(ctx, recursive)
	if err != nil {
		return err
	}
	if !dir {
		s.addUsage(ctx, path.Dir(t.storage), -size)
		s.publish(mft.Event{Event: mft.EventFileDeleted, Path: t.storage, Size: size}, a)
		return nil
	}
	size, _ = s.Usage.Usage(ctx, t.storage)
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
	srcSt, err := s.storageOf(ctx, &src)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer srcSt.close()
	dstSt, err := s.storageOf(ctx, &dst)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer dstSt.close()
	if src.mount != nil && src.storage == src.mount.Path || dst.mount != nil && dst.storage == dst.mount.Path {
		return mft.FileInfo{}, mft.Errorf(mft.EFORBIDDEN, "Where a storage connection is mounted cannot be renamed or replaced.")
	}
	if !srcSt.sameAs(dstSt) {
		return s.moveAcross(ctx, a, src, dst, replace)
	}
	return srcSt.renameTo(ctx, a, dstSt, replace)
}

// moveAcross moves a file between two storages (the local disk and a
// mount, or two mounts) as a download, an upload and a delete: the
// target's limits apply and its file.uploaded event fires, as for any
// upload there. A folder is refused: moving a tree between storages is
// not one step that can fail cleanly.
func (s *Service) moveAcross(ctx context.Context, a Actor, src, dst target, replace bool) (mft.FileInfo, error) {
	f, fi, err := s.Open(ctx, a, src.client)
	if mft.ErrorCode(err) == mft.EINVALID {
		return mft.FileInfo{}, mft.Errorf(mft.EINVALID, "%s is a folder on another storage than %s; move its files one by one.", src.client, path.Dir(dst.client))
	} else if err != nil {
		return mft.FileInfo{}, err
	}
	defer f.Close()
	out, err := s.upload(ctx, a, dst.client, f, UploadOptions{Overwrite: replace, Size: fi.Size})
	if err != nil {
		return mft.FileInfo{}, err
	}
	return out, s.Remove(ctx, a, src.client, false)
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
