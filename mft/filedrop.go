package mft

import (
	"context"
	"regexp"
	"strings"
	"time"
)

// Filedrop is a public upload page whose submissions are delivered to a
// local user, with exactly LiquidFiles' attributes. Its id is its name.
type Filedrop struct {
	ID                string    `json:"id"`
	Name              string    `json:"name"`
	Title             string    `json:"title"`
	Description       string    `json:"description"`
	Owner             string    `json:"owner"`
	InvalidExtensions string    `json:"invalid_extensions"`
	AcceptedFiletypes string    `json:"accepted_filetypes"`
	ExpiresAfter      int       `json:"expires_after"` // days a delivery is kept
	MaxFilesize       int64     `json:"max_filesize"`  // MB per file
	RequireValidation bool      `json:"require_validation"`
	PasswordHash      string    `json:"password_hash,omitempty"`
	CC                string    `json:"cc"`
	Authorization     int       `json:"authorization"`
	CreatedAt         time.Time `json:"created_at"`
	UpdatedAt         time.Time `json:"updated_at"`
}

// Filedrop defaults, as LiquidFiles documents them.
const (
	DefaultFiledropExpiresAfter  = 14
	DefaultFiledropMaxFilesize   = 250
	DefaultFiledropAuthorization = 3
)

var filedropName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)

// Validate normalizes the extension lists and cc, and reports the first
// problem as an EINVALID error naming the attribute.
func (f *Filedrop) Validate() error {
	switch {
	case !filedropName.MatchString(f.Name):
		return Errorf(EINVALID, "name must be 1 to 64 letters, digits, - or _ (it is part of the URL), such as \"Partner-Drop\"")
	case strings.TrimSpace(f.Title) == "":
		return Errorf(EINVALID, "title is required")
	case len(f.Title) > 200 || len(f.Description) > 4000:
		return Errorf(EINVALID, "title (200) or description (4000 characters) is too long")
	case f.Owner == "":
		return Errorf(EINVALID, "owner is required: the id of the local user who receives the files")
	case f.ExpiresAfter < 1 || f.ExpiresAfter > 3650:
		return Errorf(EINVALID, "expires_after must be 1 to 3650 days")
	case f.MaxFilesize < 1 || f.MaxFilesize > 1<<20:
		return Errorf(EINVALID, "max_filesize must be 1 to 1048576 MB")
	case f.Authorization != 2 && f.Authorization != 3:
		return Errorf(EINVALID, "authorization must be 2 (any local user with the message id may download) or 3 (only the owner and cc)")
	}
	var err error
	if f.InvalidExtensions, err = normalizeExtList("invalid_extensions", f.InvalidExtensions); err != nil {
		return err
	}
	if f.AcceptedFiletypes, err = normalizeExtList("accepted_filetypes", f.AcceptedFiletypes); err != nil {
		return err
	}
	var cc []string
	for _, e := range strings.Split(f.CC, ",") {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			if !strings.Contains(e, "@") || strings.ContainsAny(e, " <>\"") {
				return Errorf(EINVALID, "cc: %q is not an email address", e)
			}
			cc = append(cc, e)
		}
	}
	f.CC = strings.Join(cc, ",")
	f.ID = f.Name
	return nil
}

// Extensions returns a comma-separated extension list as extensions.
func Extensions(list string) []string {
	var out []string
	for _, e := range strings.Split(list, ",") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// CCs returns the cc addresses.
func (f *Filedrop) CCs() []string { return Extensions(f.CC) }

// CheckFilename refuses a name whose extension the filedrop does not take.
func (f *Filedrop) CheckFilename(name string) error {
	ext := Extension(name)
	for _, e := range Extensions(f.InvalidExtensions) {
		if ext == e {
			return Errorf(EINVALID, "Files of type .%s are not accepted here.", ext)
		}
	}
	if accepted := Extensions(f.AcceptedFiletypes); len(accepted) > 0 {
		for _, e := range accepted {
			if ext == e {
				return nil
			}
		}
		return Errorf(EINVALID, "Only files of type .%s are accepted here.", strings.Join(accepted, ", ."))
	}
	return nil
}

// normalizeExtList turns "PDF, .doc,xls " into "pdf,doc,xls".
func normalizeExtList(field, list string) (string, error) {
	var parts []string
	for _, e := range strings.Split(strings.ReplaceAll(list, " ", ","), ",") {
		if e != "" {
			parts = append(parts, e)
		}
	}
	exts, err := normalizeExtensions(field, parts)
	if err != nil {
		return "", err
	}
	return strings.Join(exts, ","), nil
}

// FiledropUpdate holds the attributes a PUT changes; nil leaves one as is.
type FiledropUpdate struct {
	Title             *string
	Description       *string
	Owner             *string
	InvalidExtensions *string
	AcceptedFiletypes *string
	ExpiresAfter      *int
	MaxFilesize       *int64
	RequireValidation *bool
	PasswordHash      *string // "" removes the password
	CC                *string
	Authorization     *int
}

// Apply copies the set attributes onto f.
func (f *Filedrop) Apply(u FiledropUpdate) {
	set(&f.Title, u.Title)
	set(&f.Description, u.Description)
	set(&f.Owner, u.Owner)
	set(&f.InvalidExtensions, u.InvalidExtensions)
	set(&f.AcceptedFiletypes, u.AcceptedFiletypes)
	set(&f.ExpiresAfter, u.ExpiresAfter)
	set(&f.MaxFilesize, u.MaxFilesize)
	set(&f.RequireValidation, u.RequireValidation)
	set(&f.PasswordHash, u.PasswordHash)
	set(&f.CC, u.CC)
	set(&f.Authorization, u.Authorization)
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// Mailer sends plain-text email.
type Mailer interface {
	Send(ctx context.Context, to []string, subject, body string) error
}

// FiledropStore stores filedrops.
type FiledropStore interface {
	// FindFiledrop finds a filedrop by its name in any case (names keep
	// the case they were given, and two may not differ only in case).
	FindFiledrop(ctx context.Context, name string) (*Filedrop, error)
	FindFiledrops(ctx context.Context, page Page) ([]*Filedrop, bool, error)
	// CreateFiledrop validates and stores f; a taken name is ECONFLICT.
	CreateFiledrop(ctx context.Context, f *Filedrop) error
	UpdateFiledrop(ctx context.Context, name string, u FiledropUpdate) (*Filedrop, error)
	DeleteFiledrop(ctx context.Context, name string) error
}

// Submission is one sender's visit to a filedrop: the upload key handed
// out by GET /filedrop/:name (only its hash is stored) and the files
// uploaded with it, until they are delivered.
type Submission struct {
	ID          string       `json:"id"`
	KeyHash     string       `json:"key_hash"`
	Filedrop    string       `json:"filedrop"`
	IP          string       `json:"ip"`
	Attachments []Attachment `json:"attachments"`
	Delivered   bool         `json:"delivered"`
	// Email validation (filedrops with require_validation): the address a
	// code was sent to, the code's hash, wrong tries and sends so far, and
	// the address once confirmed.
	CodeEmail string `json:"code_email,omitempty"`
	CodeHash  string `json:"code_hash,omitempty"`
	CodeTries int    `json:"code_tries,omitempty"`
	CodeSends int    `json:"code_sends,omitempty"`
	Validated string `json:"validated,omitempty"`
	// Holding is where its uploads wait for delivery (empty: the layout
	// before sender addresses had folders of their own).
	Holding   string    `json:"holding,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Attachment is a file uploaded to a filedrop (or delivered in a message).
type Attachment struct {
	ID          string `json:"id"`
	Filename    string `json:"filename"`
	Size        int64  `json:"size"`
	Checksum    string `json:"checksum"` // sha256, hex
	ContentType string `json:"content_type"`
	// Path is where the file is stored: the submission's holding folder
	// before delivery, the owner's tree after.
	Path string `json:"path,omitempty"`
}

// Message is a filedrop delivery: who sent what to whom, until ExpiresAt.
type Message struct {
	ID            string       `json:"id"`
	Filedrop      string       `json:"filedrop"`
	Sender        string       `json:"sender"`
	Subject       string       `json:"subject"`
	Message       string       `json:"message"`
	Files         []Attachment `json:"files"`
	Recipients    []string     `json:"recipients"` // user ids: owner, then cc
	Folder        string       `json:"folder"`     // storage path of the delivery
	Authorization int          `json:"authorization"`
	IP            string       `json:"ip"`
	ExpiresAt     time.Time    `json:"expires_at"`
	CreatedAt     time.Time    `json:"created_at"`
}

// MayDownload reports whether user may download the message's files:
// recipients always, any local user too under authorization 2.
func (m *Message) MayDownload(userID string) bool {
	if m.Authorization == 2 {
		return true
	}
	for _, r := range m.Recipients {
		if r == userID {
			return true
		}
	}
	return false
}

// SubmissionStore stores submissions and messages.
type SubmissionStore interface {
	CreateSubmission(ctx context.Context, s *Submission) error
	// FindSubmissionByKey returns ENOTFOUND for an unknown key hash and
	// EEXPIRED for an expired or delivered submission.
	FindSubmissionByKey(ctx context.Context, filedrop, keyHash string) (*Submission, error)
	// AddAttachment records a complete upload in a submission, replacing
	// one with the same filename.
	AddAttachment(ctx context.Context, id string, a Attachment) (Attachment, error)
	// UpdateSubmission changes a submission through fn in one transaction.
	UpdateSubmission(ctx context.Context, id string, fn func(*Submission) error) (*Submission, error)
	// Deliver marks the submission delivered and stores m, in one step.
	Deliver(ctx context.Context, submissionID string, m *Message) error
	// FindStaleSubmissions returns the submissions whose key expired
	// before t, delivered or not, and DeleteSubmission forgets one.
	FindStaleSubmissions(ctx context.Context, t time.Time) ([]*Submission, error)
	DeleteSubmission(ctx context.Context, id string) error

	FindMessage(ctx context.Context, id string) (*Message, error)
	// FindMessagesFor returns the messages user receives, newest first.
	FindMessagesFor(ctx context.Context, userID string, page Page) ([]*Message, bool, error)
	FindExpiredMessages(ctx context.Context, t time.Time) ([]*Message, error)
	DeleteMessage(ctx context.Context, id string) error
}
