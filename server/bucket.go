package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

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
	list, more, err := s.Buckets.FindBuckets(c.Request().Context(), p)
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
	ctx := c.Request().Context()
	if err := s.Buckets.CreateBucket(ctx, b); err != nil {
		return err
	}
	if err := s.syncBucketQuota(c, b); err != nil {
		return err
	}
	s.bucketEvent(c, mft.EventBucketCreated, b)
	return writeOne(c, http.StatusCreated, "bucket", s.newBucketView(b))
}

func (s *Server) handleBucketView(c echo.Context) error {
	b, err := s.Buckets.FindBucket(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "bucket", s.newBucketView(b))
}

// handleBucketUpdate changes name, active and quota_mb; active:false locks
// the bucket's users out at once, sessions already open included.
func (s *Server) handleBucketUpdate(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.Buckets.FindBucket(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	current := s.newBucketView(b)
	var req bucketRequest
	if err := s.decodeUpdate(c, "bucket", &req, current); err != nil {
		return err
	}
	if req.Name == nil && req.Active == nil && req.QuotaMB == nil {
		return mft.Errorf(mft.EINVALID, "send name, active or quota_mb to change")
	}
	if req.Name != nil {
		b.Name = *req.Name
	}
	if req.Active != nil {
		b.Active = *req.Active
	}
	if req.QuotaMB != nil {
		b.QuotaMB = *req.QuotaMB
	}
	deactivated := req.Active != nil && !*req.Active
	b.UpdatedAt = s.Now().UTC()
	if err := s.Buckets.PutBucket(ctx, b); err != nil {
		return err
	}
	if deactivated {
		if err := s.endBucketSessions(ctx, b.ID); err != nil {
			return err
		}
	}
	if err := s.syncBucketQuota(c, b); err != nil {
		return err
	}
	s.bucketEvent(c, mft.EventBucketUpdated, b)
	return writeOne(c, http.StatusOK, "bucket", s.newBucketView(b))
}

// handleBucketDelete removes a bucket with its users and files, unless the
// allow_bucket_deletion setting forbids it.
func (s *Server) handleBucketDelete(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.Buckets.FindBucket(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	st, err := s.Settings.Settings(ctx)
	if err != nil {
		return err
	}
	if !st.AllowBucketDeletion {
		return mft.Errorf(mft.EFORBIDDEN, "Bucket deletion is turned off (allow_bucket_deletion in /admin/settings).")
	}
	// Lock it first, so that its users stop at once while it is taken apart.
	b.Active = false
	if err := s.Buckets.PutBucket(ctx, b); err != nil {
		return err
	}
	for {
		users, _, err := s.Users.FindUsers(ctx, mft.UserFilter{Bucket: b.ID, Page: mft.Page{Limit: mft.MaxLimit}})
		if err != nil {
			return err
		}
		if len(users) == 0 {
			break
		}
		for _, u := range users {
			if err := s.Dropzones.DeleteOwnedBy(ctx, u.ID); err != nil {
				return err
			}
			if err := s.Users.DeleteUser(ctx, u.ID); err != nil {
				return err
			}
		}
	}
	if err := s.Files.RemoveStorage(ctx, mft.BucketRoot(b.ID)); err != nil {
		return err
	}
	if f, err := s.Folders.FindFoldersAbove(ctx, mft.BucketRoot(b.ID)); err == nil {
		for _, r := range f {
			if r.Path == mft.BucketRoot(b.ID) {
				_ = s.Folders.DeleteFolder(ctx, r.ID)
			}
		}
	}
	if err := s.Buckets.DeleteBucket(ctx, b.ID); err != nil {
		return err
	}
	s.bucketEvent(c, mft.EventBucketDeleted, b)
	return c.NoContent(http.StatusOK)
}

// syncBucketQuota keeps a folder rule at the bucket's root whose quota is
// the bucket's: all its users count together.
func (s *Server) syncBucketQuota(c echo.Context, b *mft.Bucket) error {
	ctx := c.Request().Context()
	root := mft.BucketRoot(b.ID)
	var rule *mft.Folder
	if list, err := s.Folders.FindFoldersAbove(ctx, root); err == nil {
		for _, f := range list {
			if f.Path == root {
				rule = f
			}
		}
	}
	switch {
	case rule == nil && b.QuotaMB > 0:
		return s.Folders.CreateFolder(ctx, &mft.Folder{Path: root, QuotaMB: b.QuotaMB})
	case rule != nil:
		q := b.QuotaMB
		_, err := s.Folders.UpdateFolder(ctx, rule.ID, mft.FolderUpdate{QuotaMB: &q})
		return err
	}
	return nil
}

func (s *Server) bucketEvent(c echo.Context, event string, b *mft.Bucket) {
	if s.Events == nil {
		return
	}
	s.Events.Publish(mft.Event{Event: event, Time: s.Now().UTC(), Actor: caller(c).ID, Bucket: b.ID,
		Protocol: mft.AuditAPI, IP: clientIP(c).String(), Status: mft.StatusOK, Message: b.Name})
}

func (s *Server) handleBucketUserList(c echo.Context) error {
	ctx := c.Request().Context()
	b, err := s.Buckets.FindBucket(ctx, pathParam(c, "id"))
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
	b, err := s.Buckets.FindBucket(c.Request().Context(), pathParam(c, "id"))
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
	if err := bucketConfined(b.ID, req.Role, req.Home); err != nil {
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

// bucketConfined refuses a role or home that would take a bucket's user
// out of the bucket.
func bucketConfined(bucket string, role, home *string) error {
	if role != nil && *role != mft.RoleUser {
		return mft.Errorf(mft.EINVALID, "role: a bucket's users cannot be administrators")
	}
	if home != nil && !mft.HasPathPrefix(*home, mft.BucketRoot(bucket)) {
		return mft.Errorf(mft.EINVALID, "home must be inside the bucket (%s)", mft.BucketRoot(bucket))
	}
	if home != nil && strings.Contains(*home, "..") {
		return mft.Errorf(mft.EINVALID, "home must not contain ..")
	}
	return nil
}

func (s *Server) handleSettingsView(c echo.Context) error {
	st, err := s.Settings.Settings(c.Request().Context())
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "settings", newSettingsView(st))
}

type settingsRequest struct {
	AllowBucketDeletion *bool `json:"allow_bucket_deletion"`
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
	if req.AllowBucketDeletion == nil {
		return mft.Errorf(mft.EINVALID, "send allow_bucket_deletion (true or false)")
	}
	st.AllowBucketDeletion = *req.AllowBucketDeletion
	if err := s.Settings.PutSettings(ctx, st); err != nil {
		return err
	}
	s.recordChange(c, mft.EventSettingsUpdated, "settings")
	return writeOne(c, http.StatusOK, "settings", newSettingsView(st))
}

// endBucketSessions ends the web sessions of every user of a bucket, for
// good: reactivating the bucket does not bring them back.
func (s *Server) endBucketSessions(ctx context.Context, bucket string) error {
	users, err := mft.All(func(p mft.Page) ([]*mft.User, bool, error) {
		return s.Users.FindUsers(ctx, mft.UserFilter{Bucket: bucket, Page: p})
	}, func(u *mft.User) string { return u.ID })
	if err != nil {
		return err
	}
	for _, u := range users {
		if _, err := s.Users.UpdateUser(ctx, u.ID, mft.UserUpdate{EndSessions: true}); err != nil {
			return err
		}
	}
	return nil
}
