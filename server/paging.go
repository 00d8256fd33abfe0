package server

import (
	"bytes"
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
	"depot/web"
)

// pageHeaders are set on every browser page and asset.
func pageHeaders(h http.Header) {
	h.Set("Content-Security-Policy", web.CSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
}

// renderFiledropPage serves the filedrop's upload page.
func (s *Server) renderFiledropPage(c echo.Context, f *mft.Filedrop) error {
	var buf bytes.Buffer
	err := web.RenderFiledrop(&buf, web.Filedrop{Name: f.Name, Title: f.Title, Description: f.Description,
		AcceptedFiletypes: f.AcceptedFiletypes, InvalidExtensions: f.InvalidExtensions, MaxFilesize: f.MaxFilesize,
		NeedsPassword: f.PasswordHash != ""})
	if err != nil {
		return err
	}
	pageHeaders(c.Response().Header())
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.HTMLBlob(http.StatusOK, buf.Bytes())
}

var assets = web.Assets()

// handleAssets serves the pages' embedded scripts and styles.
func (s *Server) handleAssets(c echo.Context) error {
	pageHeaders(c.Response().Header())
	c.Response().Header().Set("Cache-Control", "public, max-age=3600")
	assets.ServeHTTP(c.Response(), c.Request())
	return nil
}
