package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/mft"
)

// The Dropzone API as its own clients call it (seed 002 and the
// dropzonehub SDK): every route under dzPrefix, the key in x-api-key,
// answers as {"status":"success","data":…} and errors as
// {"status":"error","message":…} (dzMessage). The key is either a Depot
// user's API key, which may create dropzones and use every dropzone its
// user owns (an administrator's: every dropzone), or one dropzone's token,
// which uses that dropzone only. Same dropzone service as /api/dropzones.

// dzPrefix starts the routes of the Dropzone dialect.
const dzPrefix = "/dropzone/api/v1"

// dzTime is how the Dropzone API writes times (JavaScript's toJSON).
const dzTime = "2006-01-02T15:04:05.000Z"

type dzZone struct {
	ID              string  `json:"_id"`
	Name            string  `json:"name"`
	MaxSize         int64   `json:"maxSize"`
	UsedSpace       int64   `json:"usedSpace"`
	MaxSizeGb       float64 `json:"maxSizeGb"`
	MaxDurationDays int     `json:"maxDurationDays"`
	DeleteTime      string  `json:"deleteTime"`
	UploadURL       string  `json:"uploadUrl"`
	CreatedAt       string  `json:"createdAt"`
	UpdatedAt       string  `json:"updatedAt"`
	// Token is the dropzone's own key, shown once when it is created.
	Token string `json:"token,omitempty"`
}

type dzFile struct {
	ID   string     `json:"_id"`
	Name string     `json:"name"`
	Type string     `json:"type"`
	Size int64      `json:"size"`
	Meta dzFileMeta `json:"meta"`
}

type dzFileMeta struct {
	DropZoneID string `json:"dropZoneId"`
	CreatedAt  string `json:"createdAt"`
	// S3Status is "uploaded" once the file is confirmed (the SDK's
	// isUploaded), "pending" before.
	S3Status    string `json:"s3Status"`
	Received    bool   `json:"received"`
	SHA256      string `json:"sha256,omitempty"`
	ConfirmedAt string `json:"confirmedAt,omitempty"`
}

// dzFileAnswer is a file as both of the API's readers take it: the seed's
// samples show the bare file, the SDK reads it under data.
type dzFileAnswer struct {
	dzFile
	Status string `json:"status"`
	Data   dzFile `json:"data"`
}

// dzReservation is what a request for an upload URL answers.
type dzReservation struct {
	dzFile
	FileID    string `json:"fileId"`
	SignedURL string `json:"signedUrl"`
}

// dzMessage is an answer without data: an error's or a deletion's.
type dzMessage struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// dzDialect tells whether a request is the Dropzone dialect's.
func dzDialect(c echo.Context) bool {
	return strings.HasPrefix(c.Request().URL.Path, dzPrefix+"/")
}

func dzSuccess(c echo.Context, status int, data any) error {
	return c.JSON(status, map[string]any{"status": "success", "data": data})
}

func dzStamp(t time.Time) string { return t.UTC().Format(dzTime) }

func (s *Server) newDzZone(c echo.Context, d *mft.Dropzone, token string) (dzZone, error) {
	used, err := s.Dropzones.UsedBytes(c.Request().Context(), d.ID)
	updated := d.UpdatedAt
	if updated.IsZero() {
		updated = d.CreatedAt
	}
	return dzZone{ID: d.ID, Name: d.Name, MaxSize: d.Limit(), UsedSpace: used, MaxSizeGb: d.GB, MaxDurationDays: d.Days,
		DeleteTime: dzStamp(d.ExpiresAt), UploadURL: s.PublicURL + dzPrefix + "/dropzones/" + d.ID + "/files",
		CreatedAt: dzStamp(d.CreatedAt), UpdatedAt: dzStamp(updated), Token: token}, err
}

func newDzFile(f *mft.DropzoneFile) dzFile {
	m := dzFileMeta{DropZoneID: f.Dropzone, CreatedAt: dzStamp(f.CreatedAt), S3Status: "pending", Received: f.Uploaded, SHA256: f.SHA256}
	if f.Status == mft.DropzoneAvailable {
		m.S3Status = "uploaded"
	}
	if f.ConfirmedAt != nil {
		m.ConfirmedAt = dzStamp(*f.ConfirmedAt)
	}
	return dzFile{ID: f.ID, Name: f.Name, Type: f.Type, Size: f.Size, Meta: m}
}

// dzKey is who a request's x-api-key is: a dropzone's token (zone) or a
// Depot user's API key (user).
type dzKey struct {
	user *mft.User
	zone *mft.Dropzone
}

// dzAuth resolves the request's key; a key that is neither counts toward
// the defender's ban, once.
func (s *Server) dzAuth(c echo.Context) (dzKey, error) {
	ctx := c.Request().Context()
	if err := s.Auth.CheckBan(clientIP(c)); err != nil {
		return dzKey{}, err
	}
	key, ok := credentials(c.Request())
	if !ok {
		return dzKey{}, mft.Errorf(mft.EUNAUTHORIZED, "Send an API key or a dropzone's token in the x-api-key header.")
	}
	if d, err := s.Dropzones.FindByToken(ctx, key); err == nil {
		return dzKey{zone: d}, nil
	}
	u, err := s.Auth.AuthenticateKey(ctx, key, clientIP(c), mft.ProtocolAPI)
	return dzKey{user: u}, err
}

// dzZoneOf returns dropzone id if the request's key opens it and it can
// be used (not expired, its owner still active).
func (s *Server) dzZoneOf(c echo.Context, id string) (*mft.Dropzone, error) {
	k, err := s.dzAuth(c)
	if err != nil {
		return nil, err
	}
	return s.dzOpen(c, k, id)
}

func (s *Server) dzOpen(c echo.Context, k dzKey, id string) (*mft.Dropzone, error) {
	ctx := c.Request().Context()
	d := k.zone
	if d == nil {
		var err error
		if d, err = s.Dropzones.Owned(ctx, k.user, id); err != nil {
			return nil, err
		}
	} else if d.ID != id {
		return nil, mft.Errorf(mft.ENOTFOUND, "Dropzone not found.")
	}
	return d, s.Dropzones.Usable(ctx, d)
}

// dzFileOf returns file id if the request's key opens its dropzone.
func (s *Server) dzFileOf(c echo.Context) (*mft.Dropzone, *mft.DropzoneFile, error) {
	k, err := s.dzAuth(c)
	if err != nil {
		return nil, nil, err
	}
	d, f, err := s.Dropzones.FileByID(c.Request().Context(), pathParam(c, "file"))
	if err != nil {
		return nil, nil, err
	}
	if d, err = s.dzOpen(c, k, d.ID); mft.ErrorCode(err) == mft.ENOTFOUND {
		err = mft.Errorf(mft.ENOTFOUND, "File not found.")
	}
	return d, f, err
}

// handleDzCreate creates a dropzone, or extends the caller's dropzone of
// the same name (the SDK's createDropzone): 201 with the new dropzone's
// token, or 200.
func (s *Server) handleDzCreate(c echo.Context) error {
	k, err := s.dzAuth(c)
	if err != nil {
		return err
	}
	if k.user == nil {
		return mft.Errorf(mft.EFORBIDDEN, "A dropzone's token cannot create dropzones; use a Depot API key.")
	}
	var req dropzoneRequest
	if err := s.decode(c, "dropzone", &req); err != nil {
		return err
	}
	c.Set(ctxUser, k.user) // the actor of the change's audit record
	d, token, created, err := s.Dropzones.Ensure(s.changeContext(c), k.user.ID, req.input())
	if err != nil {
		return err
	}
	v, err := s.newDzZone(c, d, token)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		c.Response().Header().Set("Cache-Control", "no-store")
	}
	return dzSuccess(c, status, v)
}

// handleDzUpdate raises gb and/or days (the seed's "Update a dropzone"),
// with the owner's API key.
func (s *Server) handleDzUpdate(c echo.Context) error {
	k, err := s.dzAuth(c)
	if err != nil {
		return err
	}
	if k.user == nil {
		return mft.Errorf(mft.EFORBIDDEN, "A dropzone's token cannot change its dropzone; use its owner's API key.")
	}
	d, err := s.Dropzones.Owned(c.Request().Context(), k.user, pathParam(c, "id"))
	if err != nil {
		return err
	}
	var req dropzoneRequest
	if err := s.decode(c, "dropzone", &req); err != nil {
		return err
	}
	c.Set(ctxUser, k.user)
	if err := s.Dropzones.Extend(s.changeContext(c), d, req.input()); err != nil {
		return err
	}
	v, err := s.newDzZone(c, d, "")
	if err != nil {
		return err
	}
	return dzSuccess(c, http.StatusOK, v)
}

func (s *Server) handleDzView(c echo.Context) error {
	d, err := s.dzZoneOf(c, pathParam(c, "id"))
	if err != nil {
		return err
	}
	v, err := s.newDzZone(c, d, "")
	if err != nil {
		return err
	}
	return dzSuccess(c, http.StatusOK, v)
}

func (s *Server) handleDzFiles(c echo.Context) error {
	d, err := s.dzZoneOf(c, pathParam(c, "id"))
	if err != nil {
		return err
	}
	list, err := s.Dropzones.ListFiles(c.Request().Context(), d)
	if err != nil {
		return err
	}
	out := make([]dzFile, len(list))
	for i, f := range list {
		out[i] = newDzFile(f)
	}
	return dzSuccess(c, http.StatusOK, out)
}

// handleDzReserve reserves a file's size and answers with its id and the
// URL that takes exactly its bytes, for an hour.
func (s *Server) handleDzReserve(c echo.Context) error {
	d, err := s.dzZoneOf(c, pathParam(c, "id"))
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
	return dzSuccess(c, http.StatusCreated, dzReservation{dzFile: newDzFile(f), FileID: f.ID,
		SignedURL: s.dropzoneUploadURL(f)})
}

func (s *Server) dzFileAnswer(c echo.Context, f *mft.DropzoneFile) error {
	v := newDzFile(f)
	return c.JSON(http.StatusOK, dzFileAnswer{dzFile: v, Status: "success", Data: v})
}

func (s *Server) handleDzFile(c echo.Context) error {
	_, f, err := s.dzFileOf(c)
	if err != nil {
		return err
	}
	return s.dzFileAnswer(c, f)
}

// handleDzConfirm makes an uploaded file available; confirming again
// changes nothing.
func (s *Server) handleDzConfirm(c echo.Context) error {
	d, f, err := s.dzFileOf(c)
	if err != nil {
		return err
	}
	if err := s.Dropzones.Confirm(c.Request().Context(), d, f, from(c, mft.AuditAPI)); err != nil {
		return err
	}
	return s.dzFileAnswer(c, f)
}
