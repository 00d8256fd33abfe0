package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

const ctxUser = "user"

// credentials returns the API key of a request: the user part of HTTP
// basic auth, a Bearer token, or the x-api-key header (the Dropzone SDK's).
func credentials(r *http.Request) (string, bool) {
	if key := strings.TrimSpace(r.Header.Get("X-Api-Key")); key != "" {
		return key, true
	}
	if key, _, ok := r.BasicAuth(); ok && key != "" {
		return key, true
	}
	if h := r.Header.Get("Authorization"); len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		if key := strings.TrimSpace(h[7:]); key != "" {
			return key, true
		}
	}
	return "", false
}

// authenticate resolves the caller's API key to a user or answers 401/403.
// A request without a key may come from the web client, with its session
// cookie instead.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ip := clientIP(c)
		if err := s.Auth.CheckBan(ip); err != nil {
			return err
		}
		key, ok := credentials(c.Request())
		if _, err := c.Cookie(sessionCookie); !ok && err == nil {
			if err := s.sessionAuth(c); err != nil {
				return err
			}
			return next(c)
		}
		if !ok {
			return mft.Errorf(mft.EUNAUTHORIZED, "Authentication required: send your API key as the basic-auth user (curl --user KEY:x) or as a Bearer token.")
		}
		u, err := s.Auth.AuthenticateKey(c.Request().Context(), key, ip, mft.ProtocolAPI)
		if err != nil {
			return err
		}
		c.Set(ctxUser, u)
		return next(c)
	}
}

// requireAdmin answers 403 unless the caller has the admin role.
func (s *Server) requireAdmin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if caller(c).Role != mft.RoleAdmin {
			return mft.Errorf(mft.EFORBIDDEN, "This endpoint needs an administrator's API key.")
		}
		return next(c)
	}
}

// caller returns the authenticated user of the request.
func caller(c echo.Context) *mft.User {
	u, _ := c.Get(ctxUser).(*mft.User)
	return u
}

type loginRequest struct {
	Email    string `json:"email"`
	Username string `json:"username"`
	Password string `json:"password"`
	// Passcode is the second factor of an account with one.
	Passcode string `json:"passcode"`
}

type loginResponse struct {
	ID        string `json:"id"`
	Email     string `json:"email,omitempty"`
	Username  string `json:"username,omitempty"`
	APIKey    string `json:"api_key"`
	ExpiresAt string `json:"expires_at"`
}

// handleLogin trades an email or username and password for a temporary key.
func (s *Server) handleLogin(c echo.Context) error {
	ip := clientIP(c)
	var req loginRequest
	if err := s.decode(c, "user", &req); err != nil {
		return err
	}
	login := req.Email
	if login == "" {
		login = req.Username
	}
	if login == "" || req.Password == "" {
		return mft.Errorf(mft.EINVALID, "email (or username) and password are required.")
	}
	ctx := c.Request().Context()
	u, err := s.Auth.LoginCode(ctx, login, req.Password, req.Passcode, nil, ip, mft.ProtocolAPI)
	if err != nil {
		return err
	}
	key, expires, err := s.Auth.IssueToken(ctx, u)
	if err != nil {
		return err
	}
	if err := s.Users.RecordLogin(ctx, u.ID, ip.String()); err != nil {
		s.Logger.Warn("record login", "user", u.ID, "err", err)
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeOne(c, http.StatusOK, "user", loginResponse{
		ID: u.ID, Email: u.Email, Username: u.Username, APIKey: key, ExpiresAt: expires.Format(timeFormat),
	})
}

// handleAccount shows the caller's own user.
func (s *Server) handleAccount(c echo.Context) error {
	return writeOne(c, http.StatusOK, "user", newUserView(caller(c), ""))
}
