package server

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// handleBackup streams a consistent snapshot of the database, taken in one
// read transaction while the server keeps working.
func (s *Server) handleBackup(c echo.Context) error {
	if s.Backup == nil {
		return mft.Errorf(mft.EINVALID, "The database is PostgreSQL: back it up with pg_dump.")
	}
	name := "depot-" + time.Now().UTC().Format("20060102T150405Z") + ".db"
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "application/octet-stream")
	h.Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	h.Set("Cache-Control", "no-store")
	c.Response().WriteHeader(http.StatusOK)
	n, err := s.Backup(c.Response())
	if err != nil {
		// The status is already sent: abort the connection so the client
		// sees a broken transfer rather than a short file that looks whole.
		s.Logger.Error("backup failed mid-stream", "err", err, "bytes", n)
		panic(http.ErrAbortHandler)
	}
	s.Logger.Info("backup sent", "bytes", n, "by", caller(c).ID)
	s.recordChange(c, mft.EventBackupTaken, name)
	return nil
}
