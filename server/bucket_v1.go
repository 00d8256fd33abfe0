package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/bucket"
	"depot/mft"
)

// The Buckets API as its own clients call it (seed 003): /v1/buckets over
// the same bucket service as /admin/buckets, with bare objects, created_at
// as a Unix time, lists as {has_more, next_uri, data}, and errors as
// {"error":{"code","message"}} (v1Error). An administrator's API key,
// as a Bearer token or the basic-auth user, is its API key.

// v1Prefix starts the routes of the Buckets dialect.
const v1Prefix = "/v1/"

type v1Bucket struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Host      string `json:"host"`
	Active    bool   `json:"active"`
	CreatedAt int64  `json:"created_at"`
}

type v1BucketRequest struct {
	Name   *string `json:"name"`
	Active *bool   `json:"active"`
}

type v1BucketList struct {
	HasMore bool       `json:"has_more"`
	NextURI *string    `json:"next_uri"`
	Data    []v1Bucket `json:"data"`
}

// v1Error is an error as a Buckets client reads it.
type v1Error struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func (s *Server) newV1Bucket(b *mft.Bucket) v1Bucket {
	v := s.newBucketView(b)
	return v1Bucket{ID: v.ID, Name: v.Name, Host: v.Host, Active: v.Active, CreatedAt: b.CreatedAt.Unix()}
}

// handleV1BucketList pages by ?limit (1 to 1000, default 100) and ?after
// (the last id of the page before, as next_uri gives it).
func (s *Server) handleV1BucketList(c echo.Context) error {
	p := mft.Page{After: c.QueryParam("after"), Limit: mft.DefaultLimit}
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > mft.MaxLimit {
			return mft.Errorf(mft.EINVALID, "limit must be a whole number from 1 to %d", mft.MaxLimit)
		}
		p.Limit = n
	}
	list, more, err := s.Buckets.List(c.Request().Context(), p)
	if err != nil {
		return err
	}
	out := v1BucketList{HasMore: more, Data: make([]v1Bucket, len(list))}
	for i, b := range list {
		out.Data[i] = s.newV1Bucket(b)
	}
	if more {
		q := url.Values{"after": {list[len(list)-1].ID}}
		if c.QueryParam("limit") != "" {
			q.Set("limit", strconv.Itoa(p.Limit))
		}
		next := "/v1/buckets?" + q.Encode()
		out.NextURI = &next
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleV1BucketCreate(c echo.Context) error {
	var req v1BucketRequest
	if err := s.decode(c, "bucket", &req); err != nil {
		return err
	}
	if req.Name == nil {
		return mft.Errorf(mft.EINVALID, "name is required")
	}
	b := &mft.Bucket{Name: *req.Name, Active: req.Active == nil || *req.Active}
	if err := s.Buckets.Create(s.changeContext(c), b); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.newV1Bucket(b))
}

func (s *Server) handleV1BucketView(c echo.Context) error {
	b, err := s.Buckets.Find(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.newV1Bucket(b))
}

// handleV1BucketUpdate changes name and/or active; at least one.
func (s *Server) handleV1BucketUpdate(c echo.Context) error {
	if _, err := s.Buckets.Find(c.Request().Context(), pathParam(c, "id")); err != nil {
		return err
	}
	var req v1BucketRequest
	if err := s.decode(c, "bucket", &req); err != nil {
		return err
	}
	if req.Name == nil && req.Active == nil {
		return mft.Errorf(mft.EINVALID, "send name and/or active to change")
	}
	b, err := s.Buckets.Update(s.changeContext(c), pathParam(c, "id"), bucket.Update{Name: req.Name, Active: req.Active})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.newV1Bucket(b))
}

// handleV1BucketDelete deletes a bucket with its users and files unless
// allow_bucket_deletion forbids it (403); 200 with no body.
func (s *Server) handleV1BucketDelete(c echo.Context) error {
	if err := s.Buckets.Delete(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// v1Dialect reports whether a request speaks the Buckets dialect, whose
// errors have their own shape.
func v1Dialect(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, v1Prefix) }

// v1ErrorBody is msg as a Buckets client reads it, coded by status.
func v1ErrorBody(status int, msg string) v1Error {
	var e v1Error
	e.Error.Message = msg
	e.Error.Code = strings.ReplaceAll(strings.ToLower(http.StatusText(status)), " ", "_")
	return e
}
