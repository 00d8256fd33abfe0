package server

import (
	"net/http"
	"net/netip"
	"strings"
)

// davPrefix is where the WebDAV handler (Server.DAV) is served, beside
// the API rather than inside it: WebDAV's methods and XML bodies are RFC
// 4918's, not openapi.yaml's, and its clients send a request per file,
// so it has the defender and its logins rather than the API's rate limit.
const davPrefix = "/dav"

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
		s.DAV.ServeHTTP(w, r)
	})
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
