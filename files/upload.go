package files

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"os"
	"path"
	"sync"

	"depot/mft"
)

// UploadOptions tunes one upload.
type UploadOptions struct {
	// Overwrite allows replacing an existing file (with overwrite permission).
	Overwrite bool
	// Size is the announced length, or -1 when unknown; a size that breaks a
	// limit is refused before any byte is read.
	Size int64
}

// mb is one megabyte, the unit of quota_mb and max_file_size.
const mb = 1 << 20

// copyBufs are the buffers uploads copy through.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// limitWriter counts and hashes what it writes, and refuses a write that
// would cross the size limit or the quota.
type limitWriter struct {
	w       io.Writer
	n       int64
	maxSize int64 // file size limit, 0 = none
	quota   int64 // bytes left in the quota, -1 = none
	h       hash.Hash
}

// check returns ETOOLARGE or EQUOTA if a file of size bytes breaks a limit.
func (lw *limitWriter) check(size int64) error {
	if lw.maxSize > 0 && size > lw.maxSize {
		return mft.Errorf(mft.ETOOLARGE, "The file is larger than the limit of %d bytes.", lw.maxSize)
	}
	if lw.quota >= 0 && size > lw.quota {
		return mft.Errorf(mft.EQUOTA, "The upload does not fit in the quota (%d bytes left).", lw.quota)
	}
	return nil
}

func (lw *limitWriter) Write(p []byte) (int, error) {
	if err := lw.check(lw.n + int64(len(p))); err != nil {
		return 0, err
	}
	n, err := lw.w.Write(p)
	lw.h.Write(p[:n])
	lw.n += int64(n)
	return n, err
}

// Upload streams body to a staging file, enforcing the size and quota
// limits as the bytes arrive, then publishes it at clientPath by an atomic
// rename: a half-written file is never visible, and a refused or broken
// upload leaves nothing behind. The answer carries the sha256.
func (s *Service) Upload(ctx context.Context, a Actor, clientPath string, body io.Reader, opts UploadOptions) (mft.FileInfo, error) {
	t, root, err := s.prepare(ctx, a, clientPath, mft.PermUpload)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer root.Close()
	if t.isTreeRoot() {
		return mft.FileInfo{}, mft.Errorf(mft.EINVALID, "Give the file a name: %s is a folder.", t.client)
	}
	name := rel(t.base, t.storage)
	parent, err := root.Stat(path.Dir(name))
	if err != nil || !parent.IsDir() {
		return mft.FileInfo{}, mft.Errorf(mft.ENOTFOUND, "The folder %s does not exist.", path.Dir(t.client))
	}
	var oldSize int64
	if fi, err := root.Lstat(name); err == nil {
		switch {
		case fi.IsDir():
			return mft.FileInfo{}, mft.Errorf(mft.ECONFLICT, "%s is a folder.", t.client)
		case !opts.Overwrite:
			return mft.FileInfo{}, mft.Errorf(mft.ECONFLICT, "%s already exists.", t.client)
		}
		if err := t.need(mft.PermOverwrite); err != nil {
			return mft.FileInfo{}, err
		}
		oldSize = fi.Size()
	}
	lw, err := s.limits(ctx, a, t, oldSize)
	if err != nil {
		return mft.FileInfo{}, err
	}
	if err := lw.check(opts.Size); err != nil { // -1 (unknown) breaks no limit
		return mft.FileInfo{}, err
	}

	staging, err := os.CreateTemp(s.tmpDir, ".upload-*")
	if err != nil {
		return mft.FileInfo{}, fsError(err, t.client)
	}
	published := false
	defer func() {
		if !published {
			staging.Close()
			os.Remove(staging.Name())
		}
	}()
	lw.w, lw.h = staging, sha256.New()
	bufp := copyBufs.Get().(*[]byte)
	_, err = io.CopyBuffer(lw, onlyReader{body}, *bufp)
	copyBufs.Put(bufp)
	if err != nil {
		var me *mft.Error
		if errors.As(err, &me) {
			return mft.FileInfo{}, err
		}
		return mft.FileInfo{}, mft.Errorf(mft.EMALFORMED, "The upload was interrupted after %d bytes.", lw.n)
	}
	if opts.Size >= 0 && lw.n != opts.Size {
		return mft.FileInfo{}, mft.Errorf(mft.EMALFORMED, "Received %d bytes, but %d were announced.", lw.n, opts.Size)
	}
	if err := staging.Sync(); err != nil {
		return mft.FileInfo{}, fsError(err, t.client)
	}
	if err := s.commit(root, staging, name, opts.Overwrite); err != nil {
		return mft.FileInfo{}, fsError(err, t.client)
	}
	published = true
	fi, err := root.Lstat(name)
	if err != nil {
		return mft.FileInfo{}, fsError(err, t.client)
	}
	sum := hex.EncodeToString(lw.h.Sum(nil))
	s.addUsage(ctx, path.Dir(t.storage), lw.n-oldSize)
	s.publish(mft.Event{Event: mft.EventFileUploaded, Path: t.storage, Size: lw.n, SHA256: sum}, a)
	out := info(t.client, fi)
	out.SHA256 = sum
	return out, nil
}

// onlyReader hides a body's WriteTo, so that io.CopyBuffer goes through
// limitWriter's checks on every chunk.
type onlyReader struct{ io.Reader }

// limits returns a writer that enforces the user's max file size and, for
// files in their home, their quota; replacing a file frees its old size.
func (s *Service) limits(ctx context.Context, a Actor, t target, oldSize int64) (*limitWriter, error) {
	lw := &limitWriter{quota: -1}
	u := a.User
	if u.MaxFileSize > 0 {
		lw.maxSize = u.MaxFileSize * mb
	}
	if u.QuotaMB > 0 && mft.HasPathPrefix(t.storage, u.Home) {
		used, err := s.Usage.Usage(ctx, u.Home)
		if err != nil {
			return nil, err
		}
		lw.quota = max(u.QuotaMB*mb-used+oldSize, 0)
	}
	return lw, nil
}

// commit closes the synced staging file, renames it to name inside root
// (refusing to replace unless overwrite) and syncs the folder.
func (s *Service) commit(root *os.Root, staging *os.File, name string, overwrite bool) error {
	if err := staging.Close(); err != nil {
		return err
	}
	dir, err := dirFD(root, path.Dir(name))
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := renameat(s.tmp, path.Base(staging.Name()), dir, path.Base(name), !overwrite); err != nil {
		return err
	}
	return dir.Sync()
}
