package mft

import (
	"context"
	"slices"
	"time"
)

// Session is a live SFTP or FTPS session as administrators see it.
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

// SessionServices joins the live sessions of several servers (SFTP, FTPS)
// into one list.
type SessionServices []SessionService

// Sessions returns every server's live sessions, oldest first.
func (ss SessionServices) Sessions() []Session {
	var out []Session
	for _, s := range ss {
		out = append(out, s.Sessions()...)
	}
	slices.SortStableFunc(out, func(a, b Session) int { return a.StartedAt.Compare(b.StartedAt) })
	return out
}

// EndSession ends the session id on whichever server has it.
func (ss SessionServices) EndSession(ctx context.Context, id string) error {
	for _, s := range ss {
		if err := s.EndSession(ctx, id); ErrorCode(err) != ENOTFOUND {
			return err
		}
	}
	return Errorf(ENOTFOUND, "Session not found.")
}
