package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// folderRuleRequest is the body of POST and PUT /admin/folders.
type folderRuleRequest struct {
	Path              *string   `json:"path" depot:"path"`
	AllowedExtensions *[]string `json:"allowed_extensions"`
	BlockedExtensions *[]string `json:"blocked_extensions"`
	MaxFileSize       *int64    `json:"max_file_size"`
	QuotaMB           *int64    `json:"quota_mb"`
	RetentionDays     *int      `json:"retention_days"`
}

func (r *folderRuleRequest) update() mft.FolderUpdate {
	return mft.FolderUpdate{AllowedExtensions: r.AllowedExtensions, BlockedExtensions: r.BlockedExtensions,
		MaxFileSize: r.MaxFileSize, QuotaMB: r.QuotaMB, RetentionDays: r.RetentionDays}
}

func (s *Server) handleFolderRuleList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Folders.FindFolders(c.Request().Context(), p)
	if err != nil {
		return err
	}
	last := ""
	if len(list) > 0 {
		last = list[len(list)-1].ID
	}
	return writeList(s, c, "folder", viewsOf(list, newFolderView), p, more, last)
}

func (s *Server) handleFolderRuleCreate(c echo.Context) error {
	var req folderRuleRequest
	if err := s.decodeCreate(c, "folder", &req, folderView{}); err != nil {
		return err
	}
	if req.Path == nil {
		return mft.Errorf(mft.EINVALID, "path is required, such as /shared/reports")
	}
	f := &mft.Folder{Path: *req.Path}
	f.Apply(req.update())
	if err := s.Folders.CreateFolder(s.changeContext(c), f); err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "folder", newFolderView(f))
}

func (s *Server) handleFolderRuleView(c echo.Context) error {
	f, err := s.Folders.FindFolderByID(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "folder", newFolderView(f))
}

// handleFolderRuleUpdate changes the rules; the path identifies them and
// cannot change.
func (s *Server) handleFolderRuleUpdate(c echo.Context) error {
	id := pathParam(c, "id")
	ctx := c.Request().Context()
	old, err := s.Folders.FindFolderByID(ctx, id)
	if err != nil {
		return err
	}
	var req folderRuleRequest
	if err := s.decodeUpdate(c, "folder", &req, newFolderView(old), "path"); err != nil {
		return err
	}
	f, err := s.Folders.UpdateFolder(s.changeContext(c), id, req.update())
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "folder", newFolderView(f))
}

func (s *Server) handleFolderRuleDelete(c echo.Context) error {
	if err := s.Folders.DeleteFolder(s.changeContext(c), pathParam(c, "id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}
