package web

import (
	"embed"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
)

//go:embed templates/client/*.html
var clientFS embed.FS

// clientPages holds each page of the web client, parsed with the layout.
var clientPages = func() map[string]*template.Template {
	layout := template.Must(template.New("").ParseFS(clientFS, "templates/client/layout.html"))
	names, _ := fs.Glob(clientFS, "templates/client/*.html")
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" {
			continue
		}
		pages[name[:len(name)-len(".html")]] = template.Must(template.Must(layout.Clone()).ParseFS(clientFS, n))
	}
	return pages
}()

// Page is what every page of the web client shows around its content.
type Page struct {
	Title string
	// Nav is the menu entry the page belongs to: files, links, messages,
	// account or admin. User is who is signed in ("" on the sign-in page).
	Nav   string
	User  string
	Admin bool
	// CSRF is the session's token, repeated by every form and request.
	CSRF string
	// Notice says what the last action did; Error why it failed.
	Notice string
	Error  string
	Data   any
}

// RenderClient writes one page of the web client: signin, files, rename,
// delete, share, links, messages, message, account, admin or error.
func RenderClient(w io.Writer, name string, p Page) error {
	t, ok := clientPages[name]
	if !ok {
		return fmt.Errorf("web: no page %q", name)
	}
	return t.ExecuteTemplate(w, "layout", p)
}

// Signin is the sign-in form.
type Signin struct {
	Login string
	Next  string
	Token string // the form's own token, matched with its cookie
	// Pending names a sign-in whose password was right: the page asks
	// for the second factor.
	Pending string
	// SSO is the single sign-on provider's name, "" without one.
	SSO string
}

// TOTPSetup is the set-up of two-factor codes: the secret (as a QR code
// and as text) and its form, then the recovery codes, shown once.
type TOTPSetup struct {
	Secret   string
	QR       template.URL
	Recovery []string
	// Pending and Token: the set-up is a sign-in's required step, not
	// the account page's (the form goes to /web/login/enrol).
	Pending, Token string
}

// Crumb is one folder of the breadcrumb trail.
type Crumb struct {
	Name string
	Path string
}

// Entry is one file or folder in a listing.
type Entry struct {
	Name     string
	Path     string
	Folder   bool
	Size     string // "" for a folder
	Bytes    int64
	Modified string
	ISO      string // the modification time for machines
	// What the user may do with this entry.
	CanRename, CanDelete, CanShare, CanDownload bool
}

// Files is the file browser at one folder.
type Files struct {
	Path    string
	Crumbs  []Crumb
	Entries []Entry
	Sort    string // name, size or modified
	Desc    bool
	// What the user may do here.
	CanUpload, CanMkdir, CanDownload bool
	MaxFileSize                      int64 // bytes, 0 = none
	// Internal: an administrator's root shows the internal folders (the
	// filedrop holding area, dropzones); Hidden: it has some not shown.
	Internal, Hidden bool
}

// Rename is the rename-or-move form of one file or folder.
type Rename struct {
	Path    string
	Name    string
	Folder  bool
	Back    string
	Folders []string // folders the user can move into, for the list
}

// Delete asks to confirm removing a file or folder.
type Delete struct {
	Path   string
	Folder bool
	Back   string
}

// Share is the form that shares a file or folder, and the link it made.
type Share struct {
	Path   string
	Folder bool
	Back   string
	// Created is the link made by the form, shown once.
	Created *LinkRow
}

// LinkRow is one of the user's shared links.
type LinkRow struct {
	ID, URL, Path, Expires, Downloads string
	Password, Upload                  bool
}

// Message is one filedrop delivery addressed to the user.
type Message struct {
	ID, From, Subject, Body, Filedrop, Received, Expires string
	Files                                                []MessageFile
}

// MessageFile is one file of a delivery.
type MessageFile struct {
	Name, Size, URL, SHA256 string
}

// Account is the user's own settings.
type Account struct {
	ID, Email, Username, Name, Home string
	Used, Total, Left               string
	Percent                         int // of the quota used; -1 without a quota
	SSHKeys                         []SSHKey
	SFTPHost, SFTPPort              string
	Fingerprints                    []string
	SFTPAllowed                     bool
	// FTP is where FTPS clients connect, nil when the account may not.
	FTP *FTPDetails
	// DAVURL is the WebDAV address, empty when the account may not.
	DAVURL string
	// TwoFactor says whether two-factor codes are on; RecoveryLeft how
	// many recovery codes are unused.
	TwoFactor    bool
	RecoveryLeft int
}

// FTPDetails are the FTPS server's address and certificate.
type FTPDetails struct {
	Host, Port, ImplicitPort, Fingerprint string
}

// SSHKey is one of the user's public keys.
type SSHKey struct {
	Index       int
	Type        string
	Fingerprint string
	Comment     string
}

// Admin is the administrators' read-only overview.
type Admin struct {
	Health   string
	Healthy  bool
	Version  string
	Disk     string
	Sessions []AdminSession
	Audit    []AuditRow
	Filter   AuditFilter
	CSV      string // the CSV download of the filtered events
	// Older pages on past the last event shown ("" on the last page);
	// Newest goes back to the first page ("" on it).
	Older, Newest string
	Bans          []BanRow
	Expected      []ExpectedRow
}

// ExpectedRow is one expected file: its window, the last window's state
// and the on-time rate.
type ExpectedRow struct {
	Name, Where, Window, Last, Rate string
}

// AdminSession is one live SFTP session.
type AdminSession struct {
	ID, User, IP, Started, Transfers string
}

// AuditRow is one audit event.
type AuditRow struct {
	Time, ISO, Event, Actor, Protocol, IP, Status string
	// Detail is the path (or the method of a login), Message what was said.
	Detail, Message string
}

// AuditFilter is what the audit table is narrowed by.
type AuditFilter struct {
	Event, Actor, Status, Since string
}

// BanRow is one banned address.
type BanRow struct {
	IP, Until, Reason string
}
