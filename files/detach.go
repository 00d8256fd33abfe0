package files

import (
	"context"
	"errors"
	"io/fs"
	"path"

	"depot/mft"
)

// detachedPrefix starts the names of detached storage in data/tmp.
const detachedPrefix = ".detached-"

// Detached is storage taken out of the tree for a removal that may still
// be called off: a workflow detaches what it removes, commits its records,
// then discards it, or restores it when the records could not change.
type Detached struct {
	s       *Service
	storage string
	// trash is its name in data/tmp while detached; "" when nothing was on
	// the local disk. The sweep at start-up removes what a crash left.
	trash string
	dir   bool
	size  int64
	// mounted storage stays in place until Discard removes it.
	mounted bool
}

// Detach takes the local storage at storagePath out of the tree at once
// (one rename into data/tmp): nobody reaches it any more, and nothing is
// lost until Discard. Storage on a mount is left in place for Discard.
func (s *Service) Detach(ctx context.Context, storagePath string) (*Detached, error) {
	p, err := CleanPath(storagePath)
	if err != nil {
		return nil, err
	}
	if p == "/" {
		return nil, mft.Errorf(mft.EINVALID, "The storage root cannot be removed.")
	}
	t := target{client: p, storage: p, base: "/", view: &view{admin: true, home: "/"}}
	if err := s.locate(ctx, &t); err != nil {
		return nil, err
	}
	d := &Detached{s: s, storage: p, mounted: t.mount != nil}
	if d.mounted {
		return d, nil
	}
	fi, err := s.root.Lstat(rel("/", p))
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	} else if err != nil {
		return nil, fsError(err, p)
	}
	parent, err := dirFD(s.root, path.Dir(rel("/", p)))
	if err != nil {
		return nil, fsError(err, p)
	}
	defer parent.Close()
	for {
		trash := detachedPrefix + randText()
		err = renameat(parent, path.Base(p), s.tmp, trash, true)
		if !errors.Is(err, fs.ErrExist) {
			if err != nil {
				return nil, fsError(err, p)
			}
			d.trash, d.dir, d.size = trash, fi.IsDir(), fi.Size()
			return d, nil
		}
	}
}

// Restore puts detached storage back where it was. Something made at its
// place meanwhile (an upload into a home while the removal was under way)
// is exchanged with it and left in data/tmp, which the next start clears:
// what was detached comes back whole.
func (d *Detached) Restore() error {
	if d.trash == "" {
		return nil
	}
	parent, err := dirFD(d.s.root, path.Dir(rel("/", d.storage)))
	if err != nil {
		return fsError(err, d.storage)
	}
	defer parent.Close()
	err = renameat(d.s.tmp, d.trash, parent, path.Base(d.storage), true)
	if errors.Is(err, fs.ErrExist) {
		if err = exchangeat(d.s.tmp, d.trash, parent, path.Base(d.storage)); err == nil {
			d.s.tmpRoot.Remove(d.trash) // gone now if it holds nothing
		}
	}
	if err != nil {
		return fsError(err, d.storage)
	}
	d.trash = ""
	return nil
}

// Discard removes detached storage for good, with its usage.
func (d *Detached) Discard(ctx context.Context) error {
	switch {
	case d.mounted:
		return d.s.RemoveStorage(ctx, d.storage)
	case d.trash == "":
		return nil
	}
	if err := d.s.tmpRoot.RemoveAll(d.trash); err != nil {
		return fsError(err, d.storage)
	}
	d.trash = ""
	if d.dir {
		return d.s.Usage.DeleteUsage(context.WithoutCancel(ctx), d.storage)
	}
	d.s.addUsage(ctx, path.Dir(d.storage), -d.size)
	return nil
}
