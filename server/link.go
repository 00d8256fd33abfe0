package server

import (
	"bytes"
	"fmt"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/files"
	"depot/mft"
	"depot/web"
)

type linkRequest struct {
	Path         string  `json:"path"`
	ExpiresAt    optTime `json:"expires_at"`
	Password     string  `json:"password"`
	MaxDownloads int     `json:"max_downloads"`
	AllowUpload  bool    `json:"allow_upload"`
}

type linkView struct {
	ID           string `json:"id"`
	URL          string `json:"url"`
	Path         string `json:"path"`
	Folder       bool   `json:"folder"`
	ExpiresAt    string `json:"expires_at,omitempty"`
	HasPassword  bool   `json:"has_password"`
	MaxDownloads int    `json:"max_downloads"`
	Downloads    int    `json:"downloads"`
	AllowUpload  bool   `json:"allow_upload"`
	CreatedBy    string `json:"created_by"`
	CreatedAt    string `json:"created_at"`
}

func (s *Server) newLinkView(l *mft.Link) linkView {
	v := linkView{ID: l.ID, URL: s.PublicURL + "/s/" + l.ID, Path: l.Path, Folder: l.Folder, HasPassword: l.PasswordHash != "",
		MaxDownloads: l.MaxDownloads, Downloads: l.Downloads, AllowUpload: l.AllowUpload, CreatedBy: l.CreatedBy,
		CreatedAt: l.CreatedAt.UTC().Format(timeFormat)}
	if l.ExpiresAt != nil {
		v.ExpiresAt = l.ExpiresAt.UTC().Format(timeFormat)
	}
	return v
}

func (s *Server) linkRoutes(e *echo.Echo, user, admin *echo.Group) {
	user.GET("/api/links", s.handleLinkList)
	user.POST("/api/links", s.handleLinkCreate)
	user.DELETE("/api/links/:id", s.handleLinkDelete)
	admin.GET("/links", s.handleLinkList)
	admin.DELETE("/links/:id", s.handleLinkDelete)

	e.GET("/s/:id", s.handleLinkPage)
	e.GET("/s/:id/download", s.handleLinkDownload)
	e.POST("/s/:id/download", s.handleLinkDownload)
	e.POST("/s/:id/upload", s.handleLinkUpload)
}

// handleLinkList lists the caller's links (/api/links) or all of them
// (/admin/links).
func (s *Server) handleLinkList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	by := caller(c).ID
	if strings.HasPrefix(c.Path(), "/admin/") {
		by = ""
	}
	list, more, err := s.Links.FindLinks(c.Request().Context(), by, p)
	if err != nil {
		return err
	}
	views := make([]linkView, len(list))
	last := ""
	for i, l := range list {
		views[i], last = s.newLinkView(l), l.ID
	}
	return writeList(s, c, "link", views, p, more, last)
}

// handleLinkCreate shares a path the caller has share permission on.
func (s *Server) handleLinkCreate(c echo.Context) error {
	var req linkRequest
	if err := s.decode(c, "link", &req); err != nil {
		return err
	}
	switch {
	case req.Path == "":
		return mft.Errorf(mft.EINVALID, "path is required: the file or folder to share")
	case req.MaxDownloads < 0:
		return mft.Errorf(mft.EINVALID, "max_downloads must be 0 (no limit) or more")
	case req.ExpiresAt.Time != nil && !req.ExpiresAt.Time.After(s.Now()): // null: never
		return mft.Errorf(mft.EINVALID, "expires_at must be in the future")
	case req.Password != "" && len(req.Password) < 8:
		return mft.Errorf(mft.EINVALID, "password must be at least 8 characters")
	}
	ctx := c.Request().Context()
	storage, folder, err := s.Files.Share(ctx, actor(c), req.Path, req.AllowUpload)
	if err != nil {
		return err
	}
	clientPath, _ := files.CleanPath(req.Path) // Share accepted it
	l := &mft.Link{Path: storage, ClientPath: clientPath, Folder: folder, MaxDownloads: req.MaxDownloads, AllowUpload: req.AllowUpload, CreatedBy: caller(c).ID}
	if req.ExpiresAt.Time != nil {
		t := req.ExpiresAt.Time.UTC()
		l.ExpiresAt = &t
	}
	if req.Password != "" {
		if l.PasswordHash, err = auth.HashPassword(req.Password); err != nil {
			return err
		}
	}
	if err := s.Links.CreateLink(ctx, l); err != nil {
		return err
	}
	s.recordChange(c, mft.EventLinkCreated, l.ID)
	return writeOne(c, http.StatusCreated, "link", s.newLinkView(l))
}

func (s *Server) handleLinkDelete(c echo.Context) error {
	ctx := c.Request().Context()
	l, err := s.Links.FindLink(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	if u := caller(c); u.Role != mft.RoleAdmin && l.CreatedBy != u.ID {
		return mft.Errorf(mft.ENOTFOUND, "This link does not exist.")
	}
	if err := s.Links.DeleteLink(ctx, l.ID); err != nil {
		return err
	}
	s.recordChange(c, mft.EventLinkDeleted, l.ID)
	return c.NoContent(http.StatusOK)
}

// gone says why a link no longer serves downloads, or "".
func (s *Server) gone(l *mft.Link) string {
	switch {
	case l.Expired(s.Now()):
		return "This link has expired."
	case !l.AllowUpload && l.MaxDownloads > 0 && l.Downloads >= l.MaxDownloads:
		return fmt.Sprintf("This link has reached its %d downloads.", l.MaxDownloads)
	}
	return ""
}

// handleLinkPage shows the shared file or folder (410 once the link is
// spent), or the upload page of an upload link.
func (s *Server) handleLinkPage(c echo.Context) error {
	ctx := c.Request().Context()
	l, err := s.Links.FindLink(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	return s.renderLink(c, l, "")
}

func (s *Server) renderLink(c echo.Context, l *mft.Link, problem string) error {
	ctx := c.Request().Context()
	v := web.Link{ID: l.ID, Name: path.Base(l.Path), SharedBy: l.CreatedBy, Folder: l.Folder, Upload: l.AllowUpload,
		NeedsPassword: l.PasswordHash != "", Gone: s.gone(l), Error: problem, MaxMB: 1 << 20}
	if u, err := s.Users.FindUserByID(ctx, l.CreatedBy); err == nil && u.Name != "" {
		v.SharedBy = u.Name
	}
	if l.ExpiresAt != nil {
		v.ExpiresAt = l.ExpiresAt.UTC().Format("2 January 2006 15:04 UTC")
	}
	status := http.StatusOK
	if v.Gone == "" && !l.AllowUpload {
		if err := s.linkContents(c, l, &v); err != nil {
			v.Gone = mft.ErrorMessage(err)
		}
	}
	if v.Gone != "" {
		status = http.StatusGone
	}
	if problem != "" && status == http.StatusOK {
		status = http.StatusUnauthorized
	}
	var buf bytes.Buffer
	if err := web.RenderLink(&buf, v); err != nil {
		return err
	}
	pageHeaders(c.Response().Header())
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(status, buf.Bytes())
}

// linkContents fills in what a download link offers, as its creator sees
// it now.
func (s *Server) linkContents(c echo.Context, l *mft.Link, v *web.Link) error {
	a, err := s.linkActor(c, l)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if !l.Folder {
		fi, err := s.Files.Stat(ctx, a, l.ClientPath)
		v.Size = humanSize(fi.Size)
		return err
	}
	list, err := s.Files.List(ctx, a, l.ClientPath)
	for _, f := range list {
		if f.Type == mft.TypeFile {
			v.Files = append(v.Files, web.LinkFile{Name: f.Name, Size: humanSize(f.Size)})
		}
	}
	return err
}

func humanSize(n int64) string {
	units := []string{"bytes", "KB", "MB", "GB", "TB"}
	f, i := float64(n), 0
	for f >= 1024 && i < len(units)-1 {
		f, i = f/1024, i+1
	}
	if i == 0 {
		return fmt.Sprintf("%d bytes", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[i])
}

// pagePassword checks the password of a public page (a filedrop or a
// link), given as the basic-auth password or a password field (form or
// query); a wrong one counts toward the defender's ban. The caller has
// checked the ban.
func (s *Server) pagePassword(c echo.Context, hash, what, name string) error {
	if hash == "" {
		return nil
	}
	_, pw, _ := c.Request().BasicAuth()
	if pw == "" {
		pw = c.FormValue("password")
	}
	if pw == "" {
		return mft.Errorf(mft.EUNAUTHORIZED, "This %s needs its password: send it as the basic-auth password.", what)
	}
	if !auth.VerifyPassword(hash, pw) {
		s.Auth.RecordFailure(what+":"+name, clientIP(c), mft.AuditWeb, "wrong "+what+" password")
		return mft.Errorf(mft.EUNAUTHORIZED, "The password is not right.")
	}
	return nil
}

// linkPassword checks the ban and a link's password.
func (s *Server) linkPassword(c echo.Context, l *mft.Link) error {
	if err := s.Auth.CheckBan(clientIP(c)); err != nil {
		return err
	}
	return s.pagePassword(c, l.PasswordHash, "link", l.ID)
}

// handleLinkDownload serves the shared file (or ?file= / form file of a
// shared folder), counting the download atomically against max_downloads.
func (s *Server) handleLinkDownload(c echo.Context) error {
	ctx := c.Request().Context()
	l, err := s.Links.FindLink(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	browser := c.Request().Method == http.MethodPost
	if err := s.linkPassword(c, l); err != nil {
		if browser && mft.ErrorCode(err) == mft.EUNAUTHORIZED {
			return s.renderLink(c, l, mft.ErrorMessage(err))
		}
		return err
	}
	if l.AllowUpload {
		return mft.Errorf(mft.EFORBIDDEN, "This link takes uploads; it does not serve downloads.")
	}
	a, err := s.linkActor(c, l)
	if err != nil {
		return err
	}
	target := l.ClientPath
	if l.Folder {
		name := c.FormValue("file")
		if !plainName(name) {
			return mft.Errorf(mft.EMALFORMED, "Name the file to download: ?file=<name> (a file of the shared folder).")
		}
		target = path.Join(l.ClientPath, name)
	}
	// Check first, count, then open (which records file.downloaded): a
	// refused download is neither counted nor recorded.
	if _, err := s.Files.Stat(ctx, a, target); err != nil {
		return err
	}
	if _, err := s.Links.ClaimDownload(ctx, l.ID, s.Now()); err != nil {
		return err
	}
	f, fi, err := s.Files.Open(ctx, a, target)
	if err != nil {
		return err
	}
	defer f.Close()
	if s.Events != nil {
		s.Events.Publish(mft.Event{Event: mft.EventLinkDownloaded, Time: s.Now().UTC(), Actor: l.CreatedBy, Protocol: mft.AuditWeb,
			IP: clientIP(c).String(), Path: path.Join(l.Path, strings.TrimPrefix(target, l.ClientPath)), Size: fi.Size,
			Status: mft.StatusOK, Message: "link " + l.ID})
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	serveDownload(c, f, fi.Name, fi.ModifiedAt)
	return nil
}

// linkActor is the link's creator as the file service sees them: a link
// works through its creator's permissions as they are now, so it stops
// when they lose the path or their account.
func (s *Server) linkActor(c echo.Context, l *mft.Link) (files.Actor, error) {
	u, err := s.Users.FindUserByID(c.Request().Context(), l.CreatedBy)
	if err != nil || !u.Active {
		return files.Actor{}, mft.Errorf(mft.EFORBIDDEN, "This link's owner can no longer share files.")
	}
	return files.Actor{User: u, Protocol: mft.AuditWeb, IP: clientIP(c).String()}, nil
}

// handleLinkUpload stores a file (or a piece of one) in an upload link's
// folder, as its creator (their permissions, rules and quotas apply).
func (s *Server) handleLinkUpload(c echo.Context) error {
	ctx := c.Request().Context()
	l, err := s.Links.FindLink(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	if !l.AllowUpload {
		return mft.Errorf(mft.EFORBIDDEN, "This link does not take uploads.")
	}
	if l.Expired(s.Now()) {
		return mft.Errorf(mft.EEXPIRED, "This link has expired.")
	}
	if err := s.linkPassword(c, l); err != nil {
		return err
	}
	name, err := filenameQuery(c)
	if err != nil {
		return err
	}
	a, err := s.linkActor(c, l)
	if err != nil {
		return err
	}
	// Through the path the creator shared (a home folder or a mount).
	fi, done, err := s.receiveUpload(c, a, path.Join(l.ClientPath, name), false)
	if err != nil || !done {
		return err
	}
	return writeOne(c, http.StatusCreated, "file", fi)
}
