// Package remote is Depot's side of a storage connection: one small
// interface over a partner's SFTP server, an FTP or FTPS server, or an
// S3-compatible object store, each on the well-kept client library of
// its protocol (pkg/sftp, jlaffaye/ftp, minio-go). Paths are slash paths
// relative to the connection's base path or prefix.
package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"depot/mft"
)

// Entry is a remote file or folder.
type Entry struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modified_at"`
	Dir     bool      `json:"dir,omitempty"`
}

// Store is an open connection to a remote. It is safe for concurrent use
// only where Caps says so (FTP has one control connection).
type Store interface {
	// List returns the entries of a folder.
	List(ctx context.Context, dir string) ([]Entry, error)
	// Stat returns one entry; a missing one is ENOTFOUND.
	Stat(ctx context.Context, p string) (Entry, error)
	// Get reads a file from offset on.
	Get(ctx context.Context, p string, offset int64) (io.ReadCloser, error)
	// Put writes r to p from offset on (0: a new file) and returns the
	// bytes written. Where the protocol allows, a Put that fails leaves
	// what arrived, to resume from.
	Put(ctx context.Context, p string, r io.Reader, offset int64) (int64, error)
	// Rename replaces to with from (atomic on SFTP and FTP; a copy and a
	// delete on S3).
	Rename(ctx context.Context, from, to string) error
	Remove(ctx context.Context, p string) error
	// Mkdir creates a folder and its parents; one that exists is fine.
	Mkdir(ctx context.Context, dir string) error
	// Caps says what the remote can do.
	Caps() Caps
	Close() error
}

// Caps are a remote's abilities.
type Caps struct {
	// AtomicRename: a file written under a temporary name appears whole
	// by renaming it (S3 objects appear whole anyway).
	AtomicRename bool
	// Resume: Put can continue at an offset.
	Resume bool
	// Concurrent: calls may run at once (one SFTP session multiplexes
	// its requests; S3 calls are independent HTTP requests).
	Concurrent bool
}

// Info is what connecting learned: for the connection test.
type Info struct {
	// Identity is the server's host-key fingerprint (sftp) or
	// certificate (ftps), or the endpoint (s3).
	Identity string `json:"identity,omitempty"`
	Latency  time.Duration
}

// TempPrefix starts the names of what an upload in progress keeps beside
// its target (a temporary file on SFTP and FTP, the parts of a GCS
// send); mounted listings never show them.
const TempPrefix = ".depot-upload-"

// Timeout bounds connecting and each remote call without progress.
const Timeout = 30 * time.Second

// Dial connects to c, whose secrets are in clear (unsealed by the caller).
func Dial(ctx context.Context, c *mft.Connection) (Store, Info, error) {
	start := time.Now()
	var s Store
	var info Info
	var err error
	switch c.Type {
	case mft.ConnSFTP:
		s, info, err = dialSFTP(ctx, c)
	case mft.ConnFTP, mft.ConnFTPS:
		s, info, err = dialFTP(ctx, c)
	case mft.ConnS3:
		s, info, err = dialS3(ctx, c)
	case mft.ConnAzure:
		s, info, err = dialAzure(ctx, c)
	case mft.ConnGCS:
		s, info, err = dialGCS(ctx, c)
	case mft.ConnAS2:
		err = errors.New("an as2 connection sends files to an AS2 partner with the upload action; it cannot be listed, read or mounted")
	default:
		err = fmt.Errorf("unknown connection type %q", c.Type)
	}
	info.Latency = time.Since(start)
	if err != nil {
		return nil, info, Failed(c, "connect", err)
	}
	return s, info, nil
}

// Failed wraps a remote's error as EUNAVAILABLE naming the connection
// and what was tried, in the remote's own words (never a secret: none is
// part of any message the clients produce).
func Failed(c *mft.Connection, what string, err error) error {
	var e *mft.Error
	if errors.As(err, &e) {
		return err
	}
	return mft.Errorf(mft.EUNAVAILABLE, "%s (%s %s): %s failed: %s", c.Name, c.Type, c.ID, what, redact(err.Error(), c))
}

// redact removes any secret of c that a message might echo.
func redact(msg string, c *mft.Connection) string {
	for _, s := range []string{c.Password, c.SecretKey, c.PrivateKey, c.AccountKey, c.SASToken, c.ConnectionString, c.CredentialsJSON} {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "(set)")
		}
	}
	return msg
}

// Clean makes p a slash path relative to the remote's root: no "..", no
// leading /.
func Clean(p string) (string, error) {
	if strings.ContainsAny(p, "\x00\\") {
		return "", mft.Errorf(mft.EINVALID, "remote path %q may not contain a backslash or NUL", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == ".." {
			return "", mft.Errorf(mft.EINVALID, "remote path %q may not contain \"..\"", p)
		}
	}
	return strings.TrimPrefix(path.Clean("/"+p), "/"), nil
}

// notFound is the ENOTFOUND of a remote path.
func notFound(p string) error {
	return mft.Errorf(mft.ENOTFOUND, "%s does not exist on the remote.", "/"+strings.TrimPrefix(p, "/"))
}
