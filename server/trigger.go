package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/mft"
)

// An automation can have an inbound trigger URL (Couchdrop's "trigger via
// API webhook"): POST /api/automations/:id/trigger with the URL's own
// token, as a Bearer token or the basic-auth user, runs it like
// POST /admin/automations/:id/run, without an API key.

type triggerView struct {
	URL   string `json:"url"`
	Token string `json:"token"`
}

// handleTriggerToken gives the automation a new trigger token (replacing
// any earlier one) and answers with the URL and the token, shown once.
func (s *Server) handleTriggerToken(c echo.Context) error {
	id := pathParam(c, "id")
	token, err := s.Engine.NewTriggerToken(s.changeContext(c), id)
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeOne(c, http.StatusOK, "trigger", triggerView{URL: s.PublicURL + "/api/automations/" + id + "/trigger", Token: token})
}

// handleTriggerTokenDelete turns the trigger URL off.
func (s *Server) handleTriggerTokenDelete(c echo.Context) error {
	if err := s.Engine.RemoveTriggerToken(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

// handleTrigger runs an automation through its trigger URL, with the
// optional {"path": "…"} of POST …/run. A wrong token counts toward the
// defender's ban like a wrong key.
func (s *Server) handleTrigger(c echo.Context) error {
	ip := clientIP(c)
	if err := s.Auth.CheckBan(ip); err != nil {
		return err
	}
	token, ok := credentials(c.Request())
	if !ok {
		return mft.Errorf(mft.EUNAUTHORIZED, "Send the trigger URL's token as a Bearer token or the basic-auth user.")
	}
	ctx := c.Request().Context()
	done, err := s.Auth.Guard(ctx, ip)
	if err != nil {
		return err
	}
	a, err := s.Automations.FindAutomation(ctx, pathParam(c, "id"))
	wrong := err != nil || a.TriggerTokenHash == "" || !auth.KeyMatches(token, a.TriggerTokenHash)
	done(wrong, "trigger:"+pathParam(c, "id"), mft.AuditAPI, "wrong automation trigger token")
	if wrong {
		return mft.Errorf(mft.EUNAUTHORIZED, "This token does not trigger this automation.")
	}
	return s.runAutomation(c, a)
}
