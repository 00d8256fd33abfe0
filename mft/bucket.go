package mft

import (
	"context"
	"strings"
	"time"
)

// Bucket is an isolated space for one customer: its users live in
// /buckets/<id>/ and reach nothing else; Active false locks them all out
// at once.
type Bucket struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Active    bool      `json:"active"`
	QuotaMB   int64     `json:"quota_mb"` // all its users together; 0 = none
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// MaxMB bounds every size given in megabytes (1 PiB), so that converting
// it to bytes cannot overflow.
const MaxMB = 1 << 30

// BucketRoot is the storage folder of a bucket.
func BucketRoot(id string) string { return "/buckets/" + id }

// Validate reports the first problem as an EINVALID error.
func (b *Bucket) Validate() error {
	switch {
	case strings.TrimSpace(b.Name) == "" || len(b.Name) > 200:
		return Errorf(EINVALID, "name is required (at most 200 characters)")
	case b.QuotaMB < 0 || b.QuotaMB > MaxMB:
		return Errorf(EINVALID, "quota_mb must be 0 (no limit) up to %d (megabytes)", MaxMB)
	}
	return nil
}

// BucketStore stores buckets. Each change is one transaction with what
// belongs to the bucket: the folder rule at its root that holds its quota,
// its users and their dropzones.
type BucketStore interface {
	FindBucket(ctx context.Context, id string) (*Bucket, error)
	FindBuckets(ctx context.Context, page Page) ([]*Bucket, bool, error)
	// CreateBucket validates b and stores it with a new id, and a folder
	// rule at its root when it has a quota.
	CreateBucket(ctx context.Context, b *Bucket) error
	// UpdateBucket stores b as it is, with the quota of the rule at its
	// root following b.QuotaMB; endSessions ends the web sessions of every
	// user of the bucket.
	UpdateBucket(ctx context.Context, b *Bucket, endSessions bool) error
	// DeleteBucket removes the bucket, its users (with their tokens and
	// permissions), their dropzones (with their files' records) and the
	// folder rules at and below its root, and returns the ids of the
	// dropzones removed, whose files the caller removes.
	DeleteBucket(ctx context.Context, id string) (dropzones []string, err error)
}

// Settings are the appliance-wide switches of /admin/settings.
type Settings struct {
	AllowBucketDeletion bool `json:"allow_bucket_deletion"`
	// RequireTwoFactorAdmins makes every administrator's password login
	// need a two-factor code (set up at their next web sign-in).
	RequireTwoFactorAdmins bool `json:"require_two_factor_for_admins"`
}

// SettingsStore stores the settings.
type SettingsStore interface {
	Settings(ctx context.Context) (Settings, error)
	PutSettings(ctx context.Context, s Settings) error
}
