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

// openSide opens the plain HTTP listeners beside the API: on
// RedirectAddr (with TLS) a permanent redirect (308: the method and body
// are kept) of every request to the same path under PublicURL, and on
// MetricsAddr /metrics without a key. Each address is rewritten to the
// one bound (the port, when it was 0).
func (s *Server) openSide() error {
	if s.RedirectAddr != "" {
		redirect := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, s.PublicURL+r.URL.RequestURI(), http.StatusPermanentRedirect)
		})
		if err := s.serveSide(&s.RedirectAddr, "http.redirect_listen", redirect); err != nil {
			return err
		}
	}
	if s.MetricsAddr != "" && s.Metrics != nil {
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", s.Metrics)
		if err := s.serveSide(&s.MetricsAddr, "metrics.listen", mux); err != nil {
			return err
		}
	}
	return nil
}

// serveSide serves h on *addr in the background until Close.
func (s *Server) serveSide(addr *string, setting string, h http.Handler) error {
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s (%s): %w", *addr, setting, err)
	}
	*addr = ln.Addr().String()
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	s.side = append(s.side, srv)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server stopped", "setting", setting, "err", err)
		}
	}()
	return nil
}
