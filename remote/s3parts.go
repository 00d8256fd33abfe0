package remote

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"io"
	"strings"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"golang.org/x/sync/errgroup"
)

// s3Workers is how many parts of one upload are in flight at once, as
// minio-go's own PutObject does.
const s3Workers = 4

// send uploads src as one object: a single PUT below S3PartSize, else a
// multipart upload of S3PartSize parts, s3Workers at a time. It
// continues the incomplete multipart upload of the key whose parts best
// match src, sending only the parts it lacks; a failure leaves the
// upload for the next send (or discard) instead of aborting it.
func (s *s3Store) send(ctx context.Context, p string, src io.ReaderAt, size int64) (int64, error) {
	key := s.key(p)
	if size < S3PartSize {
		info, err := s.client.PutObject(ctx, s.bucket, key, io.NewSectionReader(src, 0, size), size, putOptions(size))
		return info.Size, s.fail(p, err)
	}
	count := int((size + S3PartSize - 1) / S3PartSize)
	id, parts, err := s.resumable(ctx, key, src, size, count)
	if err != nil {
		return 0, err
	}
	if id == "" {
		if id, err = s.core.NewMultipartUpload(ctx, s.bucket, key, minio.PutObjectOptions{}); err != nil {
			return 0, err
		}
	}
	var sent atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s3Workers)
	for i := range count {
		if parts[i].ETag != "" {
			continue
		}
		g.Go(func() error {
			off, n := partRange(i, size)
			part, err := s.core.PutObjectPart(gctx, s.bucket, key, id, i+1, io.NewSectionReader(src, off, n), n, minio.PutObjectPartOptions{})
			if err != nil {
				return err
			}
			sent.Add(n)
			parts[i] = minio.CompletePart{PartNumber: i + 1, ETag: part.ETag}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return sent.Load(), err
	}
	_, err = s.core.CompleteMultipartUpload(ctx, s.bucket, key, id, parts, minio.PutObjectOptions{})
	return sent.Load(), err
}

// partRange is where part i of an object of size bytes lies.
func partRange(i int, size int64) (off, n int64) {
	off = int64(i) * S3PartSize
	return off, min(S3PartSize, size-off)
}

// resumable finds the incomplete multipart upload of key with the most
// parts whose size and MD5 ETag match src: its id and those parts (by
// index; a part to send has no ETag). None: "" and no parts. A store
// whose ETags are not MD5 sums (SSE-KMS) never matches: the upload
// starts again.
func (s *s3Store) resumable(ctx context.Context, key string, src io.ReaderAt, size int64, count int) (string, []minio.CompletePart, error) {
	best, bestParts, bestN := "", make([]minio.CompletePart, count), 0
	for u := range s.client.ListIncompleteUploads(ctx, s.bucket, key, false) {
		if u.Err != nil {
			return "", nil, u.Err
		}
		if u.Key != key {
			continue
		}
		parts, n, err := s.matching(ctx, key, u.UploadID, src, size, count)
		if err != nil {
			return "", nil, err
		}
		if n > bestN {
			best, bestParts, bestN = u.UploadID, parts, n
		}
	}
	return best, bestParts, nil
}

// matching lists the parts of one upload and keeps those equal to src's.
func (s *s3Store) matching(ctx context.Context, key, id string, src io.ReaderAt, size int64, count int) ([]minio.CompletePart, int, error) {
	parts, n, marker := make([]minio.CompletePart, count), 0, 0
	h := md5.New()
	for {
		res, err := s.core.ListObjectParts(ctx, s.bucket, key, id, marker, 1000)
		if err != nil {
			return nil, 0, err
		}
		for _, p := range res.ObjectParts {
			i := p.PartNumber - 1
			if i < 0 || i >= count {
				continue
			}
			off, size := partRange(i, size)
			if p.Size != size {
				continue
			}
			h.Reset()
			if _, err := io.Copy(h, io.NewSectionReader(src, off, size)); err != nil {
				return nil, 0, err
			}
			if strings.EqualFold(strings.Trim(p.ETag, `"`), hex.EncodeToString(h.Sum(nil))) {
				parts[i], n = minio.CompletePart{PartNumber: p.PartNumber, ETag: p.ETag}, n+1
			}
		}
		if !res.IsTruncated {
			return parts, n, nil
		}
		marker = res.NextPartNumberMarker
	}
}

// discard aborts the incomplete multipart uploads of p's key.
func (s *s3Store) discard(ctx context.Context, p string) error {
	return s.client.RemoveIncompleteUpload(ctx, s.bucket, s.key(p))
}
