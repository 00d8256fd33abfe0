package server

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// minRate returns the request body of an upload, cut off when it arrives
// slower than MinUploadRate bytes per second, averaged over
// MinUploadWindow: a client that stalls or trickles cannot hold a
// connection, a staging file and a quota reservation for ever. A client
// that sends nothing at all is cut off by a read deadline at the end of
// the window. The cut-off reaches the file service as a read error, which
// removes the staging file. With MinUploadRate 0 the body is returned as
// it is.
func (s *Server) minRate(c echo.Context) io.Reader {
	return s.minRateBody(c.Response().Writer, c.Request().Body)
}

// minRateBody is minRate for a body answered on w.
func (s *Server) minRateBody(w http.ResponseWriter, body io.Reader) io.Reader {
	if s.MinUploadRate <= 0 || s.MinUploadWindow <= 0 {
		return body
	}
	rc := http.NewResponseController(w)
	b := &rateReader{body: body, rc: rc, rate: s.MinUploadRate, window: s.MinUploadWindow, now: time.Now}
	b.start = b.now()
	b.extend(b.start)
	return b
}

type rateReader struct {
	body   io.Reader
	rc     *http.ResponseController
	rate   int64 // bytes per second
	window time.Duration
	now    func() time.Time

	start    time.Time // of the current window
	got      int64     // bytes received in the current window
	deadline time.Time // the read deadline set last
	err      error
}

// extend moves the read deadline to one window after now; it is moved at
// most once a second (or twice a window), since each move is a call into
// the poller.
func (b *rateReader) extend(now time.Time) {
	if b.deadline.Sub(now) > b.window-min(time.Second, b.window/2) {
		return
	}
	b.deadline = now.Add(b.window)
	// A connection that cannot take deadlines (none in net/http) is then
	// only checked when a read returns.
	_ = b.rc.SetReadDeadline(b.deadline)
}

func (b *rateReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.body.Read(p)
	now := b.now()
	b.got += int64(n)
	if elapsed := now.Sub(b.start); elapsed >= b.window {
		if b.got < int64(elapsed.Seconds()*float64(b.rate)) {
			b.err = mft.Errorf(mft.EMALFORMED, "The upload was cut off: it arrived slower than %d bytes per second over %s.", b.rate, b.window)
			return n, b.err
		}
		b.start, b.got = now, 0
	}
	if err != nil {
		if errors.Is(err, io.EOF) {
			_ = b.rc.SetReadDeadline(time.Time{})
		}
		return n, err
	}
	if n > 0 {
		b.extend(now)
	}
	return n, nil
}
