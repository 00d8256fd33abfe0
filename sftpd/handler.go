package sftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"depot/files"
	"depot/mft"
)

// handler serves one session's requests through the files service.
type handler struct {
	s     *Server
	sess  *session
	actor files.Actor
	ctx   context.Context

	mu      sync.Mutex
	uploads map[string]*upload // in progress, by client path, for FSTAT/SETSTAT
}

func (h *handler) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

// Fileread opens a file for download (get, reget).
func (h *handler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	t := &transfer{path: r.Filepath, direction: "download", started: time.Now().UTC()}
	if err := h.sess.begin(t, h.s.MaxTransfers); err != nil {
		return nil, h.sftpError(err)
	}
	f, _, err := h.s.Files.Open(h.ctx, h.actor, r.Filepath)
	if err != nil {
		h.sess.finish(t)
		return nil, h.sftpError(err)
	}
	return &download{f: f, t: t, sess: h.sess}, nil
}

// download counts what is read and ends the transfer on close.
type download struct {
	f    files.File
	t    *transfer
	sess *session
	once sync.Once
}

func (d *download) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.f.ReadAt(p, off)
	d.t.bytes.Add(int64(n))
	return n, err
}

func (d *download) Close() error {
	d.once.Do(func() { d.sess.finish(d.t) })
	return d.f.Close()
}

// Filewrite starts an upload: bytes go to a staging file and are
// published when the client closes the handle.
func (h *handler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	return h.create(r)
}

// OpenFile serves opens for reading and writing at once.
func (h *handler) OpenFile(r *sftp.Request) (sftp.WriterAtReaderAt, error) {
	return h.create(r)
}

func (h *handler) create(r *sftp.Request) (*upload, error) {
	t := &transfer{path: r.Filepath, direction: "upload", started: time.Now().UTC()}
	if err := h.sess.begin(t, h.s.MaxTransfers); err != nil {
		return nil, h.sftpError(err)
	}
	flags := r.Pflags()
	p, err := h.s.Files.Create(h.ctx, h.actor, r.Filepath, files.UploadOptions{Overwrite: !flags.Excl, Size: -1, Resume: !flags.Trunc,
		SyncOnRequest: !h.s.SyncUploads})
	if err != nil {
		h.sess.finish(t)
		return nil, h.sftpError(err)
	}
	u := &upload{p: p, t: t, h: h}
	h.mu.Lock()
	h.uploads[p.Path()] = u
	h.mu.Unlock()
	return u, nil
}

// upload is an open write handle.
type upload struct {
	p      *files.Pending
	t      *transfer
	h      *handler
	mu     sync.Mutex
	failed error
	closed bool
}

func (u *upload) WriteAt(b []byte, off int64) (int, error) {
	n, err := u.p.WriteAt(b, off)
	u.t.bytes.Add(int64(n))
	if err != nil {
		u.TransferError(err)
		return n, u.h.sftpError(err)
	}
	return n, nil
}

func (u *upload) ReadAt(b []byte, off int64) (int, error) { return u.p.ReadAt(b, off) }

// TransferError is called by pkg/sftp when the connection breaks with the
// handle open: the upload is then dropped on close, never published.
func (u *upload) TransferError(err error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.failed == nil {
		u.failed = err
	}
}

// Close publishes the upload, unless a write failed or the connection
// broke; the client learns from the close status whether it was kept.
func (u *upload) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	failed := u.failed
	u.mu.Unlock()
	defer func() {
		u.h.mu.Lock()
		if u.h.uploads[u.p.Path()] == u {
			delete(u.h.uploads, u.p.Path())
		}
		u.h.mu.Unlock()
		u.h.sess.finish(u.t)
	}()
	if failed != nil {
		u.p.Abort()
		return u.h.sftpError(failed)
	}
	if _, err := u.p.Commit(); err != nil {
		return u.h.sftpError(err)
	}
	return nil
}

// Filecmd serves setstat, rename, rmdir, remove, mkdir, link and symlink.
func (h *handler) Filecmd(r *sftp.Request) error {
	ctx, a, p := h.ctx, h.actor, r.Filepath
	switch r.Method {
	case "Setstat":
		if fsyncRequest(r) {
			return h.fsync(p)
		}
		// Times are applied (clients that preserve them, such as put -p);
		// modes and owners are accepted and ignored: Depot owns them. The
		// file must exist, or be an upload in progress.
		var atime, mtime time.Time
		if r.AttrFlags().Acmodtime {
			attrs := r.Attributes()
			atime, mtime = time.Unix(int64(attrs.Atime), 0), time.Unix(int64(attrs.Mtime), 0)
		}
		flags := r.AttrFlags()
		if u := h.pending(p); u != nil {
			if flags.Size {
				if err := u.p.Truncate(int64(r.Attributes().Size)); err != nil {
					return h.sftpError(err)
				}
			}
			if !mtime.IsZero() {
				u.p.SetTimes(atime, mtime)
			}
			return nil
		}
		if flags.Size {
			// A stored file changes only by a whole new upload, which is
			// published at once with its checksum; cutting or growing it
			// in place is refused unless it changes nothing.
			fi, err := h.s.Files.Stat(ctx, a, p)
			if err != nil {
				return h.sftpError(err)
			}
			if fi.Size != int64(r.Attributes().Size) {
				return fmt.Errorf("%s cannot be resized in place; upload it again (a file being uploaded can be resized).", p)
			}
		}
		if !mtime.IsZero() {
			return h.sftpError(h.s.Files.SetTimes(ctx, a, p, atime, mtime))
		}
		_, err := h.s.Files.Stat(ctx, a, p)
		return h.sftpError(err)
	case "Rename":
		_, err := h.s.Files.Rename(ctx, a, p, r.Target)
		return h.sftpError(err)
	case "Rmdir", "Remove":
		fi, err := h.s.Files.Stat(ctx, a, p)
		if err != nil {
			return h.sftpError(err)
		}
		if isDir := fi.Type == mft.TypeFolder; isDir != (r.Method == "Rmdir") {
			if isDir {
				return errors.New(p + " is a folder; use rmdir.")
			}
			return errors.New(p + " is not a folder.")
		}
		return h.sftpError(h.s.Files.Remove(ctx, a, p, false))
	case "Mkdir":
		_, err := h.s.Files.Mkdir(ctx, a, p)
		return h.sftpError(err)
	case "Link", "Symlink":
		return sftp.ErrSSHFxPermissionDenied
	}
	return sftp.ErrSSHFxOpUnsupported
}

// fsync serves fsync@openssh.com (which the shim hands over as a
// setstat): an upload in progress is synced when it is published; any
// other open file has nothing unsynced to offer.
func (h *handler) fsync(p string) error {
	if u := h.pending(p); u != nil {
		return h.sftpError(u.p.Sync())
	}
	return nil
}

// fsyncRequest tells the setstat the shim made of an fsync@openssh.com
// request.
func fsyncRequest(r *sftp.Request) bool {
	if r.Flags&attrExtended == 0 {
		return false
	}
	for _, e := range r.Attributes().Extended {
		if e.ExtType == fsyncExtension {
			return true
		}
	}
	return false
}

// PosixRename replaces the target if it is a file (posix-rename@openssh.com).
func (h *handler) PosixRename(r *sftp.Request) error {
	_, err := h.s.Files.Replace(h.ctx, h.actor, r.Filepath, r.Target)
	return h.sftpError(err)
}

// StatVFS reports the user's quota as the filesystem's size, or the disk's
// when the user has none.
func (h *handler) StatVFS(r *sftp.Request) (*sftp.StatVFS, error) {
	total, free, err := h.s.Files.Space(h.ctx, h.actor)
	if err != nil {
		return nil, h.sftpError(err)
	}
	const bsize = 4096
	return &sftp.StatVFS{Bsize: bsize, Frsize: bsize, Namemax: files.MaxNameLen, Files: 1 << 32, Ffree: 1 << 31, Favail: 1 << 31,
		Blocks: uint64(total / bsize), Bfree: uint64(free / bsize), Bavail: uint64(free / bsize)}, nil
}

func (h *handler) pending(p string) *upload {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.uploads[path.Clean(p)]
}

// Filelist serves list, stat and readlink.
func (h *handler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		list, err := h.s.Files.List(h.ctx, h.actor, r.Filepath)
		if err != nil {
			return nil, h.sftpError(err)
		}
		out := make(listerAt, len(list))
		for i, fi := range list {
			out[i] = files.OSInfo{Entry: fi}
		}
		return out, nil
	case "Stat":
		if u := h.pending(r.Filepath); u != nil { // FSTAT of an upload in progress
			return listerAt{files.OSInfo{Entry: mft.FileInfo{Name: path.Base(r.Filepath), Type: mft.TypeFile, Size: u.p.Size(), ModifiedAt: time.Now()}}}, nil
		}
		fi, err := h.s.Files.Stat(h.ctx, h.actor, r.Filepath)
		if err != nil {
			return nil, h.sftpError(err)
		}
		return listerAt{files.OSInfo{Entry: fi}}, nil
	case "Readlink":
		return nil, sftp.ErrSSHFxNoSuchFile
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat is Stat: symlinks are never shown.
func (h *handler) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	r.Method = "Stat"
	return h.Filelist(r)
}

// RealPath resolves a path in the user's tree; ".." stops at "/", so
// `cd /..` stays at the root.
func (h *handler) RealPath(p string) (string, error) {
	return path.Clean("/" + p), nil
}

// listerAt serves a listing in the pages pkg/sftp asks for.
type listerAt []os.FileInfo

func (l listerAt) ListAt(dst []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(dst, l[off:])
	if off+int64(n) >= int64(len(l)) {
		return n, io.EOF
	}
	return n, nil
}
