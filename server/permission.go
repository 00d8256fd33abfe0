package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// permissionRequest is the body of POST and PUT /admin/permissions.
type permissionRequest struct {
	Subject     *string   `json:"subject"`
	Path        *string   `json:"path" depot:"path"`
	Permissions *[]string `json:"permissions"`
	Mount       *string   `json:"mount" depot:"path"`
}

func (s *Server) handlePermissionList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Perms.FindPermissions(c.Request().Context(), p)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "permission", viewsOf(list, newPermissionView), p, more, last)
}

func (s *Server) handlePermissionCreate(c echo.Context) error {
	var req permissionRequest
	if err := s.decodeCreate(c, "permission", &req, permissionView{}); err != nil {
		return err
	}
	p := &mft.Permission{}
	if req.Subject != nil {
		p.Subject = *req.Subject
	}
	if req.Path != nil {
		p.Path = *req.Path
	}
	if req.Permissions != nil {
		p.Permissions = *req.Permissions
	}
	if req.Mount != nil {
		p.Mount = mountName(*req.Mount)
	}
	if err := s.Perms.CreatePermission(s.changeContext(c), p); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "permission", newPermissionView(p))
}

func (s *Server) handlePermissionView(c echo.Context) error {
	p, err := s.Perms.FindPermissionByID(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "permission", newPermissionView(p))
}

// handlePermissionUpdate changes permissions and mount; subject and path
// identify the rule and cannot change (delete and create instead).
func (s *Server) handlePermissionUpdate(c echo.Context) error {
	id := pathParam(c, "id")
	ctx := c.Request().Context()
	old, err := s.Perms.FindPermissionByID(ctx, id)
	if err != nil {
		return err
	}
	var req permissionRequest
	if err := s.decodeUpdate(c, "permission", &req, newPermissionView(old), "subject", "path"); err != nil {
		return err
	}
	if req.Mount != nil {
		m := mountName(*req.Mount)
		req.Mount = &m
	}
	p, err := s.Perms.UpdatePermission(s.changeContext(c), id, mft.PermissionUpdate{Permissions: req.Permissions, Mount: req.Mount})
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "permission", newPermissionView(p))
}

func (s *Server) handlePermissionDelete(c echo.Context) error {
	if err := s.Perms.DeletePermission(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// mountName takes a mount given as a path (/partners) as the folder name
// (partners); "/" stays, and is refused as no folder name.
func mountName(m string) string {
	if t := strings.Trim(m, "/"); t != "" {
		return t
	}
	return m
}
