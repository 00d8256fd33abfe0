// Package filedrop runs filedrops, LiquidFiles' public upload pages: the
// administrator's changes, a sender's submission (upload key, holding
// area, email validation codes), delivery into the owner's home with one
// up-front space check, the owner's notice, the messages recipients read,
// and the sweep of expired submissions and deliveries. It owns the storage
// root /.filedrop-uploads/ and knows no protocol.
package filedrop

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// SubmissionTTL is how long a filedrop upload key stays valid.
const SubmissionTTL = 24 * time.Hour

// HoldingRoot is the storage folder where submissions' uploads wait for
// delivery, outside every user's tree.
const HoldingRoot = "/.filedrop-uploads/"

// Service runs filedrops over the store and the file service.
type Service struct {
	Filedrops   mft.FiledropStore
	Submissions mft.SubmissionStore
	Users       mft.UserStore
	Files       *files.Service
	// Events receives filedrop.created, .updated, .deleted and .received;
	// nil drops them.
	Events mft.EventSink
	// Mailer sends notices and validation codes; nil when smtp.host is
	// not set (require_validation is then refused).
	Mailer mft.Mailer
	// PublicURL is the base of the message links in notices.
	PublicURL string
	Logger    *slog.Logger
	// Now is the clock of expiries; nil means time.Now.
	Now func() time.Time
	// HoldingFiles and HoldingFilesPerAddress bound the uploads senders
	// hold on a filedrop before delivering, in multiples of its
	// max_filesize: all senders, and those of one address (0: no bound).
	HoldingFiles, HoldingFilesPerAddress int
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

func (s *Service) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// Input is what an administrator sets on a filedrop: the stored fields,
// and the password in clear ("" for none, mft.SecretMarker to keep it),
// which is hashed here.
type Input struct {
	mft.FiledropUpdate
	Password *string
}

// update checks what the store cannot (the owner and cc are local users,
// validation needs SMTP) and hashes the password.
func (s *Service) update(ctx context.Context, in Input) (mft.FiledropUpdate, error) {
	u := in.FiledropUpdate
	if in.Owner != nil && *in.Owner != "" {
		if _, err := s.Users.FindUserByID(ctx, *in.Owner); err != nil {
			return u, mft.Errorf(mft.EINVALID, "owner: no user has the id %q", *in.Owner)
		}
	}
	if in.CC != nil {
		for _, e := range strings.Split(*in.CC, ",") {
			if e = strings.TrimSpace(e); e == "" {
				continue
			}
			if _, err := s.Users.FindUserByEmail(ctx, e); err != nil {
				return u, mft.Errorf(mft.EINVALID, "cc: %q is not the email of a local user", e)
			}
		}
	}
	if in.RequireValidation != nil && *in.RequireValidation && s.Mailer == nil {
		return u, mft.Errorf(mft.EINVALID, "require_validation sends the sender a code by email: set smtp.host in the configuration first")
	}
	if in.Password != nil && *in.Password != mft.SecretMarker { // the marker keeps the password
		hash := ""
		if *in.Password != "" {
			if len(*in.Password) < 8 {
				return u, mft.Errorf(mft.EINVALID, "password must be at least 8 characters (or \"\" for none)")
			}
			var err error
			if hash, err = auth.HashPassword(*in.Password); err != nil {
				return u, err
			}
		}
		u.PasswordHash = &hash
	}
	return u, nil
}

// Create makes filedrop name with the defaults for what in leaves out.
// Returns EINVALID for a missing or bad field and ECONFLICT for a name in
// use.
func (s *Service) Create(ctx context.Context, name *string, in Input) (*mft.Filedrop, error) {
	for _, f := range []struct {
		name    string
		missing bool
	}{{"name", name == nil}, {"title", in.Title == nil}, {"owner", in.Owner == nil}} {
		if f.missing {
			return nil, mft.Errorf(mft.EINVALID, "%s is required (name, title and owner are)", f.name)
		}
	}
	upd, err := s.update(ctx, in)
	if err != nil {
		return nil, err
	}
	f := &mft.Filedrop{Name: *name, ExpiresAfter: mft.DefaultFiledropExpiresAfter,
		MaxFilesize: mft.DefaultFiledropMaxFilesize, Authorization: mft.DefaultFiledropAuthorization}
	f.Apply(upd)
	if err := s.Filedrops.CreateFiledrop(ctx, f); err != nil {
		return nil, err
	}
	mft.PublishChange(ctx, s.Events, mft.EventFiledropCreated, f.ID)
	return f, nil
}

// Update changes the fields in sets on filedrop f (as Find returned it).
// Returns EINVALID for a bad field or a new name (the name is the page's
// URL), and ENOTFOUND if f was deleted meanwhile.
func (s *Service) Update(ctx context.Context, f *mft.Filedrop, newName *string, in Input) (*mft.Filedrop, error) {
	if newName != nil && *newName != f.Name {
		return nil, mft.Errorf(mft.EINVALID, "name cannot change: it is the filedrop's URL; create another filedrop instead")
	}
	upd, err := s.update(ctx, in)
	if err != nil {
		return nil, err
	}
	f, err = s.Filedrops.UpdateFiledrop(ctx, f.Name, upd)
	if err != nil {
		return nil, err
	}
	mft.PublishChange(ctx, s.Events, mft.EventFiledropUpdated, f.ID)
	return f, nil
}

// Find returns filedrop name (ENOTFOUND).
func (s *Service) Find(ctx context.Context, name string) (*mft.Filedrop, error) {
	return s.Filedrops.FindFiledrop(ctx, name)
}

// List returns one page of filedrops.
func (s *Service) List(ctx context.Context, p mft.Page) ([]*mft.Filedrop, bool, error) {
	return s.Filedrops.FindFiledrops(ctx, p)
}

// Delete removes filedrop name (ENOTFOUND).
func (s *Service) Delete(ctx context.Context, name string) error {
	if err := s.Filedrops.DeleteFiledrop(ctx, name); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventFiledropDeleted, name)
	return nil
}
