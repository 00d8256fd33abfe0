package server

import (
	"cmp"
	"net/http"
	"slices"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/bucket"
	"depot/mft"
)

// timeFormat is how times appear in responses: RFC 3339 in UTC.
const timeFormat = time.RFC3339

// userView is what a client sees of a user: never a password or key hash.
// APIKey is set only in the answer that created or regenerated the key.
type userView struct {
	ID          string     `json:"id"`
	Email       string     `json:"email,omitempty"`
	Username    string     `json:"username,omitempty"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	Groups      []string   `json:"groups"`
	Bucket      string     `json:"bucket,omitempty"`
	Home        string     `json:"home"`
	HasPassword bool       `json:"has_password"`
	APIKey      string     `json:"api_key,omitempty"`
	SSHKeys     []string   `json:"ssh_keys"`
	QuotaMB     int64      `json:"quota_mb"`
	MaxFileSize int64      `json:"max_file_size"`
	AllowedIPs  []string   `json:"allowed_ips"`
	Protocols   []string   `json:"protocols"`
	Active      bool       `json:"active"`
	ExpiresAt   *time.Time `json:"expires_at"`
	LastLoginAt *time.Time `json:"last_login_at"`
	LastLoginIP string     `json:"last_login_ip,omitempty"`
	Source      string     `json:"source"`
	TwoFactor   bool       `json:"two_factor"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func newUserView(u *mft.User, apiKey string) userView {
	nonNil := func(s []string) []string {
		if s == nil {
			return []string{}
		}
		return s
	}
	trunc := func(t *time.Time) *time.Time {
		if t == nil {
			return nil
		}
		v := t.UTC().Truncate(time.Second)
		return &v
	}
	return userView{
		ID: u.ID, Email: u.Email, Username: u.Username, Name: u.Name, Role: u.Role,
		Groups: nonNil(u.Groups), Bucket: u.Bucket, Home: u.Home, HasPassword: u.PasswordHash != "",
		APIKey: apiKey, SSHKeys: nonNil(u.SSHKeys), QuotaMB: u.QuotaMB, MaxFileSize: u.MaxFileSize,
		AllowedIPs: nonNil(u.AllowedIPs), Protocols: nonNil(u.Protocols), Active: u.Active,
		ExpiresAt: trunc(u.ExpiresAt), LastLoginAt: trunc(u.LastLoginAt), LastLoginIP: u.LastLoginIP, Source: cmp.Or(u.Source, "local"), TwoFactor: u.HasTOTP(),
		CreatedAt: u.CreatedAt.UTC().Truncate(time.Second), UpdatedAt: u.UpdatedAt.UTC().Truncate(time.Second),
	}
}

// userRequest is the body of POST and PUT /admin/users; absent fields are nil.
type userRequest struct {
	Email       *string   `json:"email"`
	Username    *string   `json:"username"`
	Name        *string   `json:"name"`
	Role        *string   `json:"role"`
	Groups      *[]string `json:"groups"`
	Home        *string   `json:"home" depot:"path"`
	Password    *string   `json:"password"`
	SSHKeys     *[]string `json:"ssh_keys" depot:"text"`
	QuotaMB     *int64    `json:"quota_mb"`
	MaxFileSize *int64    `json:"max_file_size"`
	AllowedIPs  *[]string `json:"allowed_ips"`
	Protocols   *[]string `json:"protocols"`
	Active      *bool     `json:"active"`
	ExpiresAt   optTime   `json:"expires_at"`
}

// update turns the request into a UserUpdate, hashing the password and
// normalizing SSH keys.
func (r *userRequest) update() (mft.UserUpdate, error) {
	upd := mft.UserUpdate{
		Email: r.Email, Username: r.Username, Name: r.Name, Role: r.Role, Groups: r.Groups,
		Home: r.Home, QuotaMB: r.QuotaMB, MaxFileSize: r.MaxFileSize, AllowedIPs: r.AllowedIPs,
		Protocols: r.Protocols, Active: r.Active,
	}
	if r.ExpiresAt.Set {
		upd.ExpiresAt = &r.ExpiresAt.Time
	}
	if r.Groups != nil {
		g := slices.Compact(slices.Sorted(slices.Values(*r.Groups)))
		upd.Groups = &g
	}
	if r.SSHKeys != nil {
		keys, err := auth.NormalizeSSHKeys(*r.SSHKeys)
		if err != nil {
			return upd, err
		}
		upd.SSHKeys = &keys
	}
	if r.Password != nil {
		hash := ""
		if *r.Password != "" {
			var err error
			if hash, err = auth.HashNewPassword(*r.Password); err != nil {
				return upd, err
			}
		}
		upd.PasswordHash = &hash
	}
	return upd, nil
}

func (s *Server) handleUserList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	users, more, err := s.Users.FindUsers(c.Request().Context(), mft.UserFilter{Page: p, Group: c.QueryParam("group")})
	if err != nil {
		return err
	}
	views := make([]userView, len(users))
	for i, u := range users {
		views[i] = newUserView(u, "")
	}
	last := ""
	if len(users) > 0 {
		last = users[len(users)-1].ID
	}
	return writeList(s, c, "user", views, p, more, last)
}

// handleUserCreate creates a user and answers with its API key, shown this
// once only.
func (s *Server) handleUserCreate(c echo.Context) error {
	var req userRequest
	if err := s.decodeCreate(c, "user", &req, userView{}); err != nil {
		return err
	}
	return s.createUser(c, &req, nil)
}

// createUser creates the user of a request, after confine (if set) has
// adjusted it, and answers with its API key, shown this once.
func (s *Server) createUser(c echo.Context, req *userRequest, confine func(*mft.User) error) error {
	upd, err := req.update()
	if err != nil {
		return err
	}
	u := &mft.User{Role: mft.RoleUser, Active: true, Protocols: slices.Clone(mft.DefaultProtocols),
		Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{}}
	if req.Email != nil {
		u.Email = *req.Email
	}
	if req.Username != nil {
		u.Username = *req.Username
	}
	u.ID = mft.UserID(u.Email, u.Username)
	u.Home = mft.HomeFor(u.ID)
	u.Apply(upd)
	if confine != nil {
		if err := confine(u); err != nil {
			return err
		}
	}
	key, err := s.Users.Create(s.changeContext(c), u)
	if err != nil {
		return err
	}
	s.Logger.Info("user created", "user", u.ID, "bucket", u.Bucket, "by", caller(c).ID)
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeOne(c, http.StatusCreated, "user", newUserView(u, key))
}

func (s *Server) handleUserView(c echo.Context) error {
	u, err := s.Users.FindUserByID(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "user", newUserView(u, ""))
}

// handleUserUpdate changes only the fields the body names. The id stays the
// same when the email changes. An administrator cannot take away their own
// admin role or disable themselves, so the API never locks itself out.
func (s *Server) handleUserUpdate(c echo.Context) error {
	id := pathParam(c, "id")
	ctx := c.Request().Context()
	old, err := s.Users.FindUserByID(ctx, id)
	if err != nil {
		return err
	}
	var req userRequest
	if err := s.decodeUpdate(c, "user", &req, newUserView(old, "")); err != nil {
		return err
	}
	if old.Bucket != "" {
		if err := bucket.Confine(old.Bucket, req.Role, req.Home); err != nil {
			return err
		}
	}
	if id == caller(c).ID {
		if req.Role != nil && *req.Role != mft.RoleAdmin || req.Active != nil && !*req.Active {
			return mft.Errorf(mft.EINVALID, "You cannot remove your own admin role or disable your own account.")
		}
	}
	upd, err := req.update()
	if err != nil {
		return err
	}
	u, err := s.Users.UpdateUser(s.changeContext(c), id, upd)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "user", newUserView(u, ""))
}

// handleUserDelete removes a user; LiquidFiles answers 200 with a blank body.
func (s *Server) handleUserDelete(c echo.Context) error {
	id := pathParam(c, "id")
	if err := s.Users.Delete(s.changeContext(c), caller(c).ID, id); err != nil {
		return err
	}
	s.Logger.Info("user deleted", "user", id, "by", caller(c).ID)
	return c.NoContent(http.StatusOK)
}

// handleUserAPIKey gives the user a new API key; the old one stops working
// at once.
func (s *Server) handleUserAPIKey(c echo.Context) error {
	id := pathParam(c, "id")
	ctx := c.Request().Context()
	key, err := s.Users.NewAPIKey(s.changeContext(c), id)
	if err != nil {
		return err
	}
	u, err := s.Users.FindUserByID(ctx, id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeOne(c, http.StatusOK, "user", newUserView(u, key))
}
