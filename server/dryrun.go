package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/automation"
	"depot/mft"
)

// dryRunRequest is the body of POST /admin/automations/:id/dry_run: a
// storage path or an audit event's id to run on (neither: a schedule's
// source), and whether to dial the connections.
type dryRunRequest struct {
	Path             string `json:"path" depot:"path"`
	Event            string `json:"event"`
	CheckConnections bool   `json:"check_connections"`
}

// handleAutomationDryRun answers what the automation would do, changing
// nothing: its conditions' verdicts, each action resolved, the files a
// source would pick.
func (s *Server) handleAutomationDryRun(c echo.Context) error {
	ctx := c.Request().Context()
	a, err := s.Automations.FindAutomation(ctx, pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req dryRunRequest
	if c.Request().ContentLength != 0 {
		if err := s.decode(c, "dry_run", &req); err != nil {
			return err
		}
	}
	in := automation.DryRunInput{Path: req.Path, CheckConnections: req.CheckConnections}
	if req.Event != "" {
		if req.Path != "" {
			return mft.Errorf(mft.EINVALID, "Send path or event, not both.")
		}
		ev, err := s.Audit.FindEvent(ctx, req.Event)
		if mft.ErrorCode(err) == mft.ENOTFOUND {
			return mft.Errorf(mft.EINVALID, "event %s is not in the audit log", req.Event)
		} else if err != nil {
			return err
		}
		in.Event = ev
	}
	out, err := s.Engine.DryRun(ctx, a, in)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "dry_run", out)
}
