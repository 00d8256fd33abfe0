// Package sftpd is Depot's SFTP daemon: gliderlabs/ssh for the SSH layer
// and a request loop of its own (serve.go) over the files service, so permissions,
// limits, events and audit are the same as over HTTP.
package sftpd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Server serves SFTP on Addr.
type Server struct {
	Addr string
	// HostKeyDir holds the host keys; missing ones are generated.
	HostKeyDir string
	Files      *files.Service
	Auth       *auth.Authenticator
	Users      mft.UserStore
	Logger     *slog.Logger
	// Events receives session.ended; nil drops it.
	Events                mft.EventSink
	IdleTimeout           time.Duration
	MaxConnections        int
	MaxConnectionsPerUser int
	// MaxTransfers bounds the files open at once in one session.
	MaxTransfers int
	// Ciphers, KeyExchanges and MACs are offered in this order; see
	// config.SFTPCiphers, SFTPKeyExchanges and SFTPMACs. Empty: the
	// modern defaults.
	Ciphers      []string
	KeyExchanges []string
	MACs         []string
	// SyncUploads syncs every upload before its close is acknowledged;
	// otherwise only uploads whose client asks (fsync@openssh.com).
	SyncUploads bool
	// RequireSecondFactorWithKeys asks accounts with two-factor codes for
	// a code after their key (keyboard-interactive).
	RequireSecondFactorWithKeys bool
	// MaxUnauthenticatedPerIP bounds the connections from one address that
	// are logging in at once (sshd's MaxStartups, per address); as many
	// again wait for a place, more are refused. LoginGrace is how long a
	// connection may take to log in. Open sets 10 and 2m.
	MaxUnauthenticatedPerIP int
	LoginGrace              time.Duration
	// ProxyFrom are the load balancers whose connections must begin with
	// a PROXY protocol header (v1 or v2), whose address is then the
	// partner's: for the defender, allowed_ips, the per-address limits and
	// the audit log. A header from anyone else closes the connection.
	ProxyFrom []netip.Prefix

	srv     *ssh.Server
	ln      net.Listener
	conns   atomic.Int64
	closing atomic.Bool
	serving chan struct{}

	mu       sync.Mutex
	sessions map[string]*session
	perUser  map[string]int
	// unauthenticated counts the connections per address still logging
	// in, waitingLogin those waiting for a place; loginFreed is closed
	// (and replaced) when a place is given back.
	unauthenticated map[netip.Addr]int
	waitingLogin    map[netip.Addr]int
	preLogin        int // connections logging in or waiting, every address
	loginFreed      chan struct{}
}

// Modern algorithms only: no SHA-1, no CBC, no DH groups below 2048 bits.
// Strict key exchange (Terrapin, CVE-2023-48795) is negotiated by x/crypto.
// The defaults pass ssh-audit with no failure or warning; settings may add
// older ones for old clients.
var (
	kexAlgos        = []string{gossh.KeyExchangeMLKEM768X25519, gossh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org"}
	macAlgos        = []string{gossh.HMACSHA256ETM, gossh.HMACSHA512ETM}
	userKeyAlgos    = []string{gossh.KeyAlgoED25519, gossh.KeyAlgoSKED25519, gossh.KeyAlgoECDSA256, gossh.KeyAlgoECDSA384, gossh.KeyAlgoECDSA521, gossh.KeyAlgoSKECDSA256, gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256}
	rsaHostKeyAlgos = []string{gossh.KeyAlgoRSASHA512, gossh.KeyAlgoRSASHA256}
)

// Open loads the host keys and starts listening.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	signers, err := loadHostKeys(s.HostKeyDir)
	if err != nil {
		return err
	}
	s.sessions, s.perUser = map[string]*session{}, map[string]int{}
	s.unauthenticated, s.waitingLogin, s.loginFreed = map[netip.Addr]int{}, map[netip.Addr]int{}, make(chan struct{})
	if s.MaxUnauthenticatedPerIP <= 0 {
		s.MaxUnauthenticatedPerIP = 10
	}
	if s.LoginGrace <= 0 {
		s.LoginGrace = 2 * time.Minute
	}
	s.srv = &ssh.Server{
		Handler:                    refuseShell,
		SubsystemHandlers:          map[string]ssh.SubsystemHandler{"sftp": s.handleSFTP},
		ChannelHandlers:            map[string]ssh.ChannelHandler{"session": sessionChannel},
		RequestHandlers:            map[string]ssh.RequestHandler{},
		ConnCallback:               s.acceptConn,
		ServerConfigCallback:       s.sshConfig,
		KeyboardInteractiveHandler: s.keyboardInteractive,
		IdleTimeout:                s.IdleTimeout,
		Version:                    "Depot",
	}
	for _, signer := range signers {
		if signer.PublicKey().Type() == gossh.KeyAlgoRSA {
			as, ok := signer.(gossh.AlgorithmSigner)
			if !ok {
				return errors.New("sftpd: RSA host key cannot choose its signature algorithm")
			}
			if signer, err = gossh.NewSignerWithAlgorithms(as, rsaHostKeyAlgos); err != nil {
				return err
			}
		}
		s.srv.AddHostKey(signer)
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("sftpd: %w", err)
	}
	ln = s.proxyProtocol(ln)
	s.ln = ln
	s.serving = make(chan struct{})
	go func() {
		defer close(s.serving)
		// Close closes the listener first, so a stop shows up here as a
		// closed connection rather than ErrServerClosed.
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, ssh.ErrServerClosed) && !s.closing.Load() {
			s.Logger.Error("sftp server stopped", "err", err)
		}
	}()
	return nil
}

// ListenAddr returns the address the server listens on.
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }

// HostKeyFingerprints returns the SHA256 fingerprints of the host keys,
// what partners compare on their first connection.
func (s *Server) HostKeyFingerprints() []string {
	var out []string
	for _, k := range s.srv.HostSigners {
		out = append(out, k.PublicKey().Type()+" "+gossh.FingerprintSHA256(k.PublicKey()))
	}
	return out
}

// Close stops accepting connections, ends idle sessions at once and lets
// sessions with open transfers finish until ctx is done, then closes them.
func (s *Server) Close(ctx context.Context) error {
	s.closing.Store(true)
	s.ln.Close()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		busy := 0
		for _, sess := range s.liveSessions() {
			if sess.openTransfers() == 0 {
				sess.end()
			} else {
				busy++
			}
		}
		if busy == 0 { // what is left is idle: close it all now
			break
		}
		select {
		case <-ctx.Done():
			s.srv.Close()
			<-s.serving
			return fmt.Errorf("sftpd: %d sessions with transfers were cut off at the shutdown deadline", busy)
		case <-t.C:
		}
	}
	s.srv.Close()
	<-s.serving
	return nil
}

func (s *Server) liveSessions() []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		out = append(out, sess)
	}
	return out
}

// refuseShell answers exec and shell requests: this server only speaks SFTP.
// (gliderlabs/ssh panics on such requests when Handler is nil.)
func refuseShell(sess ssh.Session) {
	fmt.Fprintln(sess.Stderr(), "This server only provides SFTP.")
	sess.Exit(1)
}

// keyboardInteractive is the password asked as one keyboard-interactive
// prompt, for clients that log in that way (WinSCP, FileZilla): the same
// check, defender and audit as a password login. (gliderlabs/ssh installs
// this handler over the config's own callback; the password and public-key
// callbacks are set by sshConfig, where each attempt's username is known.)
func (s *Server) keyboardInteractive(ctx ssh.Context, challenge gossh.KeyboardInteractiveChallenge) bool {
	st, _ := ctx.Value(connStateKey{}).(*connState)
	if st == nil {
		return false
	}
	answers, err := challenge("", "", []string{"Password: "}, []bool{false})
	if err != nil || len(answers) != 1 {
		return false
	}
	// An account with a second factor is asked for its code next.
	askCode := func() (string, error) {
		a, err := challenge("", "", []string{"Two-factor code: "}, []bool{true})
		if err != nil || len(a) != 1 {
			return "", mft.Errorf(mft.EUNAUTHORIZED, "No two-factor code.")
		}
		return a[0], nil
	}
	u, err := s.Auth.LoginCode(context.Background(), ctx.User(), answers[0], "", askCode, st.ip, mft.ProtocolSFTP)
	if err != nil {
		return false
	}
	ctx.Permissions().Extensions = map[string]string{extUser: u.ID, extMethod: "keyboard-interactive"}
	return true
}
