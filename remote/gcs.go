package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"cloud.google.com/go/storage"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/iterator"
	"google.golang.org/api/option"

	"depot/mft"
)

// GCSChunkSize is the chunk of Put's resumable uploads (what it holds in
// memory per upload while it streams) and the part of Send's composed
// uploads.
const GCSChunkSize = 16 << 20

// gcsStore is a bucket of Google Cloud Storage (or an emulator) through
// the official client. Folders are name prefixes, as on S3; an object
// appears when its upload is finalized.
type gcsStore struct {
	client *storage.Client
	bucket *storage.BucketHandle
	prefix string
}

func dialGCS(ctx context.Context, c *mft.Connection) (Store, Info, error) {
	opts := []option.ClientOption{option.WithUserAgent("depot")}
	if c.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(strings.TrimRight(c.Endpoint, "/")+"/storage/v1/"))
	}
	if c.CredentialsJSON != "" {
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, []byte(c.CredentialsJSON)))
	} else {
		opts = append(opts, option.WithoutAuthentication()) // an emulator (validated: only with an endpoint)
	}
	client, err := storage.NewClient(ctx, opts...)
	if err != nil {
		return nil, Info{}, err
	}
	// One try per request, as on the other stores: the run's retry policy
	// is the one place retries are set.
	client.SetRetry(storage.WithPolicy(storage.RetryNever))
	s := &gcsStore{client: client, bucket: client.Bucket(c.Bucket), prefix: c.Prefix}
	// Connecting is asking for the bucket: wrong keys or a missing bucket
	// show here, not at the first transfer.
	if _, err := s.bucket.Attrs(ctx); err != nil {
		client.Close()
		if errors.Is(err, storage.ErrBucketNotExist) {
			return nil, Info{}, mft.Errorf(mft.EUNAVAILABLE, "%s (gcs %s): the bucket %s does not exist.", c.Name, c.ID, c.Bucket)
		}
		return nil, Info{}, gcsError(err)
	}
	identity := "gs://" + c.Bucket
	if c.Endpoint != "" {
		identity = c.Endpoint + "/" + c.Bucket
	}
	return s, Info{Identity: identity}, nil
}

// gcsError is a Cloud Storage error in the service's own words and
// status.
func gcsError(err error) error {
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		msg := ge.Message
		if msg == "" {
			msg = strings.TrimSpace(ge.Body)
		}
		return fmt.Errorf("%s (HTTP %d)", msg, ge.Code)
	}
	return err
}

func (s *gcsStore) key(p string) string {
	return strings.TrimPrefix(path.Join(s.prefix, p), "/")
}

func (s *gcsStore) object(p string) *storage.ObjectHandle { return s.bucket.Object(s.key(p)) }

func (s *gcsStore) fail(p string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrObjectNotExist):
		return notFound(p)
	}
	return gcsError(err)
}

// listPrefix is the name prefix of dir's entries.
func (s *gcsStore) listPrefix(dir string) string {
	if prefix := s.key(dir); prefix != "" {
		return prefix + "/"
	}
	return ""
}

func (s *gcsStore) List(ctx context.Context, dir string) ([]Entry, error) {
	prefix := s.listPrefix(dir)
	q := &storage.Query{Prefix: prefix, Delimiter: "/"}
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
		return nil, err
	}
	it := s.bucket.Objects(ctx, q)
	var out []Entry
	for {
		a, err := it.Next()
		if err == iterator.Done {
			return out, nil
		} else if err != nil {
			return nil, gcsError(err)
		}
		switch {
		case a.Prefix != "":
			out = append(out, Entry{Name: strings.TrimSuffix(strings.TrimPrefix(a.Prefix, prefix), "/"), Dir: true})
		case a.Name != prefix: // not the folder's own marker
			out = append(out, Entry{Name: strings.TrimPrefix(a.Name, prefix), Size: a.Size, ModTime: a.Updated})
		}
	}
}

func (s *gcsStore) Stat(ctx context.Context, p string) (Entry, error) {
	a, err := s.object(p).Attrs(ctx)
	if err != nil {
		return Entry{}, s.fail(p, err)
	}
	return Entry{Name: path.Base(p), Size: a.Size, ModTime: a.Updated}, nil
}

func (s *gcsStore) Get(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	r, err := s.object(p).NewRangeReader(ctx, offset, -1)
	if err != nil {
		return nil, s.fail(p, err)
	}
	return r, nil
}

// Put streams r as one object through a resumable upload of
// GCSChunkSize chunks (one in memory), finalized when r ends: the object
// appears whole or not at all. A failed Put cancels its upload instead of
// finalizing it. Put does not resume (offset must be 0); Send does, from
// a file.
func (s *gcsStore) Put(ctx context.Context, p string, r io.Reader, offset int64) (int64, error) {
	if offset != 0 {
		return 0, mft.Errorf(mft.EINVALID, "a GCS upload cannot resume")
	}
	head, release, err := peekSmall(r)
	defer release()
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := s.object(p).NewWriter(ctx)
	w.ChunkSize = GCSChunkSize
	if head.small {
		w.ChunkSize = 0 // one request, not a resumable session
	}
	n, err := io.Copy(w, head)
	if err != nil {
		cancel() // the upload is abandoned, never finalized
		w.Close()
		return n, s.fail(p, err)
	}
	return n, s.fail(p, w.Close())
}

// Rename copies from to to on the service's side and deletes from.
func (s *gcsStore) Rename(ctx context.Context, from, to string) error {
	if _, err := s.object(to).CopierFrom(s.object(from)).Run(ctx); err != nil {
		return s.fail(from, err)
	}
	return s.Remove(ctx, from)
}

func (s *gcsStore) Remove(ctx context.Context, p string) error {
	return s.fail(p, s.object(p).Delete(ctx))
}

// Mkdir does nothing: a folder is the prefix of the names in it.
func (s *gcsStore) Mkdir(ctx context.Context, dir string) error { return nil }

func (s *gcsStore) Caps() Caps { return Caps{Concurrent: true} }

func (s *gcsStore) Close() error { return s.client.Close() }
