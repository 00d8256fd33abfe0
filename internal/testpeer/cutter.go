package testpeer

import (
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
)

// Cutter is a TCP relay on loopback to a peer that breaks connections
// once a number of bytes have passed one way, as a network that fails in
// the middle of a transfer does; afterwards connections pass.
type Cutter struct {
	Port int
	// Cuts counts the breaks.
	Cuts atomic.Int32

	outage bool // every connection counts, and all break together
	up     bool
	left   atomic.Int64 // bytes to pass before the break
	first  atomic.Bool  // the next connection is the first
	mu     sync.Mutex
	open   map[net.Conn]net.Conn
	target int
	lnMu   sync.Mutex
	ln     net.Listener
	wg     sync.WaitGroup
}

// Relay relays to target until Down.
func Relay(tb testing.TB, target int) *Cutter {
	return relay(tb, &Cutter{}, target, math.MaxInt64)
}

// Down takes the peer off the network: open connections are closed and
// new ones refused (until Up).
func (c *Cutter) Down() {
	c.lnMu.Lock()
	c.ln.Close()
	c.lnMu.Unlock()
	c.closeAll()
}

// Cut relays to target; the first connection is closed once after bytes
// have gone to the peer (up) or come from it (down).
func Cut(tb testing.TB, target int, after int64, up bool) *Cutter {
	return relay(tb, &Cutter{up: up}, target, after)
}

// Outage relays to target; once bytes have passed one way over all
// connections together, every connection open then is closed (a parallel
// transfer's too), once.
func Outage(tb testing.TB, target int, after int64, up bool) *Cutter {
	return relay(tb, &Cutter{up: up, outage: true}, target, after)
}

func relay(tb testing.TB, c *Cutter, target int, after int64) *Cutter {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c.Port, c.open, c.target = ln.Addr().(*net.TCPAddr).Port, map[net.Conn]net.Conn{}, target
	c.left.Store(after)
	c.first.Store(true)
	tb.Cleanup(func() { c.lnMu.Lock(); c.ln.Close(); c.lnMu.Unlock(); c.wg.Wait() })
	c.serve(ln)
	return c
}

// Up puts the peer back on the network after Down, on the same port.
func (c *Cutter) Up(tb testing.TB) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.Port))
	if err != nil {
		tb.Fatal(err)
	}
	c.serve(ln)
}

// serve relays the connections ln accepts until it is closed.
func (c *Cutter) serve(ln net.Listener) {
	c.lnMu.Lock()
	c.ln = ln
	c.lnMu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(c.target))
			if err != nil {
				in.Close()
				continue
			}
			counted := c.first.Swap(false) || c.outage
			c.mu.Lock()
			c.open[in] = out
			c.mu.Unlock()
			c.wg.Add(2)
			go func() { defer c.wg.Done(); c.pipe(in, out, in, counted && c.up) }()
			go func() { defer c.wg.Done(); c.pipe(in, in, out, counted && !c.up) }()
		}
	}()
}

// pipe copies src to dst for the connection in; a counted direction
// breaks when the bytes left run out.
func (c *Cutter) pipe(in, dst, src net.Conn, counted bool) {
	defer c.close(in)
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if counted && c.Cuts.Load() == 0 {
				if left := c.left.Add(-int64(n)); left < 0 {
					if keep := int64(n) + left; keep >= 0 { // this read crossed the line
						dst.Write(buf[:keep])
						c.Cuts.Add(1)
						c.breakNow(in)
					}
					return
				}
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// breakNow closes in's connection, or every open one in an outage.
func (c *Cutter) breakNow(in net.Conn) {
	if !c.outage {
		c.close(in)
		return
	}
	c.closeAll()
}

// closeAll closes every open connection.
func (c *Cutter) closeAll() {
	c.mu.Lock()
	conns := make([]net.Conn, 0, len(c.open))
	for k := range c.open {
		conns = append(conns, k)
	}
	c.mu.Unlock()
	for _, k := range conns {
		c.close(k)
	}
}

func (c *Cutter) close(in net.Conn) {
	c.mu.Lock()
	out := c.open[in]
	delete(c.open, in)
	c.mu.Unlock()
	in.Close()
	if out != nil {
		out.Close()
	}
}
