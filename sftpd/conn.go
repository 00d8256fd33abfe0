package sftpd

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"depot/mft"
)

// Permissions extensions set by a successful login: x/crypto keeps the
// Permissions of the method that actually authenticated (for public keys,
// of the key that signed, CVE-2024-45337), so these name the right user.
const (
	extUser   = "depot-user"
	extMethod = "depot-method"
)

// connState follows one TCP connection through authentication.
type connState struct {
	net.Conn
	s         *Server
	ctx       ssh.Context
	ip        netip.Addr
	once      sync.Once
	mu        sync.Mutex
	login     string // the last username tried with a rejected key
	keyFailed bool
	// loggedIn is set once the client, logged in, opens its first channel
	// (a public key callback's success alone proves nothing: clients may
	// ask whether a key would do without holding it), or the connection
	// closes first; grace closes a connection that takes too long.
	loggedIn atomic.Bool
	grace    *time.Timer
}

// loginDone releases the connection's place among its address's
// connections still logging in, once.
func (c *connState) loginDone() {
	if c.loggedIn.CompareAndSwap(false, true) {
		c.grace.Stop()
		c.s.releaseLogin(c.ip)
	}
}

// waitingPerPlace is how many connections from one address may wait for
// each place among those logging in.
const waitingPerPlace = 10

// admitLogin takes a place for a new connection from ip among those
// logging in. When the address has MaxUnauthenticatedPerIP already, the
// connection waits (before any SSH work) for one to finish, up to the
// login grace time, so that parallel clients are slowed rather than
// refused; it returns the reason when the wait is over, or when
// waitingPerPlace times as many are already waiting. Waiting connections
// count toward MaxConnections, so all the addresses together may hold at
// most half of MaxConnections logging in or waiting: past that, only an
// address that holds none is admitted, and a partner's login is never
// locked out by silent connections from a few others.
func (s *Server) admitLogin(ip netip.Addr) (refused string) {
	deadline := time.NewTimer(s.LoginGrace)
	defer deadline.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.preLogin >= max(s.MaxConnections/2, 1) && s.unauthenticated[ip]+s.waitingLogin[ip] > 0 {
		return fmt.Sprintf("Too many connections are logging in at once (%d), %d of them from %s; try again later.",
			s.preLogin, s.unauthenticated[ip]+s.waitingLogin[ip], ip)
	}
	s.preLogin++
	admitted, waiting := false, false
	defer func() {
		if waiting {
			s.waitingLogin[ip]--
			if s.waitingLogin[ip] <= 0 {
				delete(s.waitingLogin, ip)
			}
		}
		if !admitted {
			s.preLogin--
		}
	}()
	tooMany := fmt.Sprintf("Too many connections from %s are logging in at once (limit %d); try again later.", ip, s.MaxUnauthenticatedPerIP)
	for {
		if s.unauthenticated[ip] < s.MaxUnauthenticatedPerIP {
			s.unauthenticated[ip]++
			admitted = true
			return ""
		}
		if !waiting {
			if s.waitingLogin[ip] >= waitingPerPlace*s.MaxUnauthenticatedPerIP {
				return tooMany
			}
			s.waitingLogin[ip]++
			waiting = true
		}
		freed := s.loginFreed
		s.mu.Unlock()
		select {
		case <-freed:
			s.mu.Lock()
		case <-deadline.C:
			s.mu.Lock()
			return tooMany
		}
	}
}

// releaseLogin gives back a place taken by admitLogin.
func (s *Server) releaseLogin(ip netip.Addr) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unauthenticated[ip] <= 1 {
		delete(s.unauthenticated, ip)
	} else {
		s.unauthenticated[ip]--
	}
	s.preLogin--
	close(s.loginFreed)
	s.loginFreed = make(chan struct{})
}

// keyRejected remembers that a key offered for login was not accepted.
func (c *connState) keyRejected(login string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keyFailed, c.login = true, login
}

type connStateKey struct{}

// SSH disconnect reasons (RFC 4253 §11.1).
const (
	disconnectTooManyConnections = 12
	disconnectNoMoreAuthMethods  = 14
)

// acceptConn applies the defender's bans and the connection limit before
// any SSH work, telling a refused client why.
func (s *Server) acceptConn(ctx ssh.Context, c net.Conn) net.Conn {
	ip := remoteIP(c.RemoteAddr())
	if s.closing.Load() {
		reject(c, disconnectTooManyConnections, "The server is shutting down.")
		return nil
	}
	if err := s.Auth.CheckBan(ip); err != nil {
		reject(c, disconnectNoMoreAuthMethods, mft.ErrorMessage(err))
		return nil
	}
	if n := s.conns.Add(1); n > int64(s.MaxConnections) {
		s.conns.Add(-1)
		reject(c, disconnectTooManyConnections, fmt.Sprintf("Too many connections to this server (limit %d); try again later.", s.MaxConnections))
		return nil
	}
	if refused := s.admitLogin(ip); refused != "" {
		s.conns.Add(-1)
		reject(c, disconnectTooManyConnections, refused)
		return nil
	}
	st := &connState{Conn: c, s: s, ctx: ctx, ip: ip}
	st.grace = time.AfterFunc(s.LoginGrace, func() {
		if !st.loggedIn.Load() {
			c.Close()
		}
	})
	ctx.SetValue(connStateKey{}, st)
	return st
}

// Close counts a connection that offered only rejected keys and never
// authenticated as one failed login, releases its slot, and closes it.
func (c *connState) Close() error {
	c.once.Do(func() {
		c.loginDone()
		c.s.conns.Add(-1)
		c.mu.Lock()
		failed, login := c.keyFailed, c.login
		c.mu.Unlock()
		if failed && c.ctx.Value(ssh.ContextKeyConn) == nil {
			c.s.Auth.RecordFailure(login, c.ip, mft.AuditSFTP, "public key not accepted")
		}
	})
	return c.Conn.Close()
}

func remoteIP(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(ta.IP)
		return ip.Unmap()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap.Addr().Unmap()
}

// reject sends the SSH version line and an unencrypted SSH_MSG_DISCONNECT
// (allowed before key exchange), so that the client prints the reason,
// then closes the connection.
func reject(c net.Conn, reason uint32, msg string) {
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	payload := []byte{1} // SSH_MSG_DISCONNECT
	payload = binary.BigEndian.AppendUint32(payload, reason)
	payload = binary.BigEndian.AppendUint32(payload, uint32(len(msg)))
	payload = append(payload, msg...)
	payload = binary.BigEndian.AppendUint32(payload, 0) // language tag
	pad := 8 - (5+len(payload))%8
	if pad < 4 {
		pad += 8
	}
	pkt := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
	pkt = append(pkt, byte(pad))
	pkt = append(pkt, payload...)
	pkt = append(pkt, make([]byte, pad)...)
	if _, err := c.Write(append([]byte("SSH-2.0-Depot\r\n"), pkt...)); err != nil {
		return
	}
	// Read what the client sends (its version and KEXINIT) until it hangs
	// up after reading the reason: closing at once would make its writes
	// fail before it reads, and it would print only "broken pipe".
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	io.CopyN(io.Discard, c, 64<<10)
}

// sshConfig builds the server configuration for one connection, with the
// login callbacks: each sees the username of its own attempt.
func (s *Server) sshConfig(ctx ssh.Context) *gossh.ServerConfig {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	cfg := &gossh.ServerConfig{
		Config:                  gossh.Config{KeyExchanges: or(s.KeyExchanges, kexAlgos), Ciphers: s.Ciphers, MACs: or(s.MACs, macAlgos)},
		MaxAuthTries:            6,
		PublicKeyAuthAlgorithms: userKeyAlgos,
	}
	cfg.PasswordCallback = func(meta gossh.ConnMetadata, password []byte) (*gossh.Permissions, error) {
		u, err := s.Auth.Login(context.Background(), meta.User(), string(password), st.ip, mft.ProtocolSFTP)
		if err != nil {
			return nil, errors.New(mft.ErrorMessage(err))
		}
		return &gossh.Permissions{Extensions: map[string]string{extUser: u.ID, extMethod: "password"}}, nil
	}
	cfg.PublicKeyCallback = func(meta gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
		u, err := s.Auth.CheckPublicKey(context.Background(), meta.User(), key, st.ip, mft.ProtocolSFTP)
		if err != nil {
			if mft.ErrorCode(err) == mft.EUNAUTHORIZED {
				st.keyRejected(meta.User())
			}
			return nil, errors.New(mft.ErrorMessage(err))
		}
		if s.RequireSecondFactorWithKeys {
			need, err := s.Auth.KeySecondFactor(context.Background(), u, st.ip, mft.ProtocolSFTP)
			if err != nil {
				return nil, errors.New(mft.ErrorMessage(err))
			}
			if need {
				return nil, &gossh.PartialSuccessError{Next: gossh.ServerAuthCallbacks{KeyboardInteractiveCallback: s.codeAfterKey(u, st)}}
			}
		}
		return &gossh.Permissions{Extensions: map[string]string{extUser: u.ID, extMethod: "publickey " + gossh.FingerprintSHA256(key)}}, nil
	}
	return cfg
}

// codeAfterKey asks u, whose key was right, for a two-factor code.
func (s *Server) codeAfterKey(u *mft.User, st *connState) func(gossh.ConnMetadata, gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
	return func(_ gossh.ConnMetadata, challenge gossh.KeyboardInteractiveChallenge) (*gossh.Permissions, error) {
		answers, err := challenge("", "", []string{"Two-factor code: "}, []bool{true})
		if err != nil || len(answers) != 1 {
			return nil, errors.New("no two-factor code")
		}
		if err := s.Auth.VerifyCode(context.Background(), u, answers[0], "publickey+totp", st.ip, mft.ProtocolSFTP); err != nil {
			return nil, errors.New(mft.ErrorMessage(err))
		}
		return &gossh.Permissions{Extensions: map[string]string{extUser: u.ID, extMethod: "publickey+totp"}}, nil
	}
}

// sessionChannel is the session channel handler: the first channel of a
// connection ends its login.
func sessionChannel(srv *ssh.Server, conn *gossh.ServerConn, newChan gossh.NewChannel, ctx ssh.Context) {
	if st, ok := ctx.Value(connStateKey{}).(*connState); ok {
		st.loginDone()
	}
	ssh.DefaultSessionHandler(srv, conn, newChan, ctx)
}

// or is list, or def when list is empty.
func or(list, def []string) []string {
	if len(list) == 0 {
		return def
	}
	return list
}
