package store

import (
	"context"
	"crypto/rand"
	"path"
	"strings"
	"time"

	"depot/mft"
)

var (
	bucketFolders     = []byte("Folders")
	bucketFoldersPath = []byte("Folders.Path")
)

// FolderStore stores folder rules in bbolt, indexed by path so that the
// rules above a file are found with one lookup per ancestor.
type FolderStore struct {
	db *DB
}

var _ mft.FolderStore = (*FolderStore)(nil)

// NewFolderStore returns a FolderStore backed by db.
func NewFolderStore(db *DB) *FolderStore { return &FolderStore{db: db} }

// FindFolderByID returns ENOTFOUND if the rule does not exist.
func (s *FolderStore) FindFolderByID(ctx context.Context, id string) (*mft.Folder, error) {
	var f *mft.Folder
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		f, err = findFolderByID(tx, id)
		return err
	})
	return f, err
}

// FindFolders returns one page of rules ordered by id.
func (s *FolderStore) FindFolders(ctx context.Context, page mft.Page) ([]*mft.Folder, bool, error) {
	var (
		out  []*mft.Folder
		more bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, more, err = list[mft.Folder](tx.Bucket(bucketFolders), page, nil)
		return err
	})
	return out, more, err
}

// FindFoldersAbove returns the rules on p and its ancestors, nearest first.
func (s *FolderStore) FindFoldersAbove(ctx context.Context, p string) ([]*mft.Folder, error) {
	var out []*mft.Folder
	err := s.db.view(ctx, func(tx kvTx) error {
		idx := tx.Bucket(bucketFoldersPath)
		for dir := p; ; dir = path.Dir(dir) {
			if id := idx.Get([]byte(dir)); id != nil {
				f, err := findFolderByID(tx, string(id))
				if err != nil {
					return err
				}
				out = append(out, f)
			}
			if dir == "/" || dir == "." {
				return nil
			}
		}
	})
	return out, err
}

// FindRetentionFolders returns every rule with retention_days set.
func (s *FolderStore) FindRetentionFolders(ctx context.Context) ([]*mft.Folder, error) {
	var out []*mft.Folder
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, err = findAll(tx.Bucket(bucketFolders), func(f *mft.Folder) bool { return f.RetentionDays > 0 })
		return err
	})
	return out, err
}

// CreateFolder validates and stores f with a new id.
func (s *FolderStore) CreateFolder(ctx context.Context, f *mft.Folder) error {
	if err := f.Validate(); err != nil {
		return err
	}
	f.ID = "fld_" + strings.ToLower(rand.Text()[:16])
	return s.db.update(ctx, func(tx kvTx) error { return createFolder(tx, f, s.db.now()) })
}

// createFolder stores f, whose id is set, unless its path has rules.
func createFolder(tx kvTx, f *mft.Folder, now time.Time) error {
	if id := tx.Bucket(bucketFoldersPath).Get([]byte(f.Path)); id != nil {
		return mft.Errorf(mft.EINVALID, "path: %s already has folder rules (%s); update those", f.Path, id)
	}
	f.CreatedAt, f.UpdatedAt = now, now
	if err := tx.Bucket(bucketFoldersPath).Put([]byte(f.Path), []byte(f.ID)); err != nil {
		return err
	}
	return put(tx.Bucket(bucketFolders), f.ID, f)
}

// UpdateFolder changes the rules of a folder; its path stays.
func (s *FolderStore) UpdateFolder(ctx context.Context, id string, upd mft.FolderUpdate) (*mft.Folder, error) {
	var out *mft.Folder
	err := s.db.update(ctx, func(tx kvTx) error {
		f, err := findFolderByID(tx, id)
		if err != nil {
			return err
		}
		f.Apply(upd)
		if err := f.Validate(); err != nil {
			return err
		}
		f.UpdatedAt = s.db.now()
		out = f
		return put(tx.Bucket(bucketFolders), f.ID, f)
	})
	return out, err
}

// DeleteFolder removes a rule; the files stay.
func (s *FolderStore) DeleteFolder(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		f, err := findFolderByID(tx, id)
		if err != nil {
			return err
		}
		return deleteFolder(tx, f)
	})
}

func deleteFolder(tx kvTx, f *mft.Folder) error {
	if err := tx.Bucket(bucketFoldersPath).Delete([]byte(f.Path)); err != nil {
		return err
	}
	return tx.Bucket(bucketFolders).Delete([]byte(f.ID))
}

// folderAt returns the rule on exactly p, or nil.
func folderAt(tx kvTx, p string) (*mft.Folder, error) {
	id := tx.Bucket(bucketFoldersPath).Get([]byte(p))
	if id == nil {
		return nil, nil
	}
	return findFolderByID(tx, string(id))
}

// foldersBelow returns the rules on p and below it.
func foldersBelow(tx kvTx, p string) ([]*mft.Folder, error) {
	var out []*mft.Folder
	c := tx.Bucket(bucketFoldersPath).Cursor()
	for k, id := c.Seek([]byte(p)); k != nil && strings.HasPrefix(string(k), p); k, id = c.Next() {
		if string(k) != p && !strings.HasPrefix(string(k), p+"/") {
			continue // "/buckets/b1x" is not below "/buckets/b1"
		}
		f, err := findFolderByID(tx, string(id))
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

func findFolderByID(tx kvTx, id string) (*mft.Folder, error) {
	var f mft.Folder
	if ok, err := get(tx.Bucket(bucketFolders), id, &f); err != nil {
		return nil, err
	} else if !ok || id == "" {
		return nil, mft.Errorf(mft.ENOTFOUND, "Folder rules not found.")
	}
	return &f, nil
}
