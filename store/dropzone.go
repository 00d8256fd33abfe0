package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"strings"

	"depot/mft"
)

var (
	bucketDropzones      = []byte("Dropzones")
	bucketDropzonesToken = []byte("Dropzones.TokenHash")
	bucketDropzoneFiles  = []byte("DropzoneFiles") // "<dropzone>/<file>" → file
)

// DropzoneStore stores dropzones and their files.
type DropzoneStore struct {
	db *DB
}

var _ mft.DropzoneStore = (*DropzoneStore)(nil)

// NewDropzoneStore returns a DropzoneStore backed by db.
func NewDropzoneStore(db *DB) *DropzoneStore { return &DropzoneStore{db: db} }

// CreateDropzone validates d and stores it with a new id and its token's
// hash indexed.
func (s *DropzoneStore) CreateDropzone(ctx context.Context, d *mft.Dropzone) error {
	if err := d.Validate(); err != nil {
		return err
	}
	d.CreatedAt = s.db.now()
	d.ExpiresAt = d.CreatedAt.AddDate(0, 0, d.Days)
	d.ID = "dz_" + strings.ToLower(rand.Text()[:16])
	return s.db.update(ctx, func(tx kvTx) error {
		if err := tx.Bucket(bucketDropzonesToken).Put([]byte(d.TokenHash), []byte(d.ID)); err != nil {
			return err
		}
		return put(tx.Bucket(bucketDropzones), d.ID, d)
	})
}

func (s *DropzoneStore) PutDropzone(ctx context.Context, d *mft.Dropzone) error {
	if err := d.Validate(); err != nil {
		return err
	}
	return s.db.update(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketDropzones), d.ID, d) })
}

func (s *DropzoneStore) FindDropzone(ctx context.Context, id string) (*mft.Dropzone, error) {
	return findOne[mft.Dropzone](s.db, ctx, bucketDropzones, id, "Dropzone not found.")
}

func (s *DropzoneStore) FindDropzoneByToken(ctx context.Context, hash string) (*mft.Dropzone, error) {
	var id []byte
	s.db.view(ctx, func(tx kvTx) error {
		id = append(id, tx.Bucket(bucketDropzonesToken).Get([]byte(hash))...)
		return nil
	})
	if len(id) == 0 || hash == "" {
		return nil, mft.Errorf(mft.EUNAUTHORIZED, "Unknown dropzone token.")
	}
	return s.FindDropzone(ctx, string(id))
}

func (s *DropzoneStore) FindDropzones(ctx context.Context, owner string, page mft.Page) ([]*mft.Dropzone, bool, error) {
	var (
		out  []*mft.Dropzone
		more bool
	)
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		out, more, err = list(tx.Bucket(bucketDropzones), page, func(d *mft.Dropzone) bool { return owner == "" || d.Owner == owner })
		return err
	})
	return out, more, err
}

func (s *DropzoneStore) AllDropzones(ctx context.Context) ([]*mft.Dropzone, error) {
	return findEvery(s.db, ctx, bucketDropzones, func(*mft.Dropzone) bool { return true })
}

func (s *DropzoneStore) UsedBytes(ctx context.Context, id string) (int64, error) {
	var n int64
	err := s.db.view(ctx, func(tx kvTx) error {
		var err error
		n, err = usedBytes(tx, id)
		return err
	})
	return n, err
}

func usedBytes(tx kvTx, dropzone string) (int64, error) {
	var n int64
	c := tx.Bucket(bucketDropzoneFiles).Cursor()
	prefix := dropzone + "/"
	for k, v := c.Seek([]byte(prefix)); k != nil && strings.HasPrefix(string(k), prefix); k, v = c.Next() {
		var f mft.DropzoneFile
		if err := decode(k, v, &f); err != nil {
			return 0, err
		}
		n += f.Size
	}
	return n, nil
}

// ReserveFile stores f with a new id if it fits in what is left.
func (s *DropzoneStore) ReserveFile(ctx context.Context, d *mft.Dropzone, f *mft.DropzoneFile) error {
	f.CreatedAt = s.db.now()
	f.ID = "dzf_" + strings.ToLower(rand.Text()[:16])
	f.Dropzone, f.Status = d.ID, mft.DropzonePending
	return s.db.update(ctx, func(tx kvTx) error {
		used, err := usedBytes(tx, d.ID)
		if err != nil {
			return err
		}
		if f.Size > d.Limit()-used { // not used+size, which a huge size overflows
			return mft.Errorf(mft.EQUOTA, "%d bytes do not fit: %d of %d bytes are left in this dropzone.", f.Size, max(d.Limit()-used, 0), d.Limit())
		}
		return put(tx.Bucket(bucketDropzoneFiles), d.ID+"/"+f.ID, f)
	})
}

func (s *DropzoneStore) PutFile(ctx context.Context, f *mft.DropzoneFile) error {
	return s.db.update(ctx, func(tx kvTx) error { return put(tx.Bucket(bucketDropzoneFiles), f.Dropzone+"/"+f.ID, f) })
}

func (s *DropzoneStore) FindFile(ctx context.Context, dropzone, id string) (*mft.DropzoneFile, error) {
	return findOne[mft.DropzoneFile](s.db, ctx, bucketDropzoneFiles, dropzone+"/"+id, "File not found in this dropzone.")
}

// FindFileByID finds a file by its id alone, which is unique across
// dropzones (the Dropzone API's /files/{id} names no dropzone).
func (s *DropzoneStore) FindFileByID(ctx context.Context, id string) (*mft.DropzoneFile, error) {
	var found *mft.DropzoneFile
	err := s.db.view(ctx, func(tx kvTx) error {
		suffix := []byte("/" + id)
		c := tx.Bucket(bucketDropzoneFiles).Cursor()
		for k, v := c.First(); k != nil && id != ""; k, v = c.Next() {
			if bytes.HasSuffix(k, suffix) {
				found = new(mft.DropzoneFile)
				return decode(k, v, found)
			}
		}
		return nil
	})
	if err == nil && found == nil {
		err = mft.Errorf(mft.ENOTFOUND, "File not found.")
	}
	return found, err
}

func (s *DropzoneStore) FindFiles(ctx context.Context, dropzone string) ([]*mft.DropzoneFile, error) {
	return findEvery(s.db, ctx, bucketDropzoneFiles, func(f *mft.DropzoneFile) bool { return f.Dropzone == dropzone })
}

func (s *DropzoneStore) DeleteFile(ctx context.Context, dropzone, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		b := tx.Bucket(bucketDropzoneFiles)
		if b.Get([]byte(dropzone+"/"+id)) == nil {
			return mft.Errorf(mft.ENOTFOUND, "File not found in this dropzone.")
		}
		return b.Delete([]byte(dropzone + "/" + id))
	})
}

// DeleteDropzone forgets a dropzone, its token and the records of its
// files (whose bytes the caller has removed), in one transaction.
func (s *DropzoneStore) DeleteDropzone(ctx context.Context, id string) error {
	return s.db.update(ctx, func(tx kvTx) error {
		var d mft.Dropzone
		if ok, err := get(tx.Bucket(bucketDropzones), id, &d); err != nil {
			return err
		} else if !ok {
			return mft.Errorf(mft.ENOTFOUND, "Dropzone not found.")
		}
		return deleteDropzone(tx, &d)
	})
}

// deleteDropzone removes d, its token and its files' records.
func deleteDropzone(tx kvTx, d *mft.Dropzone) error {
	if err := tx.Bucket(bucketDropzonesToken).Delete([]byte(d.TokenHash)); err != nil {
		return err
	}
	files := tx.Bucket(bucketDropzoneFiles)
	c := files.Cursor()
	prefix := []byte(d.ID + "/")
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Seek(prefix) {
		if err := files.Delete(k); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketDropzones).Delete([]byte(d.ID))
}
