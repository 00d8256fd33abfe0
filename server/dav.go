package server

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
)

// davPrefix is where the WebDAV handler (Server.DAV) is served, beside
// the API rather than inside it: WebDAV's methods and XML bodies are RFC
// 4918's, not openapi.yaml's, and its clients send a request per file,
// so it has the defender and its logins rather than the API's rate limit.
const davPrefix = "/dav"

// connAware is a handler that keeps something per connection (davd's
// sessions): the HTTP server tells it of each connection and its end.
type connAware interface {
	ConnContext(ctx context.Context, c net.Conn) context.Context
	ConnState(c net.Conn, st http.ConnState)
}

// withDAV sends /dav and what is below it to the WebDAV handler.
func (s *Server) withDAV(api http.Handler) http.Handler {
	if s.DAV == nil {
		return api
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != davPrefix && !strings.HasPrefix(r.URL.Path, davPrefix+"/") {
			api.ServeHTTP(w, r)
			return
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.Error("webdav panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		if r.Method == http.MethodPut {
			s.davUpload(w, r)
			return
		}
		s.DAV.ServeHTTP(w, r)
	})
}

// davUpload serves a PUT as the API serves uploads: in one of
// http.max_uploads slots (503 with Retry-After when all are taken, before
// a byte of the body is read), the body cut off when it arrives slower
// than http.min_upload_rate.
func (s *Server) davUpload(w http.ResponseWriter, r *http.Request) {
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		w.Header().Set("Retry-After", strconv.Itoa(uploadRetry))
		w.Header().Set("Connection", "close") // the body is not read
		http.Error(w, fmt.Sprintf("%d uploads are in progress, the most this server takes at once (http.max_uploads); retry in %d seconds.",
			s.MaxUploads, uploadRetry), http.StatusServiceUnavailable)
		return
	}
	r.Body = readCloser{s.minRateBody(w, r.Body), r.Body}
	s.DAV.ServeHTTP(w, r)
}

type readCloser struct {
	io.Reader
	io.Closer
}

// ClientIP is the address of a request's caller by the server's rule:
// the socket's, or X-Forwarded-For when the socket is a trusted proxy.
func (s *Server) ClientIP(r *http.Request) netip.Addr {
	a, err := netip.ParseAddr(s.ipExtractor()(r))
	if err != nil {
		return netip.IPv4Unspecified()
	}
	return a.Unmap()
}
