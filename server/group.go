package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// groupRequest is the body of POST and PUT /admin/groups.
type groupRequest struct {
	Name        *string   `json:"name"`
	Description *string   `json:"description" depot:"text"`
	LDAPGroups  *[]string `json:"ldap_groups"`
	OIDCGroups  *[]string `json:"oidc_groups"`
	// RequireTwoFactor makes members' password logins need a code.
	RequireTwoFactor *bool `json:"require_two_factor"`
}

func (s *Server) handleGroupList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	groups, more, err := s.Groups.FindGroups(c.Request().Context(), p)
	if err != nil {
		return err
	}
	last := ""
	if len(groups) > 0 {
		last = groups[len(groups)-1].ID
	}
	return writeList(s, c, "group", viewsOf(groups, newGroupView), p, more, last)
}

// handleGroupCreate creates a group whose id is the slug of its name.
func (s *Server) handleGroupCreate(c echo.Context) error {
	var req groupRequest
	if err := s.decodeCreate(c, "group", &req, groupView{}); err != nil {
		return err
	}
	g := &mft.Group{}
	if req.Name != nil {
		g.Name = *req.Name
		g.ID = mft.Slug(g.Name)
	}
	if req.Description != nil {
		g.Description = *req.Description
	}
	if req.LDAPGroups != nil {
		g.LDAPGroups = *req.LDAPGroups
	}
	if req.OIDCGroups != nil {
		g.OIDCGroups = *req.OIDCGroups
	}
	if req.RequireTwoFactor != nil {
		g.RequireTwoFactor = *req.RequireTwoFactor
	}
	if err := s.Groups.CreateGroup(s.changeContext(c), g); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "group", newGroupView(g))
}

func (s *Server) handleGroupView(c echo.Context) error {
	g, err := s.Groups.FindGroupByID(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "group", newGroupView(g))
}

func (s *Server) handleGroupUpdate(c echo.Context) error {
	id := pathParam(c, "id")
	ctx := c.Request().Context()
	old, err := s.Groups.FindGroupByID(ctx, id)
	if err != nil {
		return err
	}
	var req groupRequest
	if err := s.decodeUpdate(c, "group", &req, newGroupView(old)); err != nil {
		return err
	}
	g, err := s.Groups.UpdateGroup(s.changeContext(c), id, mft.GroupUpdate{Name: req.Name, Description: req.Description, LDAPGroups: req.LDAPGroups, OIDCGroups: req.OIDCGroups,
		RequireTwoFactor: req.RequireTwoFactor})
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "group", newGroupView(g))
}

// handleGroupDelete removes the group and takes it out of its members.
func (s *Server) handleGroupDelete(c echo.Context) error {
	if err := s.Groups.DeleteGroup(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}
