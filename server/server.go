// Package server is Depot's HTTP API on echo v4: the admin API, the user
// API, authentication middleware, envelopes and the one error handler.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/automation"
	"depot/bucket"
	"depot/connection"
	"depot/directory"
	"depot/dropzone"
	"depot/filedrop"
	"depot/files"
	"depot/link"
	"depot/mft"
	"depot/mount"
	"depot/oidcauth"
)

// Server serves the HTTP API. Set the exported fields, then call Open.
type Server struct {
	// Addr is the listen address, such as ":8080" or "127.0.0.1:0".
	Addr string
	// PublicURL is the base of links Depot hands out; empty means
	// http(s)://<the listener's address>.
	PublicURL string
	// TLS, when set, serves HTTPS (and HSTS) instead of plain HTTP.
	TLS *tls.Config
	// RedirectAddr, with TLS, is a plain HTTP listener that redirects
	// every request to PublicURL.
	RedirectAddr string
	// TrustedProxies are the addresses whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// ReadHeaderTimeout and IdleTimeout bound slow and idle connections;
	// there is no whole-request timeout, so long transfers are not cut off.
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	// MaxJSONBytes caps JSON request bodies; JSONBodyTimeout is how long a
	// client has to send one (it reads the body before its key is known).
	MaxJSONBytes    int64
	JSONBodyTimeout time.Duration
	// An upload body slower than MinUploadRate bytes per second averaged
	// over MinUploadWindow is cut off and removed; 0 turns it off.
	MinUploadRate   int64
	MinUploadWindow time.Duration
	// MaxUploads bounds the HTTP uploads received at once (every upload
	// route together); one more is a 503 with Retry-After. 0 means 64.
	MaxUploads int
	// Version is reported by /healthz.
	Version string

	Logger  *slog.Logger
	Users   *directory.Users
	Groups  mft.GroupStore
	Files   *files.Service
	Perms   mft.PermissionStore
	Folders mft.FolderStore
	// Filedrops, Dropzones and Links run the exchange workflows.
	Filedrops *filedrop.Service
	Dropzones *dropzone.Service
	Links     *link.Service
	// Automations stores automations, runs, webhooks and deliveries;
	// Engine changes them and queues their work.
	Automations mft.AutomationStore
	Engine      *automation.Engine
	// Connections keeps the storage connections.
	Connections *connection.Service
	Mounts      *mount.Service
	// AS2 is the AS2 station; AS2Settings the limits of its routes.
	AS2         AS2
	AS2Settings AS2Settings
	// Buckets runs customer buckets; Settings stores the appliance
	// settings; SFTPPublicHost names the host in a bucket's instructions.
	Buckets        *bucket.Service
	Settings       mft.SettingsStore
	SFTPPublicHost string
	// Sessions lists and ends live SFTP and FTPS sessions; nil when SFTP is off.
	Sessions mft.SessionService
	// SFTP tells the web client's account page where partners connect;
	// nil when SFTP is off.
	SFTP SFTPEndpoint
	// FTP tells the account page where FTPS clients connect; nil when
	// FTPS is off.
	FTP FTPEndpoint
	// SSO signs people in with the company's OpenID provider; nil when
	// oidc.issuer is empty.
	SSO *oidcauth.Accounts
	// Web keeps the web client's sessions.
	Web   *auth.WebSessions
	Audit mft.AuditStore
	// Events receives auth events for the audit log; nil drops them.
	Events   mft.EventSink
	Auth     *auth.Authenticator
	Defender *auth.Defender
	Limiter  *auth.RateLimiter
	// verifiedKeys are the credentials with a rate-limit allowance of
	// their own.
	verifiedKeys verifiedKeys
	// Backup writes a consistent database snapshot for GET /admin/backup;
	// nil on PostgreSQL, which pg_dump backs up.
	Backup func(io.Writer) (int64, error)
	// Ping checks that the database answers, for /healthz.
	Ping func(context.Context) error
	// Now is the clock of expiries; Open sets time.Now.
	Now func() time.Time
	// Metrics serves GET /metrics (Prometheus) to administrators, and
	// without a key on MetricsAddr when set; Observe records each request
	// by its route pattern. Both may be nil.
	Metrics     http.Handler
	MetricsAddr string
	Observe     func(method, route string, code int, d time.Duration)
	// Wrap, when set, wraps the whole API handler; the tests check every
	// request and response against the OpenAPI document through it.
	Wrap func(http.Handler) http.Handler
	// DAV, when set, serves WebDAV at /dav/ (see dav.go).
	DAV http.Handler

	ln      net.Listener
	http    *http.Server
	side    []*http.Server // the redirect and metrics listeners
	echo    *echo.Echo
	uploads chan struct{} // a slot per upload in progress
	// anonymousUploads: a slot per upload from a public page, at most
	// half of uploads.
	anonymousUploads chan struct{}
	// pending are sign-ins waiting for their second factor.
	pending pendingLogins
	// sso are single sign-ons in progress and their people.
	sso ssoStarts
}

// SFTPEndpoint is the SFTP server as the web client's account page shows
// it.
type SFTPEndpoint interface {
	ListenAddr() net.Addr
	HostKeyFingerprints() []string
}

// FTPEndpoint is the FTPS server as the web client's account page shows
// it.
type FTPEndpoint interface {
	ListenAddr() net.Addr
	// ImplicitListenAddr is nil without an implicit-TLS port.
	ImplicitListenAddr() net.Addr
	// CertFingerprint is the SHA-256 fingerprint of the certificate.
	CertFingerprint() string
}

// Open starts listening (so a bad address fails at once) and serves in the
// background.
func (s *Server) Open() error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.MaxJSONBytes <= 0 {
		s.MaxJSONBytes = 1 << 20
	}
	if s.JSONBodyTimeout <= 0 {
		s.JSONBodyTimeout = 30 * time.Second
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.MaxUploads <= 0 {
		s.MaxUploads = 64
	}
	s.uploads = make(chan struct{}, s.MaxUploads)
	s.anonymousUploads = make(chan struct{}, max(s.MaxUploads/2, 1))
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return fmt.Errorf("server: listen on %s: %w", s.Addr, err)
	}
	s.ln = ln
	if s.PublicURL == "" { // set http.public_url for links that work from elsewhere
		s.PublicURL = s.URL()
		if addr := ln.Addr().(*net.TCPAddr); addr.IP.IsUnspecified() {
			s.PublicURL = s.scheme() + "://" + net.JoinHostPort("localhost", strconv.Itoa(addr.Port))
		}
	}
	s.PublicURL = strings.TrimRight(s.PublicURL, "/")
	s.echo = s.routes()
	var handler http.Handler = s.echo
	if s.Wrap != nil {
		handler = s.Wrap(handler)
	}
	handler = s.withDAV(handler)
	s.http = &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	if c, ok := s.DAV.(connAware); ok { // WebDAV keeps a session per connection
		s.http.ConnContext, s.http.ConnState = c.ConnContext, c.ConnState
	}
	serve := func() error { return s.http.Serve(ln) }
	if s.TLS != nil {
		s.http.Handler, s.http.TLSConfig = hsts(handler), s.TLS
		serve = func() error { return s.http.ServeTLS(ln, "", "") }
	} else {
		s.RedirectAddr = "" // nothing to redirect to
	}
	if err := s.openSide(); err != nil {
		ln.Close()
		for _, srv := range s.side {
			srv.Close()
		}
		return err
	}
	go func() {
		if err := serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Logger.Error("http server stopped", "err", err)
		}
	}()
	return nil
}

// Close stops accepting connections and waits for requests in flight to
// finish until ctx is done.
func (s *Server) Close(ctx context.Context) error {
	if s.http == nil {
		return nil
	}
	errs := []error{s.http.Shutdown(ctx)}
	for _, srv := range s.side {
		errs = append(errs, srv.Shutdown(ctx))
	}
	return errors.Join(errs...)
}

// ListenAddr returns the address the server listens on.
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }

// URL returns the base URL of the listener, for tests.
func (s *Server) URL() string { return s.scheme() + "://" + s.ln.Addr().String() }

func (s *Server) scheme() string {
	if s.TLS != nil {
		return "https"
	}
	return "http"
}

func (s *Server) handleHealth(c echo.Context) error {
	if s.Ping != nil {
		if err := s.Ping(c.Request().Context()); err != nil {
			s.Logger.Error("health check failed", "err", err)
			reason := "The database does not answer."
			if mft.ErrorCode(err) == mft.EUNAVAILABLE {
				reason = mft.ErrorMessage(err)
			}
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": reason})
		}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": s.Version})
}
