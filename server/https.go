package server

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
)

// hsts tells browsers to come back over HTTPS only, for two years.
func hsts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000")
		next.ServeHTTP(w, r)
	})
}

// openRedirect listens on RedirectAddr for plain HTTP and answers every
// request with a permanent redirect (308: the method and body are kept)
// to the same path under PublicURL; nothing else is served there.
func (s *Server) openRedirect() error {
	if s.RedirectAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", s.RedirectAddr)
	if err != nil {
		return fmt.Errorf("server: listen on %s (http.redirect_listen): %w", s.RedirectAddr, err)
	}
	s.RedirectAddr = ln.Addr().String() // the port, when it was 0
	s.redirect = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, s.PublicURL+r.URL.RequestURI(), http.StatusPermanentRedirect)
		}),
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.redirect.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http redirect server stopped", "err", err)
		}
	}()
	return nil
}
