package sftpd

import (
	"io"
	"sync"
)

// maxBatch is how many queued bytes make a writer wait for the channel.
const maxBatch = 1 << 20

// batcher coalesces the server's writes: they are queued, and one
// goroutine at a time hands everything queued to the channel in one
// write. While the channel is busy, replies pile up and leave together, so
// a burst of small replies (32 KiB writes each answered by a status, and
// each packet written as header and body) costs one encrypted SSH packet
// and one system call instead of dozens; an idle session's reply leaves
// at once. A write error is returned by the next Write.
type batcher struct {
	w        io.Writer
	mu       sync.Mutex
	cond     *sync.Cond
	buf      []byte
	spare    []byte
	flushing bool
	err      error
}

func newBatcher(w io.Writer) *batcher {
	b := &batcher{w: w}
	b.cond = sync.NewCond(&b.mu)
	return b
}

func (b *batcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.buf) >= maxBatch && b.err == nil {
		b.cond.Wait()
	}
	if b.err != nil {
		return 0, b.err
	}
	b.buf = append(b.buf, p...)
	if !b.flushing {
		b.flushing = true
		go b.flush()
	}
	return len(p), nil
}

// WritePacket writes a whole packet: at once, in the caller's goroutine,
// when nothing is queued or being written (an idle session's reply costs
// no hand-off to another goroutine), otherwise queued behind the rest.
func (b *batcher) WritePacket(p []byte) (int, error) {
	b.mu.Lock()
	if b.flushing || len(b.buf) > 0 || b.err != nil {
		b.mu.Unlock()
		return b.Write(p)
	}
	b.flushing = true
	b.mu.Unlock()
	_, err := b.w.Write(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil {
		b.err = err
	}
	if len(b.buf) > 0 && b.err == nil {
		go b.flush()
	} else {
		b.flushing = false
		b.cond.Broadcast()
	}
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes the queue until it is empty.
func (b *batcher) flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(b.buf) > 0 && b.err == nil {
		out := b.buf
		b.buf = b.spare[:0]
		b.mu.Unlock()
		_, err := b.w.Write(out)
		b.mu.Lock()
		if cap(out) <= 2*maxBatch {
			b.spare = out[:0]
		}
		if err != nil {
			b.err = err
		}
		b.cond.Broadcast()
	}
	b.flushing = false
	b.cond.Broadcast()
}

// drain waits until everything queued is written (or failed).
func (b *batcher) drain() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for b.flushing {
		b.cond.Wait()
	}
}
