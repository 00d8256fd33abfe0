package mft

import (
	"context"
	"time"
)

// File types.
const (
	TypeFile   = "file"
	TypeFolder = "folder"
)

// FileInfo describes a file or folder as a client sees it.
type FileInfo struct {
	Name       string    `json:"name"`
	Path       string    `json:"path"`
	Type       string    `json:"type"`
	Size       int64     `json:"size"`
	ModifiedAt time.Time `json:"modified_at"`
	SHA256     string    `json:"sha256,omitempty"`
}

// UsageStore tracks how many bytes lie below each folder of the storage
// tree, so that a quota check is one lookup.
type UsageStore interface {
	// Usage returns the bytes stored below the storage path dir.
	Usage(ctx context.Context, dir string) (int64, error)
	// AddUsage adds delta bytes to every folder from the root down to dir.
	AddUsage(ctx context.Context, dir string, delta int64) error
	// MoveUsage moves the usage of the folder tree at from (with size bytes)
	// to to, updating the ancestors of both.
	MoveUsage(ctx context.Context, from, to string, size int64) error
	// DeleteUsage forgets the folder tree at dir and takes its bytes off
	// its ancestors.
	DeleteUsage(ctx context.Context, dir string) error
	// ReplaceUsage sets the whole table from a fresh walk of the disk.
	ReplaceUsage(ctx context.Context, usage map[string]int64) error
}

// PieceStore records, when nodes share a database, which node holds the
// pieces of each unfinished chunked upload: its pieces are files in that
// node's staging, so a piece sent to another node is refused at once
// rather than stored where the upload never completes.
type PieceStore interface {
	// HoldPieces records that this node holds the pieces of upload id,
	// unless a live node other than this one does (ECONFLICT).
	HoldPieces(ctx context.Context, id string) error
	// DropPieces forgets upload id (published, or its pieces removed).
	DropPieces(ctx context.Context, id string) error
}
