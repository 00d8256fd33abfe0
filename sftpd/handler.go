package sftpd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"time"

	"depot/files"
	"depot/mft"
)

// handler serves one session's requests through the files service.
type handler struct {
	s     *Server
	sess  *session
	actor files.Actor
	ctx   context.Context
	// stderr is the session's stderr (see tell).
	stderr io.Writer

	uploads map[string]*upload // in progress, by client path, for STAT and SETSTAT
}

// openRead opens a file for download (get, reget).
func (h *handler) openRead(p string) (*download, error) {
	t := &transfer{path: p, direction: "download", started: time.Now().UTC()}
	if err := h.sess.begin(t, h.s.MaxTransfers); err != nil {
		return nil, h.sftpError(err)
	}
	f, fi, err := h.s.Files.Open(h.ctx, h.actor, p)
	if err != nil {
		h.sess.finish(t)
		return nil, h.sftpError(err)
	}
	return &download{f: f, size: fi.Size, t: t, sess: h.sess}, nil
}

// download counts what is read and ends the transfer on close.
type download struct {
	f    files.File
	size int64 // when opened; a read past it still asks the file
	t    *transfer
	sess *session
}

func (d *download) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.f.ReadAt(p, off)
	d.t.bytes.Add(int64(n))
	return n, err
}

func (d *download) Close() error {
	d.sess.finish(d.t)
	return d.f.Close()
}

// create starts an upload (an open for writing, or for reading and
// writing): bytes go to a staging file and are published when the client
// closes the handle.
func (h *handler) create(p string, pflags uint32) (*upload, error) {
	t := &transfer{path: p, direction: "upload", started: time.Now().UTC()}
	if err := h.sess.begin(t, h.s.MaxTransfers); err != nil {
		return nil, h.sftpError(err)
	}
	pending, err := h.s.Files.Create(h.ctx, h.actor, p, files.UploadOptions{Overwrite: pflags&fxfExcl == 0, Size: -1,
		Resume: pflags&fxfTrunc == 0, SyncOnRequest: !h.s.SyncUploads})
	if err != nil {
		h.sess.finish(t)
		return nil, h.sftpError(err)
	}
	u := &upload{p: pending, t: t, h: h}
	h.uploads[pending.Path()] = u
	return u, nil
}

// upload is an open write handle.
type upload struct {
	p      *files.Pending
	t      *transfer
	h      *handler
	failed error // a write failed or the connection broke: dropped on close
}

func (u *upload) WriteAt(b []byte, off int64) (int, error) {
	n, err := u.p.WriteAt(b, off)
	u.t.bytes.Add(int64(n))
	if err != nil {
		if u.failed == nil {
			u.failed = err
		}
		return n, u.h.sftpError(err)
	}
	return n, nil
}

func (u *upload) ReadAt(b []byte, off int64) (int, error) { return u.p.ReadAt(b, off) }

// Close publishes the upload, unless a write failed; the client learns
// from the close status whether it was kept. (An upload still open when
// its session ends is aborted, never published.)
func (u *upload) Close() error {
	if u.failed != nil {
		u.abort()
		return u.h.sftpError(u.failed)
	}
	if u.h.uploads[u.p.Path()] == u {
		delete(u.h.uploads, u.p.Path())
	}
	defer u.h.sess.finish(u.t)
	if _, err := u.p.Commit(); err != nil {
		return u.h.sftpError(err)
	}
	return nil
}

// abort drops an upload whose session ended with it open: it is never
// published.
func (u *upload) abort() {
	if u.h.uploads[u.p.Path()] == u {
		delete(u.h.uploads, u.p.Path())
	}
	u.p.Abort()
	u.h.sess.finish(u.t)
}

// setstat serves SETSTAT and FSETSTAT. Times are applied (clients that
// preserve them, such as put -p); modes and owners are accepted and
// ignored: Depot owns them. The file must exist, or be an upload in
// progress, whose size may also be set.
func (h *handler) setstat(p string, a attrs) error {
	ctx, act := h.ctx, h.actor
	var atime, mtime time.Time
	if a.flags&attrACModTime != 0 {
		atime, mtime = time.Unix(int64(a.atime), 0), time.Unix(int64(a.mtime), 0)
	}
	if u := h.pending(p); u != nil {
		if a.flags&attrSize != 0 {
			if err := u.p.Truncate(int64(a.size)); err != nil {
				return h.sftpError(err)
			}
		}
		if !mtime.IsZero() {
			u.p.SetTimes(atime, mtime)
		}
		return nil
	}
	if a.flags&attrSize != 0 {
		// A stored file changes only by a whole new upload, which is
		// published at once with its checksum; cutting or growing it in
		// place is refused unless it changes nothing.
		fi, err := h.s.Files.Stat(ctx, act, p)
		if err != nil {
			return h.sftpError(err)
		}
		if uint64(fi.Size) != a.size {
			return fmt.Errorf("%s cannot be resized in place; upload it again (a file being uploaded can be resized).", p)
		}
	}
	if !mtime.IsZero() {
		return h.sftpError(h.s.Files.SetTimes(ctx, act, p, atime, mtime))
	}
	_, err := h.s.Files.Stat(ctx, act, p)
	return h.sftpError(err)
}

func (h *handler) rename(from, to string) error {
	_, err := h.s.Files.Rename(h.ctx, h.actor, from, to)
	return h.sftpError(err)
}

// replace replaces the target if it is a file (posix-rename@openssh.com).
func (h *handler) replace(from, to string) error {
	_, err := h.s.Files.Replace(h.ctx, h.actor, from, to)
	return h.sftpError(err)
}

// remove serves REMOVE (dir false) and RMDIR.
func (h *handler) remove(p string, dir bool) error {
	fi, err := h.s.Files.Stat(h.ctx, h.actor, p)
	if err != nil {
		return h.sftpError(err)
	}
	if isDir := fi.Type == mft.TypeFolder; isDir != dir {
		if isDir {
			return errors.New(p + " is a folder; use rmdir.")
		}
		return errors.New(p + " is not a folder.")
	}
	return h.sftpError(h.s.Files.Remove(h.ctx, h.actor, p, false))
}

func (h *handler) mkdir(p string) error {
	_, err := h.s.Files.Mkdir(h.ctx, h.actor, p)
	return h.sftpError(err)
}

// refuseLink answers SYMLINK and hardlink@openssh.com: links are not kept
// in Depot's trees.
func (h *handler) refuseLink() error {
	return refusal{code: fxPermissionDenied, msg: "Links are not supported."}
}

// fsync serves fsync@openssh.com: an upload in progress is synced when it
// is published; any other open file has nothing unsynced to offer.
func (h *handler) fsync(hd *handle) error {
	if hd.up != nil {
		return h.sftpError(hd.up.p.Sync())
	}
	return nil
}

// statvfs reports the user's quota as the filesystem's size, or the
// disk's when the user has none, as statvfs@openssh.com's eleven numbers.
func (h *handler) statvfs() ([11]uint64, error) {
	total, free, err := h.s.Files.Space(h.ctx, h.actor)
	if err != nil {
		return [11]uint64{}, h.sftpError(err)
	}
	const bsize = 4096
	// bsize, frsize, blocks, bfree, bavail, files, ffree, favail, fsid, flag, namemax
	return [11]uint64{bsize, bsize, uint64(total / bsize), uint64(free / bsize), uint64(free / bsize),
		1 << 32, 1 << 31, 1 << 31, 0, 0, files.MaxNameLen}, nil
}

func (h *handler) pending(p string) *upload { return h.uploads[p] }

func (h *handler) list(p string) ([]mft.FileInfo, error) {
	list, err := h.s.Files.List(h.ctx, h.actor, p)
	return list, h.sftpError(err)
}

// stat serves STAT, LSTAT (symlinks are never shown) and FSTAT; an upload
// in progress has the size written so far.
func (h *handler) stat(p string) (mft.FileInfo, error) {
	if u := h.pending(p); u != nil {
		return mft.FileInfo{Name: path.Base(p), Type: mft.TypeFile, Size: u.p.Size(), ModifiedAt: time.Now()}, nil
	}
	fi, err := h.s.Files.Stat(h.ctx, h.actor, p)
	return fi, h.sftpError(err)
}

// longName is a listing's line as `ls -l` prints it, which OpenSSH's sftp
// shows for ls -l: Depot's modes, one link, owner and group 0.
func longName(fi files.OSInfo, now time.Time) string {
	mtime := fi.ModTime()
	when := mtime.Format("15:04")
	if mtime.Before(now.AddDate(0, -6, 0)) {
		when = mtime.Format("2006")
	}
	return fmt.Sprintf("%s %4d %-8s %-8s %8d %s %5s %s", fi.Mode(), 1, "0", "0", fi.Size(), mtime.Format("Jan 2"), when, fi.Name())
}
