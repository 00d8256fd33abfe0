package remote

import (
	"context"
	"path"
	"strings"

	"depot/mft"
)

// What the object stores (S3, Azure Blob, GCS) share: folders are name
// prefixes, a folder may have a marker object ("dir/"), and one listing
// tells a file from a folder.

// listed is one name of a short listing (delimiter "/") that starts at a
// key: an object, or a common prefix (prefix set).
type listed struct {
	name   string
	prefix bool
	entry  Entry
}

// objectStore is what statAny and the folder helpers ask of an object
// store.
type objectStore interface {
	Stat(ctx context.Context, p string) (Entry, error)
	List(ctx context.Context, dir string) ([]Entry, error)
	// around lists up to four names from key on, delimiter "/", and
	// tells whether the listing ended there.
	around(ctx context.Context, key string) (items []listed, ended bool, err error)
	// folder describes the folder p (ENOTFOUND when nothing is below it).
	folder(ctx context.Context, p string) (Entry, error)
	key(p string) string
}

// statAny asks in one request for the key and whatever sorts next to
// it: names sort "name" < "name.bak" < "name/" < "name0", so a short page
// of the listing that starts at the name shows whether it is an object,
// a folder (the prefix "name/", with or without a marker) or neither. A
// page that ends before that is decided asks again by the object and the
// folder.
func statAny(ctx context.Context, s objectStore, p string) (Entry, error) {
	if strings.Trim(p, "/") == "" {
		return Entry{Name: "/", Dir: true}, nil
	}
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	key := s.key(p)
	items, decided, err := s.around(ctx, key)
	if err != nil {
		return Entry{}, err
	}
	dir := false
	for _, x := range items {
		switch {
		case !x.prefix && x.name == key:
			x.entry.Name = path.Base(p)
			return x.entry, nil
		case x.prefix && x.name == key+"/":
			dir = true
		}
		decided = decided || x.name > key+"/"
	}
	switch {
	case dir:
		return s.folder(ctx, p) // for the marker's time
	case decided:
		return Entry{}, notFound(p)
	}
	e, err := s.Stat(ctx, p)
	if mft.ErrorCode(err) != mft.ENOTFOUND {
		return e, err
	}
	return s.folder(ctx, p)
}

// statDir asks for a key below p first: one request for a folder.
func statDir(ctx context.Context, s objectStore, p string) (Entry, error) {
	if strings.Trim(p, "/") == "" {
		return Entry{Name: "/", Dir: true}, nil
	}
	e, err := s.folder(ctx, p)
	if mft.ErrorCode(err) != mft.ENOTFOUND {
		return e, err
	}
	return s.Stat(ctx, p)
}

// removeDir removes an empty folder's marker (a folder with entries is
// ECONFLICT); removeMarker treats a missing marker as done.
func removeDir(ctx context.Context, s objectStore, dir string, removeMarker func() error) error {
	if list, err := s.List(ctx, dir); err != nil {
		return err
	} else if len(list) > 0 {
		return notEmpty(dir)
	}
	return removeMarker()
}
