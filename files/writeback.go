package files

import (
	"os"
	"sync/atomic"
)

// writeback hands the written part of a file to the disk from its own
// goroutine: starting writeback blocks while the disk's queue is full,
// and an upload must go on receiving meanwhile. Each call to upTo asks
// for everything written so far; calls that come while the goroutine is
// busy fold into one.
type writeback struct {
	f    *os.File
	to   atomic.Int64
	wake chan struct{}
	done chan struct{}
}

func newWriteback(f *os.File) *writeback {
	w := &writeback{f: f, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		var from int64
		for range w.wake {
			if to := w.to.Load(); to > from {
				startWriteback(w.f, from, to-from)
				from = to
			}
		}
	}()
	return w
}

// upTo asks for the first n bytes to be on their way to the disk.
func (w *writeback) upTo(n int64) {
	w.to.Store(n)
	select {
	case w.wake <- struct{}{}:
	default: // the goroutine has a wake-up pending and will see n
	}
}

// stop waits for the goroutine; upTo must not be called after.
func (w *writeback) stop() {
	close(w.wake)
	<-w.done
}
