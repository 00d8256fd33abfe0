package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/filedrop"
	"depot/mft"
)

// filedropRequest is the body of POST and PUT /admin/filedrops.
type filedropRequest struct {
	Name              *string `json:"name"`
	Title             *string `json:"title"`
	Description       *string `json:"description" depot:"text"`
	Owner             *string `json:"owner"`
	InvalidExtensions *string `json:"invalid_extensions"`
	AcceptedFiletypes *string `json:"accepted_filetypes"`
	ExpiresAfter      *int    `json:"expires_after"`
	MaxFilesize       *int64  `json:"max_filesize"`
	RequireValidation *bool   `json:"require_validation"`
	Password          *string `json:"password"`
	CC                *string `json:"cc"`
	Authorization     *int    `json:"authorization"`
}

// filedropView is what the admin API shows: never the password.
type filedropView struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Title             string `json:"title"`
	Description       string `json:"description"`
	Owner             string `json:"owner"`
	InvalidExtensions string `json:"invalid_extensions"`
	AcceptedFiletypes string `json:"accepted_filetypes"`
	ExpiresAfter      int    `json:"expires_after"`
	MaxFilesize       int64  `json:"max_filesize"`
	RequireValidation bool   `json:"require_validation"`
	// Password is "" when none is set and mft.SecretMarker when one is:
	// never the password.
	Password      string `json:"password"`
	CC            string `json:"cc"`
	Authorization int    `json:"authorization"`
	URL           string `json:"url"`
	CreatedAt     string `json:"created_at"`
	UpdatedAt     string `json:"updated_at"`
}

func (s *Server) newFiledropView(f *mft.Filedrop) filedropView {
	return filedropView{ID: f.ID, Name: f.Name, Title: f.Title, Description: f.Description, Owner: f.Owner,
		InvalidExtensions: f.InvalidExtensions, AcceptedFiletypes: f.AcceptedFiletypes, ExpiresAfter: f.ExpiresAfter,
		MaxFilesize: f.MaxFilesize, RequireValidation: f.RequireValidation, Password: mft.Hidden(f.PasswordHash), CC: f.CC, Authorization: f.Authorization,
		URL: s.PublicURL + "/filedrop/" + f.Name, CreatedAt: f.CreatedAt.Format(timeFormat), UpdatedAt: f.UpdatedAt.Format(timeFormat)}
}

// input is the request as the filedrop service takes it.
func (r *filedropRequest) input() filedrop.Input {
	return filedrop.Input{FiledropUpdate: mft.FiledropUpdate{Title: r.Title, Description: r.Description, Owner: r.Owner,
		InvalidExtensions: r.InvalidExtensions, AcceptedFiletypes: r.AcceptedFiletypes, ExpiresAfter: r.ExpiresAfter,
		MaxFilesize: r.MaxFilesize, RequireValidation: r.RequireValidation, CC: r.CC, Authorization: r.Authorization},
		Password: r.Password}
}

func (s *Server) handleFiledropList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Filedrops.List(c.Request().Context(), p)
	if err != nil {
		return err
	}
	views := make([]filedropView, len(list))
	last := ""
	for i, f := range list {
		views[i], last = s.newFiledropView(f), f.Name
	}
	return writeList(s, c, "filedrop", views, p, more, last)
}

func (s *Server) handleFiledropView(c echo.Context) error {
	f, err := s.Filedrops.Find(c.Request().Context(), pathParam(c, "name"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "filedrop", s.newFiledropView(f))
}

func (s *Server) handleFiledropCreate(c echo.Context) error {
	var req filedropRequest
	if err := s.decodeCreate(c, "filedrop", &req, filedropView{}); err != nil {
		return err
	}
	f, err := s.Filedrops.Create(s.changeContext(c), req.Name, req.input())
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "filedrop", s.newFiledropView(f))
}

func (s *Server) handleFiledropUpdate(c echo.Context) error {
	name := pathParam(c, "name")
	old, err := s.Filedrops.Find(c.Request().Context(), name)
	if err != nil {
		return err
	}
	var req filedropRequest
	if err := s.decodeUpdate(c, "filedrop", &req, s.newFiledropView(old)); err != nil {
		return err
	}
	f, err := s.Filedrops.Update(s.changeContext(c), old, req.Name, req.input())
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "filedrop", s.newFiledropView(f))
}

func (s *Server) handleFiledropDelete(c echo.Context) error {
	if err := s.Filedrops.Delete(s.changeContext(c), pathParam(c, "name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}
