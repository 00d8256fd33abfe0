package server

import (
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"depot/filedrop"
	"depot/files"
	"depot/mft"
)

// publicFiledrop is what a sender learns of a filedrop, with the upload
// key of their submission.
type publicFiledrop struct {
	Name              string `json:"name"`
	Title             string `json:"title"`
	Description       string `json:"description"`
	APIKey            string `json:"api_key"`
	AcceptedFiletypes string `json:"accepted_filetypes"`
	InvalidExtensions string `json:"invalid_extensions"`
	MaxFilesize       int64  `json:"max_filesize"`
	RequireValidation bool   `json:"require_validation"`
	PasswordProtected bool   `json:"password_protected"`
	ExpiresAt         string `json:"expires_at"`
}

// handleFiledropPage serves the upload page, or (Accept: application/json)
// the filedrop with a fresh upload key, which a password-protected
// filedrop gives only for its password (basic-auth password or ?password).
func (s *Server) handleFiledropPage(c echo.Context) error {
	ctx := c.Request().Context()
	f, err := s.Filedrops.Find(ctx, pathParam(c, "name"))
	if err != nil {
		return err
	}
	if !strings.Contains(c.Request().Header.Get("Accept"), "application/json") {
		return s.renderFiledropPage(c, f)
	}
	ip := clientIP(c)
	if err := s.Auth.CheckBan(ip); err != nil {
		return err
	}
	if err := s.pagePassword(c, f.PasswordHash, "filedrop", f.Name); err != nil {
		return err
	}
	sub, key, err := s.Filedrops.Open(ctx, f, ip.String())
	if err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeOne(c, http.StatusOK, "filedrop", publicFiledrop{Name: f.Name, Title: f.Title, Description: f.Description,
		APIKey: key, AcceptedFiletypes: f.AcceptedFiletypes, InvalidExtensions: f.InvalidExtensions,
		MaxFilesize: f.MaxFilesize, RequireValidation: f.RequireValidation, PasswordProtected: f.PasswordHash != "",
		ExpiresAt: sub.ExpiresAt.UTC().Format(timeFormat)})
}

// submission authenticates a request by its upload key (basic-auth user
// or Bearer); a key never handed out counts toward a ban.
func (s *Server) submission(c echo.Context) (*mft.Filedrop, *mft.Submission, error) {
	if err := s.Auth.CheckBan(clientIP(c)); err != nil {
		return nil, nil, err
	}
	name := pathParam(c, "name")
	key, ok := credentials(c.Request())
	if !ok {
		if _, err := s.Filedrops.Find(c.Request().Context(), name); err != nil {
			return nil, nil, err
		}
		return nil, nil, mft.Errorf(mft.EUNAUTHORIZED, "Send the api_key from GET /filedrop/%s as the basic-auth user.", name)
	}
	done, err := s.Auth.Guard(c.Request().Context(), clientIP(c))
	if err != nil {
		return nil, nil, err
	}
	f, sub, err := s.Filedrops.Submission(c.Request().Context(), name, key)
	done(mft.ErrorCode(err) == mft.EUNAUTHORIZED, "filedrop:"+name, mft.AuditWeb, "unknown filedrop upload key")
	return f, sub, err
}

type attachmentView struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	Checksum    string `json:"checksum"`
	ContentType string `json:"content_type"`
	URL         string `json:"url,omitempty"`
}

func newAttachmentView(a mft.Attachment) attachmentView {
	return attachmentView{ID: a.ID, Filename: a.Filename, Size: a.Size, Checksum: a.Checksum, ContentType: a.ContentType}
}

// handleFiledropUpload stores one file (or one piece of it) of a
// submission; the complete file is answered as an attachment.
func (s *Server) handleFiledropUpload(c echo.Context) error {
	f, sub, err := s.submission(c)
	if err != nil {
		return err
	}
	name, err := filenameQuery(c)
	if err != nil {
		return err
	}
	var att mft.Attachment
	_, done, err := s.receiveUpload(c, true, func(body io.Reader, opts files.UploadOptions, piece *files.Piece) (fi mft.FileInfo, prog files.Chunk, done bool, err error) {
		att, prog, done, err = s.Filedrops.Upload(c.Request().Context(), f, sub, name, body, opts, piece, from(c, mft.AuditWeb))
		return fi, prog, done, err
	})
	if err != nil || !done {
		return err
	}
	return writeOne(c, http.StatusCreated, "attachment", newAttachmentView(att))
}

type deliverRequest struct {
	From        string   `json:"from"`
	Subject     string   `json:"subject"`
	Message     string   `json:"message" depot:"text"`
	Attachments []string `json:"attachments"`
}

// handleFiledropDeliver delivers a submission's attachments to the owner.
func (s *Server) handleFiledropDeliver(c echo.Context) error {
	f, sub, err := s.submission(c)
	if err != nil {
		return err
	}
	var req deliverRequest
	if err := s.decode(c, "message", &req); err != nil {
		return err
	}
	m, err := s.Filedrops.Deliver(c.Request().Context(), f, sub, filedrop.Delivery{From: req.From, Subject: req.Subject,
		Message: req.Message, Attachments: req.Attachments}, from(c, mft.AuditWeb))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "message", s.newMessageView(m))
}

type validationRequest struct {
	Email string `json:"email"`
	Code  string `json:"code"`
}

type validationView struct {
	Email     string `json:"email"`
	Sent      bool   `json:"sent,omitempty"`
	Validated bool   `json:"validated"`
}

// handleFiledropValidation sends a code to the sender's address
// ({"email"}), or confirms the address with the code ({"email","code"}).
func (s *Server) handleFiledropValidation(c echo.Context) error {
	f, sub, err := s.submission(c)
	if err != nil {
		return err
	}
	var req validationRequest
	if err := s.decode(c, "validation", &req); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if req.Code == "" {
		email, err := s.Filedrops.SendCode(ctx, f, sub, req.Email)
		if err != nil {
			return err
		}
		return writeOne(c, http.StatusAccepted, "validation", validationView{Email: email, Sent: true})
	}
	done, err := s.Auth.Guard(ctx, clientIP(c))
	if err != nil {
		return err
	}
	email, err := s.Filedrops.ConfirmCode(ctx, f, sub, req.Email, req.Code)
	done(err == filedrop.ErrWrongCode, "filedrop:"+f.Name, mft.AuditWeb, "wrong validation code")
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "validation", validationView{Email: email, Validated: true})
}
