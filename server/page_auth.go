package server

import (
	"crypto/rand"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/mft"
)

// The web client's cookies: the session, and the sign-in form's own token
// (a double-submit cookie, so that no other site can sign a browser in).
const (
	sessionCookie = "depot_session"
	signinCookie  = "depot_signin"
	csrfHeader    = "X-Csrf-Token"
	csrfField     = "csrf"
	ctxSession    = "web_session"
)

// webSession resolves the session cookie of a request to its live session
// and user: the session must exist, the user must still be allowed to use
// the web from this address, and the password must be the one the session
// began with. A session that fails any of these is ended.
func (s *Server) webSession(c echo.Context) (*mft.User, auth.WebSession, error) {
	ck, err := c.Cookie(sessionCookie)
	if err != nil || ck.Value == "" {
		return nil, auth.WebSession{}, mft.Errorf(mft.EUNAUTHORIZED, "Sign in first.")
	}
	ctx := c.Request().Context()
	sess, err := s.Web.Find(ctx, ck.Value)
	if err != nil {
		return nil, sess, err
	}
	u, err := s.Users.FindUserByID(ctx, sess.UserID)
	if err == nil && auth.PasswordMark(u.PasswordHash) != sess.PasswordMark {
		err = mft.Errorf(mft.EUNAUTHORIZED, "Your password was changed; sign in again.")
	}
	if err == nil {
		err = s.Auth.CheckUser(u, clientIP(c), mft.ProtocolWeb)
	}
	if err == nil && u.SessionGeneration != sess.Generation {
		err = mft.Errorf(mft.EUNAUTHORIZED, "Your account was changed by an administrator; sign in again.")
	}
	if err != nil {
		if eerr := s.Web.End(ctx, ck.Value); eerr != nil {
			return nil, sess, eerr
		}
		if mft.ErrorCode(err) == mft.ENOTFOUND {
			err = mft.Errorf(mft.EUNAUTHORIZED, "Your session has ended; sign in again.")
		}
		return nil, sess, err
	}
	return u, sess, nil
}

// sessionAuth authenticates a request by its session cookie, for the API
// routes the web client calls. A state-changing request must repeat the
// session's CSRF token in X-CSRF-Token.
func (s *Server) sessionAuth(c echo.Context) error {
	c.Set(ctxSession, true) // answer 401 without a basic-auth challenge
	u, sess, err := s.webSession(c)
	if err != nil {
		return err
	}
	if err := checkCSRF(c, sess, c.Request().Header.Get(csrfHeader)); err != nil {
		return err
	}
	c.Set(ctxUser, u)
	c.Set(ctxSession, sess)
	return nil
}

// checkCSRF refuses a state-changing request whose token is not the
// session's.
func checkCSRF(c echo.Context, sess auth.WebSession, token string) error {
	switch c.Request().Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if !sess.CSRFMatches(token) {
		return mft.Errorf(mft.EFORBIDDEN, "This request lacks the page's security token; reload the page and try again.")
	}
	return nil
}

// webPage guards the web client's pages: without a live session a GET
// goes to the sign-in page (coming back afterwards), anything else is
// refused; a form must carry the session's CSRF token.
func (s *Server) webPage(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := s.Auth.CheckBan(clientIP(c)); err != nil {
			return s.renderError(c, err)
		}
		u, sess, err := s.webSession(c)
		if err != nil {
			s.clearCookie(c, sessionCookie)
			if c.Request().Method == http.MethodGet && mft.ErrorCode(err) == mft.EUNAUTHORIZED {
				return c.Redirect(http.StatusSeeOther, "/?next="+url.QueryEscape(c.Request().URL.RequestURI()))
			}
			return s.renderError(c, err)
		}
		token := c.Request().Header.Get(csrfHeader)
		if m := c.Request().Method; token == "" && m != http.MethodGet && m != http.MethodHead {
			form, err := s.readForm(c)
			if err != nil {
				return s.renderError(c, err)
			}
			token = form.Get(csrfField)
		}
		if err := checkCSRF(c, sess, token); err != nil {
			return s.renderError(c, err)
		}
		c.Set(ctxUser, u)
		c.Set(ctxSession, sess)
		return next(c)
	}
}

// session returns the web session of a page request.
func session(c echo.Context) auth.WebSession {
	sess, _ := c.Get(ctxSession).(auth.WebSession)
	return sess
}

// viaWeb reports whether the request came from the web client's session.
func viaWeb(c echo.Context) bool { return c.Get(ctxSession) != nil }

// setCookie sets one of the web client's cookies: HttpOnly, SameSite
// Strict, Secure under TLS, for the whole site.
func (s *Server) setCookie(c echo.Context, name, value string, maxAge int) {
	c.SetCookie(&http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		Secure: s.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func (s *Server) clearCookie(c echo.Context, name string) {
	if _, err := c.Cookie(name); err == nil {
		s.setCookie(c, name, "", -1)
	}
}

// signinToken returns the sign-in form's token, setting its cookie when
// the browser has none.
func (s *Server) signinToken(c echo.Context) string {
	if ck, err := c.Cookie(signinCookie); err == nil && len(ck.Value) == 26 {
		return ck.Value
	}
	token := rand.Text()
	s.setCookie(c, signinCookie, token, 3600)
	return token
}

// signinTokenMatches checks the sign-in form's token against its cookie.
func signinTokenMatches(c echo.Context) bool {
	ck, err := c.Cookie(signinCookie)
	form := formValue(c, csrfField)
	return err == nil && form != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(form)) == 1
}

// localPath keeps a post-sign-in redirect on this site's web client.
func localPath(next string) string {
	if !strings.HasPrefix(next, "/web/") || strings.ContainsAny(next, "\\\r\n") {
		return "/web/files"
	}
	return next
}
