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
	st := &connState{Conn: c, s: s, ctx: ctx, ip: ip}
	ctx.SetValue(connStateKey{}, st)
	return st
}

// Close counts a connection that offered only rejected keys and never
// authenticated as one failed login, releases its slot, and closes it.
func (c *connState) Close() error {
	c.once.Do(func() {
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
		Config:                  gossh.Config{KeyExchanges: kexAlgos, Ciphers: s.Ciphers, MACs: macAlgos},
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
		return &gossh.Permissions{Extensions: map[string]string{extUser: u.ID, extMethod: "publickey " + gossh.FingerprintSHA256(key)}}, nil
	}
	return cfg
}
