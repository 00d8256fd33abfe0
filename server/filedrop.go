package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"mime"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// SubmissionTTL is how long a filedrop upload key stays valid.
const SubmissionTTL = 24 * time.Hour

// filedropRequest is the body of POST and PUT /admin/filedrops.
type filedropRequest struct {
	Name              *string `json:"name"`
	Title             *string `json:"title"`
	Description       *string `json:"description"`
	Owner             *string `json:"owner"`
	InvalidExtensions *string `json:"invalid_extensions"`
	AcceptedFiletypes *string `json:"accepted_filetypes"`
	ExpiresAfter      *int    `json:"expires_after"`
	MaxFilesize       *int64  `json:"max_filesize"`
	RequireValidation *bool   `json:"require_validation"`
	Password          *string `json:"password"`
	CC                *string `json:"cc"`
	Authorization     *int    `json:"authorization"`
}

// filedropView is what the admin API shows: never the password.
type filedropView struct {
	ID                string `json:"id"`
	Name              string `json:"name"`
	Title             string `json:"title"`
	Description       string `json:"description"`
	Owner             string `json:"owner"`
	InvalidExtensions string `json:"invalid_extensions"`
	AcceptedFiletypes string `json:"accepted_filetypes"`
	ExpiresAfter      int    `json:"expires_after"`
	MaxFilesize       int64  `json:"max_filesize"`
	RequireValidation bool   `json:"require_validation"`
	CC                string `json:"cc"`
	Authorization     int    `json:"authorization"`
	URL               string `json:"url"`
	CreatedAt         string `json:"created_at"`
	UpdatedAt         string `json:"updated_at"`
}

func (s *Server) newFiledropView(f *mft.Filedrop) filedropView {
	return filedropView{ID: f.ID, Name: f.Name, Title: f.Title, Description: f.Description, Owner: f.Owner,
		InvalidExtensions: f.InvalidExtensions, AcceptedFiletypes: f.AcceptedFiletypes, ExpiresAfter: f.ExpiresAfter,
		MaxFilesize: f.MaxFilesize, RequireValidation: f.RequireValidation, CC: f.CC, Authorization: f.Authorization,
		URL: s.PublicURL + "/filedrop/" + f.Name, CreatedAt: f.CreatedAt.Format(timeFormat), UpdatedAt: f.UpdatedAt.Format(timeFormat)}
}

func (s *Server) filedropRoutes(admin *echo.Group, e *echo.Echo, user *echo.Group) {
	admin.GET("/filedrops", s.handleFiledropList)
	admin.POST("/filedrops", s.handleFiledropCreate)
	admin.GET("/filedrops/:name", s.handleFiledropView)
	admin.PUT("/filedrops/:name", s.handleFiledropUpdate)
	admin.PATCH("/filedrops/:name", s.handleFiledropUpdate)
	admin.DELETE("/filedrops/:name", s.handleFiledropDelete)

	e.GET("/filedrop/:name", s.handleFiledropPage)
	e.POST("/filedrop/:name/attachments/upload", s.handleFiledropUpload)
	e.POST("/filedrop/:name", s.handleFiledropDeliver)
	e.POST("/filedrop/:name/validation", s.handleFiledropValidation)

	user.GET("/api/messages", s.handleMessageList)
	user.GET("/api/messages/:id", s.handleMessageView)
	user.GET("/api/messages/:id/files/:file", s.handleMessageDownload)
}

func (s *Server) handleFiledropList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Filedrops.FindFiledrops(c.Request().Context(), p)
	if err != nil {
		return err
	}
	views := make([]filedropView, len(list))
	last := ""
	for i, f := range list {
		views[i], last = s.newFiledropView(f), f.Name
	}
	return writeList(s, c, "filedrop", views, p, more, last)
}

func (s *Server) handleFiledropView(c echo.Context) error {
	f, err := s.Filedrops.FindFiledrop(c.Request().Context(), pathParam(c, "name"))
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "filedrop", s.newFiledropView(f))
}

// update turns the request into a FiledropUpdate, hashing a password and
// checking what the store cannot: the owner and cc are local users, and
// validation needs SMTP.
func (s *Server) filedropUpdate(ctx context.Context, r *filedropRequest) (mft.FiledropUpdate, error) {
	u := mft.FiledropUpdate{Title: r.Title, Description: r.Description, Owner: r.Owner,
		InvalidExtensions: r.InvalidExtensions, AcceptedFiletypes: r.AcceptedFiletypes, ExpiresAfter: r.ExpiresAfter,
		MaxFilesize: r.MaxFilesize, RequireValidation: r.RequireValidation, CC: r.CC, Authorization: r.Authorization}
	if r.Owner != nil && *r.Owner != "" {
		if _, err := s.Users.FindUserByID(ctx, *r.Owner); err != nil {
			return u, mft.Errorf(mft.EINVALID, "owner: no user has the id %q", *r.Owner)
		}
	}
	if r.CC != nil {
		for _, e := range strings.Split(*r.CC, ",") {
			if e = strings.TrimSpace(e); e == "" {
				continue
			}
			if _, err := s.Users.FindUserByEmail(ctx, e); err != nil {
				return u, mft.Errorf(mft.EINVALID, "cc: %q is not the email of a local user", e)
			}
		}
	}
	if r.RequireValidation != nil && *r.RequireValidation && s.Mailer == nil {
		return u, mft.Errorf(mft.EINVALID, "require_validation sends the sender a code by email: set smtp.host in the configuration first")
	}
	if r.Password != nil {
		hash := ""
		if *r.Password != "" {
			if len(*r.Password) < 8 {
				return u, mft.Errorf(mft.EINVALID, "password must be at least 8 characters (or \"\" for none)")
			}
			var err error
			if hash, err = auth.HashPassword(*r.Password); err != nil {
				return u, err
			}
		}
		u.PasswordHash = &hash
	}
	return u, nil
}

func (s *Server) handleFiledropCreate(c echo.Context) error {
	var req filedropRequest
	if err := s.decode(c, "filedrop", &req); err != nil {
		return err
	}
	for _, f := range []struct {
		name    string
		missing bool
	}{{"name", req.Name == nil}, {"title", req.Title == nil}, {"owner", req.Owner == nil}} {
		if f.missing {
			return mft.Errorf(mft.EINVALID, "%s is required (name, title and owner are)", f.name)
		}
	}
	ctx := c.Request().Context()
	upd, err := s.filedropUpdate(ctx, &req)
	if err != nil {
		return err
	}
	f := &mft.Filedrop{Name: *req.Name, ExpiresAfter: mft.DefaultFiledropExpiresAfter,
		MaxFilesize: mft.DefaultFiledropMaxFilesize, Authorization: mft.DefaultFiledropAuthorization}
	f.Apply(upd)
	if err := s.Filedrops.CreateFiledrop(ctx, f); err != nil {
		return err
	}
	s.recordChange(c, mft.EventFiledropCreated, f.ID)
	return writeOne(c, http.StatusCreated, "filedrop", s.newFiledropView(f))
}

func (s *Server) handleFiledropUpdate(c echo.Context) error {
	name := pathParam(c, "name")
	ctx := c.Request().Context()
	if _, err := s.Filedrops.FindFiledrop(ctx, name); err != nil {
		return err
	}
	var req filedropRequest
	if err := s.decode(c, "filedrop", &req); err != nil {
		return err
	}
	if req.Name != nil && *req.Name != name {
		return mft.Errorf(mft.EINVALID, "name cannot change: it is the filedrop's URL; create another filedrop instead")
	}
	upd, err := s.filedropUpdate(ctx, &req)
	if err != nil {
		return err
	}
	f, err := s.Filedrops.UpdateFiledrop(ctx, name, upd)
	if err != nil {
		return err
	}
	s.recordChange(c, mft.EventFiledropUpdated, f.ID)
	return writeOne(c, http.StatusOK, "filedrop", s.newFiledropView(f))
}

func (s *Server) handleFiledropDelete(c echo.Context) error {
	if err := s.Filedrops.DeleteFiledrop(c.Request().Context(), pathParam(c, "name")); err != nil {
		return err
	}
	s.recordChange(c, mft.EventFiledropDeleted, pathParam(c, "name"))
	return c.NoContent(http.StatusOK)
}

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
	f, err := s.Filedrops.FindFiledrop(ctx, pathParam(c, "name"))
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
	key := auth.NewKey()
	sub := &mft.Submission{KeyHash: auth.HashKey(key), Filedrop: f.Name, IP: ip.String(), ExpiresAt: s.Now().Add(SubmissionTTL)}
	if err := s.Submissions.CreateSubmission(ctx, sub); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return writeOne(c, http.StatusOK, "filedrop", publicFiledrop{Name: f.Name, Title: f.Title, Description: f.Description,
		APIKey: key, AcceptedFiletypes: f.AcceptedFiletypes, InvalidExtensions: f.InvalidExtensions,
		MaxFilesize: f.MaxFilesize, RequireValidation: f.RequireValidation, PasswordProtected: f.PasswordHash != "",
		ExpiresAt: sub.ExpiresAt.UTC().Format(timeFormat)})
}

// submission resolves the upload key of a request to its filedrop and
// submission.
func (s *Server) submission(c echo.Context) (*mft.Filedrop, *mft.Submission, error) {
	ctx := c.Request().Context()
	if err := s.Auth.CheckBan(clientIP(c)); err != nil {
		return nil, nil, err
	}
	f, err := s.Filedrops.FindFiledrop(ctx, pathParam(c, "name"))
	if err != nil {
		return nil, nil, err
	}
	key, ok := credentials(c.Request())
	if !ok {
		return nil, nil, mft.Errorf(mft.EUNAUTHORIZED, "Send the api_key from GET /filedrop/%s as the basic-auth user.", f.Name)
	}
	sub, err := s.Submissions.FindSubmissionByKey(ctx, f.Name, auth.HashKey(key))
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		s.Auth.RecordFailure("filedrop:"+f.Name, clientIP(c), mft.AuditWeb, "unknown filedrop upload key")
		return nil, nil, mft.Errorf(mft.EUNAUTHORIZED, "%s", mft.ErrorMessage(err))
	}
	return f, sub, err
}

// submitter is the actor that uploads a submission's files: a user that
// exists only for this request, whose home is the submission's holding
// folder outside every user's tree, limited to the filedrop's file size.
func submitter(c echo.Context, f *mft.Filedrop, sub *mft.Submission) files.Actor {
	u := &mft.User{ID: "filedrop-" + f.Name, Role: mft.RoleUser, Home: submissionFolder(sub), MaxFileSize: f.MaxFilesize, Active: true}
	return files.Actor{User: u, Protocol: mft.AuditWeb, IP: clientIP(c).String()}
}

// submissionFolder is where a submission's uploads wait for delivery.
func submissionFolder(sub *mft.Submission) string {
	return "/.filedrop-uploads/" + sub.Filedrop + "/" + sub.ID
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
	if err := needValidation(f, sub); err != nil {
		return err
	}
	name, err := filenameQuery(c)
	if err != nil {
		return err
	}
	if err := f.CheckFilename(name); err != nil {
		return err
	}
	fi, done, err := s.receiveUpload(c, submitter(c, f, sub), "/"+name, true)
	if err != nil || !done {
		return err
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	att, err := s.Submissions.AddAttachment(c.Request().Context(), sub.ID, mft.Attachment{Filename: name, Size: fi.Size,
		Checksum: fi.SHA256, ContentType: ctype, Path: submissionFolder(sub) + "/" + name})
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusCreated, "attachment", newAttachmentView(att))
}

type deliverRequest struct {
	From        string   `json:"from"`
	Subject     string   `json:"subject"`
	Message     string   `json:"message"`
	Attachments []string `json:"attachments"`
}

// handleFiledropDeliver moves a submission's attachments into the owner's
// home under filedrops/<name>/<time>_<sender>/ and records the message.
func (s *Server) handleFiledropDeliver(c echo.Context) error {
	f, sub, err := s.submission(c)
	if err != nil {
		return err
	}
	if err := needValidation(f, sub); err != nil {
		return err
	}
	var req deliverRequest
	if err := s.decode(c, "message", &req); err != nil {
		return err
	}
	req.From = strings.TrimSpace(req.From)
	if f.RequireValidation && !strings.EqualFold(req.From, sub.Validated) {
		return mft.Errorf(mft.EINVALID, "from must be the address you confirmed (%s).", sub.Validated)
	}
	switch {
	case req.From == "" || len(req.From) > 254 || !strings.Contains(req.From, "@") || strings.ContainsAny(req.From, " <>\"/\\"):
		return mft.Errorf(mft.EINVALID, "from must be your email address.")
	case len(req.Subject) > 500 || len(req.Message) > 20000:
		return mft.Errorf(mft.EINVALID, "subject (500) or message (20000 characters) is too long.")
	case len(req.Attachments) == 0:
		return mft.Errorf(mft.EINVALID, "attachments must list the ids of the uploaded files.")
	}
	var atts []mft.Attachment
	for _, id := range req.Attachments {
		i := slices.IndexFunc(sub.Attachments, func(a mft.Attachment) bool { return a.ID == id })
		if i < 0 {
			return mft.Errorf(mft.EINVALID, "attachments: %q was not uploaded with this key.", id)
		}
		atts = append(atts, sub.Attachments[i])
	}
	ctx := c.Request().Context()
	owner, err := s.Users.FindUserByID(ctx, f.Owner)
	if err != nil {
		return mft.Errorf(mft.EINVALID, "This filedrop's owner no longer exists; tell its administrator.")
	}
	recipients := []string{owner.ID}
	for _, e := range f.CCs() {
		if u, err := s.Users.FindUserByEmail(ctx, e); err == nil {
			recipients = append(recipients, u.ID)
		}
	}
	now := s.Now().UTC()
	ownerActor := files.Actor{User: owner, Protocol: mft.AuditWeb, IP: clientIP(c).String()}
	// The files move one by one; check the room for all of them first, so
	// that a delivery over the owner's quota moves none.
	var total int64
	for _, a := range atts {
		total += a.Size
	}
	if _, free, err := s.Files.Space(ctx, ownerActor); err == nil && total > free {
		return mft.Errorf(mft.EQUOTA, "These files (%d bytes) do not fit in the recipient's space (%d bytes left); nothing was delivered.", total, free)
	}
	folder := fmt.Sprintf("/filedrops/%s/%s_%s", f.Name, now.Format("20060102-150405"), mft.Slug(req.From))
	for i := 2; ; i++ { // the same sender twice in one second
		if _, err := s.Files.Stat(ctx, ownerActor, folder); mft.ErrorCode(err) == mft.ENOTFOUND {
			break
		}
		folder = fmt.Sprintf("/filedrops/%s/%s_%s-%d", f.Name, now.Format("20060102-150405"), mft.Slug(req.From), i)
	}
	m := &mft.Message{Filedrop: f.Name, Sender: req.From, Subject: req.Subject, Message: req.Message,
		Recipients: recipients, Authorization: f.Authorization, IP: clientIP(c).String(),
		ExpiresAt: now.AddDate(0, 0, f.ExpiresAfter)}
	for _, a := range atts {
		stored, err := s.Files.Deliver(ctx, a.Path, ownerActor, folder+"/"+a.Filename, a.Checksum)
		if err != nil {
			return err
		}
		a.Path, m.Folder = stored, path.Dir(stored)
		m.Files = append(m.Files, a)
	}
	if err := s.Submissions.Deliver(ctx, sub.ID, m); err != nil {
		return err
	}
	if s.Events != nil {
		s.Events.Publish(mft.Event{Event: mft.EventFiledropReceived, Time: now, Actor: owner.ID, Protocol: mft.AuditWeb,
			IP: m.IP, Path: m.Folder, Status: mft.StatusOK,
			Message: fmt.Sprintf("%d file(s) from %s through filedrop %s", len(m.Files), m.Sender, f.Name)})
	}
	s.notify(f, owner, m)
	return writeOne(c, http.StatusCreated, "message", s.newMessageView(m))
}

// notify emails the owner and cc of a delivery, in the background: the
// sender does not wait for the mail relay, and a failure is only logged.
func (s *Server) notify(f *mft.Filedrop, owner *mft.User, m *mft.Message) {
	if s.Mailer == nil {
		return
	}
	var to []string
	if owner.Email != "" {
		to = append(to, owner.Email)
	}
	to = append(to, f.CCs()...)
	var b strings.Builder
	fmt.Fprintf(&b, "%s sent you %d file(s) through the filedrop %q.\n\n", m.Sender, len(m.Files), f.Title)
	if m.Subject != "" {
		fmt.Fprintf(&b, "Subject: %s\n", m.Subject)
	}
	if m.Message != "" {
		fmt.Fprintf(&b, "Message:\n%s\n", m.Message)
	}
	b.WriteString("\nFiles:\n")
	for _, a := range m.Files {
		fmt.Fprintf(&b, "  %s (%d bytes, sha256 %s)\n", a.Filename, a.Size, a.Checksum)
	}
	fmt.Fprintf(&b, "\nThey are in your folder %s until %s.\nMessage: %s/api/messages/%s\n",
		m.Folder, m.ExpiresAt.UTC().Format(timeFormat), s.PublicURL, m.ID)
	subject := fmt.Sprintf("Files from %s via %s", m.Sender, f.Title)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Mailer.Send(ctx, to, subject, b.String()); err != nil {
			s.Logger.Warn("filedrop notice not sent", "message", m.ID, "err", err)
		}
	}()
}

// needValidation refuses uploads and deliveries of a filedrop with
// require_validation until the sender confirmed their address.
func needValidation(f *mft.Filedrop, sub *mft.Submission) error {
	if f.RequireValidation && sub.Validated == "" {
		return mft.Errorf(mft.EFORBIDDEN, "Confirm your email address first: POST /filedrop/%s/validation {\"email\"}, then the code you receive.", f.Name)
	}
	return nil
}

// Validation limits: codes sent and wrong codes per submission.
const (
	maxCodeSends = 5
	maxCodeTries = 5
)

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
	if !f.RequireValidation || s.Mailer == nil {
		return mft.Errorf(mft.EINVALID, "This filedrop does not validate email addresses.")
	}
	var req validationRequest
	if err := s.decode(c, "validation", &req); err != nil {
		return err
	}
	email := strings.ToLower(strings.TrimSpace(req.Email))
	if email == "" || len(email) > 254 || !strings.Contains(email, "@") || strings.ContainsAny(email, " <>\"/\\\r\n") {
		return mft.Errorf(mft.EINVALID, "email must be your email address.")
	}
	ctx := c.Request().Context()
	if req.Code == "" {
		code := fmt.Sprintf("%06d", randomInt(1_000_000))
		_, err := s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *mft.Submission) error {
			if sub.CodeSends >= maxCodeSends {
				return mft.Errorf(mft.ERATELIMIT, "Too many codes sent; open the filedrop again later.")
			}
			sub.CodeSends++
			sub.CodeEmail, sub.CodeHash, sub.CodeTries = email, auth.HashKey(code), 0
			return nil
		})
		if err != nil {
			return err
		}
		body := fmt.Sprintf("Your code for the filedrop %q is %s.\n\nIf you did not ask for it, ignore this email.\n", f.Title, code)
		if err := s.Mailer.Send(ctx, []string{email}, "Your code for "+f.Title, body); err != nil {
			s.Logger.Warn("validation code not sent", "filedrop", f.Name, "err", err)
			return mft.Errorf(mft.EUNAVAILABLE, "The code could not be sent; try again in a minute.")
		}
		return writeOne(c, http.StatusAccepted, "validation", validationView{Email: email, Sent: true})
	}
	_, err = s.Submissions.UpdateSubmission(ctx, sub.ID, func(sub *mft.Submission) error {
		switch {
		case sub.CodeHash == "" || sub.CodeEmail != email:
			return mft.Errorf(mft.EINVALID, "Ask for a code for %s first.", email)
		case sub.CodeTries >= maxCodeTries:
			return mft.Errorf(mft.EFORBIDDEN, "Too many wrong codes; ask for a new one.")
		case !auth.KeyMatches(strings.TrimSpace(req.Code), sub.CodeHash):
			sub.CodeTries++
			return mft.Keep(mft.Errorf(mft.EINVALID, "The code is not right."))
		}
		sub.Validated, sub.CodeHash = email, ""
		return nil
	})
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "validation", validationView{Email: email, Validated: true})
}

type messageView struct {
	ID         string           `json:"id"`
	Filedrop   string           `json:"filedrop"`
	Sender     string           `json:"sender"`
	Subject    string           `json:"subject"`
	Message    string           `json:"message"`
	Recipients []string         `json:"recipients"`
	Folder     string           `json:"folder"`
	Files      []attachmentView `json:"files"`
	ExpiresAt  string           `json:"expires_at"`
	CreatedAt  string           `json:"created_at"`
}

func (s *Server) newMessageView(m *mft.Message) messageView {
	v := messageView{ID: m.ID, Filedrop: m.Filedrop, Sender: m.Sender, Subject: m.Subject, Message: m.Message,
		Recipients: m.Recipients, Folder: m.Folder, ExpiresAt: m.ExpiresAt.UTC().Format(timeFormat),
		CreatedAt: m.CreatedAt.UTC().Format(timeFormat)}
	for _, a := range m.Files {
		av := newAttachmentView(a)
		av.URL = s.PublicURL + "/api/messages/" + m.ID + "/files/" + a.ID
		v.Files = append(v.Files, av)
	}
	return v
}

func (s *Server) handleMessageList(c echo.Context) error {
	p, err := page(c)
	if err != nil {
		return err
	}
	list, more, err := s.Submissions.FindMessagesFor(c.Request().Context(), caller(c).ID, p)
	if err != nil {
		return err
	}
	views := make([]messageView, len(list))
	last := ""
	for i, m := range list {
		views[i], last = s.newMessageView(m), m.ID
	}
	return writeList(s, c, "message", views, p, more, last)
}

// message returns the message of the request if the caller may see it.
func (s *Server) message(c echo.Context) (*mft.Message, error) {
	m, err := s.Submissions.FindMessage(c.Request().Context(), pathParam(c, "id"))
	if err != nil {
		return nil, err
	}
	if u := caller(c); u.Role != mft.RoleAdmin && !m.MayDownload(u.ID) {
		return nil, mft.Errorf(mft.ENOTFOUND, "Message not found.")
	}
	return m, nil
}

func (s *Server) handleMessageView(c echo.Context) error {
	m, err := s.message(c)
	if err != nil {
		return err
	}
	return writeOne(c, http.StatusOK, "message", s.newMessageView(m))
}

// handleMessageDownload serves a delivered file to a recipient (or, under
// authorization 2, any local user with the message id).
func (s *Server) handleMessageDownload(c echo.Context) error {
	m, err := s.message(c)
	if err != nil {
		return err
	}
	id := pathParam(c, "file")
	for _, a := range m.Files {
		if a.ID != id {
			continue
		}
		f, fi, err := s.Files.OpenStorage(a.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		serveDownload(c, f, a.Filename, fi.ModTime())
		return nil
	}
	return mft.Errorf(mft.ENOTFOUND, "This message has no file %q.", id)
}

// SweepFiledrops removes submissions whose key expired without a delivery
// (and their uploads) and deliveries past their expires_at (their folder
// in the owner's home and the message). It returns how many it removed.
func (s *Server) SweepFiledrops(ctx context.Context) (int, error) {
	now := s.Now()
	n := 0
	subs, err := s.Submissions.FindStaleSubmissions(ctx, now)
	if err != nil {
		return 0, err
	}
	for _, sub := range subs {
		if err := s.Files.RemoveStorage(ctx, submissionFolder(sub)); err != nil {
			return n, err
		}
		if err := s.Submissions.DeleteSubmission(ctx, sub.ID); err != nil {
			return n, err
		}
		n++
	}
	msgs, err := s.Submissions.FindExpiredMessages(ctx, now)
	if err != nil {
		return n, err
	}
	for _, m := range msgs {
		if err := s.Files.RemoveStorage(ctx, m.Folder); err != nil {
			return n, err
		}
		if err := s.Submissions.DeleteMessage(ctx, m.ID); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// randomInt returns a uniform random number in [0, n).
func randomInt(n int64) int64 {
	v, err := rand.Int(rand.Reader, big.NewInt(n))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return v.Int64()
}
