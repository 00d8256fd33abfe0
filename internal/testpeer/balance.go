package testpeer

import (
	"io"
	"net"
	"sync"
	"testing"
)

// Balance is a TCP load balancer in front of targets (host:port), as
// HAProxy in tcp mode with health checks is: each new connection goes to
// the next target in turn, and to the one after it when that one refuses
// (a node that is down). It returns the balancer's address; the test's
// end closes it.
func Balance(tb testing.TB, targets ...string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var (
		mu    sync.Mutex
		next  int
		wg    sync.WaitGroup
		conns = map[net.Conn]bool{}
	)
	tb.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			first := next
			next = (next + 1) % len(targets)
			conns[c] = true
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					c.Close()
					mu.Lock()
					delete(conns, c)
					mu.Unlock()
				}()
				for i := range targets {
					up, err := net.Dial("tcp", targets[(first+i)%len(targets)])
					if err != nil {
						continue
					}
					pipe(c, up)
					return
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// pipe copies both ways until either side ends, then closes both.
func pipe(a, b net.Conn) {
	done := make(chan struct{}, 2)
	go func() { io.Copy(a, b); a.Close(); done <- struct{}{} }()
	go func() { io.Copy(b, a); b.Close(); done <- struct{}{} }()
	<-done
	<-done
}
