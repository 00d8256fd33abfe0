package ftpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dataAcceptWait is how long a client has to open the data connection it
// asked for with PASV or EPSV.
const dataAcceptWait = 30 * time.Second

// passive is a listener opened by PASV or EPSV for one data connection.
type passive struct {
	ln   *net.TCPListener
	port int
}

// openPassive listens on a free port of the range, on the address the
// client reached the control connection on.
func (c *session) openPassive() (*passive, error) {
	c.closePassive()
	local, _ := c.raw.LocalAddr().(*net.TCPAddr)
	if local == nil {
		return nil, errors.New("no local address")
	}
	lo, hi := c.s.PassiveLow, c.s.PassiveHigh
	if lo == 0 {
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: local.IP})
		if err != nil {
			return nil, err
		}
		c.pasv = &passive{ln: ln, port: ln.Addr().(*net.TCPAddr).Port}
		return c.pasv, nil
	}
	n := hi - lo + 1
	start := rand.IntN(n)
	for i := range n {
		port := lo + (start+i)%n
		ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: local.IP, Port: port})
		if err == nil {
			c.pasv = &passive{ln: ln, port: port}
			return c.pasv, nil
		}
	}
	return nil, fmt.Errorf("every passive port from %d to %d is in use", lo, hi)
}

func (c *session) closePassive() {
	if c.pasv != nil {
		c.pasv.ln.Close()
		c.pasv = nil
	}
}

// dataConn is an open data connection: the TCP connection and, with
// PROT P, TLS over it.
type dataConn struct {
	net.Conn // what is read and written: raw or TLS
	raw      *eofConn
	tls      bool
	once     sync.Once
}

// Close ends the data connection; over TLS it sends close_notify first,
// which tells the client the file ended where it should.
func (d *dataConn) Close() error {
	var err error
	d.once.Do(func() {
		if d.tls {
			d.Conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
			err = d.Conn.Close()
		}
		d.raw.Close()
	})
	return err
}

// eofConn notes when the TCP connection itself ended, which tells an
// upload that ended with the client's TLS close_notify (complete) from
// one whose connection was only cut (a client killed, a network broken).
type eofConn struct {
	net.Conn
	eof atomic.Bool
}

func (e *eofConn) Read(p []byte) (int, error) {
	n, err := e.Conn.Read(p)
	if err == io.EOF {
		e.eof.Store(true)
	}
	return n, err
}

// errCut is an upload whose TLS data connection ended without
// close_notify: its end is not the file's.
var errCut = errors.New("the data connection was closed without TLS close_notify, so the file may be cut short")

// uploadReader reads an upload from a data connection and reports a cut
// connection as errCut rather than the file's end.
type uploadReader struct{ d *dataConn }

func (u uploadReader) Read(p []byte) (int, error) {
	n, err := u.d.Conn.Read(p)
	if err == io.EOF && u.d.tls && u.d.raw.eof.Load() {
		err = errCut
	}
	return n, err
}

// acceptData takes the data connection the client opens on the passive
// port: only from the control connection's address (another address's
// connection is closed, and the wait goes on), within dataAcceptWait;
// with PROT P, after a TLS handshake.
func (c *session) acceptData(p *passive) (*dataConn, error) {
	defer p.ln.Close()
	deadline := time.Now().Add(dataAcceptWait)
	p.ln.SetDeadline(deadline)
	for {
		conn, err := p.ln.AcceptTCP()
		if err != nil {
			if isTimeout(err) {
				return nil, fmt.Errorf("no data connection within %s", dataAcceptWait)
			}
			return nil, err
		}
		if remoteIP(conn.RemoteAddr()) != c.ip {
			c.s.Logger.Warn("ftp data connection from another address refused", "from", conn.RemoteAddr().String(), "session", c.ip.String())
			conn.Close()
			continue
		}
		raw := &eofConn{Conn: conn}
		d := &dataConn{Conn: raw, raw: raw}
		if c.prot == 'P' {
			tc := tls.Server(raw, c.s.TLS)
			raw.SetDeadline(deadline)
			if err := tc.Handshake(); err != nil {
				raw.Close()
				return nil, fmt.Errorf("TLS on the data connection: %w", err)
			}
			raw.SetDeadline(time.Time{})
			d.Conn, d.tls = tc, true
		}
		return d, nil
	}
}
