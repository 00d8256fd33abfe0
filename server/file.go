package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"

	"depot/files"
	"depot/mft"
)

func (s *Server) fileRoutes(g *echo.Group) {
	g.GET("/api/files", s.handleFileList)
	g.GET("/api/files/stat", s.handleFileStat)
	g.GET("/api/files/content", s.handleFileDownload)
	g.HEAD("/api/files/content", s.handleFileDownload)
	g.PUT("/api/files/content", s.handleFileUpload)
	g.POST("/api/files/rename", s.handleFileRename)
	g.DELETE("/api/files", s.handleFileDelete)
	g.POST("/api/folders", s.handleFolderCreate)
}

// actor is the caller as the file service sees it.
func actor(c echo.Context) files.Actor {
	return files.Actor{User: caller(c), Protocol: mft.AuditAPI, IP: clientIP(c).String()}
}

// pathQuery returns the required ?path= parameter.
func pathQuery(c echo.Context) (string, error) {
	p := c.QueryParam("path")
	if p == "" {
		return "", mft.Errorf(mft.EMALFORMED, "The path query parameter is required, such as ?path=/reports/q1.csv.")
	}
	return p, nil
}

// boolQuery reads an optional true/false query parameter.
func boolQuery(c echo.Context, name string, def bool) (bool, error) {
	v := c.QueryParam(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, mft.Errorf(mft.EMALFORMED, "%s must be true or false.", name)
	}
	return b, nil
}

func (s *Server) handleFileList(c echo.Context) error {
	p := c.QueryParam("path")
	if p == "" {
		p = "/"
	}
	list, err := s.Files.List(c.Request().Context(), actor(c), p)
	if err != nil {
		return err
	}
	out := make([]map[string]mft.FileInfo, len(list))
	for i, f := range list {
		out[i] = map[string]mft.FileInfo{"file": f}
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) handleFileStat(c echo.Context) error {
	p, err := pathQuery(c)
	if err != nil {
		return err
	}
	fi, err := s.Files.Stat(c.Request().Context(), actor(c), p)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "file", fi)
}

// handleFileDownload serves a file as an attachment with Range, ETag and
// If-None-Match support, straight from the open file (sendfile-friendly).
func (s *Server) handleFileDownload(c echo.Context) error {
	p, err := pathQuery(c)
	if err != nil {
		return err
	}
	f, fi, err := s.Files.Open(c.Request().Context(), actor(c), p)
	if err != nil {
		return err
	}
	defer f.Close()
	h := c.Response().Header()
	h.Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModifiedAt.Unix(), fi.Size))
	h.Set(echo.HeaderContentDisposition, "attachment; filename*=UTF-8''"+url.PathEscape(fi.Name))
	h.Set(echo.HeaderContentType, "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(c.Response(), c.Request(), "", fi.ModifiedAt, f)
	return nil
}

// handleFileUpload streams the raw body to the file service: no buffering,
// limits enforced as the bytes arrive.
func (s *Server) handleFileUpload(c echo.Context) error {
	p, err := pathQuery(c)
	if err != nil {
		return err
	}
	overwrite, err := boolQuery(c, "overwrite", true)
	if err != nil {
		return err
	}
	r := c.Request()
	opts := files.UploadOptions{Overwrite: overwrite, Size: r.ContentLength}
	var (
		fi            mft.FileInfo
		done          = true
		prog          files.Chunk
		chunk, chunks int
	)
	if c.QueryParam("chunks") != "" || c.QueryParam("chunk") != "" {
		if chunk, chunks, err = chunkQuery(c); err != nil {
			return err
		}
		fi, prog, done, err = s.Files.UploadChunk(r.Context(), actor(c), p, r.Body, chunk, chunks, opts)
	} else {
		fi, err = s.Files.Upload(r.Context(), actor(c), p, r.Body, opts)
	}
	switch {
	case err == nil && !done:
		return writeOne(c, http.StatusAccepted, "chunk", prog)
	case err != nil:
		if code := mft.ErrorCode(err); code == mft.ETOOLARGE || code == mft.EQUOTA {
			c.Response().Header().Set("Connection", "close") // do not read the rest of a refused body
		}
		return err
	}
	return writeOne(c, http.StatusCreated, "file", fi)
}

// chunkQuery reads the chunk and chunks parameters of a piece of a
// chunked upload (LiquidFiles semantics: chunk counts from 0).
func chunkQuery(c echo.Context) (chunk, chunks int, err error) {
	chunks, err1 := strconv.Atoi(c.QueryParam("chunks"))
	chunk, err2 := strconv.Atoi(c.QueryParam("chunk"))
	if err1 != nil || err2 != nil {
		return 0, 0, mft.Errorf(mft.EMALFORMED, "A chunked upload needs both chunk (from 0) and chunks (the number of pieces) as whole numbers.")
	}
	return chunk, chunks, nil
}

type renameRequest struct {
	From string `json:"from"`
	To   string `json:"to"`
}

func (s *Server) handleFileRename(c echo.Context) error {
	var req renameRequest
	if err := s.decode(c, "rename", &req); err != nil {
		return err
	}
	if req.From == "" || req.To == "" {
		return mft.Errorf(mft.EINVALID, "from and to are required.")
	}
	fi, err := s.Files.Rename(c.Request().Context(), actor(c), req.From, req.To)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "file", fi)
}

func (s *Server) handleFileDelete(c echo.Context) error {
	p, err := pathQuery(c)
	if err != nil {
		return err
	}
	recursive, err := boolQuery(c, "recursive", false)
	if err != nil {
		return err
	}
	if err := s.Files.Remove(c.Request().Context(), actor(c), p, recursive); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}

type folderRequest struct {
	Path string `json:"path"`
}

func (s *Server) handleFolderCreate(c echo.Context) error {
	var req folderRequest
	if err := s.decode(c, "folder", &req); err != nil {
		return err
	}
	if req.Path == "" {
		return mft.Errorf(mft.EINVALID, "path is required.")
	}
	fi, err := s.Files.Mkdir(c.Request().Context(), actor(c), req.Path)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "file", fi)
}
