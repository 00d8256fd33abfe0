// Package files is the one file service every protocol goes through: it
// maps a user's view of the tree to storage paths, checks permissions and
// limits, confines every access to an os.Root on data/files, publishes
// uploads atomically, tracks usage and emits events.
package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"

	"depot/mft"
)

// MaxPathLen and MaxNameLen bound client paths.
const (
	MaxPathLen = 4096
	MaxNameLen = 255
)

// Service implements file operations for every protocol.
type Service struct {
	Permissions mft.PermissionStore
	Usage       mft.UsageStore
	// Folders holds folder rules; nil means none.
	Folders mft.FolderStore
	// Buckets tells whether a bucket user's bucket is active; nil means
	// no buckets.
	Buckets mft.BucketStore
	// Backends serves the storage paths mounted on connections; nil
	// keeps everything on the local disk.
	Backends Backends
	// Logger takes what clients are not told (a mounted storage's own
	// errors); nil drops it.
	Logger *slog.Logger
	// Events receives file events; nil drops them.
	Events mft.EventSink
	Now    func() time.Time
	// Shared says other nodes serve the same data directory (a shared
	// filesystem): Begin then leaves their uploads' staging files alone.
	Shared bool
	// Sync makes each upload durable (file and folder synced) before it is
	// published and acknowledged; Open sets it.
	Sync bool
	// Pieces, when nodes share a database, records which node holds each
	// chunked upload's pieces (in its own staging), so that a piece sent
	// to another node is refused with a clear error; nil on one node.
	Pieces mft.PieceStore
	// MaxPendingUploads bounds the chunked uploads one uploader may have
	// unfinished at once (DefaultMaxPendingUploads when 0).
	MaxPendingUploads int
	// Scanner scans every upload before it is published (nil: none), as
	// ScanPolicy says for what it cannot scan; infected files go to the
	// quarantine (SetQuarantine).
	Scanner    Scanner
	ScanPolicy ScanPolicy

	// Generation returns the access generation (store.DB's
	// AccessGeneration): a Session keeps its actor's view until it
	// changes. nil: views are read for each operation.
	Generation func() uint64
	// Users, when set, is where a Session reads its account again when
	// the access generation changes: its groups, home and role as they
	// are now, and a deactivated or deleted account refused.
	Users interface {
		FindUserByID(ctx context.Context, id string) (*mft.User, error)
	}

	dataDir  string
	root     *os.Root // data/files
	filesDir *os.File // data/files, for a Session's checks of its trees
	tmpRoot  *os.Root // data/tmp: staging files and upload pieces
	tmp      *os.File // data/tmp, for renameat2 from staging to the tree
	dirs     dirCache // folders of mounts seen lately
	chunks   chunkSets
	// quarantine is data/quarantine (SetQuarantine).
	quarantine *quarantine
	locks      setLocks // of the chunk sets being written and claimed
	// anonymous: staging files are made without a name (O_TMPFILE) and
	// linked into place, through /proc with viaProc; Open finds out what
	// data/tmp and the process's privileges allow.
	anonymous, viaProc bool
}

// Open opens the storage root and staging directory below dataDir
// (creating them if needed). Both must be on one filesystem.
func Open(dataDir string) (*Service, error) {
	filesDir, tmpDir := path.Join(dataDir, "files"), path.Join(dataDir, "tmp")
	for _, d := range []string{filesDir, tmpDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("files: %w", err)
		}
	}
	root, err := os.OpenRoot(filesDir)
	if err != nil {
		return nil, fmt.Errorf("files: open storage root: %w", err)
	}
	tmpRoot, err := os.OpenRoot(tmpDir)
	if err != nil {
		root.Close()
		return nil, fmt.Errorf("files: open staging directory: %w", err)
	}
	tmp, err := tmpRoot.Open(".")
	if err != nil {
		root.Close()
		tmpRoot.Close()
		return nil, fmt.Errorf("files: open staging directory: %w", err)
	}
	top, err := root.Open(".")
	if err != nil {
		root.Close()
		tmpRoot.Close()
		tmp.Close()
		return nil, fmt.Errorf("files: open storage root: %w", err)
	}
	s := &Service{dataDir: dataDir, root: root, filesDir: top, tmpRoot: tmpRoot, tmp: tmp, Now: time.Now, Sync: true}
	for _, viaProc := range []bool{false, true} {
		if s.canLinkAnonymous(viaProc) {
			s.anonymous, s.viaProc = true, viaProc
			break
		}
	}
	return s, nil
}

// canLinkAnonymous tries what anonymous staging needs: a file without a
// name in data/tmp, linked to a name (which is removed again).
func (s *Service) canLinkAnonymous(viaProc bool) bool {
	f, err := openAnonymous(s.tmp)
	if err != nil {
		return false
	}
	defer f.Close()
	name := ".probe-" + randText()
	if linkAnonymous(f, s.tmp, name, viaProc) != nil {
		return false
	}
	return s.tmpRoot.Remove(name) == nil
}

// Close releases the directory handles.
func (s *Service) Close() error {
	return errors.Join(s.root.Close(), s.filesDir.Close(), s.tmp.Close(), s.tmpRoot.Close())
}

// Actor is who performs an operation, over which protocol, from where.
type Actor struct {
	User     *mft.User
	Protocol string
	IP       string
	// Depth is set for automations: how many automations led here.
	Depth int
	// Quotas are limits of the workflow acting (a filedrop's holding
	// area), applied with the user's and the folders'.
	Quotas []Quota
	// Session, when set, keeps the actor's view and open trees from one
	// operation to the next (NewSession); nil reads them for each.
	Session *Session
}

// Quota limits the bytes stored below a storage path.
type Quota struct {
	Path  string
	Bytes int64
}

// CleanPath checks a client path and returns it cleaned, absolute and
// slash-separated. NUL and control characters, backslashes, ".." segments
// and over-long names are refused with EMALFORMED.
func CleanPath(p string) (string, error) {
	if len(p) > MaxPathLen {
		return "", mft.Errorf(mft.EMALFORMED, "Path is longer than %d bytes.", MaxPathLen)
	}
	if !utf8.ValidString(p) {
		return "", mft.Errorf(mft.EMALFORMED, "Path is not valid UTF-8; names must be UTF-8 text.")
	}
	for _, r := range p {
		switch {
		case unicode.IsControl(r):
			return "", mft.Errorf(mft.EMALFORMED, "Path contains a control character.")
		case unicode.Is(unicode.Bidi_Control, r):
			// U+202E and its kin make "gpj.exe" display as "exe.jpg".
			return "", mft.Errorf(mft.EMALFORMED, "Path contains a bidirectional control character (U+%04X), which can disguise a name.", r)
		}
	}
	if strings.Contains(p, "\\") {
		return "", mft.Errorf(mft.EMALFORMED, "Path contains a backslash; use / as the separator.")
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", mft.Errorf(mft.EMALFORMED, "Path may not contain \"..\".")
		}
		if len(seg) > MaxNameLen {
			return "", mft.Errorf(mft.EMALFORMED, "A name in the path is longer than %d bytes.", MaxNameLen)
		}
	}
	return path.Clean("/" + p), nil
}

// rel turns a storage path into a name relative to a root at base.
func rel(base, storage string) string {
	if storage == base {
		return "."
	}
	if base == "/" {
		return storage[1:]
	}
	return storage[len(base)+1:]
}

// fsError maps an error from the disk to an mft error a client may see,
// without host paths.
func fsError(err error, clientPath string) error {
	var me *mft.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &me):
		return err
	case errors.Is(err, fs.ErrNotExist):
		return mft.Errorf(mft.ENOTFOUND, "%s does not exist.", clientPath)
	case errors.Is(err, fs.ErrExist):
		return mft.Errorf(mft.ECONFLICT, "%s already exists.", clientPath)
	case errors.Is(err, syscall.ENOTDIR):
		return mft.Errorf(mft.ENOTFOUND, "A parent of %s is not a folder.", clientPath)
	case errors.Is(err, syscall.ENOTEMPTY):
		return mft.Errorf(mft.ECONFLICT, "%s is not empty; pass recursive=true to delete it with its contents.", clientPath)
	case errors.Is(err, syscall.ENAMETOOLONG):
		return mft.Errorf(mft.EMALFORMED, "Path is too long.")
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return mft.Errorf(mft.EQUOTA, "The server's disk is full.")
	case strings.Contains(err.Error(), "path escapes from parent"):
		return mft.Errorf(mft.ENOTFOUND, "%s does not exist.", clientPath)
	}
	return fmt.Errorf("files: %s: %w", clientPath, err)
}

func (s *Service) publish(ev mft.Event, a Actor) {
	if s.Events == nil {
		return
	}
	s.Events.Publish(s.stamp(ev, a))
}

// publishDurable publishes ev and, when durable and the sink can, returns
// once it is stored: the event of an upload that is acknowledged as
// durable must survive a crash with it.
func (s *Service) publishDurable(ctx context.Context, ev mft.Event, a Actor, durable bool) error {
	if d, ok := s.Events.(mft.DurableSink); ok && durable {
		if err := d.PublishDurable(context.WithoutCancel(ctx), s.stamp(ev, a)); err != nil {
			return fmt.Errorf("files: store the %s event of %s: %w", ev.Event, ev.Path, err)
		}
		return nil
	}
	s.publish(ev, a)
	return nil
}

// stamp fills in who, how, when and the status of an event.
func (s *Service) stamp(ev mft.Event, a Actor) mft.Event {
	if a.User != nil {
		ev.Actor, ev.Bucket = a.User.ID, a.User.Bucket
	}
	ev.Protocol, ev.IP, ev.Depth = a.Protocol, a.IP, a.Depth
	if ev.Status == "" {
		ev.Status = mft.StatusOK
	}
	ev.Time = s.Now().UTC()
	return ev
}

// info builds the FileInfo of a file at a client path.
func info(clientPath string, fi fs.FileInfo) mft.FileInfo {
	t := mft.TypeFile
	size := fi.Size()
	if fi.IsDir() {
		t, size = mft.TypeFolder, 0
	}
	return mft.FileInfo{Name: path.Base(clientPath), Path: clientPath, Type: t, Size: size, ModifiedAt: fi.ModTime().UTC().Truncate(time.Second)}
}
