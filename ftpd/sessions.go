package ftpd

import (
	"context"
	"crypto/rand"
	"io"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"depot/mft"
)

// live is what GET /admin/sessions shows of a session; the session's own
// goroutines write it and the listing reads it at any time.
type live struct {
	id       string
	started  time.Time
	account  atomic.Pointer[mft.User] // nil until the login
	bytesIn  atomic.Int64
	bytesOut atomic.Int64
	xfer     atomic.Pointer[xfer] // the transfer running, if one is
}

// xfer is the transfer a session runs.
type xfer struct {
	path, direction string
	started         time.Time
	bytes           atomic.Int64
}

func newLive() live {
	return live{id: "ses_" + strings.ToLower(rand.Text()[:16]), started: time.Now().UTC()}
}

// track counts a transfer's bytes from now until the returned func.
func (c *session) track(path, direction string) (*xfer, func()) {
	x := &xfer{path: path, direction: direction, started: time.Now().UTC()}
	c.live.xfer.Store(x)
	return x, func() { c.live.xfer.Store(nil) }
}

// countingReader counts an upload's bytes for its transfer and session.
type countingReader struct {
	r io.Reader
	x *xfer
	c *session
}

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.x.bytes.Add(int64(n))
	r.c.live.bytesIn.Add(int64(n))
	return n, err
}

// countingWriter counts a download's bytes for its transfer and session.
type countingWriter struct {
	w io.Writer
	x *xfer
	c *session
}

func (w countingWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.x.bytes.Add(int64(n))
	w.c.live.bytesOut.Add(int64(n))
	return n, err
}

func (c *session) view() (mft.Session, bool) {
	u := c.live.account.Load()
	if u == nil {
		return mft.Session{}, false
	}
	out := mft.Session{ID: c.live.id, User: u.ID, IP: c.ip.String(), Protocol: mft.AuditFTP, StartedAt: c.live.started,
		BytesIn: c.live.bytesIn.Load(), BytesOut: c.live.bytesOut.Load(), Transfers: []mft.Transfer{}}
	if x := c.live.xfer.Load(); x != nil {
		out.Transfers = append(out.Transfers, mft.Transfer{Path: x.path, Direction: x.direction, Bytes: x.bytes.Load(), StartedAt: x.started})
	}
	return out, true
}

var _ mft.SessionService = (*Server)(nil)

// Sessions returns the logged-in sessions, oldest first.
func (s *Server) Sessions() []mft.Session {
	s.mu.Lock()
	out := make([]mft.Session, 0, len(s.sessions))
	for sess := range s.sessions {
		if v, ok := sess.view(); ok {
			out = append(out, v)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b mft.Session) int { return a.StartedAt.Compare(b.StartedAt) })
	return out
}

// EndSession closes a logged-in session (an upload in flight leaves
// nothing) and publishes session.ended for the origin ctx carries.
func (s *Server) EndSession(ctx context.Context, id string) error {
	s.mu.Lock()
	var found *session
	for sess := range s.sessions {
		if sess.live.id == id && sess.live.account.Load() != nil {
			found = sess
		}
	}
	s.mu.Unlock()
	if found == nil {
		return mft.Errorf(mft.ENOTFOUND, "Session not found.")
	}
	found.end()
	mft.PublishChange(ctx, s.Events, mft.EventSessionEnded, id)
	return nil
}
