package server

import (
	"bytes"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/mft"
	"depot/oidcauth"
	"depot/web"
)

const ctxForm = "web_form"

// readForm reads a URL-encoded form body under the same size and time
// limits as a JSON body.
func (s *Server) readForm(c echo.Context) (url.Values, error) {
	if v, ok := c.Get(ctxForm).(url.Values); ok {
		return v, nil
	}
	mt, _, _ := mime.ParseMediaType(c.Request().Header.Get(echo.HeaderContentType))
	if mt != echo.MIMEApplicationForm {
		return nil, mft.Errorf(mft.EMALFORMED, "Send the form as %s.", echo.MIMEApplicationForm)
	}
	data, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	v, err := url.ParseQuery(string(data))
	if err != nil {
		return nil, mft.Errorf(mft.EMALFORMED, "The form could not be read.")
	}
	c.Set(ctxForm, v)
	return v, nil
}

// formValue returns one field of the page's form (read by webPage).
func formValue(c echo.Context, name string) string {
	v, _ := c.Get(ctxForm).(url.Values)
	return v.Get(name)
}

// render writes a page of the web client with the signed-in user's frame
// and any notice the last action left.
func (s *Server) render(c echo.Context, status int, name string, p web.Page) error {
	if u := caller(c); u != nil {
		p.User, p.Admin, p.CSRF = displayName(u), u.Role == mft.RoleAdmin, session(c).CSRF
		if ck, err := c.Cookie(sessionCookie); err == nil {
			notice, failure := s.Web.TakeFlash(c.Request().Context(), ck.Value)
			if p.Notice == "" {
				p.Notice = notice
			}
			if p.Error == "" {
				p.Error = failure
			}
		}
	}
	var buf bytes.Buffer
	if err := web.RenderClient(&buf, name, p); err != nil {
		return err
	}
	pageHeaders(c.Response().Header())
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// renderError answers a page request with the error's status and words.
func (s *Server) renderError(c echo.Context, err error) error {
	status, msg := s.errorStatus(c, err)
	return s.render(c, status, "error", web.Page{Title: http.StatusText(status), Error: msg})
}

// done ends a form's action: its notice or its error for the next page,
// then back to where the user was (POST, redirect, GET).
func (s *Server) done(c echo.Context, back, notice string, err error) error {
	if err != nil {
		if _, known := mft.HTTPStatus(err); !known {
			return s.renderError(c, err) // unexpected: logged with its request id
		}
		notice = ""
	}
	if ck, cerr := c.Cookie(sessionCookie); cerr == nil {
		msg := ""
		if err != nil {
			msg = mft.ErrorMessage(err)
		}
		if ferr := s.Web.Flash(c.Request().Context(), ck.Value, notice, msg); ferr != nil {
			s.Logger.Warn("web notice not kept", "err", ferr)
		}
	}
	return c.Redirect(http.StatusSeeOther, back)
}

// displayName is how the client names the signed-in user.
func displayName(u *mft.User) string {
	switch {
	case u.Name != "":
		return u.Name
	case u.Email != "":
		return u.Email
	}
	return u.Username
}

// handleHome is / : the sign-in page, or the files of a signed-in user.
func (s *Server) handleHome(c echo.Context) error {
	if _, _, err := s.webSession(c); err == nil {
		return c.Redirect(http.StatusSeeOther, "/web/files")
	}
	s.clearCookie(c, sessionCookie)
	return s.render(c, http.StatusOK, "signin", web.Page{Title: "Sign in",
		Data: web.Signin{Next: localPath(c.QueryParam("next")), Token: s.signinToken(c), SSO: s.ssoName()}})
}

// handleSignin checks a password and starts a session. Failures count
// towards a ban as any failed login does.
func (s *Server) handleSignin(c echo.Context) error {
	form, err := s.readForm(c)
	if err != nil {
		return s.renderError(c, err)
	}
	data := web.Signin{Login: form.Get("login"), Next: localPath(form.Get("next")), Token: s.signinToken(c), SSO: s.ssoName()}
	fail := func(err error) error {
		status, known := mft.HTTPStatus(err)
		if !known {
			return s.renderError(c, err)
		}
		return s.render(c, status, "signin", web.Page{Title: "Sign in", Error: mft.ErrorMessage(err), Data: data})
	}
	if !signinTokenMatches(c) {
		return fail(mft.Errorf(mft.EFORBIDDEN, "The sign-in form expired; try again."))
	}
	if data.Login == "" || form.Get("password") == "" {
		return fail(mft.Errorf(mft.EINVALID, "Enter your email or username and your password."))
	}
	ctx := c.Request().Context()
	u, err := s.Auth.Login(ctx, data.Login, form.Get("password"), clientIP(c), mft.ProtocolWeb)
	if u, need := auth.CodeNeeded(err); need {
		return s.askCode(c, u, data, "")
	}
	if u, need := auth.EnrolNeeded(err); need {
		return s.askEnrolment(c, u, data)
	}
	if err != nil {
		return fail(err)
	}
	return s.startSession(c, u, data.Next)
}

// startSession records a login, starts the web session and goes to next.
func (s *Server) startSession(c echo.Context, u *mft.User, next string) error {
	if err := s.beginSession(c, u); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// beginSession records a login and starts the web session.
func (s *Server) beginSession(c echo.Context, u *mft.User) error { return s.beginSSOSession(c, u, nil) }

// beginSSOSession is beginSession for a single sign-on (id), whose
// session the provider's back-channel logout ends.
func (s *Server) beginSSOSession(c echo.Context, u *mft.User, id *oidcauth.Identity) error {
	ctx := c.Request().Context()
	if err := s.Users.RecordLogin(ctx, u.ID, clientIP(c).String()); err != nil {
		s.Logger.Warn("record login", "user", u.ID, "err", err)
	}
	var cookie string
	var err error
	if id != nil {
		cookie, _, err = s.Web.StartSSO(ctx, u, id.Subject, id.SessionID)
	} else {
		cookie, _, err = s.Web.Start(ctx, u)
	}
	if err != nil {
		return err
	}
	s.setCookie(c, sessionCookie, cookie, int(s.Web.TTL/time.Second))
	s.clearCookie(c, signinCookie)
	return nil
}

// handleSignout ends the session.
func (s *Server) handleSignout(c echo.Context) error {
	if ck, err := c.Cookie(sessionCookie); err == nil {
		if err := s.Web.End(c.Request().Context(), ck.Value); err != nil {
			return err // still signed in: say so rather than pretend
		}
	}
	s.clearCookie(c, sessionCookie)
	return c.Redirect(http.StatusSeeOther, "/")
}
