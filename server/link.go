package server

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/files"
	"depot/link"
	"depot/mft"
	"depot/web"
)

type linkRequest struct {
	Path         string  `json:"path" depot:"path"`
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

// handleLinkList lists the caller's links (/api/links) or all of them
// (/admin/links).
func (s *Server) handleLinkList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Links.List(c.Request().Context(), caller(c), strings.HasPrefix(c.Path(), "/admin/"), p)
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
	l, err := s.Links.Create(s.changeContext(c), actor(c), link.Input{Path: req.Path, ExpiresAt: req.ExpiresAt.Time,
		Password: req.Password, MaxDownloads: req.MaxDownloads, AllowUpload: req.AllowUpload})
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "link", s.newLinkView(l))
}

func (s *Server) handleLinkDelete(c echo.Context) error {
	if err := s.Links.Delete(s.changeContext(c), caller(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// handleLinkPage shows the shared file or folder (410 once the link is
// spent), or the upload page of an upload link.
func (s *Server) handleLinkPage(c echo.Context) error {
	ctx := c.Request().Context()
	l, err := s.Links.Find(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	return s.renderLink(c, l, "")
}

func (s *Server) renderLink(c echo.Context, l *mft.Link, problem string) error {
	ctx := c.Request().Context()
	v := web.Link{ID: l.ID, Name: path.Base(l.Path), SharedBy: s.Links.Creator(ctx, l), Folder: l.Folder, Upload: l.AllowUpload,
		NeedsPassword: l.PasswordHash != "", Gone: s.Links.Gone(l), Error: problem, MaxMB: 1 << 20}
	if l.ExpiresAt != nil {
		v.ExpiresAt = l.ExpiresAt.UTC().Format("2 January 2006 15:04 UTC")
	}
	status := http.StatusOK
	if v.Gone == "" && !l.AllowUpload {
		list, err := s.Links.Contents(ctx, l, from(c, mft.AuditWeb))
		if err != nil {
			v.Gone = mft.ErrorMessage(err)
		}
		for _, f := range list {
			if l.Folder {
				v.Files = append(v.Files, web.LinkFile{Name: f.Name, Size: humanSize(f.Size)})
			} else {
				v.Size = humanSize(f.Size)
			}
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
	done, err := s.Auth.Guard(c.Request().Context(), clientIP(c))
	if err != nil {
		return err
	}
	ok := auth.VerifyPassword(hash, pw)
	done(!ok, what+":"+name, mft.AuditWeb, "wrong "+what+" password")
	if !ok {
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
	l, err := s.Links.Find(ctx, pathParam(c, "id"))
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
	f, fi, err := s.Links.Download(ctx, l, c.FormValue("file"), from(c, mft.AuditWeb))
	if err != nil {
		return err
	}
	defer f.Close()
	c.Response().Header().Set("Cache-Control", "no-store")
	serveDownload(c, f, fi.Name, fi.ModifiedAt)
	return nil
}

// handleLinkUpload stores a file (or a piece of one) in an upload link's
// folder, as its creator (their permissions, rules and quotas apply).
func (s *Server) handleLinkUpload(c echo.Context) error {
	ctx := c.Request().Context()
	l, err := s.Links.Find(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	if err := s.Links.TakesUploads(l); err != nil {
		return err
	}
	if err := s.linkPassword(c, l); err != nil {
		return err
	}
	name, err := filenameQuery(c)
	if err != nil {
		return err
	}
	fi, done, err := s.receiveUpload(c, false, func(body io.Reader, opts files.UploadOptions, piece *files.Piece) (mft.FileInfo, files.Chunk, bool, error) {
		return s.Links.Upload(ctx, l, name, body, opts, piece, from(c, mft.AuditWeb))
	})
	if err != nil || !done {
		return err
	}
	return writeOne(c, http.StatusCreated, "file", fi)
}
