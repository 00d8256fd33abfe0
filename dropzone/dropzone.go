// Package dropzone runs dropzones, the Dropzone API's quota- and
// time-limited upload spaces for applications: reserve a file, receive
// exactly the reserved bytes through a signed URL, confirm, download,
// delete, and the sweep that releases unconfirmed reservations and empties
// expired dropzones. It owns the storage root /dropzones/ and knows no
// protocol.
package dropzone

import (
	"context"
	"fmt"
	"sync"
	"time"

	"depot/auth"
	"depot/files"
	"depot/mft"
)

// Dropzone timings.
const (
	UploadURLTTL   = time.Hour      // a signed upload URL's validity
	UnconfirmedTTL = 24 * time.Hour // a reservation not confirmed by then is released
)

// Root is the storage folder that holds every dropzone's files, outside
// every user's tree.
const Root = "/dropzones/"

// Service runs dropzones over the store and the file service.
type Service struct {
	Store mft.DropzoneStore
	Files *files.Service
	// Events receives dropzone.created, .updated, .deleted and
	// .file.confirmed; nil drops them.
	Events mft.EventSink
	// Users, Buckets and Usage tell whether an owner may still take files
	// and how much of their bucket's quota is left; nil Users skips both.
	Users   mft.UserStore
	Buckets mft.BucketStore
	Usage   mft.UsageStore
	// URLKey signs upload URLs.
	URLKey []byte
	// Now is the clock of expiries; nil means time.Now.
	Now func() time.Time

	// uploads holds the ids of files being received, so that a signed URL
	// takes one upload at a time.
	uploads sync.Map
	// bucketMu serializes bucket users' reservations.
	bucketMu sync.Mutex
	// namesMu serializes Ensure's look-up by name and create.
	namesMu sync.Mutex
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// storagePath is where a dropzone file's bytes are kept.
func storagePath(f *mft.DropzoneFile) string { return Root + f.Dropzone + "/" + f.ID }

// Input is what a client sets on a dropzone; nil leaves a field as it is
// (on create: the default).
type Input struct {
	Name *string
	GB   *float64
	Days *int
}

// Create makes a dropzone owned by owner and returns its token, shown
// this once. gb and days are required, as in the Dropzone API; a missing
// name becomes "Dropzone of <date>, <gb> GB". Returns EINVALID for a
// missing or out-of-range field.
func (s *Service) Create(ctx context.Context, owner string, in Input) (*mft.Dropzone, string, error) {
	if in.GB == nil || in.Days == nil {
		return nil, "", mft.Errorf(mft.EINVALID, "gb (0.2 to 4) and days (30 to 365) are required")
	}
	name := defaultName(s.now(), *in.GB)
	if in.Name != nil {
		name = *in.Name
	}
	token := auth.NewKey()
	d := &mft.Dropzone{Name: name, GB: *in.GB, Days: *in.Days, Owner: owner, TokenHash: auth.HashKey(token)}
	if err := s.Store.CreateDropzone(ctx, d); err != nil {
		return nil, "", err
	}
	mft.PublishChange(ctx, s.Events, mft.EventDropzoneCreated, d.ID)
	return d, token, nil
}

// Extend raises gb and/or days (neither may shrink) and renames. Returns
// EINVALID for an empty change or a shrink.
func (s *Service) Extend(ctx context.Context, d *mft.Dropzone, in Input) error {
	if in.GB == nil && in.Days == nil && in.Name == nil {
		return mft.Errorf(mft.EINVALID, "send gb, days or name to change")
	}
	if in.GB != nil {
		if *in.GB < d.GB {
			return mft.Errorf(mft.EINVALID, "gb can only grow: it is %g", d.GB)
		}
		if d.Name == defaultName(d.CreatedAt, d.GB) && in.Name == nil {
			d.Name = defaultName(d.CreatedAt, *in.GB) // the default name says the size
		}
		d.GB = *in.GB
	}
	if in.Days != nil {
		if *in.Days < d.Days {
			return mft.Errorf(mft.EINVALID, "days can only grow: it is %d", d.Days)
		}
		d.Days = *in.Days
		d.ExpiresAt = d.CreatedAt.AddDate(0, 0, d.Days)
	}
	if in.Name != nil {
		d.Name = *in.Name
	}
	d.UpdatedAt = s.now().UTC()
	if err := s.Store.PutDropzone(ctx, d); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventDropzoneUpdated, d.ID)
	return nil
}

// Delete removes dropzone d, its files and their bytes, releasing its
// space; its token stops working.
func (s *Service) Delete(ctx context.Context, d *mft.Dropzone) error {
	if err := s.Files.RemoveStorage(ctx, Root+d.ID); err != nil {
		return err
	}
	if err := s.Store.DeleteDropzone(ctx, d.ID); err != nil {
		return err
	}
	mft.PublishChange(ctx, s.Events, mft.EventDropzoneDeleted, d.ID)
	return nil
}

// Owned returns dropzone id if u may manage it (an administrator, or its
// owner); ENOTFOUND otherwise.
func (s *Service) Owned(ctx context.Context, u *mft.User, id string) (*mft.Dropzone, error) {
	d, err := s.Store.FindDropzone(ctx, id)
	if err != nil {
		return nil, err
	}
	if u.Role != mft.RoleAdmin && d.Owner != u.ID {
		return nil, mft.Errorf(mft.ENOTFOUND, "Dropzone not found.")
	}
	return d, nil
}

// List returns one page of the dropzones u may manage.
func (s *Service) List(ctx context.Context, u *mft.User, p mft.Page) ([]*mft.Dropzone, bool, error) {
	owner := u.ID
	if u.Role == mft.RoleAdmin {
		owner = ""
	}
	return s.Store.FindDropzones(ctx, owner, p)
}

// UsedBytes is what a dropzone's files (reserved or confirmed) take.
func (s *Service) UsedBytes(ctx context.Context, id string) (int64, error) {
	return s.Store.UsedBytes(ctx, id)
}

// ErrWrongToken is returned by ByToken for a token that does not open the
// dropzone; the caller counts it as a failed login.
var ErrWrongToken = mft.Errorf(mft.EUNAUTHORIZED, "This token does not open this dropzone.")

// ByToken returns dropzone id if token opens it and it can take files
// (Usable). Returns ErrWrongToken or what Usable returns.
func (s *Service) ByToken(ctx context.Context, id, token string) (*mft.Dropzone, error) {
	d, err := s.FindByToken(ctx, token)
	if err != nil || d.ID != id {
		return nil, ErrWrongToken
	}
	if err := s.Usable(ctx, d); err != nil {
		return nil, err
	}
	return d, nil
}

// FindByToken returns the dropzone token opens, whatever its state, or
// ErrWrongToken.
func (s *Service) FindByToken(ctx context.Context, token string) (*mft.Dropzone, error) {
	d, err := s.Store.FindDropzoneByToken(ctx, auth.HashKey(token))
	if err != nil {
		return nil, ErrWrongToken
	}
	return d, nil
}

// Usable returns EEXPIRED for an expired dropzone, or EFORBIDDEN when its
// owner can no longer take files (deleted, disabled, expired, bucket
// deactivated); nil when d may be used.
func (s *Service) Usable(ctx context.Context, d *mft.Dropzone) error {
	if !s.now().Before(d.ExpiresAt) {
		return mft.Errorf(mft.EEXPIRED, "This dropzone expired on %s.", d.ExpiresAt.UTC().Format(time.RFC3339))
	}
	_, err := s.checkOwner(ctx, d)
	return err
}

// Ensure is the Dropzone API's create: when in names a dropzone owner
// already has, that one is extended (Extend's rules) and created is
// false; otherwise a new one is made (Create's rules) with its token.
func (s *Service) Ensure(ctx context.Context, owner string, in Input) (d *mft.Dropzone, token string, created bool, err error) {
	s.namesMu.Lock() // two creates of one new name make one dropzone
	defer s.namesMu.Unlock()
	if in.Name != nil {
		err = s.eachOwnedBy(ctx, owner, func(o *mft.Dropzone) error {
			if d == nil && o.Name == *in.Name {
				d = o
			}
			return nil
		})
		if err != nil {
			return nil, "", false, err
		}
	}
	if d != nil {
		return d, "", false, s.Extend(ctx, d, Input{GB: in.GB, Days: in.Days})
	}
	d, token, err = s.Create(ctx, owner, in)
	return d, token, err == nil, err
}

// FileByID returns file id of whichever dropzone holds it, with that
// dropzone (ENOTFOUND).
func (s *Service) FileByID(ctx context.Context, id string) (*mft.Dropzone, *mft.DropzoneFile, error) {
	f, err := s.Store.FindFileByID(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	d, err := s.Store.FindDropzone(ctx, f.Dropzone)
	return d, f, err
}

// File returns file id of dropzone d (ENOTFOUND).
func (s *Service) File(ctx context.Context, d *mft.Dropzone, id string) (*mft.DropzoneFile, error) {
	return s.Store.FindFile(ctx, d.ID, id)
}

// ListFiles lists a dropzone's files.
func (s *Service) ListFiles(ctx context.Context, d *mft.Dropzone) ([]*mft.DropzoneFile, error) {
	return s.Store.FindFiles(ctx, d.ID)
}

// defaultName is the name of a dropzone created at t with gb and no name.
func defaultName(t time.Time, gb float64) string {
	return fmt.Sprintf("Dropzone of %s, %g GB", t.UTC().Format("2 Jan 2006"), gb)
}
