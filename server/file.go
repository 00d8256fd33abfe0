package server

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/files"
	"depot/mft"
)

// actor is the caller as the file service sees it.
func actor(c echo.Context) files.Actor {
	protocol := mft.AuditAPI
	if viaWeb(c) {
		protocol = mft.AuditWeb
	}
	return files.Actor{User: caller(c), Protocol: protocol, IP: clientIP(c).String()}
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
	c.Response().Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, fi.ModifiedAt.Unix(), fi.Size))
	serveDownload(c, f, fi.Name, fi.ModifiedAt)
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
	fi, done, err := s.receiveUpload(c, overwrite, func(body io.Reader, opts files.UploadOptions, piece *files.Piece) (mft.FileInfo, files.Chunk, bool, error) {
		return s.Files.Receive(c.Request().Context(), actor(c), p, body, opts, piece)
	})
	if err != nil || !done {
		return err
	}
	return writeOne(c, http.StatusCreated, "file", fi)
}

// receiver stores an upload's body, whole (piece nil) or one piece of a
// chunked upload, as files.Service.Receive does.
type receiver func(body io.Reader, opts files.UploadOptions, piece *files.Piece) (mft.FileInfo, files.Chunk, bool, error)

// receiveUpload hands the request body to receive, whole or as one piece
// of a chunked upload (?chunk=i&chunks=n). A piece that does not complete
// the file is answered here (202 with how far it is), and done is false;
// the caller answers for a complete file. A refusal closes the
// connection, so that the rest of the refused body is not read.
func (s *Server) receiveUpload(c echo.Context, overwrite bool, receive receiver) (fi mft.FileInfo, done bool, err error) {
	opts := files.UploadOptions{Overwrite: overwrite, Size: c.Request().ContentLength}
	var piece *files.Piece
	if c.QueryParam("chunks") != "" || c.QueryParam("chunk") != "" {
		chunk, chunks, err := chunkQuery(c)
		if err != nil {
			return fi, false, err
		}
		piece = &files.Piece{Index: chunk, Count: chunks}
	}
	fi, prog, done, err := receive(s.minRate(c), opts, piece)
	if err == nil && !done {
		err = writeOne(c, http.StatusAccepted, "chunk", prog)
	}
	return fi, done, refuseBody(c, err)
}

// refuseBody closes the connection after a refused upload, so the rest
// of the refused body is not read; it returns err.
func refuseBody(c echo.Context, err error) error {
	if err != nil {
		closeAfter(c)
	}
	return err
}

// closeAfter ends an HTTP/1 connection after this answer, so that the
// rest of a body not read is not read. On HTTP/2 "Connection: close"
// would close every stream of the connection (GOAWAY); the server resets
// the one stream instead, and a client still sending may drop the answer
// with it (curl: exit 18, the answer's words unread). So the rest of a
// body of at most drainLimit bytes is read first, within drainTime; a
// larger one is reset unread.
func closeAfter(c echo.Context) {
	if c.Request().ProtoMajor == 1 {
		c.Response().Header().Set("Connection", "close")
		return
	}
	drainRefused(c)
}

// drainRefused reads the rest of an HTTP/2 request's body before its
// refusal is answered, when it is at most drainLimit bytes.
func drainRefused(c echo.Context) {
	r := c.Request()
	if r.ProtoMajor < 2 || r.Body == nil || r.Body == http.NoBody || r.ContentLength < 0 || r.ContentLength > drainLimit {
		return
	}
	rc := http.NewResponseController(c.Response().Writer)
	_ = rc.SetReadDeadline(time.Now().Add(drainTime))
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainLimit))
	_ = rc.SetReadDeadline(time.Time{})
}

// drainLimit and drainTime bound what closeAfter reads of a refused
// HTTP/2 body: what a stranger can make the server read per refusal.
const (
	drainLimit = 8 << 20
	drainTime  = 5 * time.Second
)

// serveDownload sends an open file as an attachment called name, with
// Range and conditional requests, straight from the file.
func serveDownload(c echo.Context, f io.ReadSeeker, name string, modified time.Time) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentDisposition, contentDisposition(name))
	h.Set(echo.HeaderContentType, "application/octet-stream")
	h.Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(c.Response(), c.Request(), "", modified, f)
}

// filenameQuery returns the required ?filename= of an upload to a public
// page (a filedrop or an upload link).
func filenameQuery(c echo.Context) (string, error) {
	name := c.QueryParam("filename")
	if !files.PlainName(name) {
		return "", mft.Errorf(mft.EMALFORMED, "filename is required and must be a plain file name, such as ?filename=report.pdf.")
	}
	return name, nil
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
	From string `json:"from" depot:"filepath"`
	To   string `json:"to" depot:"filepath"`
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
	Path string `json:"path" depot:"filepath"`
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

// contentDisposition names an attachment for every client: filename= with
// an ASCII fallback (what curl -O -J uses) and filename*= with the UTF-8
// name (RFC 6266).
func contentDisposition(name string) string {
	fallback := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '%' {
			return '_'
		}
		return r
	}, name)
	return `attachment; filename="` + fallback + `"; filename*=UTF-8''` + url.PathEscape(name)
}
