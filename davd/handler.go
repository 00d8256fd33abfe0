// Package davd serves WebDAV (RFC 4918, classes 1 and 2) at /dav/ on the
// HTTP listener: golang.org/x/net/webdav over the files service, with
// Depot's logins (a password or an API key as basic auth, the defender,
// "webdav" in the user's protocols), locks per user, and Depot's
// refusals answered with their own status and reason.
package davd

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/webdav"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Prefix is where WebDAV is served.
const Prefix = "/dav"

// maxXMLBody bounds the bodies of PROPFIND, PROPPATCH and LOCK.
const maxXMLBody = 1 << 20

// Handler serves WebDAV.
type Handler struct {
	Files *files.Service
	Auth  *auth.Authenticator
	// ClientIP is the caller's address (the HTTP server's rule: the
	// socket's, or X-Forwarded-For from a trusted proxy).
	ClientIP func(*http.Request) netip.Addr
	Logger   *slog.Logger

	logins loginCache
	locks  lockSystems
	conns  sync.Map // net.Conn → *connSession (conn.go)
}

// request is what one request's file system calls learned: Depot's
// refusal, if any, which decides the answer.
type request struct {
	put  bool
	size int64
	err  error
}

// fail keeps a Depot refusal for the answer and returns what
// x/net/webdav understands: a missing entry as os.ErrNotExist.
func (r *request) fail(name string, err error) error {
	if err == nil {
		return nil
	}
	var depot *mft.Error
	if r.err == nil && errors.As(err, &depot) {
		r.err = err
	}
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		return &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
	}
	return err
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ip := h.ClientIP(r)
	if err := h.Auth.CheckBan(ip); err != nil {
		writeError(w, err)
		return
	}
	u, err := h.login(r, ip)
	if err != nil {
		if mft.ErrorCode(err) == mft.EUNAUTHORIZED {
			w.Header().Set("WWW-Authenticate", `Basic realm="Depot WebDAV", charset="UTF-8"`)
			if _, _, sent := r.BasicAuth(); sent {
				err = mft.Errorf(mft.EUNAUTHORIZED, "Wrong login and password, or API key (sent as the user name).")
			}
		}
		writeError(w, err)
		return
	}
	if r.Method != http.MethodPut && r.Body != nil {
		r.Body = http.MaxBytesReader(w, r.Body, maxXMLBody)
	}
	if r.Method == "LOCK" {
		// x/net/webdav answers an Infinite (or absent) timeout as
		// "Second-0"; Depot holds a lock at most maxLockTime, and says so.
		r.Header.Set("Timeout", lockTimeout(r.Header.Get("Timeout")))
	}
	st := &request{put: r.Method == http.MethodPut, size: r.ContentLength}
	if r.ContentLength < 0 {
		st.size = -1
	}
	actor := files.Actor{User: u, Protocol: mft.AuditWebDAV, IP: ip.String(), Session: h.session(r, u.ID)}
	dav := &webdav.Handler{
		Prefix:     Prefix,
		FileSystem: &fileSystem{files: h.Files, a: actor, st: st},
		LockSystem: requestLocks{h.locks.of(u.ID), st},
		Logger: func(r *http.Request, err error) {
			if err != nil && st.err == nil && h.Logger != nil {
				h.Logger.Debug("webdav", "method", r.Method, "path", r.URL.Path, "err", err)
			}
		},
	}
	dav.ServeHTTP(&answer{ResponseWriter: w, st: st}, r)
}

// answer replaces x/net/webdav's status and text for a request Depot
// refused (it would say 404 or 405 for a quota or a permission) with
// Depot's status and reason.
type answer struct {
	http.ResponseWriter
	st      *request
	swallow bool
}

func (a *answer) WriteHeader(code int) {
	if code >= 400 && a.st.err != nil && overrides(a.st.err) {
		a.swallow = true
		writeError(a.ResponseWriter, a.st.err)
		return
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *answer) Write(b []byte) (int, error) {
	if a.swallow {
		return len(b), nil
	}
	return a.ResponseWriter.Write(b)
}

// overrides reports whether a Depot refusal replaces x/net/webdav's own
// answer. A missing entry or an existing one (ENOTFOUND, ECONFLICT) has
// RFC 4918's status for each method there (409 for a missing parent,
// 405 for MKCOL on an existing folder, 412 for MOVE without Overwrite).
func overrides(err error) bool {
	c := mft.ErrorCode(err)
	return c != mft.ENOTFOUND && c != mft.ECONFLICT
}

// lockTimeout is the Timeout a LOCK asks, bounded by maxLockTime.
func lockTimeout(h string) string {
	first, _, _ := strings.Cut(h, ",")
	var n int64
	if s, ok := strings.CutPrefix(strings.TrimSpace(first), "Second-"); ok {
		if v, err := strconv.ParseInt(s, 10, 64); err == nil && v > 0 {
			n = v
		}
	}
	if n == 0 || n > int64(maxLockTime/time.Second) {
		n = int64(maxLockTime / time.Second)
	}
	return "Second-" + strconv.FormatInt(n, 10)
}

func (a *answer) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// writeError answers a Depot error with its HTTP status and reason as
// plain text (WebDAV clients show it).
func writeError(w http.ResponseWriter, err error) {
	status, known := mft.HTTPStatus(err)
	msg := mft.ErrorMessage(err)
	if !known {
		msg = "internal error"
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// login checks basic auth: a user's login and password, or an API key as
// the user part (curl -u KEY:x), for the webdav protocol.
func (h *Handler) login(r *http.Request, ip netip.Addr) (*mft.User, error) {
	login, password, ok := r.BasicAuth()
	if !ok || login == "" {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "Authentication required: your login and password, or your API key as the user name.")
	}
	ctx := r.Context()
	u, err := h.Auth.FindLogin(ctx, login)
	if err != nil && mft.ErrorCode(err) != mft.ENOTFOUND {
		return nil, err
	}
	if err == nil && u.HasTOTP() {
		// Its password alone does not sign in (each request would need a
		// code): Login refuses it, saying to use the API key.
		return h.Auth.Login(ctx, login, password, ip, mft.ProtocolWebDAV)
	}
	// A directory account's password is remembered as Depot's own is.
	if err == nil && (u.PasswordHash != "" || u.Source == mft.SourceLDAP) {
		if h.logins.valid(login, password, u) {
			if err := h.Auth.CheckUser(u, ip, mft.ProtocolWebDAV); err != nil {
				return nil, err
			}
			return u, nil
		}
		u, err := h.Auth.Login(ctx, login, password, ip, mft.ProtocolWebDAV)
		if err != nil {
			return nil, err
		}
		h.logins.add(login, password, u)
		return u, nil
	}
	if strings.ContainsAny(login, "@") || h.Auth.Directory != nil && !h.Auth.KnownKey(ctx, login) {
		// Not a key: a login Depot does not know (the directory may; else
		// it is counted as a failure).
		u, err := h.Auth.Login(ctx, login, password, ip, mft.ProtocolWebDAV)
		if err == nil && u.Source == mft.SourceLDAP {
			h.logins.add(login, password, u)
		}
		return u, err
	}
	return h.Auth.AuthenticateKey(ctx, login, ip, mft.ProtocolWebDAV)
}
