package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// handleSessionList lists live SFTP and FTPS sessions, oldest first.
func (s *Server) handleSessionList(c echo.Context) error {
	out := []map[string]mft.Session{}
	if s.Sessions != nil {
		for _, sess := range s.Sessions.Sessions() {
			out = append(out, map[string]mft.Session{"session": sess})
		}
	}
	return c.JSON(http.StatusOK, out)
}

// handleSessionEnd closes a live session; its unfinished uploads are
// dropped.
func (s *Server) handleSessionEnd(c echo.Context) error {
	if s.Sessions == nil {
		return mft.Errorf(mft.ENOTFOUND, "Session not found.")
	}
	if err := s.Sessions.EndSession(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}
