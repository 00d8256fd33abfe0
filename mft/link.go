package mft

import (
	"context"
	"time"
)

// Link shares a file or folder through an unguessable URL, optionally
// with a password, an expiry, a download limit, or uploads into the folder.
type Link struct {
	ID           string     `json:"id"`
	Path         string     `json:"path"`        // storage path
	ClientPath   string     `json:"client_path"` // as its creator shared it, for uploads
	Folder       bool       `json:"folder"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	PasswordHash string     `json:"password_hash,omitempty"`
	MaxDownloads int        `json:"max_downloads"` // 0 = no limit
	Downloads    int        `json:"downloads"`
	AllowUpload  bool       `json:"allow_upload"`
	CreatedBy    string     `json:"created_by"`
	CreatedAt    time.Time  `json:"created_at"`
}

// Expired reports whether the link no longer serves downloads at t.
func (l *Link) Expired(t time.Time) bool {
	return l.ExpiresAt != nil && !t.Before(*l.ExpiresAt)
}

// LinkStore stores links.
type LinkStore interface {
	CreateLink(ctx context.Context, l *Link) error
	FindLink(ctx context.Context, id string) (*Link, error)
	// FindLinks lists one page, only the creator's unless by is "".
	FindLinks(ctx context.Context, by string, page Page) ([]*Link, bool, error)
	DeleteLink(ctx context.Context, id string) error
	// ClaimDownload counts one download if the limit allows, in one
	// transaction (EEXPIRED otherwise), so concurrent downloads never pass
	// max_downloads.
	ClaimDownload(ctx context.Context, id string, now time.Time) (*Link, error)
}
