package ftpd

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"depot/files"
	"depot/mft"
)

// maxLine bounds a control line: a command and a path of at most 4096
// bytes, with room to spare. A longer line ends the session.
const maxLine = 8 << 10

// maxLoginFailures is how many wrong passwords one connection may send
// before it is closed (each also counts toward the defender).
const maxLoginFailures = 3

// ctrlLine is one line read from the control connection, or why none was.
type ctrlLine struct {
	text string
	err  error
}

var errLineTooLong = errors.New("line too long")

// session is one control connection. Commands run one at a time in
// run's goroutine; reader reads the next line only when run asks (resume),
// so that AUTH TLS can swap the connection between two lines, and while a
// transfer runs, so that ABOR is seen during it.
type session struct {
	s   *Server
	raw net.Conn
	ip  netip.Addr

	conn net.Conn // raw, or the TLS connection over it
	r    *bufio.Reader
	w    *bufio.Writer
	wmu  sync.Mutex // replies come from run and, for ABOR, from a transfer

	lines   chan ctrlLine
	resume  chan struct{}
	reading bool // resume sent, line not yet taken
	held    *ctrlLine
	busy    atomic.Bool // a transfer is running
	in      atomic.Bool // logged in (read by the login grace timer)
	ended   atomic.Bool
	endOnce sync.Once

	tls      bool
	pbsz     bool
	prot     byte // 'C' or 'P'
	login    string
	user     *mft.User
	actor    files.Actor
	failures int
	grace    *time.Timer

	cwd        string
	rest       int64
	renameFrom string
	pasv       *passive

	live live
}

func newSession(s *Server, c net.Conn, ip netip.Addr) *session {
	sess := &session{s: s, raw: c, conn: c, ip: ip, prot: 'C', cwd: "/",
		lines: make(chan ctrlLine, 1), resume: make(chan struct{}), live: newLive()}
	sess.r, sess.w = bufio.NewReaderSize(c, maxLine), bufio.NewWriter(c)
	return sess
}

// upgrade starts TLS on the control connection (AUTH TLS, or at once on
// the implicit port).
func (c *session) upgrade() error {
	tc := tls.Server(c.raw, c.s.TLS)
	c.raw.SetDeadline(time.Now().Add(c.s.LoginGrace))
	err := tc.Handshake()
	c.raw.SetDeadline(time.Time{})
	if err != nil {
		return err
	}
	c.conn, c.tls = tc, true
	c.r, c.w = bufio.NewReaderSize(tc, maxLine), bufio.NewWriter(tc)
	return nil
}

// end closes the connection; run's loop ends at its next line.
func (c *session) end() {
	c.endOnce.Do(func() {
		c.ended.Store(true)
		c.raw.Close()
	})
}

func (c *session) run() {
	defer c.end()
	c.grace = time.AfterFunc(c.s.LoginGrace, func() {
		if !c.in.Load() {
			c.reply(421, "Not logged in within %s; closing.", c.s.LoginGrace)
			c.end()
		}
	})
	defer c.grace.Stop()
	defer func() {
		if id := c.userID(); id != "" {
			c.s.releaseUser(id)
		}
		c.closePassive()
		if c.actor.Session != nil {
			c.actor.Session.Close()
		}
	}()
	go c.readLoop()
	defer close(c.resume)
	c.reply(220, "Depot FTPS ready.")
	for !c.ended.Load() {
		l, ok := c.next()
		if !ok {
			return
		}
		if l.err != nil {
			switch {
			case errors.Is(l.err, errLineTooLong):
				c.reply(500, "Command line too long (limit %d bytes); closing.", maxLine)
			case isTimeout(l.err):
				c.reply(421, "No command for %s; closing.", c.s.IdleTimeout)
			}
			return
		}
		c.dispatch(l.text)
	}
}

// next returns the next command line: one held back during a transfer,
// or the reader's next.
func (c *session) next() (ctrlLine, bool) {
	if c.held != nil {
		l := *c.held
		c.held = nil
		return l, true
	}
	c.ask()
	l, ok := <-c.lines
	c.reading = false
	return l, ok
}

// ask lets the reader read one more line, unless it already may.
func (c *session) ask() {
	if !c.reading {
		c.resume <- struct{}{}
		c.reading = true
	}
}

// readLoop reads one line each time it is asked. The idle timeout applies
// once logged in, and not to the control connection while a transfer
// runs.
func (c *session) readLoop() {
	defer close(c.lines)
	for range c.resume {
		for {
			// Before the login, login_grace_time's timer ends the session.
			var deadline time.Time
			if c.in.Load() {
				deadline = time.Now().Add(c.s.IdleTimeout)
			}
			c.conn.SetReadDeadline(deadline)
			text, err := c.readLine()
			if err != nil && isTimeout(err) && c.busy.Load() {
				continue
			}
			c.lines <- ctrlLine{text, err}
			if err != nil {
				return
			}
			break
		}
	}
}

func (c *session) readLine() (string, error) {
	b, err := c.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errLineTooLong
	}
	if err != nil {
		return "", err
	}
	return cleanLine(b), nil
}

// cleanLine drops the line end and the Telnet commands (IAC IP, IAC DM)
// that clients send before ABOR.
func cleanLine(b []byte) string {
	var sb strings.Builder
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] == 0xff && i+1 < len(b): // IAC and the command after it
			i++
		case b[i] == '\r' || b[i] == '\n':
		case b[i] == 0xf2: // a lone DM (synch) byte
		default:
			sb.WriteByte(b[i])
		}
	}
	return sb.String()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// reply sends one answer line; multi-line texts are sent as RFC 959's
// "code-" lines ending with "code text".
func (c *session) reply(code int, format string, args ...any) {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.raw.SetWriteDeadline(time.Now().Add(c.s.IdleTimeout))
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		if i < len(lines)-1 {
			fmt.Fprintf(c.w, "%d-%s\r\n", code, oneLine(l))
		} else {
			fmt.Fprintf(c.w, "%d %s\r\n", code, oneLine(l))
		}
	}
	c.w.Flush()
}

// oneLine keeps a message on one line: a name or an error text with a
// line break in it cannot forge a reply.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// replyErr answers a refusal of the files service (or another Depot
// error) with the code an FTP client acts on and Depot's reason.
func (c *session) replyErr(err error) {
	msg := mft.ErrorMessage(err)
	switch mft.ErrorCode(err) {
	case mft.ENOTFOUND, mft.EFORBIDDEN, mft.ECONFLICT, mft.EEXPIRED:
		c.reply(550, "%s", msg)
	case mft.EQUOTA, mft.ETOOLARGE:
		c.reply(552, "%s", msg)
	case mft.EMALFORMED, mft.EINVALID:
		c.reply(553, "%s", msg)
	case mft.EUNAVAILABLE:
		c.reply(450, "%s", msg)
	default:
		if errors.Is(err, os.ErrNotExist) {
			c.reply(550, "No such file or folder.")
			return
		}
		c.s.Logger.Warn("ftp command failed", "user", c.userID(), "err", err)
		c.reply(451, "%s", msg)
	}
}

func (c *session) userID() string {
	if c.user == nil {
		return ""
	}
	return c.user.ID
}

func (c *session) ctx() context.Context { return context.Background() }
