package davd

import (
	"context"
	"net"
	"net/http"
	"sync"

	"depot/files"
)

// connSession is one HTTP connection's files session. WebDAV clients send
// a request per file over one connection; the session keeps the user's
// view and tree between them, as an SFTP session does (files.Session).
// It serves the first user who signs in on the connection; requests of
// anyone else on it go without.
type connSession struct {
	mu     sync.Mutex
	user   string
	sess   *files.Session
	closed bool
}

type connKey struct{}

// ConnContext gives each connection a place for its session; set it as
// the HTTP server's ConnContext, with ConnState.
func (h *Handler) ConnContext(ctx context.Context, c net.Conn) context.Context {
	cs := &connSession{}
	h.conns.Store(c, cs)
	return context.WithValue(ctx, connKey{}, cs)
}

// ConnState ends the session of a connection that closed.
func (h *Handler) ConnState(c net.Conn, st http.ConnState) {
	if st != http.StateClosed && st != http.StateHijacked {
		return
	}
	if v, ok := h.conns.LoadAndDelete(c); ok {
		cs := v.(*connSession)
		cs.mu.Lock()
		defer cs.mu.Unlock()
		if cs.sess != nil {
			cs.sess.Close()
		}
		cs.sess, cs.closed = nil, true
	}
}

// session returns the request's connection session for userID, or nil.
func (h *Handler) session(r *http.Request, userID string) *files.Session {
	cs, _ := r.Context().Value(connKey{}).(*connSession)
	if cs == nil {
		return nil
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	switch {
	case cs.closed:
		return nil
	case cs.sess == nil:
		cs.user, cs.sess = userID, h.Files.NewSession()
	case cs.user != userID:
		return nil
	}
	return cs.sess
}
