package server

import (
	"cmp"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/dropzone"
	"depot/filedrop"
	"depot/files"
	"depot/mft"
	"depot/web"
)

// filesURL is the file browser at a folder.
func filesURL(dir string) string { return "/web/files?path=" + url.QueryEscape(dir) }

// parentOf is the folder holding a client path.
func parentOf(p string) string { return path.Dir(path.Clean("/" + p)) }

// statQuery describes the file or folder of ?path= as the caller sees it.
func (s *Server) statQuery(c echo.Context) (mft.FileInfo, error) {
	p, err := pathQuery(c)
	if err != nil {
		return mft.FileInfo{}, err
	}
	return s.Files.Stat(c.Request().Context(), actor(c), p)
}

// handleWebFiles shows a folder: breadcrumbs, its entries sorted as asked,
// and only the actions the user's permissions allow here.
func (s *Server) handleWebFiles(c echo.Context) error {
	dir := cmp.Or(c.QueryParam("path"), "/")
	ctx, a := c.Request().Context(), actor(c)
	list, err := s.Files.List(ctx, a, dir)
	if err != nil {
		return s.renderError(c, err)
	}
	dir, _ = files.CleanPath(dir)
	can, err := s.Files.Allowed(ctx, a, dir, mft.PermUpload, mft.PermMkdir, mft.PermDownload)
	if err != nil {
		return s.renderError(c, err)
	}
	data := web.Files{Path: dir, Sort: c.QueryParam("sort"), Desc: c.QueryParam("desc") == "1",
		CanUpload: can[mft.PermUpload], CanMkdir: can[mft.PermMkdir], CanDownload: can[mft.PermDownload],
		MaxFileSize: caller(c).MaxFileSize << 20}
	admin := caller(c).Role == mft.RoleAdmin
	if admin && dir == "/" {
		data.Internal = c.QueryParam("internal") == "1"
		if !data.Internal {
			n := len(list)
			list = slices.DeleteFunc(list, func(f mft.FileInfo) bool { return internalFolder(f.Path) })
			data.Hidden = len(list) < n
		}
	}
	if data.Sort != "size" && data.Sort != "modified" {
		data.Sort = "name"
	}
	data.Crumbs = []web.Crumb{{Name: "Home", Path: "/"}}
	above := ""
	for _, seg := range strings.Split(dir, "/") { // dir is clean: "/" or "/a/b"
		if seg != "" {
			above += "/" + seg
			data.Crumbs = append(data.Crumbs, web.Crumb{Name: seg, Path: above})
		}
	}
	sortEntries(list, data.Sort, data.Desc)
	paths := make([]string, len(list))
	for i, f := range list {
		paths[i] = f.Path
	}
	each, err := s.Files.AllowedEach(ctx, a, paths, mft.PermRename, mft.PermDelete, mft.PermShare, mft.PermDownload)
	if err != nil {
		return s.renderError(c, err)
	}
	for i, f := range list {
		e := web.Entry{Name: f.Name, Path: f.Path, Folder: f.Type == mft.TypeFolder, Bytes: f.Size,
			Modified: f.ModifiedAt.UTC().Format("2006-01-02 15:04"), ISO: f.ModifiedAt.UTC().Format(time.RFC3339),
			CanRename: each[i][mft.PermRename], CanDelete: each[i][mft.PermDelete], CanShare: each[i][mft.PermShare],
			CanDownload: each[i][mft.PermDownload]}
		if admin && topLevel(f.Path) { // the tree's own folders: not from a browser
			e.CanRename, e.CanDelete = false, false
		}
		if !e.Folder {
			e.Size = humanSize(f.Size)
		}
		data.Entries = append(data.Entries, e)
	}
	title := "Files"
	if dir != "/" {
		title = path.Base(dir)
	}
	return s.render(c, http.StatusOK, "files", web.Page{Title: title, Nav: "files", Data: data})
}

// sortEntries orders a listing by name, size or time, folders first.
func sortEntries(list []mft.FileInfo, by string, desc bool) {
	slices.SortStableFunc(list, func(a, b mft.FileInfo) int {
		if a.Type != b.Type {
			return strings.Compare(b.Type, a.Type) // "folder" before "file"
		}
		var n int
		switch by {
		case "size":
			n = cmp.Compare(a.Size, b.Size)
		case "modified":
			n = a.ModifiedAt.Compare(b.ModifiedAt)
		}
		if n == 0 {
			n = strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name))
		}
		if desc {
			return -n
		}
		return n
	})
}

// handleWebMkdir makes a folder in the folder shown.
func (s *Server) handleWebMkdir(c echo.Context) error {
	dir, name := formValue(c, "path"), strings.TrimSpace(formValue(c, "name"))
	if !files.PlainName(name) {
		return s.done(c, filesURL(dir), "", mft.Errorf(mft.EINVALID, "A folder name cannot be empty, . or .., or contain a slash."))
	}
	_, err := s.Files.Mkdir(c.Request().Context(), actor(c), path.Join("/", dir, name))
	return s.done(c, filesURL(dir), "Folder "+name+" created.", err)
}

// handleWebRenameForm asks for a file's new name or place.
func (s *Server) handleWebRenameForm(c echo.Context) error {
	fi, err := s.statQuery(c)
	if err != nil {
		return s.renderError(c, err)
	}
	ctx, a := c.Request().Context(), actor(c)
	// Offer the folders next to it and above it as places to move to.
	var folders []string
	for dir := parentOf(fi.Path); ; dir = parentOf(dir) {
		folders = append(folders, strings.TrimSuffix(dir, "/")+"/"+fi.Name)
		if dir == "/" {
			break
		}
	}
	if list, err := s.Files.List(ctx, a, parentOf(fi.Path)); err == nil {
		for _, f := range list {
			if f.Type == mft.TypeFolder && f.Path != fi.Path {
				folders = append(folders, f.Path+"/"+fi.Name)
			}
		}
	}
	return s.render(c, http.StatusOK, "rename", web.Page{Title: "Rename " + fi.Name, Nav: "files",
		Data: web.Rename{Path: fi.Path, Name: fi.Name, Folder: fi.Type == mft.TypeFolder, Back: filesURL(parentOf(fi.Path)), Folders: folders}})
}

// handleWebRename renames or moves a file or folder.
func (s *Server) handleWebRename(c echo.Context) error {
	from, to := formValue(c, "from"), strings.TrimSpace(formValue(c, "to"))
	if to == "" {
		return s.done(c, filesURL(parentOf(from)), "", mft.Errorf(mft.EINVALID, "Enter the new path."))
	}
	if !strings.HasPrefix(to, "/") { // a bare name renames in place
		to = path.Join(parentOf(from), to)
	}
	if caller(c).Role == mft.RoleAdmin && topLevel(from) {
		return s.done(c, filesURL(parentOf(from)), "", errTopLevel(from))
	}
	fi, err := s.Files.Rename(c.Request().Context(), actor(c), from, to)
	if err != nil {
		return s.done(c, filesURL(parentOf(from)), "", err)
	}
	return s.done(c, filesURL(parentOf(fi.Path)), path.Base(from)+" is now "+fi.Path+".", nil)
}

// handleWebDeleteForm asks before deleting.
func (s *Server) handleWebDeleteForm(c echo.Context) error {
	fi, err := s.statQuery(c)
	if err != nil {
		return s.renderError(c, err)
	}
	return s.render(c, http.StatusOK, "delete", web.Page{Title: "Delete " + fi.Name, Nav: "files",
		Data: web.Delete{Path: fi.Path, Folder: fi.Type == mft.TypeFolder, Back: filesURL(parentOf(fi.Path))}})
}

// handleWebDelete deletes a file, or a folder with what it holds.
func (s *Server) handleWebDelete(c echo.Context) error {
	p := formValue(c, "path")
	if caller(c).Role == mft.RoleAdmin && topLevel(p) {
		return s.done(c, filesURL(parentOf(p)), "", errTopLevel(p))
	}
	err := s.Files.Remove(c.Request().Context(), actor(c), p, true)
	return s.done(c, filesURL(parentOf(p)), path.Base(p)+" deleted.", err)
}

// topLevel reports whether an administrator's client path is a folder of
// the top of the tree (/users, /buckets, /shared, …), which the browser
// neither renames nor deletes: one click would take every home with it.
func topLevel(p string) bool {
	clean, err := files.CleanPath(p)
	return err == nil && clean != "/" && path.Dir(clean) == "/"
}

func errTopLevel(p string) error {
	return mft.Errorf(mft.EFORBIDDEN, "%s is a top-level folder; it cannot be renamed or deleted from the browser (the API can).", p)
}

// internalFolder reports whether an administrator's root entry is a
// folder Depot keeps for a workflow: the filedrop holding area and the
// dropzones, shown only on request.
func internalFolder(p string) bool {
	return p+"/" == filedrop.HoldingRoot || p+"/" == dropzone.Root
}

// handleWebZip streams the chosen files and folders as one zip archive.
func (s *Server) handleWebZip(c echo.Context) error {
	paths := c.QueryParams()["path"]
	if len(paths) > files.MaxZipEntries {
		return s.renderError(c, mft.Errorf(mft.ETOOLARGE, "Choose at most %d files and folders.", files.MaxZipEntries))
	}
	name := "depot.zip"
	if len(paths) == 1 && path.Base(paths[0]) != "/" {
		name = path.Base(paths[0]) + ".zip"
	}
	w := &lazyZip{c: c, name: name}
	if err := s.Files.Zip(c.Request().Context(), actor(c), paths, w); err != nil {
		if !w.started {
			return s.renderError(c, err)
		}
		s.Logger.Warn("zip download cut short", "err", err, "user", caller(c).ID)
		panic(http.ErrAbortHandler) // the client sees a broken download, not a short zip
	}
	if !w.started {
		w.start()
	}
	return nil
}

// lazyZip sends the zip's headers with its first byte, so that a refusal
// found while walking is still an error page.
type lazyZip struct {
	c       echo.Context
	name    string
	started bool
}

func (z *lazyZip) start() {
	h := z.c.Response().Header()
	h.Set(echo.HeaderContentType, "application/zip")
	h.Set(echo.HeaderContentDisposition, contentDisposition(z.name))
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	z.c.Response().WriteHeader(http.StatusOK)
	z.started = true
}

func (z *lazyZip) Write(p []byte) (int, error) {
	if !z.started {
		z.start()
	}
	return z.c.Response().Write(p)
}
