package server

import (
	"net/http"
	"path"
	"strconv"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// handleQuarantineList lists the files the antivirus kept out, oldest
// first.
func (s *Server) handleQuarantineList(c echo.Context) error {
	list, err := s.Files.Quarantine()
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(list))
	for i, q := range list {
		out[i] = map[string]any{"quarantined": q}
	}
	return c.JSON(http.StatusOK, out)
}

// handleQuarantineDownload sends a quarantined file as an attachment
// (application/octet-stream, never rendered), for an administrator to
// examine.
func (s *Server) handleQuarantineDownload(c echo.Context) error {
	q, f, err := s.Files.QuarantinedFile(pathParam(c, "id"))
	if err != nil {
		return err
	}
	if f == nil {
		return mft.Errorf(mft.ENOTFOUND, "The bytes of %s were not kept (it was uploaded to mounted storage).", q.Path)
	}
	defer f.Close()
	s.recordChange(c, mft.EventFileDownloaded, q.ID)
	serveDownload(c, f, path.Base(q.Path)+".quarantined", q.Time)
	return nil
}

// handleQuarantineRelease publishes a quarantined file at its path, not
// scanned again (?overwrite=true replaces a file there).
func (s *Server) handleQuarantineRelease(c echo.Context) error {
	overwrite, _ := strconv.ParseBool(c.QueryParam("overwrite"))
	fi, err := s.Files.ReleaseQuarantined(c.Request().Context(), actor(c), pathParam(c, "id"), overwrite)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "file", fi)
}

func (s *Server) handleQuarantineDelete(c echo.Context) error {
	id := pathParam(c, "id")
	if err := s.Files.DeleteQuarantined(id); err != nil {
		return err
	}
	s.recordChange(c, mft.EventQuarantineDeleted, id)
	return c.NoContent(http.StatusOK)
}
