package files

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"time"

	"depot/mft"
)

// local is a target on the local disk: every access goes through an
// os.Root at the target's tree, so that nothing, symlinks included, can
// leave it. Uploads are written to staging files in data/tmp and renamed
// into place (renameat2), synced when asked.
type local struct {
	s    *Service
	t    target
	root *os.Root // nil once handed to a Pending
	held bool     // root is the session's: not closed here
}

func (l *local) close() {
	if l.root != nil && !l.held {
		l.root.Close()
	}
}

func (l *local) name() string { return rel(l.t.base, l.t.storage) }

func (l *local) stat(ctx context.Context) (mft.FileInfo, error) {
	fi, err := l.s.lstat(l.root, l.t)
	if err != nil {
		return mft.FileInfo{}, err
	}
	return info(l.t.client, fi), nil
}

// list lists a folder on the local disk, with the mount points in it.
func (l *local) list(ctx context.Context) ([]mft.FileInfo, error) {
	t := l.t
	dir, err := l.root.Open(l.name())
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
	return l.s.withMountsBelow(ctx, t, out)
}

// withMountsBelow adds to the listing out of folder t the mounts directly
// inside it, as folders (in place of what the storage has of that name).
func (s *Service) withMountsBelow(ctx context.Context, t target, out []mft.FileInfo) ([]mft.FileInfo, error) {
	if s.Backends == nil {
		return out, nil
	}
	below, err := s.Backends.Below(ctx, t.storage)
	if err != nil {
		return nil, err
	}
	for _, m := range below {
		name := path.Base(m.Path)
		out = slices.DeleteFunc(out, func(f mft.FileInfo) bool { return f.Name == name })
		out = append(out, mft.FileInfo{Name: name, Path: path.Join(t.client, name), Type: mft.TypeFolder, ModifiedAt: m.CreatedAt.UTC().Truncate(time.Second)})
	}
	return out, nil
}

func (l *local) open(ctx context.Context) (File, mft.FileInfo, error) {
	t := l.t
	fi, err := l.s.lstat(l.root, t)
	if err != nil {
		return nil, mft.FileInfo{}, err
	}
	if fi.IsDir() {
		return nil, mft.FileInfo{}, mft.Errorf(mft.EINVALID, "%s is a folder; list it instead.", t.client)
	}
	f, err := l.root.OpenFile(l.name(), os.O_RDONLY|noFollow, 0)
	if err != nil {
		return nil, mft.FileInfo{}, fsError(err, t.client)
	}
	fi, err = f.Stat()
	if err != nil {
		f.Close()
		return nil, mft.FileInfo{}, fsError(err, t.client)
	}
	return f, info(t.client, fi), nil
}

func (l *local) mkdir(ctx context.Context) (mft.FileInfo, error) {
	name := l.name()
	if _, err := l.root.Lstat(name); err == nil {
		return mft.FileInfo{}, mft.Errorf(mft.ECONFLICT, "%s already exists.", l.t.client)
	}
	if err := l.root.MkdirAll(name, 0o700); err != nil {
		return mft.FileInfo{}, fsError(err, l.t.client)
	}
	fi, err := l.root.Stat(name)
	if err != nil {
		return mft.FileInfo{}, fsError(err, l.t.client)
	}
	return info(l.t.client, fi), nil
}

func (l *local) remove(ctx context.Context, recursive bool) (bool, int64, error) {
	fi, err := l.s.lstat(l.root, l.t)
	if err != nil {
		return false, 0, err
	}
	switch {
	case !fi.IsDir():
		err = l.root.Remove(l.name())
	case recursive:
		err = l.root.RemoveAll(l.name())
	default:
		err = l.root.Remove(l.name())
	}
	return fi.IsDir(), fi.Size(), fsError(err, l.t.client)
}

func (l *local) setTimes(ctx context.Context, atime, mtime time.Time) error {
	if _, err := l.s.lstat(l.root, l.t); err != nil {
		return err
	}
	return fsError(l.root.Chtimes(l.name(), atime, mtime), l.t.client)
}

// beginUpload sheds uploads while the disk is nearly full (503, as
// /healthz reports it), then checks the target and the limits.
func (l *local) beginUpload(ctx context.Context, a Actor, opts UploadOptions) (*limitWriter, error) {
	if err := l.s.Health(); mft.ErrorCode(err) == mft.EUNAVAILABLE {
		return nil, err
	}
	return l.s.checkUpload(ctx, a, l.t, l.root, opts)
}

func (l *local) receive(ctx context.Context, a Actor, lw *limitWriter, body io.Reader, opts UploadOptions) (mft.FileInfo, error) {
	staging, stagingName, err := l.s.newStaging()
	if err != nil {
		return mft.FileInfo{}, fsError(err, l.t.client)
	}
	if err := lw.receive(staging, body, opts.Size, l.t.client); err != nil {
		l.s.dropStaging(staging, stagingName)
		return mft.FileInfo{}, err
	}
	return l.s.publishStaging(ctx, a, l.t, l.root, staging, stagingName, opts.Overwrite, lw)
}

// publishFile hashes f and renames it into place.
func (l *local) publishFile(ctx context.Context, a Actor, lw *limitWriter, f *os.File, stagingName string, opts UploadOptions) (mft.FileInfo, error) {
	if err := lw.check(opts.Size); err != nil {
		return mft.FileInfo{}, err
	}
	lw.h = lw.newHash()
	buf := recvPool.Get().(*[]byte)
	_, err := io.CopyBuffer(lw.h, io.NewSectionReader(f, 0, opts.Size), *buf)
	recvPool.Put(buf)
	if err != nil {
		return mft.FileInfo{}, fsError(err, l.t.client)
	}
	lw.n = opts.Size
	return l.s.publishStaging(ctx, a, l.t, l.root, f, stagingName, opts.Overwrite, lw)
}

// create starts a Pending on a staging file; the Pending keeps the tree
// open until it is committed or aborted.
func (l *local) create(ctx context.Context, a Actor, lw *limitWriter, opts UploadOptions) (*Pending, error) {
	f, name, err := l.s.newStaging()
	if err != nil {
		return nil, fsError(err, l.t.client)
	}
	p := &Pending{s: l.s, a: a, ctx: context.WithoutCancel(ctx), t: l.t, root: l.root, held: l.held, lw: lw, f: f, name: name}
	l.root = nil
	switch {
	case opts.NoSync:
		lw.sync = false
	case opts.SyncOnRequest:
		lw.sync, p.askable = false, true
	}
	p.lw.h = lw.newHash()
	if opts.Resume && lw.oldSize > 0 {
		p.resumed = true
		old, err := p.root.Open(rel(p.t.base, p.t.storage))
		if err == nil {
			p.size, err = f.ReadFrom(old)
			old.Close()
		}
		if err != nil {
			p.Abort()
			return nil, fsError(err, p.t.client)
		}
	}
	return p, nil
}

// deliver renames the held file at storage path from (size bytes, on
// the local disk) into the tree, making the missing folders: it never
// replaces one.
func (l *local) deliver(ctx context.Context, to Actor, from string, size int64, sum string) error {
	name := l.name()
	if err := l.root.MkdirAll(path.Dir(name), 0o700); err != nil {
		return fsError(err, path.Dir(l.t.client))
	}
	if err := moveName(l.s.root, rel("/", from), l.root, name, true); err != nil {
		return fsError(err, l.t.client)
	}
	l.s.addUsage(ctx, path.Dir(from), -size)
	l.s.addUsage(ctx, path.Dir(l.t.storage), size)
	return l.s.publishDurable(ctx, mft.Event{Event: mft.EventFileUploaded, Path: l.t.storage, Size: size, SHA256: sum}, to, l.s.Sync)
}

func (l *local) removeAll(ctx context.Context) error {
	fi, err := l.root.Lstat(l.name())
	if err != nil {
		return nil
	}
	if err := l.root.RemoveAll(l.name()); err != nil {
		return fsError(err, l.t.storage)
	}
	if fi.IsDir() {
		return l.s.Usage.DeleteUsage(context.WithoutCancel(ctx), l.t.storage)
	}
	l.s.addUsage(ctx, path.Dir(l.t.storage), -fi.Size())
	return nil
}

func (l *local) sameAs(o storage) bool {
	_, ok := o.(*local)
	return ok
}

// renameTo moves the target between trees of the local disk: one
// renameat2 between the two roots' folders.
func (l *local) renameTo(ctx context.Context, a Actor, to storage, replace bool) (mft.FileInfo, error) {
	dst := to.(*local)
	src, s := l.t, l.s
	fi, err := s.lstat(l.root, src)
	if err != nil {
		return mft.FileInfo{}, err
	}
	parent, err := dst.root.Stat(rel(dst.t.base, path.Dir(dst.t.storage)))
	if err != nil || !parent.IsDir() {
		return mft.FileInfo{}, mft.Errorf(mft.ENOTFOUND, "The folder %s does not exist.", path.Dir(dst.t.client))
	}
	size := fi.Size()
	if fi.IsDir() {
		if size, err = s.Usage.Usage(ctx, src.storage); err != nil {
			return mft.FileInfo{}, err
		}
	}
	if err := s.checkMove(ctx, a, src, dst.t, size, fi.IsDir()); err != nil {
		return mft.FileInfo{}, err
	}
	var replaced int64
	if replace {
		if old, err := dst.root.Lstat(dst.name()); err == nil {
			if old.IsDir() || fi.IsDir() {
				return mft.FileInfo{}, mft.Errorf(mft.ECONFLICT, "%s already exists.", dst.t.client)
			}
			if err := dst.t.need(mft.PermOverwrite); err != nil {
				return mft.FileInfo{}, err
			}
			replaced = old.Size()
		}
	}
	if err := moveName(l.root, l.name(), dst.root, dst.name(), !replace); err != nil {
		return mft.FileInfo{}, fsError(err, dst.t.client)
	}
	s.renamed(ctx, a, src, dst.t, size, replaced, fi.IsDir())
	return info(dst.t.client, fi), nil
}
