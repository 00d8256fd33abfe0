package remote

import (
	"bytes"
	"context"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"

	"depot/mft"
)

// Tree is what a store adds to serve as a folder tree of Depot's own (a
// mounted storage path), beyond what pushing and pulling need. Every
// store implements it.
type Tree interface {
	Store
	// StatAny describes a file or a folder ("" is the root).
	StatAny(ctx context.Context, p string) (Entry, error)
	// StatDir is StatAny for a path expected to be a folder (the one an
	// upload goes into): on S3 it asks for the folder first.
	StatDir(ctx context.Context, p string) (Entry, error)
	// MakeDir creates one folder whose parent exists; on S3, where a
	// folder is a key prefix, it writes a marker object ("dir/") so that
	// an empty folder stays.
	MakeDir(ctx context.Context, dir string) error
	// RemoveDir removes an empty folder; one with entries is ECONFLICT.
	RemoveDir(ctx context.Context, dir string) error
	// Sweep discards what broken uploads below dir left behind and that
	// began before cutoff (S3: incomplete multipart uploads) and returns
	// how many.
	Sweep(ctx context.Context, dir string, cutoff time.Time) (int, error)
}

var _ = []Tree{(*sftpStore)(nil), (*ftpStore)(nil), (*s3Store)(nil), (*azureStore)(nil), (*gcsStore)(nil)}

func notEmpty(dir string) error {
	return mft.Errorf(mft.ECONFLICT, "/%s is not empty on the remote.", dir)
}

func (s *sftpStore) StatAny(ctx context.Context, p string) (Entry, error) { return s.Stat(ctx, p) }
func (s *sftpStore) StatDir(ctx context.Context, p string) (Entry, error) { return s.Stat(ctx, p) }

func (s *sftpStore) MakeDir(ctx context.Context, dir string) error {
	return s.fail(dir, s.client.Mkdir(s.full(dir)))
}

func (s *sftpStore) RemoveDir(ctx context.Context, dir string) error {
	if list, err := s.List(ctx, dir); err != nil {
		return err
	} else if len(list) > 0 {
		return notEmpty(dir)
	}
	return s.fail(dir, s.client.RemoveDirectory(s.full(dir)))
}

// Sweep has nothing to do: a broken upload's temporary file is removed
// by whoever wrote it, and one a crash left is hidden from listings.
func (s *sftpStore) Sweep(context.Context, string, time.Time) (int, error) { return 0, nil }

// StatAny asks SIZE for a file; a name SIZE refuses is a folder if the
// server lets Depot change into it.
func (s *ftpStore) StatAny(ctx context.Context, p string) (Entry, error) {
	if strings.Trim(p, "/") == "" {
		return Entry{Name: "/", Dir: true}, nil
	}
	e, err := s.Stat(ctx, p)
	if err == nil {
		return e, nil
	}
	if s.conn.ChangeDir(s.full(p)) != nil {
		return Entry{}, err
	}
	e = Entry{Name: path.Base(p), Dir: true}
	if list, lerr := s.List(ctx, path.Dir(p)); lerr == nil {
		for _, x := range list {
			if x.Name == e.Name {
				e.ModTime = x.ModTime
			}
		}
	}
	return e, nil
}

func (s *ftpStore) StatDir(ctx context.Context, p string) (Entry, error) { return s.StatAny(ctx, p) }

func (s *ftpStore) MakeDir(ctx context.Context, dir string) error {
	return s.conn.MakeDir(s.full(dir))
}

func (s *ftpStore) RemoveDir(ctx context.Context, dir string) error {
	if list, err := s.List(ctx, dir); err != nil {
		return err
	} else if len(list) > 0 {
		return notEmpty(dir)
	}
	return s.fail(dir, s.conn.RemoveDir(s.full(dir)))
}

func (s *ftpStore) Sweep(context.Context, string, time.Time) (int, error) { return 0, nil }

func (s *s3Store) StatAny(ctx context.Context, p string) (Entry, error) { return statAny(ctx, s, p) }
func (s *s3Store) StatDir(ctx context.Context, p string) (Entry, error) { return statDir(ctx, s, p) }

func (s *s3Store) around(ctx context.Context, key string) ([]listed, bool, error) {
	res, err := s.core.ListObjectsV2(s.bucket, key, "", "", "/", 4)
	if err != nil {
		return nil, false, err
	}
	var out []listed
	for _, o := range res.Contents {
		out = append(out, listed{name: o.Key, entry: Entry{Size: o.Size, ModTime: o.LastModified}})
	}
	for _, c := range res.CommonPrefixes {
		out = append(out, listed{name: c.Prefix, prefix: true})
	}
	return out, !res.IsTruncated, nil
}

// folder describes the folder p: ENOTFOUND when no key is below it. One
// request for one page of one key (minio-go's lister would ask for the
// next page at once).
func (s *s3Store) folder(ctx context.Context, p string) (Entry, error) {
	if err := ctx.Err(); err != nil {
		return Entry{}, err
	}
	prefix := s.key(p) + "/"
	res, err := s.core.ListObjectsV2(s.bucket, prefix, "", "", "/", 1)
	switch {
	case err != nil:
		return Entry{}, err
	case len(res.Contents) == 0 && len(res.CommonPrefixes) == 0:
		return Entry{}, notFound(p)
	}
	// The marker's time is the folder's; a folder without one has none.
	e := Entry{Name: path.Base(p), Dir: true}
	if len(res.Contents) > 0 && res.Contents[0].Key == prefix {
		e.ModTime = res.Contents[0].LastModified
	}
	return e, nil
}

func (s *s3Store) MakeDir(ctx context.Context, dir string) error {
	_, err := s.client.PutObject(ctx, s.bucket, s.key(dir)+"/", bytes.NewReader(nil), 0, putOptions(0))
	return err
}

func (s *s3Store) RemoveDir(ctx context.Context, dir string) error {
	return removeDir(ctx, s, dir, func() error {
		return s.client.RemoveObject(ctx, s.bucket, s.key(dir)+"/", minio.RemoveObjectOptions{})
	})
}

// Sweep aborts the multipart uploads below dir begun before cutoff: a
// crash in the middle of an upload leaves one, and the store keeps (and
// bills) its parts until it is aborted.
func (s *s3Store) Sweep(ctx context.Context, dir string, cutoff time.Time) (int, error) {
	prefix := s.key(dir)
	if prefix != "" {
		prefix += "/"
	}
	n := 0
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, prefix, true) {
		if u.Err != nil {
			return n, u.Err
		}
		if u.Initiated.Before(cutoff) {
			err := s.core.AbortMultipartUpload(ctx, s.bucket, u.Key, u.UploadID)
			if err != nil && minio.ToErrorResponse(err).Code != "NoSuchUpload" { // one its uploader aborted meanwhile
				return n, err
			}
			n++
		}
	}
	return n, nil
}
