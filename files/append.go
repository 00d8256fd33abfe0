package files

import (
	"io"
	"sync"
)

// ReadError is the failure of the reader an Append copies from (the
// network, a remote), as against Depot refusing the bytes.
type ReadError struct{ Err error }

func (e *ReadError) Error() string { return e.Err.Error() }
func (e *ReadError) Unwrap() error { return e.Err }

// Append copies r to the end of the upload until r ends, and returns the
// bytes added. r is read one appendUnit ahead in its own goroutine
// while the unit before is hashed and written, unless at most max bytes
// are expected (max >= 0), which are read in place. A failure of r is a
// *ReadError; a refused write (a limit) is the file service's error.
// After either, r is closed if it is an io.Closer, which stops the
// reading ahead. The upload stays open: the caller commits, keeps or
// aborts it.
func (p *Pending) Append(r io.Reader, max int64) (int64, error) {
	offset := p.Size()
	var n int64
	var err error
	for u := range readAhead(r, max) {
		if u.n > 0 && err == nil {
			_, err = p.WriteAt((*u.buf)[:u.n], offset+n)
			n += int64(u.n)
		}
		appendPool.Put(u.buf)
		if u.err != nil && err == nil {
			err = &ReadError{u.err}
		}
		if err != nil {
			if c, ok := r.(io.Closer); ok {
				c.Close() // ends the reader; its units are drained
			}
		}
	}
	return n, err
}

// appendUnit is what Append hashes and writes at a time. Both happen in
// one goroutine, so the unit must stay in the core's cache between the
// two: on the 2-core EPYC, copying, hashing and writing 1 GiB took 1.6 s
// in 1 MiB units and 0.77 s in 128–512 KiB units. 255 KiB is what an
// SFTP remote hands over at a time (its read size), so each unit is one
// write into the pipe (remote.sftpStore.Get), not two: a pull from sshd
// 582–584 → 603–604 MiB/s. HTTP uploads hash in their own goroutine and
// keep recvBufSize.
const appendUnit = 255 << 10

// appendAhead is how many units are read ahead: about 2 MiB, the SSH
// window, as two 1 MiB units were before (BENCHMARKS.md, issue 15).
const appendAhead = 8

var appendPool = sync.Pool{New: func() any { b := make([]byte, appendUnit); return &b }}

// readPart is what readAhead read: n bytes in buf, then err (never io.EOF).
type readPart struct {
	buf *[]byte
	n   int
	err error
}

// readAhead reads r in units into a channel that closes at the end of r
// or after a unit with an error: from a goroutine, appendAhead units ahead; in
// place when at most max bytes (max >= 0, at most one unit) are
// expected, reading one byte past max at most, so that a reader that
// grew is noticed without filling more than the channel holds.
func readAhead(r io.Reader, max int64) <-chan readPart {
	ch := make(chan readPart, appendAhead)
	read := func() {
		defer close(ch)
		for {
			buf := appendPool.Get().(*[]byte)
			n, err := fill(r, *buf) // not io.ReadFull: r's own io.ErrUnexpectedEOF is a failure
			if err == io.EOF {
				ch <- readPart{buf, n, nil}
				return
			}
			ch <- readPart{buf, n, err}
			if err != nil {
				return
			}
		}
	}
	if max >= 0 && max <= appendUnit {
		r = io.LimitReader(r, max+1)
		read()
		return ch
	}
	go read()
	return ch
}
