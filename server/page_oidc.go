package server

import (
	"html"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"depot/mft"
	"depot/oidcauth"
	"depot/web"
)

// ssoCookie names the browser's single sign-on in progress (its state);
// Lax, since the provider sends the browser back with a top-level GET.
const ssoCookie = "depot_sso"

// ssoStarts are single sign-ons in progress by state, for ten minutes, at
// most 10,000.
type ssoStarts struct {
	mu sync.Mutex
	m  map[string]ssoStart
}

type ssoStart struct {
	s       *oidcauth.Start
	next    string
	expires time.Time
}

func (p *ssoStarts) add(s *oidcauth.Start, next string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.m == nil {
		p.m = map[string]ssoStart{}
	}
	for k, v := range p.m {
		if now.After(v.expires) || len(p.m) >= maxPending {
			delete(p.m, k)
		}
	}
	p.m[s.State] = ssoStart{s: s, next: next, expires: now.Add(10 * time.Minute)}
}

func (p *ssoStarts) take(state string) (ssoStart, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st, ok := p.m[state]
	delete(p.m, state)
	return st, ok && time.Now().Before(st.expires)
}

// handleSSOBegin sends the browser to the provider.
func (s *Server) handleSSOBegin(c echo.Context) error {
	if s.SSO == nil {
		return mft.Errorf(mft.ENOTFOUND, "Single sign-on is not set up here.")
	}
	st, err := s.SSO.Begin(c.Request().Context())
	if err != nil {
		return s.renderError(c, err)
	}
	s.sso.add(st, localPath(c.QueryParam("next")))
	c.SetCookie(&http.Cookie{Name: ssoCookie, Value: st.State, Path: "/web/oidc", MaxAge: 600, HttpOnly: true,
		Secure: s.TLS != nil, SameSite: http.SameSiteLaxMode})
	return c.Redirect(http.StatusSeeOther, st.URL)
}

// handleSSOCallback finishes a single sign-on: the state must be this
// browser's, the ID token the provider's, for this sign-in.
func (s *Server) handleSSOCallback(c echo.Context) error {
	fail := func(err error) error {
		status, known := mft.HTTPStatus(err)
		if !known {
			return s.renderError(c, err)
		}
		return s.render(c, status, "signin", web.Page{Title: "Sign in", Error: mft.ErrorMessage(err),
			Data: web.Signin{Next: "/web/files", Token: s.signinToken(c), SSO: s.ssoName()}})
	}
	if s.SSO == nil {
		return fail(mft.Errorf(mft.ENOTFOUND, "Single sign-on is not set up here."))
	}
	state := c.QueryParam("state")
	ck, err := c.Cookie(ssoCookie)
	c.SetCookie(&http.Cookie{Name: ssoCookie, Path: "/web/oidc", MaxAge: -1, HttpOnly: true, Secure: s.TLS != nil, SameSite: http.SameSiteLaxMode})
	if err != nil || state == "" || ck.Value != state {
		return fail(mft.Errorf(mft.EFORBIDDEN, "This sign-in was not started in this browser; start again."))
	}
	st, ok := s.sso.take(state)
	if !ok {
		return fail(mft.Errorf(mft.EFORBIDDEN, "The sign-in expired; start again."))
	}
	if e := c.QueryParam("error"); e != "" {
		return fail(mft.Errorf(mft.EFORBIDDEN, "The sign-in provider said: %.200s %.200s", e, c.QueryParam("error_description")))
	}
	ctx := c.Request().Context()
	id, err := s.SSO.Finish(ctx, c.QueryParam("code"), st.s)
	if err != nil {
		return fail(err)
	}
	u, err := s.SSO.Account(ctx, id)
	if err == nil {
		err = s.Auth.CheckUser(u, clientIP(c), mft.ProtocolWeb)
	}
	if err != nil {
		s.Auth.RecordRefusal(id.Email, clientIP(c), mft.ProtocolWeb, mft.ErrorMessage(err))
		return fail(err)
	}
	s.Auth.RecordLogin(u, clientIP(c), mft.AuditWeb, "oidc")
	if err := s.beginSSOSession(c, u, id); err != nil {
		return err
	}
	// Not a redirect: this request came from the provider's site, and a
	// redirect would stay cross-site, where the browser holds back the
	// SameSite=Strict session cookie. A page of Depot's own moves on.
	c.Response().Header().Set("Cache-Control", "no-store")
	next := html.EscapeString(st.next)
	return c.HTML(http.StatusOK, `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=`+
		next+`"><title>Signed in · Depot</title></head><body><p><a href="`+next+`">Continue to Depot</a></p></body></html>`)
}

// handleSSOLogout is the provider's back-channel logout: the web sessions
// of the person it names end, on every node (they are in the database).
func (s *Server) handleSSOLogout(c echo.Context) error {
	if s.SSO == nil {
		return mft.Errorf(mft.ENOTFOUND, "Single sign-on is not set up here.")
	}
	form, err := s.readForm(c)
	if err != nil {
		return err
	}
	sub, sid, err := s.SSO.Logout(c.Request().Context(), form.Get("logout_token"))
	if err != nil {
		return err
	}
	users, err := s.Web.EndSSO(c.Request().Context(), sub, sid)
	if err != nil {
		return err
	}
	for _, id := range users {
		s.Logger.Info("single sign-on logout", "user", id)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.NoContent(http.StatusOK)
}

func (s *Server) ssoName() string {
	if s.SSO == nil {
		return ""
	}
	return s.SSO.Name()
}
