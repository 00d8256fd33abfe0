package files

import (
	"context"
	"io"
	"os"
	"path"
	"sync"

	"depot/mft"
	"depot/remote"
)

// maxHeld bounds the writes an SFTP upload to a remote may send ahead of
// the first byte not yet streamed: a remote file is written once, from
// start to end, and clients keep a window of writes in flight (OpenSSH: 64
// of 32 KiB).
const maxHeld = 8 << 20

// beginUpload checks an upload to a remote target as checkUpload does on
// the local disk: the parent folder (remembered a few seconds), the limits,
// and what is at the target. That last question is asked in the
// background while the bytes flow, to save a round trip per file: until
// the answer the quota counts no file replaced, and lw.settle, which the
// upload calls before it publishes (and the limits before they refuse),
// waits for it and applies it.
func (m *mounted) beginUpload(ctx context.Context, a Actor, opts UploadOptions) (*limitWriter, error) {
	s, t := m.s, m.t
	if t.isTreeRoot() || t.storage == t.mount.Path {
		return nil, mft.Errorf(mft.EINVALID, "Give the file a name: %s is a folder.", t.client)
	}
	if parent := path.Dir(t.storage); parent != t.mount.Path && (parent != t.base || parent == t.view.home) {
		key := dirKey(t.mount.ID, t.rpath(parent))
		if !s.dirs.has(key) {
			err := s.withTree(ctx, t, func(tree remote.Tree) error {
				if parent == t.base { // a home below the storage root's mount: made on first use
					return tree.Mkdir(ctx, t.rpath(parent))
				}
				e, err := tree.StatDir(ctx, t.rpath(parent))
				if mft.ErrorCode(err) == mft.ENOTFOUND || err == nil && !e.Dir {
					return mft.Errorf(mft.ENOTFOUND, "The folder %s does not exist.", path.Dir(t.client))
				}
				return err
			})
			if err != nil {
				return nil, err
			}
			s.dirs.add(key)
		}
	}
	var at remote.Entry
	done := make(chan error, 1)
	go func() {
		done <- s.withTree(ctx, t, func(tree remote.Tree) (err error) {
			at, err = tree.StatAny(ctx, t.rpath(t.storage))
			return err
		})
	}()
	lw, err := s.limits(ctx, a, t, 0)
	if err != nil {
		<-done
		return nil, err
	}
	var once sync.Once
	var settled error
	lw.settle = func() error {
		once.Do(func() {
			switch err := <-done; {
			case mft.ErrorCode(err) == mft.ENOTFOUND:
			case err != nil:
				settled = err
			case at.Dir:
				settled = mft.Errorf(mft.ECONFLICT, "%s is a folder.", t.client)
			case !opts.Overwrite:
				settled = mft.Errorf(mft.ECONFLICT, "%s already exists.", t.client)
			default:
				if settled = t.need(mft.PermOverwrite); settled != nil {
					return
				}
				var fresh *limitWriter // the quota with the replaced file's bytes given back
				if fresh, settled = s.limits(ctx, a, t, at.Size); settled == nil {
					lw.quota, lw.oldSize, lw.replaces = fresh.quota, at.Size, true
				}
			}
		})
		return settled
	}
	if err := lw.check(opts.Size); err != nil {
		return nil, err
	}
	return lw, nil
}

// receive streams body to the remote through the limits and the sha256,
// as an upload does to a staging file: nothing is kept on the local disk,
// and nothing is visible there before the last byte.
func (m *mounted) receive(ctx context.Context, a Actor, lw *limitWriter, body io.Reader, opts UploadOptions) (mft.FileInfo, error) {
	s, t := m.s, m.t
	u, err := m.stream(ctx, lw)
	if err != nil {
		return mft.FileInfo{}, err
	}
	err = lw.receive(u.pw, body, opts.Size, t.client)
	if err == nil {
		err = lw.settle()
	} else {
		lw.settle() // waits for the question in flight to give its connection back
	}
	if err != nil {
		u.abort()
		if mft.ErrorCode(err) == "" { // the pipe's: the remote's own error says why
			err = s.remoteError(cmpErr(u.err, err), t.client)
		}
		return mft.FileInfo{}, err // the limits' or the check's, worded already
	}
	if err := s.scanned(ctx, a, t, lw, nil); err != nil {
		u.abort() // an infected or unscanned file is never committed
		return mft.FileInfo{}, err
	}
	e, err := u.finish(ctx, lw.n)
	if err != nil {
		return mft.FileInfo{}, s.remoteError(err, t.client)
	}
	return s.rPublished(ctx, a, t, lw, e)
}

// publishFile streams f up as any upload.
func (m *mounted) publishFile(ctx context.Context, a Actor, lw *limitWriter, f *os.File, stagingName string, opts UploadOptions) (mft.FileInfo, error) {
	return m.receive(ctx, a, lw, io.NewSectionReader(f, 0, opts.Size), opts)
}

// rPublished records a complete remote upload: usage, the file.uploaded
// event, and the file as the client sees it with its sha256.
func (s *Service) rPublished(ctx context.Context, a Actor, t target, lw *limitWriter, e remote.Entry) (mft.FileInfo, error) {
	sum, err := s.uploaded(ctx, a, t, lw)
	if err != nil {
		return mft.FileInfo{}, err
	}
	fi := entryInfo(t.client, e)
	fi.SHA256 = sum
	return fi, nil
}

// remoteWrite is the state of a Pending upload to a remote: the bytes go
// out in order as they come, and writes that arrive ahead wait here.
type remoteWrite struct {
	u     *remoteUpload
	held  map[int64][]byte
	bytes int64 // held
}

// stream starts the stream of an upload checked by beginUpload.
func (m *mounted) stream(ctx context.Context, lw *limitWriter) (*remoteUpload, error) {
	tree, release, err := m.s.Backends.Acquire(ctx, m.t.mount)
	if err != nil {
		lw.settle() // waits for the question in flight to give its connection back
		return nil, m.s.remoteError(err, m.t.client)
	}
	return startRemote(ctx, tree, release, m.t.rpath(m.t.storage)), nil
}

// create starts a Pending upload to the remote.
func (m *mounted) create(ctx context.Context, a Actor, lw *limitWriter, opts UploadOptions) (*Pending, error) {
	u, err := m.stream(ctx, lw)
	if err != nil {
		return nil, err
	}
	lw.h = lw.newHash()
	return &Pending{s: m.s, a: a, ctx: context.WithoutCancel(ctx), t: m.t, lw: lw, rw: &remoteWrite{u: u, held: map[int64][]byte{}}}, nil
}

// rWriteAt streams b if it is next, else holds it until it is. p.mu is
// held.
func (p *Pending) rWriteAt(b []byte, off int64) (int, error) {
	w := p.rw
	end := off + int64(len(b))
	switch {
	case off < p.hashed:
		return 0, mft.Errorf(mft.EINVALID, "%s is on remote storage, where a file is written once from start to end; this write goes back to byte %d.", p.t.client, off)
	case off > p.hashed:
		if w.bytes+int64(len(b)) > maxHeld {
			return 0, mft.Errorf(mft.EINVALID, "%s is on remote storage, where a file is written from start to end; this write is too far ahead (byte %d, %d bytes written).", p.t.client, off, p.hashed)
		}
		w.held[off] = append([]byte(nil), b...)
		w.bytes += int64(len(b))
		p.size = max(p.size, end)
		return len(b), nil
	}
	if err := p.rsend(b); err != nil {
		return 0, err
	}
	for {
		next, ok := w.held[p.hashed]
		if !ok {
			break
		}
		delete(w.held, p.hashed)
		w.bytes -= int64(len(next))
		if err := p.rsend(next); err != nil {
			return 0, err
		}
	}
	p.size = max(p.size, p.hashed)
	return len(b), nil
}

// rsend streams the next bytes of the file.
func (p *Pending) rsend(b []byte) error {
	if _, err := p.rw.u.pw.Write(b); err != nil {
		<-p.rw.u.done
		return p.s.remoteError(cmpErr(p.rw.u.err, err), p.t.client)
	}
	p.lw.h.Write(b)
	p.hashed += int64(len(b))
	return nil
}

// rCommit publishes a Pending upload to a remote. p.mu is held.
func (p *Pending) rCommit() (mft.FileInfo, error) {
	if len(p.rw.held) > 0 || p.hashed != p.size {
		p.lw.settle()
		p.rw.u.abort()
		return mft.FileInfo{}, mft.Errorf(mft.EINVALID, "The upload of %s has a gap at byte %d; nothing was stored.", p.t.client, p.hashed)
	}
	if err := p.lw.settle(); err != nil { // worded already
		p.rw.u.abort()
		return mft.FileInfo{}, err
	}
	p.lw.n = p.size
	if err := p.s.scanned(p.ctx, p.a, p.t, p.lw, nil); err != nil {
		p.rw.u.abort() // an infected or unscanned file is never committed
		return mft.FileInfo{}, err
	}
	e, err := p.rw.u.finish(p.ctx, p.size)
	if err != nil {
		return mft.FileInfo{}, p.s.remoteError(err, p.t.client)
	}
	return p.s.rPublished(p.ctx, p.a, p.t, p.lw, e)
}
