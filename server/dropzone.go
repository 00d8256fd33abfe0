package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Dropzone timings.
const (
	UploadURLTTL     = time.Hour      // a signed upload URL's validity
	UnconfirmedTTL   = 24 * time.Hour // a reservation not confirmed by then is released
	dropzoneRootName = "/dropzones/"
)

type dropzoneRequest struct {
	Name *string  `json:"name"`
	GB   *float64 `json:"gb"`
	Days *int     `json:"days"`
}

type dropzoneView struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Owner     string  `json:"owner"`
	GB        float64 `json:"gb"`
	Days      int     `json:"days"`
	UsedBytes int64   `json:"used_bytes"`
	ExpiresAt string  `json:"expires_at"`
	CreatedAt string  `json:"created_at"`
	Token     string  `json:"token,omitempty"`
}

func (s *Server) newDropzoneView(c echo.Context, d *mft.Dropzone, token string) dropzoneView {
	used, _ := s.Dropzones.UsedBytes(c.Request().Context(), d.ID)
	return dropzoneView{ID: d.ID, Name: d.Name, Owner: d.Owner, GB: d.GB, Days: d.Days, UsedBytes: used,
		ExpiresAt: d.ExpiresAt.UTC().Format(timeFormat), CreatedAt: d.CreatedAt.UTC().Format(timeFormat), Token: token}
}

type dropzoneFileView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	Size        int64  `json:"size"`
	Status      string `json:"status"`
	SHA256      string `json:"sha256,omitempty"`
	UploadURL   string `json:"upload_url,omitempty"`
	CreatedAt   string `json:"created_at"`
	ConfirmedAt string `json:"confirmed_at,omitempty"`
}

func newDropzoneFileView(f *mft.DropzoneFile) dropzoneFileView {
	v := dropzoneFileView{ID: f.ID, Name: f.Name, Type: f.Type, Size: f.Size, Status: f.Status, SHA256: f.SHA256,
		CreatedAt: f.CreatedAt.UTC().Format(timeFormat)}
	if f.ConfirmedAt != nil {
		v.ConfirmedAt = f.ConfirmedAt.UTC().Format(timeFormat)
	}
	return v
}

func (s *Server) dropzoneRoutes(e *echo.Echo, user *echo.Group) {
	// Any key may create a dropzone (it becomes the owner); administrators
	// see and change all of them, others their own.
	user.GET("/admin/dropzones", s.handleDropzoneList)
	user.POST("/admin/dropzones", s.handleDropzoneCreate)
	user.GET("/admin/dropzones/:id", s.handleDropzoneAdminView)
	user.PUT("/admin/dropzones/:id", s.handleDropzoneExtend)
	user.PATCH("/admin/dropzones/:id", s.handleDropzoneExtend)

	// With the dropzone's token (not a user's key).
	e.GET("/api/dropzones/:id", s.handleDropzoneView)
	e.GET("/api/dropzones/:id/files", s.handleDropzoneFiles)
	e.POST("/api/dropzones/:id/files", s.handleDropzoneReserve)
	e.GET("/api/dropzones/:id/files/:file", s.handleDropzoneFile)
	e.POST("/api/dropzones/:id/files/:file/confirm", s.handleDropzoneConfirm)
	e.GET("/api/dropzones/:id/files/:file/download", s.handleDropzoneDownload)
	e.DELETE("/api/dropzones/:id/files/:file", s.handleDropzoneDelete)
	// With the signed URL only.
	e.PUT("/api/dropzones/:id/files/:file/upload", s.handleDropzoneUpload)
}

// ownDropzone returns the dropzone of the path if the caller may manage it.
func (s *Server) ownDropzone(c echo.Context) (*mft.Dropzone, error) {
	d, err := s.Dropzones.FindDropzone(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return nil, err
	}
	if u := caller(c); u.Role != mft.RoleAdmin && d.Owner != u.ID {
		return nil, mft.Errorf(mft.ENOTFOUND, "Dropzone not found.")
	}
	return d, nil
}

func (s *Server) handleDropzoneList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	owner := caller(c).ID
	if caller(c).Role == mft.RoleAdmin {
		owner = ""
	}
	list, more, err := s.Dropzones.FindDropzones(c.Request().Context(), owner, p)
	if err != nil {
		return err
	}
	views := make([]dropzoneView, len(list))
	last := ""
	for i, d := range list {
		views[i], last = s.newDropzoneView(c, d, ""), d.ID
	}
	return writeList(s, c, "dropzone", views, p, more, last)
}

// handleDropzoneCreate answers with the dropzone's token, shown this once.
func (s *Server) handleDropzoneCreate(c echo.Context) error {
	var req dropzoneRequest
	if err := s.decode(c, "dropzone", &req); err != nil {
		return err
	}
	if req.Name == nil || req.GB == nil || req.Days == nil {
		return mft.Errorf(mft.EINVALID, "name, gb (0.2 to 4) and days (30 to 365) are required")
	}
	token := auth.NewKey()
	d := &mft.Dropzone{Name: *req.Name, GB: *req.GB, Days: *req.Days, Owner: caller(c).ID, TokenHash: auth.HashKey(token)}
	if err := s.Dropzones.CreateDropzone(c.Request().Context(), d); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	s.recordChange(c, mft.EventDropzoneCreated, d.ID)
	return writeOne(c, http.StatusCreated, "dropzone", s.newDropzoneView(c, d, token))
}

func (s *Server) handleDropzoneAdminView(c echo.Context) error {
	d, err := s.ownDropzone(c)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "dropzone", s.newDropzoneView(c, d, ""))
}

// handleDropzoneExtend raises gb and/or days; neither may shrink.
func (s *Server) handleDropzoneExtend(c echo.Context) error {
	d, err := s.ownDropzone(c)
	if err != nil {
		return err
	}
	var req dropzoneRequest
	if err := s.decode(c, "dropzone", &req); err != nil {
		return err
	}
	if req.GB == nil && req.Days == nil && req.Name == nil {
		return mft.Errorf(mft.EINVALID, "send gb, days or name to change")
	}
	if req.GB != nil {
		if *req.GB < d.GB {
			return mft.Errorf(mft.EINVALID, "gb can only grow: it is %g", d.GB)
		}
		d.GB = *req.GB
	}
	if req.Days != nil {
		if *req.Days < d.Days {
			return mft.Errorf(mft.EINVALID, "days can only grow: it is %d", d.Days)
		}
		d.Days = *req.Days
		d.ExpiresAt = d.CreatedAt.AddDate(0, 0, d.Days)
	}
	if req.Name != nil {
		d.Name = *req.Name
	}
	if err := s.Dropzones.PutDropzone(c.Request().Context(), d); err != nil {
		return err
	}
	s.recordChange(c, mft.EventDropzoneUpdated, d.ID)
	return writeOne(c, http.StatusOK, "dropzone", s.newDropzoneView(c, d, ""))
}

// tokenDropzone resolves the dropzone token of a request (basic-auth user
// or Bearer), which must be the path's dropzone's, and refuses an expired
// dropzone with 410.
func (s *Server) tokenDropzone(c echo.Context) (*mft.Dropzone, error) {
	ip := clientIP(c)
	if err := s.Auth.CheckBan(ip); err != nil {
		return nil, err
	}
	token, ok := credentials(c.Request())
	if !ok {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "Send the dropzone's token as the basic-auth user or a Bearer token.")
	}
	d, err := s.Dropzones.FindDropzoneByToken(c.Request().Context(), auth.HashKey(token))
	if err != nil || d.ID != pathParam(c, "id") {
		s.Auth.RecordFailure("dropzone:"+pathParam(c, "id"), ip, mft.AuditAPI, "wrong dropzone token")
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "This token does not open this dropzone.")
	}
	if !s.Now().Before(d.ExpiresAt) {
		return nil, mft.Errorf(mft.EEXPIRED, "This dropzone expired on %s.", d.ExpiresAt.UTC().Format(timeFormat))
	}
	return d, nil
}

func (s *Server) handleDropzoneView(c echo.Context) error {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "dropzone", s.newDropzoneView(c, d, ""))
}

func (s *Server) handleDropzoneFiles(c echo.Context) error {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return err
	}
	list, err := s.Dropzones.FindFiles(c.Request().Context(), d.ID)
	if err != nil {
		return err
	}
	out := make([]map[string]dropzoneFileView, len(list))
	for i, f := range list {
		out[i] = map[string]dropzoneFileView{"file": newDropzoneFileView(f)}
	}
	return c.JSON(http.StatusOK, out)
}

type dropzoneFileRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size *int64 `json:"size"`
}

// handleDropzoneReserve reserves size bytes for a file and answers with
// an upload URL signed for exactly that file, valid one hour.
func (s *Server) handleDropzoneReserve(c echo.Context) error {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return err
	}
	var req dropzoneFileRequest
	if err := s.decode(c, "file", &req); err != nil {
		return err
	}
	switch {
	case !plainName(req.Name):
		return mft.Errorf(mft.EINVALID, "name must be a file name without /, such as report.pdf")
	case req.Size == nil || *req.Size < 1:
		return mft.Errorf(mft.EINVALID, "size is required: the file's exact length in bytes")
	case len(req.Type) > 255:
		return mft.Errorf(mft.EINVALID, "type is too long")
	}
	f := &mft.DropzoneFile{Name: req.Name, Type: req.Type, Size: *req.Size}
	if err := s.Dropzones.ReserveFile(c.Request().Context(), d, f); err != nil {
		return err
	}
	v := newDropzoneFileView(f)
	v.UploadURL = s.uploadURL(f, s.Now().Add(UploadURLTTL))
	return writeOne(c, http.StatusCreated, "file", v)
}

// uploadURL signs the URL that uploads exactly f until expires.
func (s *Server) uploadURL(f *mft.DropzoneFile, expires time.Time) string {
	exp := strconv.FormatInt(expires.Unix(), 10)
	return fmt.Sprintf("%s/api/dropzones/%s/files/%s/upload?expires=%s&signature=%s",
		s.PublicURL, f.Dropzone, f.ID, exp, s.sign(f, exp))
}

func (s *Server) sign(f *mft.DropzoneFile, expires string) string {
	m := hmac.New(sha256.New, s.URLKey)
	fmt.Fprintf(m, "dropzone-upload\x00%s\x00%s\x00%d\x00%s", f.Dropzone, f.ID, f.Size, expires)
	return hex.EncodeToString(m.Sum(nil))
}

// handleDropzoneUpload takes the bytes of a reserved file through its
// signed URL: exactly the reserved size, or 400 and nothing kept.
func (s *Server) handleDropzoneUpload(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := s.Dropzones.FindFile(ctx, pathParam(c, "id"), pathParam(c, "file"))
	if err != nil {
		return mft.Errorf(mft.EFORBIDDEN, "This upload URL is not valid.")
	}
	exp := c.QueryParam("expires")
	sig, err := hex.DecodeString(c.QueryParam("signature"))
	want, _ := hex.DecodeString(s.sign(f, exp))
	if err != nil || !hmac.Equal(sig, want) {
		return mft.Errorf(mft.EFORBIDDEN, "This upload URL is not valid (tampered or for another file).")
	}
	if n, err := strconv.ParseInt(exp, 10, 64); err != nil || !s.Now().Before(time.Unix(n, 0)) {
		return mft.Errorf(mft.EEXPIRED, "This upload URL has expired; reserve the file again.")
	}
	d, err := s.Dropzones.FindDropzone(ctx, f.Dropzone)
	if err != nil {
		return err
	}
	if !s.Now().Before(d.ExpiresAt) {
		return mft.Errorf(mft.EEXPIRED, "This dropzone has expired.")
	}
	r := c.Request()
	if r.ContentLength >= 0 && r.ContentLength != f.Size {
		c.Response().Header().Set("Connection", "close")
		return mft.Errorf(mft.EMALFORMED, "Send exactly %d bytes, as reserved (this request has %d).", f.Size, r.ContentLength)
	}
	// One upload per URL at a time; the file is read again once claimed,
	// so an upload that finished meanwhile is seen.
	if _, busy := s.dropzoneUploads.LoadOrStore(f.ID, struct{}{}); busy {
		return refuseBody(c, mft.Errorf(mft.ECONFLICT, "This file is being uploaded through another request."))
	}
	defer s.dropzoneUploads.Delete(f.ID)
	if f, err = s.Dropzones.FindFile(ctx, f.Dropzone, f.ID); err != nil {
		return err
	}
	if f.Uploaded {
		return refuseBody(c, mft.Errorf(mft.ECONFLICT, "This upload URL has been used: the file was received. Reserve a new file to send another."))
	}
	// The reserved size is the announced length whether or not the request
	// has one: a chunked body is cut off at its first byte too many.
	fi, err := s.Files.Upload(ctx, dropzoneActor(c, d), "/"+f.ID, s.minRate(c), files.UploadOptions{Overwrite: true, Size: f.Size})
	if err != nil {
		if mft.ErrorCode(err) == mft.ETOOLARGE {
			err = mft.Errorf(mft.EMALFORMED, "Send exactly %d bytes, as reserved.", f.Size)
		}
		return refuseBody(c, err)
	}
	f.Uploaded, f.SHA256 = true, fi.SHA256
	if err := s.Dropzones.PutFile(ctx, f); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "file", newDropzoneFileView(f))
}

// dropzoneActor stores a dropzone's files in /dropzones/<id>, outside
// every user's tree; the reservation is the quota, the size the limit.
func dropzoneActor(c echo.Context, d *mft.Dropzone) files.Actor {
	u := &mft.User{ID: "dropzone-" + d.ID, Role: mft.RoleUser, Home: dropzoneRootName + d.ID, Active: true}
	return files.Actor{User: u, Protocol: mft.AuditAPI, IP: clientIP(c).String()}
}

func (s *Server) tokenFile(c echo.Context) (*mft.Dropzone, *mft.DropzoneFile, error) {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.Dropzones.FindFile(c.Request().Context(), d.ID, pathParam(c, "file"))
	return d, f, err
}

func (s *Server) handleDropzoneFile(c echo.Context) error {
	_, f, err := s.tokenFile(c)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "file", newDropzoneFileView(f))
}

// handleDropzoneConfirm makes an uploaded file available.
func (s *Server) handleDropzoneConfirm(c echo.Context) error {
	d, f, err := s.tokenFile(c)
	if err != nil {
		return err
	}
	if !f.Uploaded {
		return mft.Errorf(mft.EINVALID, "Upload the file to its upload_url first.")
	}
	if f.Status != mft.DropzoneAvailable {
		now := s.Now().UTC()
		f.Status, f.ConfirmedAt = mft.DropzoneAvailable, &now
		if err := s.Dropzones.PutFile(c.Request().Context(), f); err != nil {
			return err
		}
		if s.Events != nil {
			s.Events.Publish(mft.Event{Event: mft.EventDropzoneFileConfirmed, Time: now, Actor: d.Owner, Protocol: mft.AuditAPI,
				IP: clientIP(c).String(), Path: dropzoneRootName + d.ID + "/" + f.ID, Size: f.Size, SHA256: f.SHA256,
				Status: mft.StatusOK, Message: f.Name})
		}
	}
	return writeOne(c, http.StatusOK, "file", newDropzoneFileView(f))
}

func (s *Server) handleDropzoneDownload(c echo.Context) error {
	d, f, err := s.tokenFile(c)
	if err != nil {
		return err
	}
	if f.Status != mft.DropzoneAvailable {
		return mft.Errorf(mft.EINVALID, "This file is not confirmed yet.")
	}
	fh, fi, err := s.Files.OpenStorage(dropzoneRootName + d.ID + "/" + f.ID)
	if err != nil {
		return err
	}
	defer fh.Close()
	serveDownload(c, fh, f.Name, fi.ModTime())
	return nil
}

// handleDropzoneDelete removes a file and frees its bytes.
func (s *Server) handleDropzoneDelete(c echo.Context) error {
	d, f, err := s.tokenFile(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.Files.RemoveStorage(ctx, dropzoneRootName+d.ID+"/"+f.ID); err != nil {
		return err
	}
	if err := s.Dropzones.DeleteFile(ctx, d.ID, f.ID); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// SweepDropzones releases reservations not confirmed within a day and
// deletes the files of expired dropzones; it returns how many files it
// removed.
func (s *Server) SweepDropzones(ctx context.Context) (int, error) {
	now := s.Now()
	list, err := s.Dropzones.AllDropzones(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, d := range list {
		if d.Swept {
			continue
		}
		expired := !now.Before(d.ExpiresAt)
		files, err := s.Dropzones.FindFiles(ctx, d.ID)
		if err != nil {
			return n, err
		}
		for _, f := range files {
			if !expired && (f.Status == mft.DropzoneAvailable || now.Sub(f.CreatedAt) < UnconfirmedTTL) {
				continue
			}
			if err := s.Files.RemoveStorage(ctx, dropzoneRootName+d.ID+"/"+f.ID); err != nil {
				return n, err
			}
			if err := s.Dropzones.DeleteFile(ctx, d.ID, f.ID); err != nil {
				return n, err
			}
			n++
		}
		if expired {
			d.Swept = true
			if err := s.Dropzones.PutDropzone(ctx, d); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}
