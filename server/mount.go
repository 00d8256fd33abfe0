package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// mountRequest is the body of POST /admin/mounts. A mount is not edited:
// moving a path to other storage is moving its files, so a mount is
// deleted and created again.
type mountRequest struct {
	Path       *string `json:"path" depot:"path"`
	Connection *string `json:"connection"`
	Prefix     *string `json:"prefix" depot:"path"`
}

func (s *Server) handleMountList(c echo.Context) error {
	all, err := s.Mounts.Store.FindMounts(c.Request().Context())
	if err != nil {
		return err
	}
	return writeList(s, c, "mount", all, mft.Page{}, false, "")
}

func (s *Server) handleMountCreate(c echo.Context) error {
	var req mountRequest
	if err := s.decodeCreate(c, "mount", &req, mft.Mount{}); err != nil {
		return err
	}
	m := &mft.Mount{}
	for _, f := range []struct {
		dst *string
		v   *string
	}{{&m.Path, req.Path}, {&m.Connection, req.Connection}, {&m.Prefix, req.Prefix}} {
		if f.v != nil {
			*f.dst = *f.v
		}
	}
	if err := s.Mounts.Create(s.changeContext(c), m); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "mount", m)
}

func (s *Server) handleMountView(c echo.Context) error {
	m, err := s.Mounts.Store.FindMount(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "mount", m)
}

func (s *Server) handleMountDelete(c echo.Context) error {
	if err := s.Mounts.Delete(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}
