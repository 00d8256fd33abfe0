package sftpd

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gliderlabs/ssh"
	gossh "golang.org/x/crypto/ssh"

	"depot/files"
	"depot/mft"
)

// session is one SFTP subsystem: a user's view of their tree over one
// SSH channel.
type session struct {
	id       string
	user     *mft.User
	ip       string
	started  time.Time
	ch       ssh.Session
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	mu        sync.Mutex
	transfers map[*transfer]struct{}
	ended     bool
	told      int    // bytes of refusals written to the client's stderr
	lastTold  string // the last of them
}

// transfer is a file open in a session.
type transfer struct {
	path      string
	direction string
	bytes     atomic.Int64
	started   time.Time
}

func (sess *session) openTransfers() int {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	return len(sess.transfers)
}

// begin registers a transfer unless the session is at its limit.
func (sess *session) begin(t *transfer, limit int) error {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.transfers) >= limit {
		return mft.Errorf(mft.EUNAVAILABLE, "Too many files open in this session (limit %d, sftp.max_transfers); close one first.", limit)
	}
	sess.transfers[t] = struct{}{}
	return nil
}

func (sess *session) finish(t *transfer) {
	sess.mu.Lock()
	defer sess.mu.Unlock()
	delete(sess.transfers, t)
}

// end closes the session's connection.
func (sess *session) end() {
	sess.mu.Lock()
	sess.ended = true
	sess.mu.Unlock()
	sess.ch.Close()
	if c, ok := sess.ch.Context().Value(ssh.ContextKeyConn).(gossh.Conn); ok {
		c.Close()
	}
}

func (sess *session) view() mft.Session {
	out := mft.Session{ID: sess.id, User: sess.user.ID, IP: sess.ip, Protocol: mft.AuditSFTP, StartedAt: sess.started,
		BytesIn: sess.bytesIn.Load(), BytesOut: sess.bytesOut.Load(), Transfers: []mft.Transfer{}}
	sess.mu.Lock()
	for t := range sess.transfers {
		out.Transfers = append(out.Transfers, mft.Transfer{Path: t.path, Direction: t.direction, Bytes: t.bytes.Load(), StartedAt: t.started})
	}
	sess.mu.Unlock()
	slices.SortFunc(out.Transfers, func(a, b mft.Transfer) int { return strings.Compare(a.Path, b.Path) })
	return out
}

var _ mft.SessionService = (*Server)(nil)

// Sessions returns the live sessions, oldest first.
func (s *Server) Sessions() []mft.Session {
	live := s.liveSessions()
	out := make([]mft.Session, len(live))
	for i, sess := range live {
		out[i] = sess.view()
	}
	slices.SortFunc(out, func(a, b mft.Session) int { return a.StartedAt.Compare(b.StartedAt) })
	return out
}

// EndSession closes a live session (its open uploads are dropped) and
// publishes session.ended for the origin ctx carries.
func (s *Server) EndSession(ctx context.Context, id string) error {
	s.mu.Lock()
	sess, ok := s.sessions[id]
	s.mu.Unlock()
	if !ok {
		return mft.Errorf(mft.ENOTFOUND, "Session not found.")
	}
	sess.end()
	mft.PublishChange(ctx, s.Events, mft.EventSessionEnded, id)
	return nil
}

// handleSFTP runs the sftp subsystem for an authenticated connection.
func (s *Server) handleSFTP(ch ssh.Session) {
	u, err := s.sessionUser(ch)
	if err != nil {
		fmt.Fprintln(ch.Stderr(), mft.ErrorMessage(err))
		ch.Exit(1)
		return
	}
	st, _ := ch.Context().Value(connStateKey{}).(*connState)
	sess := &session{id: "ses_" + strings.ToLower(rand.Text()[:16]), user: u, ip: st.ip.String(), started: time.Now().UTC(),
		ch: ch, transfers: map[*transfer]struct{}{}}
	if err := s.register(sess); err != nil {
		fmt.Fprintln(ch.Stderr(), err)
		ch.Exit(1)
		return
	}
	defer s.unregister(sess)
	// The session keeps the user's view and trees open between requests.
	fs := s.Files.NewSession()
	h := &handler{s: s, sess: sess, actor: files.Actor{User: u, Protocol: mft.AuditSFTP, IP: sess.ip, Session: fs},
		ctx: ch.Context(), stderr: ch.Stderr(), uploads: map[string]*upload{}}
	err = newConv(countingRW{ch, sess}, h).serve()
	ch.CloseWrite()
	fs.Close()
	if err != nil && err != io.EOF {
		s.Logger.Debug("sftp session ended", "session", sess.id, "user", u.ID, "err", err)
	}
	ch.Exit(0)
}

// sessionUser returns the authenticated user, fresh from the store, after
// checking that the SSH layer's idea of the user is consistent and that
// the account may still log in.
func (s *Server) sessionUser(ch ssh.Session) (*mft.User, error) {
	conn, ok := ch.Context().Value(ssh.ContextKeyConn).(*gossh.ServerConn)
	st, ok2 := ch.Context().Value(connStateKey{}).(*connState)
	if !ok || !ok2 || conn.Permissions == nil || conn.Permissions.Extensions[extUser] == "" {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "Not authenticated.")
	}
	// gliderlabs/ssh keeps the first attempt's name; the login is the last.
	if ch.User() != conn.User() {
		return nil, mft.Errorf(mft.EFORBIDDEN, "Log in again with one username.")
	}
	u, err := s.Users.FindUserByID(context.Background(), conn.Permissions.Extensions[extUser])
	if err != nil {
		return nil, err
	}
	if err := s.Auth.CheckUser(u, st.ip, mft.ProtocolSFTP); err != nil {
		return nil, err
	}
	if method := conn.Permissions.Extensions[extMethod]; method != "password" && method != "keyboard-interactive" &&
		!strings.HasSuffix(method, "+totp") { // audited by Login or VerifyCode
		s.Auth.RecordLogin(u, st.ip, mft.AuditSFTP, method)
	}
	return u, nil
}

func (s *Server) register(sess *session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perUser[sess.user.ID] >= s.MaxConnectionsPerUser {
		return fmt.Errorf("Too many sessions for %s (limit %d); close one and try again.", sess.user.ID, s.MaxConnectionsPerUser)
	}
	s.perUser[sess.user.ID]++
	s.sessions[sess.id] = sess
	return nil
}

func (s *Server) unregister(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, sess.id)
	if s.perUser[sess.user.ID]--; s.perUser[sess.user.ID] <= 0 {
		delete(s.perUser, sess.user.ID)
	}
}

// countingRW counts the session's bytes in and out.
type countingRW struct {
	ch   ssh.Session
	sess *session
}

func (c countingRW) Read(p []byte) (int, error) {
	n, err := c.ch.Read(p)
	c.sess.bytesIn.Add(int64(n))
	return n, err
}

func (c countingRW) Write(p []byte) (int, error) {
	n, err := c.ch.Write(p)
	c.sess.bytesOut.Add(int64(n))
	return n, err
}
