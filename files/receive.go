package files

import (
	"context"
	"io"
	"strings"

	"depot/mft"
)

// Confined returns an actor whose whole tree is one storage folder that no
// user sees, such as a dropzone's or a filedrop submission's holding area.
// The workflow that owns the folder decides who gets in; inside it the
// actor has every permission, and maxFileSize (in MB, 0 for none) caps each
// file. name appears as the actor in the audit log; from is who is on the
// other end (its protocol and address; no user).
func Confined(name, storageFolder string, maxFileSize int64, from Actor) Actor {
	u := &mft.User{ID: name, Role: mft.RoleUser, Home: storageFolder, MaxFileSize: maxFileSize, Active: true}
	return Actor{User: u, Protocol: from.Protocol, IP: from.IP}
}

// Piece names one piece of a chunked upload: Index counts from 0 to
// Count-1 (LiquidFiles' chunk and chunks).
type Piece struct {
	Index, Count int
}

// Receive uploads body to clientPath whole (piece nil) or as one piece of
// a chunked upload. done is false for a piece that did not complete the
// file, whose progress is returned; a complete file is returned with its
// sha256. It returns the errors of Upload and UploadChunk.
func (s *Service) Receive(ctx context.Context, a Actor, clientPath string, body io.Reader, opts UploadOptions, piece *Piece) (fi mft.FileInfo, progress Chunk, done bool, err error) {
	if piece == nil {
		fi, err = s.Upload(ctx, a, clientPath, body, opts)
		return fi, progress, err == nil, err
	}
	return s.UploadChunk(ctx, a, clientPath, body, piece.Index, piece.Count, opts)
}

// PlainName reports whether name is a file name alone: not empty, no
// folder, no "." or "..", and nothing CleanPath refuses (control
// characters, backslashes, over-long names).
func PlainName(name string) bool {
	if name == "" || name == "." || name == ".." || strings.Contains(name, "/") {
		return false
	}
	_, err := CleanPath("/" + name)
	return err == nil
}
