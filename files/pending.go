package files

import (
	"context"
	"io"
	"os"
	"sync"
	"time"

	"depot/mft"
)

// Pending is an upload written at random offsets, as SFTP clients do:
// the bytes go to a staging file, the limits are checked on every write,
// and nothing is visible at the final path until Commit.
type Pending struct {
	s      *Service
	a      Actor
	ctx    context.Context
	t      target
	root   *os.Root
	held   bool // root is the session's (closeRoot)
	lw     *limitWriter
	f      *os.File
	name   string // staging name in data/tmp
	mu     sync.Mutex
	size   int64 // highest offset written
	hashed int64 // bytes hashed in order so far
	// ahead holds ranges written beyond hashed (start → end), hashed from
	// the file as soon as the gap before them is filled, so that writes
	// arriving out of order do not leave the whole file to hash at Commit.
	ahead  map[int64]int64
	rehash bool // a hashed range was written again
	done   bool
	// flushed is how far the file was handed to the disk (see
	// writebackEvery), by wb once started.
	flushed int64
	wb      *writeback
	resumed bool // started from an existing file's content
	// askable: the client may ask for a sync at the end (SFTP's fsync).
	askable bool
	// atime and mtime, when set, are given to the file once published.
	atime, mtime time.Time
	// rw is set for an upload to a remote (a mounted path): no staging
	// file, the bytes stream out in order.
	rw *remoteWrite
}

// SetTimes keeps access and modification times for the published file
// (clients that preserve times set them before they close the file).
func (p *Pending) SetTimes(atime, mtime time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.atime, p.mtime = atime, mtime
}

// Create starts an upload to clientPath that is published by Commit. With
// opts.Resume an existing file's content is the starting point (for
// clients that resume an upload); otherwise the upload replaces it.
func (s *Service) Create(ctx context.Context, a Actor, clientPath string, opts UploadOptions) (_ *Pending, err error) {
	defer func() { err = s.refused(ctx, a, mft.EventFileUploaded, clientPath, err) }()
	_, st, lw, err := s.beginUpload(ctx, a, clientPath, opts)
	if err != nil {
		return nil, err
	}
	defer st.close()
	return st.create(ctx, a, lw, opts)
}

// Sync makes the upload durable when it is published (SFTP's
// fsync@openssh.com). Nothing of it is visible before Commit, and a
// staging file never survives a restart, so durability only matters from
// Commit on: Commit syncs the file before it renames it and the folder
// after, and returns once both are on disk.
func (p *Pending) Sync() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return mft.Errorf(mft.ECONFLICT, "The upload of %s is already finished.", p.t.client)
	}
	p.lw.sync = true
	return nil
}

// Path is the upload's path as the client sees it.
func (p *Pending) Path() string { return p.t.client }

// Size is the upload's current length.
func (p *Pending) Size() int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.size
}

// WriteAt writes b at off; writes may arrive in any order and at once.
// A write that would make the file break a limit fails with ETOOLARGE or
// EQUOTA.
func (p *Pending) WriteAt(b []byte, off int64) (int, error) {
	end := off + int64(len(b))
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return 0, mft.Errorf(mft.ECONFLICT, "The upload of %s is already finished.", p.t.client)
	}
	if err := p.lw.check(max(end, p.size)); err != nil {
		p.mu.Unlock()
		return 0, err
	}
	if p.rw != nil {
		defer p.mu.Unlock()
		return p.rWriteAt(b, off)
	}
	p.size = max(end, p.size)
	if off == p.hashed { // in order: hash now, before the caller reuses b
		p.lw.h.Write(b)
		p.hashed = end
		p.catchUp()
		p.writeback()
		p.mu.Unlock()
		n, err := p.f.WriteAt(b, off)
		return n, fsError(err, p.t.client)
	}
	p.mu.Unlock()
	n, err := p.f.WriteAt(b, off)
	if err != nil {
		return n, fsError(err, p.t.client)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if off < p.hashed {
		p.rehash = true
		return n, nil
	}
	if p.ahead == nil {
		p.ahead = map[int64]int64{}
	}
	p.ahead[off] = max(p.ahead[off], end)
	p.catchUp()
	p.writeback()
	return n, nil
}

// writeback hands the hashed (so completely written, but for the write in
// progress, whose pages the kernel skips until they are dirty) prefix to
// the disk every writebackEvery bytes when the upload is synced or its
// client may ask for a sync at the end; the final sync then waits for the
// tail alone. Other uploads leave their pages to the kernel. p.mu is held.
func (p *Pending) writeback() {
	if !p.lw.sync && !p.askable || p.hashed-p.flushed < writebackEvery {
		return
	}
	if p.wb == nil {
		p.wb = newWriteback(p.f)
	}
	p.wb.upTo(p.hashed)
	p.flushed = p.hashed
}

// stopWriteback ends the writeback before the file is closed. p.mu is
// held.
func (p *Pending) stopWriteback() {
	if p.wb != nil {
		p.wb.stop()
		p.wb = nil
	}
}

// catchUp hashes, from the file, the ranges written ahead that now follow
// the hashed prefix. A read error leaves them for Commit's full rehash.
func (p *Pending) catchUp() {
	for {
		end, ok := p.ahead[p.hashed]
		if !ok {
			return
		}
		delete(p.ahead, p.hashed)
		if end <= p.hashed {
			continue
		}
		buf := recvPool.Get().(*[]byte)
		_, err := io.CopyBuffer(p.lw.h, io.NewSectionReader(p.f, p.hashed, end-p.hashed), *buf)
		recvPool.Put(buf)
		if err != nil {
			p.rehash = true
			return
		}
		p.hashed = end
	}
}

// Truncate sets the upload's length, as SFTP's setstat with a size (a
// client that resumes or rewrites a file): shorter drops the tail, longer
// adds zeros. The limits apply to the new length; the sha256 is then
// computed again from the file at Commit.
func (p *Pending) Truncate(size int64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.done:
		return mft.Errorf(mft.ECONFLICT, "The upload of %s is already finished.", p.t.client)
	case size < 0:
		return mft.Errorf(mft.EINVALID, "A size cannot be negative.")
	case size == p.size:
		return nil
	case p.rw != nil:
		return mft.Errorf(mft.EINVALID, "%s is on remote storage, where a file being written cannot change its length.", p.t.client)
	}
	if err := p.lw.check(size); err != nil {
		return err
	}
	if err := p.f.Truncate(size); err != nil {
		return fsError(err, p.t.client)
	}
	p.size, p.rehash = size, true
	p.hashed, p.ahead = min(p.hashed, size), nil
	return nil
}

// ReadAt reads back what was written so far.
func (p *Pending) ReadAt(b []byte, off int64) (int, error) {
	if p.rw != nil {
		return 0, mft.Errorf(mft.EINVALID, "%s is on remote storage, where a file being written cannot be read back.", p.t.client)
	}
	return p.f.ReadAt(b, off)
}

// Commit publishes the upload at its path (replacing a file there), and
// returns it with its sha256. After an error nothing is published.
func (p *Pending) Commit() (_ mft.FileInfo, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return mft.FileInfo{}, mft.Errorf(mft.ECONFLICT, "The upload of %s is already finished.", p.t.client)
	}
	p.done = true
	defer func() { err = p.s.refused(p.ctx, p.a, mft.EventFileUploaded, p.t.client, err) }()
	defer p.lw.abortScan() // a scan left without a verdict (a gap, a failed rehash)
	if p.rw != nil {
		return p.rCommit()
	}
	p.stopWriteback()
	defer p.closeRoot()
	if p.rehash || p.hashed != p.size { // overwritten or overlapping: hash it all from disk
		p.lw.h.Reset()
		if _, err := io.Copy(p.lw.h, io.NewSectionReader(p.f, 0, p.size)); err != nil {
			p.s.dropStaging(p.f, p.name)
			return mft.FileInfo{}, fsError(err, p.t.client)
		}
	}
	if p.resumed { // a resumed upload may have been rewritten shorter
		if err := p.f.Truncate(p.size); err != nil {
			p.s.dropStaging(p.f, p.name)
			return mft.FileInfo{}, fsError(err, p.t.client)
		}
	}
	p.lw.n = p.size
	fi, err := p.s.publishStaging(p.ctx, p.a, p.t, p.root, p.f, p.name, true, p.lw)
	if err == nil && !p.mtime.IsZero() {
		if p.root.Chtimes(rel(p.t.base, p.t.storage), p.atime, p.mtime) == nil {
			fi.ModifiedAt = p.mtime.UTC()
		}
	}
	return fi, err
}

// Abort drops the upload and its staging file; it is a no-op after
// Commit.
func (p *Pending) Abort() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done {
		return
	}
	p.done = true
	p.lw.abortScan()
	if p.rw != nil {
		p.rw.u.abort()
		return
	}
	p.stopWriteback()
	p.s.dropStaging(p.f, p.name)
	p.closeRoot()
}

// closeRoot closes the upload's tree unless its session holds it.
func (p *Pending) closeRoot() {
	if !p.held {
		p.root.Close()
	}
}
