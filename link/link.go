// Package link runs shared links: create one on a path its creator may
// share, resolve it through the creator's permissions as they are now,
// count downloads atomically against the limit, and take uploads into an
// upload link's folder. It knows no protocol; checking a link's password
// (and counting wrong ones) is the protocol's authentication.
package link

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Service runs shared links over the store and the file service.
type Service struct {
	Store mft.LinkStore
	Users mft.UserStore
	Files *files.Service
	// Events receives link.created, .deleted and .downloaded; nil drops
	// them.
	Events mft.EventSink
	// Now is the clock of expiries; nil means time.Now.
	Now func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// Input is a new link.
type Input struct {
	// Path is the file or folder to share, as the creator sees it.
	Path string
	// ExpiresAt nil means never.
	ExpiresAt    *time.Time
	Password     string
	MaxDownloads int
	AllowUpload  bool
}

// Create shares in.Path, which the creator a must have share (and, for
// an upload link, upload) permission on. Returns EINVALID for a bad field
// and the errors of files.Share.
func (s *Service) Create(ctx context.Context, a files.Actor, in Input) (*mft.Link, error) {
	switch {
	case in.Path == "":
		return nil, mft.Errorf(mft.EINVALID, "path is required: the file or folder to share")
	case in.MaxDownloads < 0:
		return nil, mft.Errorf(mft.EINVALID, "max_downloads must be 0 (no limit) or more")
	case in.ExpiresAt != nil && !in.ExpiresAt.After(s.now()):
		return nil, mft.Errorf(mft.EINVALID, "expires_at must be in the future")
	case in.Password != "" && len(in.Password) < 8:
		return nil, mft.Errorf(mft.EINVALID, "password must be at least 8 characters")
	}
	storage, folder, err := s.Files.Share(ctx, a, in.Path, in.AllowUpload)
	if err != nil {
		return nil, err
	}
	clientPath, _ := files.CleanPath(in.Path) // Share accepted it
	l := &mft.Link{Path: storage, ClientPath: clientPath, Folder: folder, MaxDownloads: in.MaxDownloads,
		AllowUpload: in.AllowUpload, CreatedBy: a.User.ID}
	if in.ExpiresAt != nil {
		t := in.ExpiresAt.UTC()
		l.ExpiresAt = &t
	}
	if in.Password != "" {
		if l.PasswordHash, err = auth.HashPassword(in.Password); err != nil {
			return nil, err
		}
	}
	if err := s.Store.CreateLink(ctx, l); err != nil {
		return nil, err
	}
	mft.PublishChange(ctx, s.Events, mft.EventLinkCreated, l.ID)
	return l, nil
}

// Find returns link id (ENOTFOUND).
func (s *Service) Find(ctx context.Context, id string) (*mft.Link, error) {
	return s.Store.FindLink(ctx, id)
}

// List returns one page of u's links, or of everyone's when all is set.
func (s *Service) List(ctx context.Context, u *mft.User, all bool, p mft.Page) ([]*mft.Link, bool, error) {
	by := u.ID
	if all {
		by = ""
	}
	return s.Store.FindLinks(ctx, by, p)
}

// Delete removes link id, which u must have created (or be an
// administrator); ENOTFOUND otherwise.
func (s *Service) Delete(ctx context.Context, u *mft.User, id string) error {
	l, err := s.Store.FindLink(ctx, id)
	if err != nil {
		return err
	}
	if u.Role != mft.RoleAdmin && l.CreatedBy != u.ID {
		return mft.Errorf(mft.ENOTFOUND, "This link does not exist.")
	}
	if err := s.Store.DeleteLink(ctx, l.ID); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventLinkDeleted, l.ID)
	return nil
}

// Gone says why a link no longer serves downloads, or "".
func (s *Service) Gone(l *mft.Link) string {
	switch {
	case l.Expired(s.now()):
		return "This link has expired."
	case !l.AllowUpload && l.MaxDownloads > 0 && l.Downloads >= l.MaxDownloads:
		return fmt.Sprintf("This link has reached its %d downloads.", l.MaxDownloads)
	}
	return ""
}

// Creator returns the name to show for who shared l: their name, or
// their id.
func (s *Service) Creator(ctx context.Context, l *mft.Link) string {
	if u, err := s.Users.FindUserByID(ctx, l.CreatedBy); err == nil && u.Name != "" {
		return u.Name
	}
	return l.CreatedBy
}

// actor is the link's creator as the file service sees them: a link
// works through its creator's permissions as they are now, so it stops
// when they lose the path or their account.
func (s *Service) actor(ctx context.Context, l *mft.Link, from files.Actor) (files.Actor, error) {
	u, err := s.Users.FindUserByID(ctx, l.CreatedBy)
	if err != nil || !u.Active || u.Expired(s.now()) {
		return files.Actor{}, mft.Errorf(mft.EFORBIDDEN, "This link's owner can no longer share files.")
	}
	return files.Actor{User: u, Protocol: from.Protocol, IP: from.IP}, nil
}

// Contents returns what a download link offers now: the shared file, or
// the files of the shared folder. Returns EFORBIDDEN when the creator can
// no longer share it and the errors of files.Stat and files.List.
func (s *Service) Contents(ctx context.Context, l *mft.Link, from files.Actor) ([]mft.FileInfo, error) {
	a, err := s.actor(ctx, l, from)
	if err != nil {
		return nil, err
	}
	if !l.Folder {
		fi, err := s.Files.Stat(ctx, a, l.ClientPath)
		if err != nil {
			return nil, err
		}
		return []mft.FileInfo{fi}, nil
	}
	list, err := s.Files.List(ctx, a, l.ClientPath)
	var out []mft.FileInfo
	for _, f := range list {
		if f.Type == mft.TypeFile {
			out = append(out, f)
		}
	}
	return out, err
}

// Download opens the shared file, or file name of a shared folder,
// counting the download against max_downloads in one step with every
// other download, and publishes link.downloaded. A refused download is
// neither counted nor recorded. Returns EFORBIDDEN for an upload link,
// EMALFORMED for a missing name, EEXPIRED once the link is spent and the
// errors of files.Open.
func (s *Service) Download(ctx context.Context, l *mft.Link, name string, from files.Actor) (files.File, mft.FileInfo, error) {
	if l.AllowUpload {
		return nil, mft.FileInfo{}, mft.Errorf(mft.EFORBIDDEN, "This link takes uploads; it does not serve downloads.")
	}
	a, err := s.actor(ctx, l, from)
	if err != nil {
		return nil, mft.FileInfo{}, err
	}
	target := l.ClientPath
	if l.Folder {
		if !files.PlainName(name) {
			return nil, mft.FileInfo{}, mft.Errorf(mft.EMALFORMED, "Name the file to download: ?file=<name> (a file of the shared folder).")
		}
		target = path.Join(l.ClientPath, name)
	}
	// Check first, count, then open (which records file.downloaded).
	if _, err := s.Files.Stat(ctx, a, target); err != nil {
		return nil, mft.FileInfo{}, err
	}
	if _, err := s.Store.ClaimDownload(ctx, l.ID, s.now()); err != nil {
		return nil, mft.FileInfo{}, err
	}
	f, fi, err := s.Files.Open(ctx, a, target)
	if err != nil {
		return nil, mft.FileInfo{}, err
	}
	mft.Publish(s.Events, mft.Event{Event: mft.EventLinkDownloaded, Time: s.now().UTC(), Actor: l.CreatedBy, Protocol: from.Protocol,
		IP: from.IP, Path: path.Join(l.Path, strings.TrimPrefix(target, l.ClientPath)), Size: fi.Size, Message: "link " + l.ID})
	return f, fi, nil
}

// TakesUploads returns nil if l takes uploads now: EFORBIDDEN for a
// download link, EEXPIRED for an expired one.
func (s *Service) TakesUploads(l *mft.Link) error {
	if !l.AllowUpload {
		return mft.Errorf(mft.EFORBIDDEN, "This link does not take uploads.")
	}
	if l.Expired(s.now()) {
		return mft.Errorf(mft.EEXPIRED, "This link has expired.")
	}
	return nil
}

// Upload stores file name (whole, or one piece) in an upload link's
// folder as its creator: their permissions, folder rules and quotas
// apply. done is false for a piece that did not complete the file.
// Returns the errors of TakesUploads and files.Receive.
func (s *Service) Upload(ctx context.Context, l *mft.Link, name string, body io.Reader, opts files.UploadOptions, piece *files.Piece, from files.Actor) (mft.FileInfo, files.Chunk, bool, error) {
	if err := s.TakesUploads(l); err != nil {
		return mft.FileInfo{}, files.Chunk{}, false, err
	}
	a, err := s.actor(ctx, l, from)
	if err != nil {
		return mft.FileInfo{}, files.Chunk{}, false, err
	}
	// Through the path the creator shared (a home folder or a mount).
	return s.Files.Receive(ctx, a, path.Join(l.ClientPath, name), body, opts, piece)
}
