package server

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/mft"
	"depot/web"
)

// pendingLogins are sign-ins whose password was right and whose second
// factor is awaited: a random token (in the code form) names the user for
// codeWait, for at most maxCodeTries codes (each also counted by the
// defender). At most maxPending are kept; the oldest go first.
type pendingLogins struct {
	mu sync.Mutex
	m  map[string]*pendingLogin
}

type pendingLogin struct {
	user    string
	next    string
	expires time.Time
	tries   int
}

const (
	codeWait     = 5 * time.Minute
	maxCodeTries = 5
	maxPending   = 10000
)

func (p *pendingLogins) add(user, next string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if p.m == nil {
		p.m = map[string]*pendingLogin{}
	}
	if len(p.m) >= maxPending {
		for k, v := range p.m {
			if now.After(v.expires) || len(p.m) >= maxPending {
				delete(p.m, k)
			}
		}
	}
	token := rand.Text()
	p.m[token] = &pendingLogin{user: user, next: next, expires: now.Add(codeWait)}
	return token
}

// take returns the pending login of token and counts a try; the last try
// and an expired login are dropped.
func (p *pendingLogins) take(token string) (pendingLogin, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.m[token]
	if !ok || time.Now().After(l.expires) {
		delete(p.m, token)
		return pendingLogin{}, false
	}
	l.tries++
	if l.tries >= maxCodeTries {
		delete(p.m, token)
	}
	return *l, true
}

func (p *pendingLogins) done(token string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.m, token)
}

// askCode renders the sign-in's second step for u.
func (s *Server) askCode(c echo.Context, u *mft.User, data web.Signin, msg string) error {
	data.Pending = s.pending.add(u.ID, data.Next)
	return s.render(c, http.StatusOK, "signin", web.Page{Title: "Two-factor code", Error: msg, Data: data})
}

// handleSigninCode is the sign-in's second step: the code of the
// authenticator app (or a recovery code) for the password found right.
func (s *Server) handleSigninCode(c echo.Context) error {
	form, err := s.readForm(c)
	if err != nil {
		return s.renderError(c, err)
	}
	token := form.Get("pending")
	p, u, refused := s.pendingStep(c, token)
	if u == nil {
		return refused
	}
	ctx := c.Request().Context()
	data := web.Signin{Token: s.signinToken(c), Next: p.next, Pending: token}
	if err := s.Auth.VerifyCode(ctx, u, form.Get("code"), auth.MethodOf(u), clientIP(c), mft.ProtocolWeb); err != nil {
		status, known := mft.HTTPStatus(err)
		if !known {
			return s.renderError(c, err)
		}
		if p.tries >= maxCodeTries {
			data.Pending = ""
		}
		return s.render(c, status, "signin", web.Page{Title: "Two-factor code", Error: mft.ErrorMessage(err), Data: data})
	}
	s.pending.done(token)
	return s.startSession(c, u, p.next)
}

// pendingStep checks a sign-in step's form and returns the sign-in it
// continues (by its pending token) and its user; when u is nil the step
// was refused and answered, with refused the handler's result.
func (s *Server) pendingStep(c echo.Context, token string) (p pendingLogin, u *mft.User, refused error) {
	if !signinTokenMatches(c) {
		return p, nil, s.signinAgain(c, "The sign-in form expired; sign in again.")
	}
	p, ok := s.pending.take(token)
	if !ok {
		return p, nil, s.signinAgain(c, "The sign-in expired or had too many wrong codes; sign in again.")
	}
	u, err := s.Users.FindUserByID(c.Request().Context(), p.user)
	if err != nil {
		return p, nil, s.signinAgain(c, "Sign in again.")
	}
	return p, u, nil
}

// signinAgain answers a sign-in step that cannot go on with the sign-in
// form and msg.
func (s *Server) signinAgain(c echo.Context, msg string) error {
	return s.render(c, http.StatusUnauthorized, "signin", web.Page{Title: "Sign in", Error: msg, Data: web.Signin{Token: s.signinToken(c)}})
}

// askEnrolment renders the set-up of two-factor codes as a step of u's
// sign-in (the policy requires them and u has none).
func (s *Server) askEnrolment(c echo.Context, u *mft.User, data web.Signin) error {
	e, err := s.Auth.BeginTOTP(c.Request().Context(), u)
	if err != nil {
		return s.renderError(c, err)
	}
	return s.render(c, http.StatusOK, "totp", web.Page{Title: "Two-factor codes", Data: web.TOTPSetup{Secret: e.Secret,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QR)), Pending: s.pending.add(u.ID, data.Next), Token: data.Token}})
}

// handleSigninEnrol confirms the first code of a sign-in's required set-up,
// starts the session and shows the recovery codes, once.
func (s *Server) handleSigninEnrol(c echo.Context) error {
	form, err := s.readForm(c)
	if err != nil {
		return s.renderError(c, err)
	}
	_, u, refused := s.pendingStep(c, form.Get("pending"))
	if u == nil {
		return refused
	}
	ctx := c.Request().Context()
	codes, err := s.Auth.ConfirmTOTP(mft.WithOrigin(ctx, mft.Origin{Actor: u.ID, Protocol: mft.AuditWeb, IP: clientIP(c).String()}), u, clientIP(c), form.Get("code"))
	if err != nil {
		if _, known := mft.HTTPStatus(err); !known {
			return s.renderError(c, err)
		}
		return s.signinAgain(c, mft.ErrorMessage(err)+" Sign in again to get a new key.")
	}
	s.pending.done(form.Get("pending"))
	s.Auth.RecordLogin(u, clientIP(c), mft.AuditWeb, "password+totp")
	if err := s.beginSession(c, u); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, "totp", web.Page{Title: "Two-factor codes",
		Notice: "Two-factor codes are on: every password login now asks for one.", Data: web.TOTPSetup{Recovery: codes}})
}

// handleWebTOTPBegin shows a new secret as a QR code and as text, with
// the form that confirms it.
func (s *Server) handleWebTOTPBegin(c echo.Context) error {
	u := caller(c)
	e, err := s.Auth.BeginTOTP(s.changeContext(c), u)
	if err != nil {
		return s.done(c, "/web/account", "", err)
	}
	return s.render(c, http.StatusOK, "totp", web.Page{Title: "Two-factor codes", Nav: "account", Data: web.TOTPSetup{
		Secret: e.Secret, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QR))}})
}

// handleWebTOTPConfirm checks the first code and shows the recovery
// codes, this once.
func (s *Server) handleWebTOTPConfirm(c echo.Context) error {
	u := caller(c)
	codes, err := s.Auth.ConfirmTOTP(s.changeContext(c), u, clientIP(c), formValue(c, "code"))
	if err != nil {
		return s.done(c, "/web/account", "", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusOK, "totp", web.Page{Title: "Two-factor codes", Nav: "account",
		Notice: "Two-factor codes are on: every password login now asks for one.", Data: web.TOTPSetup{Recovery: codes}})
}

// handleUserTOTPReset removes a user's second factor (a lost phone).
func (s *Server) handleUserTOTPReset(c echo.Context) error {
	id := pathParam(c, "id")
	if err := s.Auth.ResetTOTP(s.changeContext(c), id); err != nil {
		return err
	}
	u, err := s.Users.FindUserByID(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "user", newUserView(u, ""))
}
