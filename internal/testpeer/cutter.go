package testpeer

import (
	"io"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Cutter is a TCP relay on loopback to a peer that breaks the first
// connection after a number of bytes have passed one way, as a network
// that fails in the middle of a transfer does. Later connections pass.
type Cutter struct {
	Port int
	// Cuts counts the connections broken.
	Cuts atomic.Int32
}

// Cut relays to target; the first connection is closed once after bytes
// have gone to the peer (up) or come from it (down).
func Cut(tb testing.TB, target int, after int64, up bool) *Cutter {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c := &Cutter{Port: ln.Addr().(*net.TCPAddr).Port}
	var wg sync.WaitGroup
	tb.Cleanup(func() { ln.Close(); wg.Wait() })
	var first atomic.Bool
	first.Store(true)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(target))
			if err != nil {
				in.Close()
				continue
			}
			limit := int64(-1)
			if first.Swap(false) {
				limit = after
			}
			wg.Add(2)
			relay := func(dst, src net.Conn, n int64) {
				defer wg.Done()
				if n < 0 {
					io.Copy(dst, src)
				} else {
					if m, _ := io.CopyN(dst, src, n); m == n {
						c.Cuts.Add(1)
					}
				}
				in.Close()
				out.Close()
			}
			upLimit, downLimit := int64(-1), limit
			if up {
				upLimit, downLimit = limit, -1
			}
			go relay(out, in, upLimit)
			go relay(in, out, downLimit)
		}
	}()
	return c
}
