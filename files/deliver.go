package files

import (
	"context"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"depot/mft"
	"depot/remote"
)

// Deliver moves the file at storage path from (outside any user's reach,
// such as a filedrop submission's holding folder) into to's tree at
// toPath, creating the missing folders. The destination is checked as an
// upload of to's: upload permission, extension and size rules of the
// folders above it, and every quota it lands in. It never replaces a file.
// The file.uploaded event names to with sum as the file's sha256. It
// returns the storage path the file now has.
func (s *Service) Deliver(ctx context.Context, from string, to Actor, toPath, sum string) (string, error) {
	v, err := s.viewOf(ctx, to)
	if err != nil {
		return "", err
	}
	dst, err := v.resolve(toPath)
	if err != nil {
		return "", err
	}
	if err := dst.need(mft.PermUpload); err != nil {
		return "", err
	}
	if dst.isTreeRoot() {
		return "", mft.Errorf(mft.EINVALID, "Give the file a name: %s is a folder.", dst.client)
	}
	from, err = CleanPath(from)
	if err != nil {
		return "", err
	}
	src := target{client: from, storage: from, base: "/", view: &view{admin: true, home: "/"}}
	fi, err := s.lstat(s.root, src)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", mft.Errorf(mft.EINVALID, "%s is not a file.", from)
	}
	if err := s.checkMove(ctx, to, src, dst, fi.Size(), false); err != nil {
		return "", err
	}
	if err := s.locate(ctx, &dst); err != nil {
		return "", err
	}
	if dst.mount != nil {
		return s.deliverRemote(ctx, from, to, dst, fi.Size())
	}
	dstRoot, err := s.openTree(dst)
	if err != nil {
		return "", err
	}
	defer dstRoot.Close()
	name := rel(dst.base, dst.storage)
	if err := dstRoot.MkdirAll(path.Dir(name), 0o700); err != nil {
		return "", fsError(err, path.Dir(dst.client))
	}
	if err := moveName(s.root, rel("/", from), dstRoot, name, true); err != nil {
		return "", fsError(err, dst.client)
	}
	s.addUsage(ctx, path.Dir(from), -fi.Size())
	s.addUsage(ctx, path.Dir(dst.storage), fi.Size())
	if err := s.publishDurable(ctx, mft.Event{Event: mft.EventFileUploaded, Path: dst.storage, Size: fi.Size(), SHA256: sum}, to, s.Sync); err != nil {
		return "", err
	}
	return dst.storage, nil
}

// RemoveStorage removes the file or folder tree at a storage path, outside
// any user's view (for sweeps of holding folders and expired deliveries),
// and takes its bytes off the usage. A missing path is not an error.
func (s *Service) RemoveStorage(ctx context.Context, storagePath string) error {
	p, err := CleanPath(storagePath)
	if err != nil {
		return err
	}
	if p == "/" {
		return mft.Errorf(mft.EINVALID, "The storage root cannot be removed.")
	}
	t := target{client: p, storage: p, base: "/", view: &view{admin: true, home: "/"}}
	if err := s.locate(ctx, &t); err != nil {
		return err
	} else if t.mount != nil {
		return s.removeStorageRemote(ctx, t)
	}
	fi, err := s.root.Lstat(rel("/", p))
	if err != nil {
		return nil
	}
	if err := s.root.RemoveAll(rel("/", p)); err != nil {
		return fsError(err, p)
	}
	if fi.IsDir() {
		return s.Usage.DeleteUsage(context.WithoutCancel(ctx), p)
	}
	s.addUsage(ctx, path.Dir(p), -fi.Size())
	return nil
}

// OpenStorage opens the file at a storage path for reading, outside any
// user's view (the caller has decided who may read it).
func (s *Service) OpenStorage(storagePath string) (File, fs.FileInfo, error) {
	p, err := CleanPath(storagePath)
	if err != nil {
		return nil, nil, err
	}
	t := target{client: path.Base(p), storage: p, base: "/", view: &view{admin: true, home: "/"}}
	if err := s.locate(context.Background(), &t); err != nil {
		return nil, nil, err
	} else if t.mount != nil {
		return s.openStorageRemote(t)
	}
	f, err := s.root.OpenFile(rel("/", p), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return nil, nil, fsError(err, path.Base(p))
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, nil, mft.Errorf(mft.ENOTFOUND, "%s does not exist.", path.Base(p))
	}
	return f, fi, nil
}

// Share resolves a client path that the actor may share (share permission,
// plus upload for a link that takes uploads) and returns its storage path
// and whether it is a folder.
func (s *Service) Share(ctx context.Context, a Actor, clientPath string, upload bool) (string, bool, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermShare)
	if err != nil {
		return "", false, err
	}
	var isDir bool
	if t.mount != nil {
		fi, err := s.rStat(ctx, t)
		if err != nil {
			return "", false, err
		}
		isDir = fi.Type == mft.TypeFolder
	} else {
		defer root.Close()
		fi, err := s.lstat(root, t)
		if err != nil {
			return "", false, err
		}
		isDir = fi.IsDir()
	}
	if upload {
		if !isDir {
			return "", false, mft.Errorf(mft.EINVALID, "allow_upload needs a folder; %s is a file.", t.client)
		}
		if err := t.need(mft.PermUpload); err != nil {
			return "", false, err
		}
	}
	return t.storage, isDir, nil
}

// SetTimes sets the access and modification times of a file (SFTP
// setstat, as in `put -p`); it needs upload permission there.
func (s *Service) SetTimes(ctx context.Context, a Actor, clientPath string, atime, mtime time.Time) error {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermUpload)
	if err != nil {
		return err
	}
	if t.mount != nil { // a remote keeps its own times
		_, err := s.rStat(ctx, t)
		return err
	}
	defer root.Close()
	if _, err := s.lstat(root, t); err != nil {
		return err
	}
	return fsError(root.Chtimes(rel(t.base, t.storage), atime, mtime), t.client)
}

// deliverRemote delivers a file into a mounted tree: its missing folders
// are created there and the file is streamed up as any upload, then
// removed from where it was held.
func (s *Service) deliverRemote(ctx context.Context, from string, to Actor, dst target, size int64) (string, error) {
	if dir := path.Dir(dst.storage); dir != dst.mount.Path && dir != dst.base {
		pt := dst
		pt.storage, pt.client = dir, path.Dir(dst.client)
		if _, err := s.rStat(ctx, pt); mft.ErrorCode(err) == mft.ENOTFOUND {
			if _, err := s.rMkdir(ctx, to, pt); err != nil {
				return "", err
			}
		}
	}
	f, err := s.root.OpenFile(rel("/", from), os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return "", fsError(err, from)
	}
	defer f.Close()
	if _, err := s.rUpload(ctx, to, dst, f, UploadOptions{Size: size}); err != nil {
		return "", err
	}
	if err := s.root.Remove(rel("/", from)); err == nil {
		s.addUsage(ctx, path.Dir(from), -size)
	}
	return dst.storage, nil
}

// openStorageRemote is OpenStorage on a mount.
func (s *Service) openStorageRemote(t target) (File, fs.FileInfo, error) {
	ctx := context.Background()
	tree, release, err := s.Backends.Acquire(ctx, t.mount)
	if err != nil {
		return nil, nil, s.remoteError(err, t.client)
	}
	e, err := tree.StatAny(ctx, t.rpath(t.storage))
	if err == nil && e.Dir {
		err = mft.Errorf(mft.ENOTFOUND, "%s does not exist.", t.client)
	}
	if err != nil {
		release(err)
		return nil, nil, s.remoteError(err, t.client)
	}
	f := &remoteFile{s: s, client: t.client, ctx: ctx, tree: tree, release: release, p: t.rpath(t.storage), size: e.Size}
	return f, entryFileInfo{e}, nil
}

// entryFileInfo is a remote file's entry as an fs.FileInfo.
type entryFileInfo struct{ e remote.Entry }

func (i entryFileInfo) Name() string       { return path.Base(i.e.Name) }
func (i entryFileInfo) Size() int64        { return i.e.Size }
func (i entryFileInfo) Mode() fs.FileMode  { return 0o600 }
func (i entryFileInfo) ModTime() time.Time { return i.e.ModTime }
func (i entryFileInfo) IsDir() bool        { return i.e.Dir }
func (i entryFileInfo) Sys() any           { return nil }

// removeStorageRemote is RemoveStorage on a mount: the files go from the
// remote; the mount's own folder stays (the mount still points there).
func (s *Service) removeStorageRemote(ctx context.Context, t target) error {
	var removed *remote.Entry // nil: nothing was there
	err := s.withTree(ctx, t, func(tree remote.Tree) error {
		e, err := tree.StatAny(ctx, t.rpath(t.storage))
		switch {
		case mft.ErrorCode(err) == mft.ENOTFOUND:
			return nil
		case err != nil:
			return err
		case !e.Dir:
			err = tree.Remove(ctx, t.rpath(t.storage))
		case t.storage == t.mount.Path:
			err = removeContents(ctx, tree, t.rpath(t.storage))
		default:
			err = removeAll(ctx, tree, t.rpath(t.storage))
		}
		if err == nil {
			removed = &e
		}
		return err
	})
	switch {
	case err != nil || removed == nil: // the usage changes only with the files
		return err
	case !removed.Dir:
		s.addUsage(ctx, path.Dir(t.storage), -removed.Size)
		return nil
	}
	s.dirs.forget(dirKey(t.mount.ID, t.rpath(t.storage)))
	return s.Usage.DeleteUsage(context.WithoutCancel(ctx), t.storage)
}

// RemoveEmptyFolder removes the local storage folder at storagePath when
// it holds nothing (a filedrop sender address's folder once its last
// submission is gone); a folder with anything in it stays.
func (s *Service) RemoveEmptyFolder(storagePath string) {
	if p, err := CleanPath(storagePath); err == nil && p != "/" {
		_ = s.root.Remove(rel("/", p)) // refused for a folder that is not empty
	}
}
