package files

import (
	"context"
	"io"
	"os"
	"time"

	"depot/mft"
)

// storage is where a target's files are: the local disk below the
// target's tree (local.go) or the storage connection mounted there
// (mounted.go). storageOf decides which, once per operation; the rules
// stay above it, in the Service: who may do what, folder rules and
// quotas (limits, checkMove), usage and events. A new kind of storage
// behind a mount is a remote.Tree and a connection type, not a storage.
type storage interface {
	// stat describes the target; a symlink or device planted on the disk
	// does not exist.
	stat(ctx context.Context) (mft.FileInfo, error)
	// list lists the target folder with the mounts inside it.
	list(ctx context.Context) ([]mft.FileInfo, error)
	// open opens the target file for reading.
	open(ctx context.Context) (File, mft.FileInfo, error)
	// mkdir creates the target folder and its missing parents; ECONFLICT
	// when something is there.
	mkdir(ctx context.Context) (mft.FileInfo, error)
	// remove removes the target file, or folder (empty, or with recursive
	// everything in it), and says which it was and a file's size.
	remove(ctx context.Context, recursive bool) (dir bool, size int64, err error)
	// setTimes sets a file's times where the storage keeps them.
	setTimes(ctx context.Context, atime, mtime time.Time) error

	// beginUpload checks an upload to the target against what is there
	// and returns the writer of the limits that apply; on a mount what is
	// there is learnt while the bytes flow (lw.ready waits for it).
	beginUpload(ctx context.Context, a Actor, opts UploadOptions) (*limitWriter, error)
	// receive streams body through lw to the target, published once
	// complete; a refused or broken upload leaves nothing.
	receive(ctx context.Context, a Actor, lw *limitWriter, body io.Reader, opts UploadOptions) (mft.FileInfo, error)
	// publishFile publishes f, a complete file named stagingName in
	// data/tmp, at the target through lw.
	publishFile(ctx context.Context, a Actor, lw *limitWriter, f *os.File, stagingName string, opts UploadOptions) (mft.FileInfo, error)
	// create starts an upload written at any offset (SFTP), published by
	// its Commit; the Pending owns what the storage holds open.
	create(ctx context.Context, a Actor, lw *limitWriter, opts UploadOptions) (*Pending, error)
	// removeAll removes the target, whatever it is, outside any view.
	removeAll(ctx context.Context) error

	// sameAs reports whether a rename from this storage to o is o's own
	// (one local disk, one mount), not a copy and a delete.
	sameAs(o storage) bool
	// renameTo renames the target to dst's (a storage sameAs this one).
	renameTo(ctx context.Context, a Actor, dst storage, replace bool) (mft.FileInfo, error)

	// close releases what the storage holds open.
	close()
}

// storageOf returns the storage of t, setting t.mount when it lives on
// a mount. The caller closes it.
func (s *Service) storageOf(ctx context.Context, t *target) (storage, error) {
	if err := s.locate(ctx, t); err != nil {
		return nil, err
	}
	if t.mount != nil {
		return &mounted{s: s, t: *t}, nil
	}
	root, held, err := s.openTree(*t)
	if err != nil {
		return nil, err
	}
	return &local{s: s, t: *t, root: root, held: held}, nil
}

// prepare resolves a client path for an actor, checks perm and returns
// the path's storage, which the caller closes.
func (s *Service) prepare(ctx context.Context, a Actor, clientPath, perm string) (target, storage, error) {
	v, err := s.viewOf(ctx, a)
	if err != nil {
		return target{}, nil, err
	}
	t, err := v.resolve(clientPath)
	if err != nil {
		return target{}, nil, err
	}
	if err := t.need(perm); err != nil {
		return target{}, nil, err
	}
	st, err := s.storageOf(ctx, &t)
	if err != nil {
		return target{}, nil, err
	}
	return t, st, nil
}

// storageAt returns the storage of a storage path outside any user's view
// (the caller decided who may reach it), which the caller closes.
func (s *Service) storageAt(ctx context.Context, storagePath, shown string) (target, storage, error) {
	p, err := CleanPath(storagePath)
	if err != nil {
		return target{}, nil, err
	}
	t := target{client: shown, storage: p, base: "/", view: &view{admin: true, home: "/"}}
	if shown == "" {
		t.client = p
	}
	st, err := s.storageOf(ctx, &t)
	return t, st, err
}
