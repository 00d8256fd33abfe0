package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/bucket"
	"depot/mft"
)

type bucketRequest struct {
	Name    *string `json:"name"`
	Active  *bool   `json:"active"`
	QuotaMB *int64  `json:"quota_mb"`
}

type bucketView struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Host      string `json:"host"`
	Active    bool   `json:"active"`
	QuotaMB   int64  `json:"quota_mb"`
	CreatedAt string `json:"created_at"`
	UpdatedAt string `json:"updated_at"`
}

func (s *Server) newBucketView(b *mft.Bucket) bucketView {
	return bucketView{ID: b.ID, Name: b.Name, Host: strings.TrimPrefix(b.ID, "buc_") + "." + s.SFTPPublicHost,
		Active: b.Active, QuotaMB: b.QuotaMB, CreatedAt: b.CreatedAt.UTC().Format(timeFormat), UpdatedAt: b.UpdatedAt.UTC().Format(timeFormat)}
}

func (s *Server) handleBucketList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Buckets.List(c.Request().Context(), p)
	if err != nil {
		return err
	}
	views := make([]bucketView, len(list))
	last := ""
	for i, b := range list {
		views[i], last = s.newBucketView(b), b.ID
	}
	return writeList(s, c, "bucket", views, p, more, last)
}

func (s *Server) handleBucketCreate(c echo.Context) error {
	var req bucketRequest
	if err := s.decodeCreate(c, "bucket", &req, bucketView{}); err != nil {
		return err
	}
	if req.Name == nil {
		return mft.Errorf(mft.EINVALID, "name is required")
	}
	b := &mft.Bucket{Name: *req.Name, Active: req.Active == nil || *req.Active}
	if req.QuotaMB != nil {
		b.QuotaMB = *req.QuotaMB
	}
	if err := s.Buckets.Create(s.changeContext(c), b); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "bucket", s.newBucketView(b))
}

func (s *Server) handleBucketView(c echo.Context) error {
	b, err := s.Buckets.Find(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "bucket", s.newBucketView(b))
}

// handleBucketUpdate changes name, active and quota_mb; active:false locks
// the bucket's users out at once, sessions already open included.
func (s *Server) handleBucketUpdate(c echo.Context) error {
	b, err := s.Buckets.Find(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req bucketRequest
	if err := s.decodeUpdate(c, "bucket", &req, s.newBucketView(b)); err != nil {
		return err
	}
	b, err = s.Buckets.Update(s.changeContext(c), b.ID, bucket.Update{Name: req.Name, Active: req.Active, QuotaMB: req.QuotaMB})
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "bucket", s.newBucketView(b))
}

// handleBucketDelete removes a bucket with its users and files, unless the
// allow_bucket_deletion setting forbids it.
func (s *Server) handleBucketDelete(c echo.Context) error {
	if err := s.Buckets.Delete(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

func (s *Server) handleBucketUserList(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.Buckets.Find(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	p, err := page(c)
	if err != nil {
		return err
	}
	users, more, err := s.Users.FindUsers(ctx, mft.UserFilter{Page: p, Bucket: b.ID})
	if err != nil {
		return err
	}
	views := make([]userView, len(users))
	last := ""
	for i, u := range users {
		views[i], last = newUserView(u, ""), u.ID
	}
	return writeList(s, c, "user", views, p, more, last)
}

// handleBucketUserCreate creates a user of the bucket: home at the
// bucket's root, or at "home" taken inside it; never an administrator.
func (s *Server) handleBucketUserCreate(c echo.Context) error {
	b, err := s.Buckets.Find(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req userRequest
	if err := s.decodeCreate(c, "user", &req, userView{}); err != nil {
		return err
	}
	if req.Home != nil && !mft.HasPathPrefix(*req.Home, mft.BucketRoot(b.ID)) {
		h := mft.BucketRoot(b.ID) + "/" + strings.TrimLeft(*req.Home, "/")
		req.Home = &h
	}
	if err := bucket.Confine(b.ID, req.Role, req.Home); err != nil {
		return err
	}
	return s.createUser(c, &req, func(u *mft.User) error {
		u.Bucket = b.ID
		if req.Home == nil {
			u.Home = mft.BucketRoot(b.ID)
		}
		return nil
	})
}

func (s *Server) handleSettingsView(c echo.Context) error {
	st, err := s.Settings.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "settings", newSettingsView(st))
}

type settingsRequest struct {
	AllowBucketDeletion    *bool `json:"allow_bucket_deletion"`
	RequireTwoFactorAdmins *bool `json:"require_two_factor_for_admins"`
}

func (s *Server) handleSettingsUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	st, err := s.Settings.Settings(ctx)
	if err != nil {
		return err
	}
	var req settingsRequest
	if err := s.decodeUpdate(c, "settings", &req, newSettingsView(st)); err != nil {
		return err
	}
	if req.AllowBucketDeletion == nil && req.RequireTwoFactorAdmins == nil {
		return mft.Errorf(mft.EINVALID, "send allow_bucket_deletion or require_two_factor_for_admins (true or false)")
	}
	if req.AllowBucketDeletion != nil {
		st.AllowBucketDeletion = *req.AllowBucketDeletion
	}
	if req.RequireTwoFactorAdmins != nil {
		st.RequireTwoFactorAdmins = *req.RequireTwoFactorAdmins
	}
	if err := s.Settings.PutSettings(s.changeContext(c), st); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "settings", newSettingsView(st))
}
