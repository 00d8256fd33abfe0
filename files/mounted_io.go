package files

import (
	"context"
	"errors"
	"io"
	"path"
	"sync"
	"time"

	"depot/mft"
	"depot/remote"
)

// File is a file open for reading: a local file, or a remote one read as
// a stream from the offset asked.
type File interface {
	io.Reader
	io.ReaderAt
	io.Seeker
	io.Closer
}

// readWindow is how far behind and ahead of a remote stream ReadAt may
// ask without reopening it: SFTP clients keep many reads in flight, and
// they arrive out of order.
const readWindow = 4 << 20

// remoteFile reads a remote file through one stream, reopened at the
// offset asked when a read is far from it. The last readWindow bytes read
// are kept for reads that arrive late.
type remoteFile struct {
	s       *Service
	client  string // the path the reader asked for
	ctx     context.Context
	tree    remote.Tree
	release func(error)
	p       string
	size    int64

	mu     sync.Mutex
	r      io.ReadCloser
	pos    int64  // the stream's position
	win    []byte // bytes [winOff, pos) of the file
	winOff int64
	off    int64 // Read and Seek's position
	err    error
}

func (f *remoteFile) reopen(off int64) error {
	if f.r != nil {
		f.r.Close()
		f.r = nil
	}
	r, err := f.tree.Get(f.ctx, f.p, off)
	if err != nil {
		f.err = err
		return f.s.remoteError(err, f.client)
	}
	f.r, f.pos, f.winOff, f.win = r, off, off, f.win[:0]
	return nil
}

// ReadAt reads len(b) bytes at off from the window, the stream, or a
// stream reopened there.
func (f *remoteFile) ReadAt(b []byte, off int64) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if off >= f.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(b)), f.size)
	if f.r == nil || off < f.winOff || off > f.pos+readWindow {
		if err := f.reopen(off); err != nil {
			return 0, err
		}
	}
	for f.pos < end {
		// Keep what is needed from off on, and at most readWindow before.
		if drop := min(off, f.pos-readWindow) - f.winOff; drop > 0 && len(f.win) > 2*readWindow {
			f.win = append(f.win[:0], f.win[drop:]...)
			f.winOff += drop
		}
		need := int(end - f.pos)
		if cap(f.win)-len(f.win) < need {
			f.win = append(f.win, make([]byte, need)...)[:len(f.win)]
		}
		n, err := io.ReadFull(f.r, f.win[len(f.win):len(f.win)+need])
		f.win = f.win[:len(f.win)+n]
		f.pos += int64(n)
		if err != nil {
			f.r.Close()
			f.r, f.err = nil, err
			break
		}
	}
	n := 0
	if off < f.pos {
		n = copy(b, f.win[off-f.winOff:min(end, f.pos)-f.winOff])
	}
	if n < len(b) {
		if int64(n)+off >= f.size {
			return n, io.EOF
		}
		return n, f.s.remoteError(mft.Errorf(mft.EUNAVAILABLE, "the remote stopped sending /%s after %d bytes: %v", f.p, off+int64(n), f.err), f.client)
	}
	return n, nil
}

// Read reads on from the last Read or Seek.
func (f *remoteFile) Read(b []byte) (int, error) {
	n, err := f.ReadAt(b, f.off)
	f.off += int64(n)
	return n, err
}

func (f *remoteFile) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		offset += f.off
	case io.SeekEnd:
		offset += f.size
	}
	if offset < 0 {
		return 0, errors.New("files: seek before the start")
	}
	f.off = offset
	return offset, nil
}

func (f *remoteFile) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.r != nil {
		f.r.Close()
		f.r = nil
	}
	if f.release != nil {
		err := f.err
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = nil
		}
		f.release(err)
		f.release = nil
	}
	return nil
}

// errUploadStopped ends the stream of an upload that will not be
// published; the remote drops what it received (S3 aborts the multipart
// upload, the others' temporary file is removed).
var errUploadStopped = errors.New("files: upload stopped")

// remoteUpload streams one file to a remote: under a temporary name that
// is renamed into place where the remote renames atomically (SFTP, FTP),
// else (S3) to the key itself, which appears only when complete.
type remoteUpload struct {
	tree    remote.Tree
	release func(error)
	final   string
	tmp     string
	pw      *io.PipeWriter
	done    chan struct{}
	n       int64
	err     error
}

func startRemote(ctx context.Context, tree remote.Tree, release func(error), final string) *remoteUpload {
	u := &remoteUpload{tree: tree, release: release, final: final, tmp: final, done: make(chan struct{})}
	if tree.Caps().AtomicRename {
		u.tmp = path.Join(path.Dir(final), remoteTempPrefix+randText())
	}
	pr, pw := io.Pipe()
	u.pw = pw
	go func() {
		// Not the request's context: a cancelled PUT could not abort its
		// multipart upload. A stop arrives through the pipe.
		u.n, u.err = tree.Put(context.WithoutCancel(ctx), u.tmp, pr, 0)
		pr.CloseWithError(cmpErr(u.err, io.ErrClosedPipe))
		close(u.done)
	}()
	return u
}

func cmpErr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

// finish ends the stream of size bytes and publishes the file at its
// name; the remote's own size is checked against what was sent.
func (u *remoteUpload) finish(ctx context.Context, size int64) (e remote.Entry, err error) {
	defer func() { u.release(err) }()
	u.pw.Close()
	<-u.done
	err = u.err
	if err == nil && u.n != size {
		err = mft.Errorf(mft.EUNAVAILABLE, "The remote took %d bytes of %d.", u.n, size)
	}
	if err == nil && u.tmp != u.final {
		err = u.tree.Rename(ctx, u.tmp, u.final)
	}
	switch {
	case err != nil:
	case u.tmp == u.final: // S3: the PUT's answer counted the bytes stored
		e = remote.Entry{Name: path.Base(u.final), Size: u.n, ModTime: time.Now()}
	default:
		e, err = u.tree.Stat(ctx, u.final)
	}
	if err == nil && e.Size != size {
		err = mft.Errorf(mft.EUNAVAILABLE, "The remote has %d bytes of %s after the upload of %d.", e.Size, path.Base(u.final), size)
	}
	if err != nil && u.tmp != u.final {
		u.tree.Remove(context.WithoutCancel(ctx), u.tmp)
	}
	return e, err
}

// abort stops the stream; nothing is published.
func (u *remoteUpload) abort() {
	u.pw.CloseWithError(errUploadStopped)
	<-u.done
	if u.tmp != u.final {
		u.tree.Remove(context.Background(), u.tmp)
	}
	u.release(nil) // the stop is Depot's; a broken remote shows at its next use
}
