package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"depot/dropzone"
	"depot/mft"
)

type dropzoneRequest struct {
	Name *string  `json:"name"`
	GB   *float64 `json:"gb"`
	Days *int     `json:"days"`
}

func (r dropzoneRequest) input() dropzone.Input {
	return dropzone.Input{Name: r.Name, GB: r.GB, Days: r.Days}
}

type dropzoneView struct {
	ID        string  `json:"id"`
	Name      string  `json:"name"`
	Owner     string  `json:"owner"`
	GB        float64 `json:"gb"`
	Days      int     `json:"days"`
	UsedBytes int64   `json:"used_bytes"`
	ExpiresAt string  `json:"expires_at"`
	CreatedAt string  `json:"created_at"`
	Token     string  `json:"token,omitempty"`
}

func (s *Server) newDropzoneView(c echo.Context, d *mft.Dropzone, token string) dropzoneView {
	used, _ := s.Dropzones.UsedBytes(c.Request().Context(), d.ID)
	return dropzoneView{ID: d.ID, Name: d.Name, Owner: d.Owner, GB: d.GB, Days: d.Days, UsedBytes: used,
		ExpiresAt: d.ExpiresAt.UTC().Format(timeFormat), CreatedAt: d.CreatedAt.UTC().Format(timeFormat), Token: token}
}

// dropzoneFileView is a file as the Dropzone API shows it (_id, name,
// type, size, meta) with Depot's own fields beside; meta repeats what
// Depot knows of the file beyond the four.
type dropzoneFileView struct {
	ID          string           `json:"id"`
	IDAlias     string           `json:"_id"` // the Dropzone API's name for id
	Name        string           `json:"name"`
	Type        string           `json:"type"`
	Size        int64            `json:"size"`
	Meta        dropzoneFileMeta `json:"meta"`
	Status      string           `json:"status"`
	SHA256      string           `json:"sha256,omitempty"`
	UploadURL   string           `json:"upload_url,omitempty"`
	CreatedAt   string           `json:"created_at"`
	ConfirmedAt string           `json:"confirmed_at,omitempty"`
}

type dropzoneFileMeta struct {
	Status      string `json:"status"`
	SHA256      string `json:"sha256,omitempty"`
	CreatedAt   string `json:"created_at"`
	ConfirmedAt string `json:"confirmed_at,omitempty"`
}

func newDropzoneFileView(f *mft.DropzoneFile) dropzoneFileView {
	m := dropzoneFileMeta{Status: f.Status, SHA256: f.SHA256, CreatedAt: f.CreatedAt.UTC().Format(timeFormat)}
	if f.ConfirmedAt != nil {
		m.ConfirmedAt = f.ConfirmedAt.UTC().Format(timeFormat)
	}
	return dropzoneFileView{ID: f.ID, IDAlias: f.ID, Name: f.Name, Type: f.Type, Size: f.Size, Meta: m,
		Status: m.Status, SHA256: m.SHA256, CreatedAt: m.CreatedAt, ConfirmedAt: m.ConfirmedAt}
}

func (s *Server) handleDropzoneList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Dropzones.List(c.Request().Context(), caller(c), p)
	if err != nil {
		return err
	}
	views := make([]dropzoneView, len(list))
	last := ""
	for i, d := range list {
		views[i], last = s.newDropzoneView(c, d, ""), d.ID
	}
	return writeList(s, c, "dropzone", views, p, more, last)
}

// handleDropzoneCreate answers with the dropzone's token, shown this once.
func (s *Server) handleDropzoneCreate(c echo.Context) error {
	var req dropzoneRequest
	if err := s.decodeCreate(c, "dropzone", &req, dropzoneView{}); err != nil {
		return err
	}
	d, token, err := s.Dropzones.Create(s.changeContext(c), caller(c).ID, req.input())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeOne(c, http.StatusCreated, "dropzone", s.newDropzoneView(c, d, token))
}

func (s *Server) handleDropzoneAdminView(c echo.Context) error {
	d, err := s.Dropzones.Owned(c.Request().Context(), caller(c), pathParam(c, "id"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "dropzone", s.newDropzoneView(c, d, ""))
}

// handleDropzoneExtend raises gb and/or days; neither may shrink.
func (s *Server) handleDropzoneExtend(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.Dropzones.Owned(ctx, caller(c), pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req dropzoneRequest
	if err := s.decodeUpdate(c, "dropzone", &req, s.newDropzoneView(c, d, "")); err != nil {
		return err
	}
	if err := s.Dropzones.Extend(s.changeContext(c), d, req.input()); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "dropzone", s.newDropzoneView(c, d, ""))
}

// tokenDropzone authenticates a request by the dropzone token (basic-auth
// user or Bearer) of the path's dropzone; a wrong token counts toward a
// ban.
func (s *Server) tokenDropzone(c echo.Context) (*mft.Dropzone, error) {
	ip := clientIP(c)
	if err := s.Auth.CheckBan(ip); err != nil {
		return nil, err
	}
	token, ok := credentials(c.Request())
	if !ok {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "Send the dropzone's token as the basic-auth user or a Bearer token.")
	}
	done, err := s.Auth.Guard(c.Request().Context(), ip)
	if err != nil {
		return nil, err
	}
	d, err := s.Dropzones.ByToken(c.Request().Context(), pathParam(c, "id"), token)
	done(err == dropzone.ErrWrongToken, "dropzone:"+pathParam(c, "id"), mft.AuditAPI, "wrong dropzone token")
	return d, err
}

func (s *Server) handleDropzoneView(c echo.Context) error {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "dropzone", s.newDropzoneView(c, d, ""))
}

func (s *Server) handleDropzoneFiles(c echo.Context) error {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return err
	}
	list, err := s.Dropzones.ListFiles(c.Request().Context(), d)
	if err != nil {
		return err
	}
	out := make([]map[string]dropzoneFileView, len(list))
	for i, f := range list {
		out[i] = map[string]dropzoneFileView{"file": newDropzoneFileView(f)}
	}
	return c.JSON(http.StatusOK, out)
}

type dropzoneFileRequest struct {
	Name string `json:"name"`
	Type string `json:"type"`
	Size *int64 `json:"size"`
}

// handleDropzoneReserve reserves size bytes for a file and answers with
// an upload URL signed for exactly that file.
func (s *Server) handleDropzoneReserve(c echo.Context) error {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return err
	}
	var req dropzoneFileRequest
	if err := s.decode(c, "file", &req); err != nil {
		return err
	}
	f, err := s.Dropzones.Reserve(c.Request().Context(), d, req.Name, req.Type, req.Size)
	if err != nil {
		return err
	}
	v := newDropzoneFileView(f)
	v.UploadURL = s.dropzoneUploadURL(f)
	return writeOne(c, http.StatusCreated, "file", v)
}

// dropzoneUploadURL is the signed URL that takes exactly f's bytes, for
// an hour: both dialects hand it out.
func (s *Server) dropzoneUploadURL(f *mft.DropzoneFile) string {
	return s.PublicURL + "/api/dropzones/" + f.Dropzone + "/files/" + f.ID + "/upload?" + s.Dropzones.UploadQuery(f)
}

// handleDropzoneUpload takes the bytes of a reserved file through its
// signed URL: exactly the reserved size, or 400 and nothing kept.
func (s *Server) handleDropzoneUpload(c echo.Context) error {
	f, err := s.Dropzones.Receive(c.Request().Context(), pathParam(c, "id"), pathParam(c, "file"),
		c.QueryParam("expires"), c.QueryParam("signature"), s.minRate(c), c.Request().ContentLength, from(c, mft.AuditAPI))
	if err != nil {
		return refuseBody(c, err)
	}
	return writeOne(c, http.StatusOK, "file", newDropzoneFileView(f))
}

func (s *Server) tokenFile(c echo.Context) (*mft.Dropzone, *mft.DropzoneFile, error) {
	d, err := s.tokenDropzone(c)
	if err != nil {
		return nil, nil, err
	}
	f, err := s.Dropzones.File(c.Request().Context(), d, pathParam(c, "file"))
	return d, f, err
}

func (s *Server) handleDropzoneFile(c echo.Context) error {
	_, f, err := s.tokenFile(c)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "file", newDropzoneFileView(f))
}

// handleDropzoneConfirm makes an uploaded file available.
func (s *Server) handleDropzoneConfirm(c echo.Context) error {
	d, f, err := s.tokenFile(c)
	if err != nil {
		return err
	}
	if err := s.Dropzones.Confirm(c.Request().Context(), d, f, from(c, mft.AuditAPI)); err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "file", newDropzoneFileView(f))
}

// dropzoneFileFinder finds and authorizes the request's dropzone file:
// by the path's dropzone and its token (tokenFile), or by the file alone
// and either key (dzFileOf).
type dropzoneFileFinder func(echo.Context) (*mft.Dropzone, *mft.DropzoneFile, error)

// downloadDropzoneFile serves a confirmed file's bytes.
func (s *Server) downloadDropzoneFile(find dropzoneFileFinder) echo.HandlerFunc {
	return func(c echo.Context) error {
		_, f, err := find(c)
		if err != nil {
			return err
		}
		fh, fi, err := s.Dropzones.Open(f)
		if err != nil {
			return err
		}
		defer fh.Close()
		serveDownload(c, fh, f.Name, fi.ModTime())
		return nil
	}
}

// deleteDropzoneFile removes a file and frees its bytes, with the
// Dropzone API's answer.
func (s *Server) deleteDropzoneFile(find dropzoneFileFinder) echo.HandlerFunc {
	return func(c echo.Context) error {
		_, f, err := find(c)
		if err != nil {
			return err
		}
		if err := s.Dropzones.DeleteFile(c.Request().Context(), f); err != nil {
			return err
		}
		return c.JSON(http.StatusOK, dzMessage{Status: "success", Message: "File deleted successfully."})
	}
}

// handleDropzoneRemove deletes a dropzone with its files.
func (s *Server) handleDropzoneRemove(c echo.Context) error {
	ctx := c.Request().Context()
	d, err := s.Dropzones.Owned(ctx, caller(c), pathParam(c, "id"))
	if err != nil {
		return err
	}
	if err := s.Dropzones.Delete(s.changeContext(c), d); err != nil {
		return err
	}
	return c.NoContent(http.StatusOK)
}
