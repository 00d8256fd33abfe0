package server

// The middleware every request passes: the client's address (behind
// trusted proxies), request ids and the request log, panics turned into
// 500s, and the upload slots.

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// ipExtractor uses the socket's address, and X-Forwarded-For only when the
// socket belongs to a trusted proxy.
func (s *Server) ipExtractor() echo.IPExtractor {
	if len(s.TrustedProxies) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, p := range s.TrustedProxies {
		opts = append(opts, echo.TrustIPRange(&net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}

// clientIP returns the caller's address as a netip.Addr.
func clientIP(c echo.Context) netip.Addr {
	a, err := netip.ParseAddr(c.RealIP())
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}

const ctxRequestID = "request_id"

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// requestLog gives each request an id (echoed in X-Request-Id) and logs it
// once it is answered.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := newRequestID()
		c.Set(ctxRequestID, id)
		c.Response().Header().Set("X-Request-Id", id)
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		took := time.Since(start)
		if s.Observe != nil {
			s.Observe(c.Request().Method, c.Path(), c.Response().Status, took)
		}
		attrs := []any{"method", c.Request().Method, "path", c.Request().URL.Path,
			"status", c.Response().Status, "bytes", c.Response().Size,
			"duration", took.Round(time.Microsecond), "ip", c.RealIP(), "request_id", id}
		if u, ok := c.Get(ctxUser).(*mft.User); ok {
			attrs = append(attrs, "user", u.ID)
		}
		s.Logger.Info("request", attrs...)
		return nil
	}
}

// recoverPanics turns a panic in a handler into a logged 500.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				err = fmt.Errorf("server: panic: %v", r)
			}
		}()
		return next(c)
	}
}

// uploadRetry is the Retry-After of an upload refused for want of a slot.
const uploadRetry = 5

// oneAnonymousUpload runs an upload from a public page (a filedrop, an
// upload link, a dropzone's signed URL) in one of MaxUploads slots of
// which such uploads take at most half together, so that strangers never
// take the last slots from authenticated users.
func (s *Server) oneAnonymousUpload(next echo.HandlerFunc) echo.HandlerFunc {
	upload := s.oneUpload(next)
	return func(c echo.Context) error {
		return inSlot(s.anonymousUploads, c, upload, fmt.Sprintf(
			"%d uploads from public pages are in progress, the most this server takes at once (half of http.max_uploads)", cap(s.anonymousUploads)))
	}
}

// oneUpload runs an upload handler in one of MaxUploads slots.
func (s *Server) oneUpload(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		return inSlot(s.uploads, c, next, fmt.Sprintf(
			"%d uploads are in progress, the most this server takes at once (http.max_uploads)", s.MaxUploads))
	}
}

// inSlot runs next in one of slots, or when all are taken answers 503
// with Retry-After and refusal before a byte of the body is read.
func inSlot(slots chan struct{}, c echo.Context, next echo.HandlerFunc, refusal string) error {
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
		return next(c)
	default:
		c.Response().Header().Set("Retry-After", strconv.Itoa(uploadRetry))
		closeAfter(c) // the body is not read
		return mft.Errorf(mft.EUNAVAILABLE, "%s; retry in %d seconds.", refusal, uploadRetry)
	}
}
