package remote

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"depot/mft"
)

// S3PartSize is the part of Depot's multipart uploads: Send's (read
// from the file at their offsets) and Put's of unknown length (what
// minio-go holds in memory per upload while it streams).
const S3PartSize = 16 << 20

// s3IdleTimeout is how long an idle connection to an S3 endpoint is
// kept.
const s3IdleTimeout = 15 * time.Second

// s3Store is an S3-compatible object store through minio-go. Folders are
// key prefixes; a rename is a server-side copy and a delete.
type s3Store struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string
}

func dialS3(ctx context.Context, c *mft.Connection) (Store, Info, error) {
	u, err := url.Parse(c.Endpoint)
	if err != nil {
		return nil, Info{}, err
	}
	lookup := minio.BucketLookupAuto
	if c.PathStyle {
		lookup = minio.BucketLookupPath
	}
	tr, err := minio.DefaultTransport(u.Scheme == "https")
	if err != nil {
		return nil, Info{}, err
	}
	// Idle connections are dropped before a server drops them (minio-go
	// keeps them a minute; servers close theirs after as little as 20 s),
	// so that a request is never written to a connection the server is
	// closing.
	tr.IdleConnTimeout = s3IdleTimeout
	client, err := minio.New(u.Host, &minio.Options{
		Transport:    tr,
		Creds:        credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       c.Region,
		BucketLookup: lookup,
		// One try per request, as on SFTP and FTP: the run's retry
		// policy is the one place retries are set, and what a broken
		// attempt sent is continued (Send), not sent again.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, Info{}, err
	}
	// Connecting is asking for the bucket: wrong keys or a missing bucket
	// show here, not at the first transfer.
	ok, err := client.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, Info{}, err
	}
	if !ok {
		return nil, Info{}, mft.Errorf(mft.EUNAVAILABLE, "%s (s3 %s): the bucket %s does not exist at %s.", c.Name, c.ID, c.Bucket, c.Endpoint)
	}
	return &s3Store{client: client, core: minio.Core{Client: client}, bucket: c.Bucket, prefix: c.Prefix}, Info{Identity: c.Endpoint + "/" + c.Bucket}, nil
}

func (s *s3Store) key(p string) string {
	return strings.TrimPrefix(path.Join(s.prefix, p), "/")
}

func (s *s3Store) List(ctx context.Context, dir string) ([]Entry, error) {
	prefix := s.key(dir)
	if prefix != "" {
		prefix += "/"
	}
	var out []Entry
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if obj.Err != nil {
			return nil, obj.Err
		}
		name := strings.TrimPrefix(obj.Key, prefix)
		if name == "" { // the folder's own marker
			continue
		}
		if strings.HasSuffix(name, "/") {
			out = append(out, Entry{Name: strings.TrimSuffix(name, "/"), Dir: true})
			continue
		}
		out = append(out, Entry{Name: name, Size: obj.Size, ModTime: obj.LastModified})
	}
	return out, nil
}

func (s *s3Store) Stat(ctx context.Context, p string) (Entry, error) {
	info, err := s.client.StatObject(ctx, s.bucket, s.key(p), minio.StatObjectOptions{})
	if err != nil {
		return Entry{}, s.fail(p, err)
	}
	return Entry{Name: path.Base(p), Size: info.Size, ModTime: info.LastModified}, nil
}

func (s *s3Store) Get(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	opts := minio.GetObjectOptions{}
	if offset > 0 {
		if err := opts.SetRange(offset, 0); err != nil {
			return nil, err
		}
	}
	obj, err := s.client.GetObject(ctx, s.bucket, s.key(p), opts)
	if err != nil {
		return nil, s.fail(p, err)
	}
	// GetObject is lazy: ask now so that a missing key fails here.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.fail(p, err)
	}
	return obj, nil
}

// Put streams r as one object: a single PUT when it ends within the
// first smallPut bytes, else a multipart upload of S3PartSize parts,
// which minio-go aborts when it fails. An object appears whole or not at
// all. Put does not resume (offset must be 0); Send does, from a file.
func (s *s3Store) Put(ctx context.Context, p string, r io.Reader, offset int64) (int64, error) {
	if offset != 0 {
		return 0, mft.Errorf(mft.EINVALID, "an S3 upload cannot resume")
	}
	size := int64(-1)
	if sz, ok := r.(interface{ Size() int64 }); ok {
		size = sz.Size()
	}
	if size < 0 {
		// A stream of unknown length that is small goes in one PUT of
		// known length: minio-go would start a multipart upload (three
		// requests and a part-sized buffer) for it.
		head, release, err := peekSmall(r)
		defer release()
		if err != nil {
			return 0, err
		}
		if head.small {
			size = head.Size()
		}
		r = head
	}
	info, err := s.client.PutObject(ctx, s.bucket, s.key(p), r, size, putOptions(size))
	return info.Size, err
}

// putOptions are a PUT's options: an empty object goes unsigned, as over
// http minio-go would sign its empty body as an aws-chunked stream, whose
// trailing chunk some servers (VersityGW) leave unread on a kept-alive
// connection, to be taken for the next request.
func putOptions(size int64) minio.PutObjectOptions {
	return minio.PutObjectOptions{PartSize: S3PartSize, DisableContentSha256: size == 0}
}

// smallPut is the most a stream of unknown length may hold to go in one
// request (a PUT, a Put Blob, a single-request GCS upload).
const smallPut = 1 << 20

var smallPool = sync.Pool{New: func() any { b := make([]byte, smallPut); return &b }}

// peeked is a stream whose first bytes were read: the whole of it when
// small (Size tells its length), else those bytes and the rest.
type peeked struct {
	io.Reader
	small bool
	n     int64
}

// Size is the length of a small stream.
func (p *peeked) Size() int64 { return p.n }

// peekSmall reads up to smallPut bytes of r, to send a stream that ends
// within them in one request; release returns the buffer once the
// stream is sent.
func peekSmall(r io.Reader) (*peeked, func(), error) {
	buf := smallPool.Get().(*[]byte)
	release := func() { smallPool.Put(buf) }
	n, err := io.ReadFull(r, *buf)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		return &peeked{Reader: bytes.NewReader((*buf)[:n]), small: true, n: int64(n)}, release, nil
	case err != nil:
		return nil, release, err
	}
	return &peeked{Reader: io.MultiReader(bytes.NewReader(*buf), r)}, release, nil
}

func (s *s3Store) Rename(ctx context.Context, from, to string) error {
	_, err := s.client.CopyObject(ctx, minio.CopyDestOptions{Bucket: s.bucket, Object: s.key(to)},
		minio.CopySrcOptions{Bucket: s.bucket, Object: s.key(from)})
	if err != nil {
		return s.fail(from, err)
	}
	return s.client.RemoveObject(ctx, s.bucket, s.key(from), minio.RemoveObjectOptions{})
}

func (s *s3Store) Remove(ctx context.Context, p string) error {
	return s.client.RemoveObject(ctx, s.bucket, s.key(p), minio.RemoveObjectOptions{})
}

// Mkdir does nothing: a folder is the prefix of the keys in it.
func (s *s3Store) Mkdir(ctx context.Context, dir string) error { return nil }

func (s *s3Store) Caps() Caps { return Caps{Concurrent: true} }

func (s *s3Store) Close() error { return nil }

func (s *s3Store) fail(p string, err error) error {
	if resp := minio.ToErrorResponse(err); resp.Code == "NoSuchKey" || resp.StatusCode == 404 {
		return notFound(p)
	}
	return err
}
