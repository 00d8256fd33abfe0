package mft

import (
	"context"
	"time"
)

// Session is a live SFTP session as administrators see it.
type Session struct {
	ID        string     `json:"id"`
	User      string     `json:"user"`
	IP        string     `json:"ip"`
	Protocol  string     `json:"protocol"`
	StartedAt time.Time  `json:"started_at"`
	BytesIn   int64      `json:"bytes_in"`
	BytesOut  int64      `json:"bytes_out"`
	Transfers []Transfer `json:"transfers"`
}

// Transfer is a file open for reading or writing in a session.
type Transfer struct {
	Path      string    `json:"path"`
	Direction string    `json:"direction"` // "upload" or "download"
	Bytes     int64     `json:"bytes"`
	StartedAt time.Time `json:"started_at"`
}

// SessionService lists and ends live sessions.
type SessionService interface {
	// Sessions returns the live sessions, oldest first.
	Sessions() []Session
	// EndSession closes a session; returns ENOTFOUND if it is not live.
	EndSession(ctx context.Context, id string) error
}
