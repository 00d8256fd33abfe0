package files

import (
	"context"
	"io/fs"
	"path"
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
	srcSt, err := s.storageOf(ctx, &src)
	if err != nil {
		return "", err
	}
	defer srcSt.close()
	fi, err := srcSt.stat(ctx)
	if err != nil {
		return "", err
	}
	if fi.Type != mft.TypeFile {
		return "", mft.Errorf(mft.EINVALID, "%s is not a file.", from)
	}
	if err := s.checkMove(ctx, to, src, dst, fi.Size, false); err != nil {
		return "", err
	}
	st, err := s.storageOf(ctx, &dst)
	if err != nil {
		return "", err
	}
	defer st.close()
	if l, ok := st.(*local); ok && src.mount == nil {
		err = l.deliver(ctx, to, from, fi.Size, sum) // one rename on the disk
	} else {
		err = s.deliverStream(ctx, to, srcSt, dst, st, fi.Size)
	}
	if err != nil {
		return "", err
	}
	return dst.storage, nil
}

// deliverStream is Deliver where the file or its destination is on a
// mount (the storage root's, when nodes share no disk): the missing
// folders are made, the file is streamed to the destination as any
// upload, then removed from where it was held. A copy left held once the
// delivery is done is only logged: its holding folder's sweep removes it.
func (s *Service) deliverStream(ctx context.Context, to Actor, src storage, dst target, st storage, size int64) error {
	if dir := path.Dir(dst.storage); dir != dst.base {
		pt := dst
		pt.storage, pt.client = dir, path.Dir(dst.client)
		parent, err := s.storageOf(ctx, &pt)
		if err != nil {
			return err
		}
		_, err = parent.stat(ctx)
		if mft.ErrorCode(err) == mft.ENOTFOUND {
			if _, err = parent.mkdir(ctx); err == nil {
				s.publish(mft.Event{Event: mft.EventFolderCreated, Path: pt.storage}, to)
			}
		}
		parent.close()
		if err != nil {
			return err
		}
	}
	f, _, err := src.open(ctx)
	if err != nil {
		return err
	}
	defer f.Close()
	lw, err := st.beginUpload(ctx, to, UploadOptions{Size: size})
	if err != nil {
		return err
	}
	if _, err := st.receive(ctx, to, lw, f, UploadOptions{Size: size}); err != nil {
		return err
	}
	if err := src.removeAll(ctx); err != nil && s.Logger != nil {
		s.Logger.Warn("a delivered file stays where it was held", "path", dst.storage, "err", mft.ErrorMessage(err))
	}
	return nil
}

// RemoveStorage removes the file or folder tree at a storage path, outside
// any user's view (for sweeps of holding folders and expired deliveries),
// and takes its bytes off the usage. A missing path is not an error.
func (s *Service) RemoveStorage(ctx context.Context, storagePath string) error {
	t, st, err := s.storageAt(ctx, storagePath, "")
	if err != nil {
		return err
	}
	defer st.close()
	if t.storage == "/" {
		return mft.Errorf(mft.EINVALID, "The storage root cannot be removed.")
	}
	return st.removeAll(ctx)
}

// OpenStorage opens the file at a storage path for reading, outside any
// user's view (the caller has decided who may read it).
func (s *Service) OpenStorage(storagePath string) (File, fs.FileInfo, error) {
	ctx := context.Background()
	p, err := CleanPath(storagePath)
	if err != nil {
		return nil, nil, err
	}
	_, st, err := s.storageAt(ctx, p, path.Base(p))
	if err != nil {
		return nil, nil, err
	}
	defer st.close()
	f, fi, err := st.open(ctx)
	if mft.ErrorCode(err) == mft.EINVALID { // a folder
		return nil, nil, mft.Errorf(mft.ENOTFOUND, "%s does not exist.", path.Base(p))
	} else if err != nil {
		return nil, nil, err
	}
	return f, fileInfo{fi}, nil
}

// Share resolves a client path that the actor may share (share permission,
// plus upload for a link that takes uploads) and returns its storage path
// and whether it is a folder.
func (s *Service) Share(ctx context.Context, a Actor, clientPath string, upload bool) (string, bool, error) {
	t, st, err := s.prepare(ctx, a, clientPath, mft.PermShare)
	if err != nil {
		return "", false, err
	}
	defer st.close()
	fi, err := st.stat(ctx)
	if err != nil {
		return "", false, err
	}
	isDir := fi.Type == mft.TypeFolder
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
	_, st, err := s.prepare(ctx, a, clientPath, mft.PermUpload)
	if err != nil {
		return err
	}
	defer st.close()
	return st.setTimes(ctx, atime, mtime)
}

// fileInfo is a file's FileInfo as an fs.FileInfo.
type fileInfo struct{ fi mft.FileInfo }

func (i fileInfo) Name() string       { return i.fi.Name }
func (i fileInfo) Size() int64        { return i.fi.Size }
func (i fileInfo) Mode() fs.FileMode  { return 0o600 }
func (i fileInfo) ModTime() time.Time { return i.fi.ModifiedAt }
func (i fileInfo) IsDir() bool        { return i.fi.Type == mft.TypeFolder }
func (i fileInfo) Sys() any           { return nil }

// removeAll is RemoveStorage on a mount: the files go from the remote;
// the mount's own folder stays (the mount still points there).
func (m *mounted) removeAll(ctx context.Context) error {
	s, t := m.s, m.t
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
