package mft

import (
	"context"
	"strings"
	"time"
)

// Dropzone is a quota- and time-limited upload space for an application,
// reached with its own token.
type Dropzone struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	GB        float64   `json:"gb"`
	Days      int       `json:"days"`
	TokenHash string    `json:"token_hash"`
	ExpiresAt time.Time `json:"expires_at"`
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when gb, days or name last changed; zero until then.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
	// Swept is set once the files of an expired dropzone were deleted.
	Swept bool `json:"swept,omitempty"`
}

// GB is 10^9 bytes, as disk vendors and quota contracts count.
const GB = 1_000_000_000

// Limit is the dropzone's quota in bytes.
func (d *Dropzone) Limit() int64 { return int64(d.GB * GB) }

// Validate reports the first problem as an EINVALID error.
func (d *Dropzone) Validate() error {
	switch {
	case strings.TrimSpace(d.Name) == "" || len(d.Name) > 200:
		return Errorf(EINVALID, "name is required (at most 200 characters)")
	case d.GB < 0.2 || d.GB > 4:
		return Errorf(EINVALID, "gb must be from 0.2 to 4")
	case d.Days < 30 || d.Days > 365:
		return Errorf(EINVALID, "days must be from 30 to 365")
	}
	return nil
}

// Dropzone file statuses.
const (
	DropzonePending   = "pending"
	DropzoneAvailable = "available"
)

// DropzoneFile is a file reserved in, uploaded to and confirmed in a
// dropzone.
type DropzoneFile struct {
	ID          string     `json:"id"`
	Dropzone    string     `json:"dropzone"`
	Name        string     `json:"name"`
	Type        string     `json:"type"`
	Size        int64      `json:"size"`
	Status      string     `json:"status"`
	Uploaded    bool       `json:"uploaded"`
	SHA256      string     `json:"sha256,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at,omitempty"`
}

// DropzoneStore stores dropzones and their files.
type DropzoneStore interface {
	CreateDropzone(ctx context.Context, d *Dropzone) error
	PutDropzone(ctx context.Context, d *Dropzone) error
	FindDropzone(ctx context.Context, id string) (*Dropzone, error)
	FindDropzoneByToken(ctx context.Context, hash string) (*Dropzone, error)
	// FindDropzones lists one page, only the owner's unless owner is "".
	FindDropzones(ctx context.Context, owner string, page Page) ([]*Dropzone, bool, error)
	AllDropzones(ctx context.Context) ([]*Dropzone, error)
	// UsedBytes is what the dropzone's files (reserved or confirmed) take.
	UsedBytes(ctx context.Context, id string) (int64, error)
	// ReserveFile adds f if it fits the dropzone's quota, in one
	// transaction (EQUOTA otherwise), so concurrent reservations never
	// over-commit.
	ReserveFile(ctx context.Context, d *Dropzone, f *DropzoneFile) error
	PutFile(ctx context.Context, f *DropzoneFile) error
	FindFile(ctx context.Context, dropzone, id string) (*DropzoneFile, error)
	FindFiles(ctx context.Context, dropzone string) ([]*DropzoneFile, error)
	// FindFileByID finds a file of any dropzone by its id (ENOTFOUND).
	FindFileByID(ctx context.Context, id string) (*DropzoneFile, error)
	DeleteFile(ctx context.Context, dropzone, id string) error
	// DeleteDropzone forgets a dropzone and its files' records
	// (ENOTFOUND).
	DeleteDropzone(ctx context.Context, id string) error
}
