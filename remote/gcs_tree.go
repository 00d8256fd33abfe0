package remote

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"cloud.google.com/go/storage"
	"golang.org/x/sync/errgroup"
	"google.golang.org/api/iterator"
)

// gcsComposeMax is how many objects one compose request joins.
const gcsComposeMax = 32

// partsPrefix is the name prefix of the parts a Send to p uploads: hidden
// beside it, as temporary uploads are on SFTP.
func partsPrefix(p string) string {
	dir, base := path.Split(p)
	return dir + TempPrefix + base + "."
}

// send uploads src as one object: one request below GCSChunkSize, else
// parts of GCSChunkSize uploaded as hidden objects (4 at a time, each
// checked by the service against its MD5) and composed into the object
// at the end, when it appears; the parts are then deleted. A part's name
// carries its index and MD5, so the parts a broken send uploaded are
// known again by the next one and not sent again. A failure leaves them
// for that next send (or Discard).
func (s *gcsStore) send(ctx context.Context, p string, src io.ReaderAt, size int64) (int64, error) {
	if size < GCSChunkSize {
		return s.putPart(ctx, p, s.object(p), io.NewSectionReader(src, 0, size), nil)
	}
	count := int((size + GCSChunkSize - 1) / GCSChunkSize)
	names, sums := make([]string, count), make([][]byte, count)
	h := md5.New()
	for i := range count {
		off, n := gcsPartRange(i, size)
		h.Reset()
		if _, err := io.Copy(h, io.NewSectionReader(src, off, n)); err != nil {
			return 0, err
		}
		sums[i] = h.Sum(nil)
		names[i] = fmt.Sprintf("%s%05d-%x", partsPrefix(p), i, sums[i])
	}
	have, err := s.names(ctx, partsPrefix(p))
	if err != nil {
		return 0, err
	}
	// A failed part stops the parts not begun; those in flight finish, so
	// that the next send has them.
	var sent atomic.Int64
	var failed atomic.Bool
	var g errgroup.Group
	g.SetLimit(4)
	for i := range count {
		if _, ok := have[s.key(names[i])]; ok {
			continue
		}
		g.Go(func() error {
			if failed.Load() {
				return nil
			}
			off, n := gcsPartRange(i, size)
			if _, err := s.putPart(ctx, names[i], s.object(names[i]), io.NewSectionReader(src, off, n), sums[i]); err != nil {
				failed.Store(true)
				return err
			}
			sent.Add(n)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return sent.Load(), err
	}
	if err := s.compose(ctx, p, names); err != nil {
		return sent.Load(), err
	}
	return sent.Load(), s.discard(ctx, p)
}

// gcsPartRange is where part i of an object of size bytes lies.
func gcsPartRange(i int, size int64) (off, n int64) {
	off = int64(i) * GCSChunkSize
	return off, min(GCSChunkSize, size-off)
}

// putPart uploads r to o (p, for errors) in one request; the service
// checks sum, when given.
func (s *gcsStore) putPart(ctx context.Context, p string, o *storage.ObjectHandle, r io.Reader, sum []byte) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := o.NewWriter(ctx)
	w.ChunkSize = 0
	w.MD5 = sum
	n, err := io.Copy(w, r)
	if err != nil {
		cancel()
		w.Close()
		return n, s.fail(p, err)
	}
	return n, s.fail(p, w.Close())
}

// compose joins the parts into p, 32 at a time, through hidden
// intermediate objects, so that p appears only whole.
func (s *gcsStore) compose(ctx context.Context, p string, parts []string) error {
	for level := 0; len(parts) > gcsComposeMax; level++ {
		var next []string
		for j := 0; j < len(parts); j += gcsComposeMax {
			name := fmt.Sprintf("%sc%d-%05d", partsPrefix(p), level, j/gcsComposeMax)
			if err := s.composeInto(ctx, name, parts[j:min(j+gcsComposeMax, len(parts))]); err != nil {
				return err
			}
			next = append(next, name)
		}
		parts = next
	}
	return s.composeInto(ctx, p, parts)
}

func (s *gcsStore) composeInto(ctx context.Context, p string, parts []string) error {
	src := make([]*storage.ObjectHandle, len(parts))
	for i, name := range parts {
		src[i] = s.object(name)
	}
	_, err := s.object(p).ComposerFrom(src...).Run(ctx)
	return s.fail(p, err)
}

// names lists the object names below prefix (a name prefix, not a
// folder) with their sizes.
func (s *gcsStore) names(ctx context.Context, prefix string) (map[string]int64, error) {
	q := &storage.Query{Prefix: s.key(prefix)}
	if err := q.SetAttrSelection([]string{"Name", "Size"}); err != nil {
		return nil, err
	}
	out := map[string]int64{}
	it := s.bucket.Objects(ctx, q)
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return out, nil
		} else if err != nil {
			return nil, gcsError(err)
		}
		out[a.Name] = a.Size
	}
}

// discard deletes the parts broken sends to p left.
func (s *gcsStore) discard(ctx context.Context, p string) error {
	have, err := s.names(ctx, partsPrefix(p))
	if err != nil {
		return err
	}
	for name := range have {
		if err := s.bucket.Object(name).Delete(ctx); err != nil && err != storage.ErrObjectNotExist {
			return gcsError(err)
		}
	}
	return nil
}

func (s *gcsStore) StatAny(ctx context.Context, p string) (Entry, error) { return statAny(ctx, s, p) }
func (s *gcsStore) StatDir(ctx context.Context, p string) (Entry, error) { return statDir(ctx, s, p) }

func (s *gcsStore) around(ctx context.Context, key string) ([]listed, bool, error) {
	q := &storage.Query{Prefix: key, Delimiter: "/"}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
		return nil, false, err
	}
	it := s.bucket.Objects(ctx, q)
	it.PageInfo().MaxSize = 4
	var out []listed
	for range 4 {
		a, err := it.Next()
		switch {
		case err == iterator.Done:
			return out, true, nil
		case err != nil:
			return nil, false, gcsError(err)
		case a.Prefix != "":
			out = append(out, listed{name: a.Prefix, prefix: true})
		default:
			out = append(out, listed{name: a.Name, entry: Entry{Size: a.Size, ModTime: a.Updated}})
		}
	}
	return out, false, nil
}

// folder describes the folder p: ENOTFOUND when no object is below it.
func (s *gcsStore) folder(ctx context.Context, p string) (Entry, error) {
	prefix := s.key(p) + "/"
	it := s.bucket.Objects(ctx, &storage.Query{Prefix: prefix})
	it.PageInfo().MaxSize = 1
	a, err := it.Next()
	switch {
	case err == iterator.Done:
		return Entry{}, notFound(p)
	case err != nil:
		return Entry{}, gcsError(err)
	}
	// The marker's time is the folder's; a folder without one has none.
	e := Entry{Name: path.Base(p), Dir: true}
	if a.Name == prefix {
		e.ModTime = a.Updated
	}
	return e, nil
}

// MakeDir writes a marker object ("dir/"), as on S3, so that an empty
// folder stays.
func (s *gcsStore) MakeDir(ctx context.Context, dir string) error {
	_, err := s.putPart(ctx, dir, s.bucket.Object(s.key(dir)+"/"), bytes.NewReader(nil), nil)
	return err
}

func (s *gcsStore) RemoveDir(ctx context.Context, dir string) error {
	return removeDir(ctx, s, dir, func() error {
		if err := s.bucket.Object(s.key(dir) + "/").Delete(ctx); err != nil && err != storage.ErrObjectNotExist {
			return gcsError(err)
		}
		return nil
	})
}

// Sweep deletes the parts of broken sends below dir uploaded before
// cutoff (a Put that breaks is never finalized: nothing of it shows).
func (s *gcsStore) Sweep(ctx context.Context, dir string, cutoff time.Time) (int, error) {
	q := &storage.Query{Prefix: s.listPrefix(dir)}
	it := s.bucket.Objects(ctx, q)
	n := 0
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return n, nil
		} else if err != nil {
			return n, gcsError(err)
		}
		if strings.HasPrefix(path.Base(a.Name), TempPrefix) && a.Updated.Before(cutoff) {
			if err := s.bucket.Object(a.Name).Delete(ctx); err != nil && err != storage.ErrObjectNotExist {
				return n, gcsError(err)
			}
			n++
		}
	}
}
