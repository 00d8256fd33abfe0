// Package ftpd is Depot's FTPS server: explicit (AUTH TLS) and implicit
// TLS, passive data connections only, over the files service, so that
// permissions, quotas, folder rules, events and audit are SFTP's.
//
// It is Depot's own protocol engine, not goftp.io/server/v2: that library
// (v2.0.3) reads control lines without a bound (a stranger who never logs
// in grew its heap by 260 MiB with one 256 MiB line), connects PORT data
// connections to any address it is told (FTP bounce), accepts a passive
// data connection from any address with no hook to check it, has no ABOR
// and no idle timeout, and drops its own ForceTLS option. docs/decisions.md
// "FTPS" says more.
package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Server serves FTPS on Addr (explicit TLS) and, when set, ImplicitAddr.
type Server struct {
	Addr, ImplicitAddr string
	// TLS is the certificate configuration; nil serves plain FTP only,
	// which AllowPlain must then allow.
	TLS *tls.Config
	// AllowPlain lets clients log in without TLS.
	AllowPlain bool
	// PassiveLow and PassiveHigh bound the data ports (0: any).
	PassiveLow, PassiveHigh int
	// PublicHost is the IPv4 address PASV answers name; empty: the
	// address the client connected to.
	PublicHost string
	Files      *files.Service
	Auth       *auth.Authenticator
	Logger     *slog.Logger
	// Events receives session.ended; nil drops it.
	Events                mft.EventSink
	IdleTimeout           time.Duration
	LoginGrace            time.Duration
	MaxConnections        int
	MaxConnectionsPerUser int
	// SyncUploads syncs every upload before its 226.
	SyncUploads bool

	lns     []net.Listener
	conns   atomic.Int64
	closing atomic.Bool
	wg      sync.WaitGroup

	mu       sync.Mutex
	sessions map[*session]struct{}
	perUser  map[string]int
}

// Open starts listening.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.TLS == nil && !s.AllowPlain {
		return errors.New("ftpd: no TLS certificate, and plain FTP is not allowed")
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 15 * time.Minute
	}
	if s.LoginGrace <= 0 {
		s.LoginGrace = 2 * time.Minute
	}
	s.sessions, s.perUser = map[*session]struct{}{}, map[string]int{}
	if s.TLS != nil {
		s.TLS = s.TLS.Clone()
		s.TLS.NextProtos = nil // clients that offer ALPN "ftp" are not refused
	}
	addrs := []struct {
		addr     string
		implicit bool
	}{{s.Addr, false}}
	if s.ImplicitAddr != "" {
		if s.TLS == nil {
			return errors.New("ftpd: implicit TLS needs a certificate")
		}
		addrs = append(addrs, struct {
			addr     string
			implicit bool
		}{s.ImplicitAddr, true})
	}
	for _, a := range addrs {
		ln, err := net.Listen("tcp", a.addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("ftpd: %w", err)
		}
		s.lns = append(s.lns, ln)
		s.wg.Add(1)
		go s.serve(ln, a.implicit)
	}
	return nil
}

// ListenAddr is the explicit-TLS listener's address.
func (s *Server) ListenAddr() net.Addr { return s.lns[0].Addr() }

// ImplicitListenAddr is the implicit-TLS listener's address, nil when off.
func (s *Server) ImplicitListenAddr() net.Addr {
	if len(s.lns) < 2 {
		return nil
	}
	return s.lns[1].Addr()
}

func (s *Server) closeListeners() {
	for _, ln := range s.lns {
		ln.Close()
	}
}

func (s *Server) serve(ln net.Listener, implicit bool) {
	defer s.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.closing.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			s.Logger.Warn("ftp accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c, implicit)
		}()
	}
}

// handle applies the defender's bans and the connection limit before
// anything else, then runs a session.
func (s *Server) handle(c net.Conn, implicit bool) {
	defer c.Close()
	ip := remoteIP(c.RemoteAddr())
	if n := s.conns.Add(1); n > int64(s.MaxConnections) {
		s.conns.Add(-1)
		refuse(c, implicit, s.TLS, fmt.Sprintf("Too many connections to this server (limit %d); try again later.", s.MaxConnections))
		return
	}
	defer s.conns.Add(-1)
	if err := s.Auth.CheckBan(ip); err != nil {
		refuse(c, implicit, s.TLS, mft.ErrorMessage(err))
		return
	}
	sess := newSession(s, c, ip)
	if implicit {
		if err := sess.upgrade(); err != nil {
			return
		}
	}
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		return
	}
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sessions, sess)
		s.mu.Unlock()
	}()
	sess.run()
}

// refuse tells a client why it is not served: 421, after the TLS
// handshake on an implicit port.
func refuse(c net.Conn, implicit bool, cfg *tls.Config, msg string) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if implicit {
		tc := tls.Server(c, cfg)
		if tc.Handshake() != nil {
			return
		}
		c = tc
	}
	fmt.Fprintf(c, "421 %s\r\n", oneLine(msg))
	if tc, ok := c.(*tls.Conn); ok {
		tc.CloseWrite()
	}
}

// admitUser takes a place for a logged-in session of user id.
func (s *Server) admitUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[id] >= s.MaxConnectionsPerUser {
		return mft.Errorf(mft.EUNAVAILABLE, "Too many connections for this account (limit %d); close one first.", s.MaxConnectionsPerUser)
	}
	s.perUser[id]++
	return nil
}

func (s *Server) releaseUser(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[id] <= 1 {
		delete(s.perUser, id)
	} else {
		s.perUser[id]--
	}
}

// Close stops accepting connections, ends idle sessions at once and lets
// sessions with a transfer finish until ctx is done, then ends them.
func (s *Server) Close(ctx context.Context) error {
	s.closing.Store(true)
	s.closeListeners()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var err error
	for {
		busy := 0
		s.mu.Lock()
		for sess := range s.sessions {
			if sess.busy.Load() {
				busy++
			} else {
				sess.end()
			}
		}
		s.mu.Unlock()
		if busy == 0 {
			break
		}
		select {
		case <-ctx.Done():
			err = fmt.Errorf("ftpd: %d sessions with transfers were cut off at the shutdown deadline", busy)
			s.mu.Lock()
			for sess := range s.sessions {
				sess.end()
			}
			s.mu.Unlock()
		case <-t.C:
			continue
		}
		break
	}
	s.wg.Wait()
	return err
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}
