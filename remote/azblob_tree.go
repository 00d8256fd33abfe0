package remote

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"
	"path"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"golang.org/x/sync/errgroup"
)

// blockID names block i of an upload by its index and MD5, all of one
// length as Azure requires: a block staged by a broken Send is known
// again by the next one only when its bytes are the same.
func blockID(i int, sum []byte) string {
	return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "depot-%08d-%x", i, sum))
}

// send uploads src as one blob: a single Put Blob below AzureBlockSize,
// else blocks of AzureBlockSize, azureWorkers at a time, committed as the
// block list at the end. Blocks an earlier broken send staged with the
// same bytes (by ID: index and MD5) are not sent again. A failure leaves
// the staged blocks for the next send.
func (s *azureStore) send(ctx context.Context, p string, src io.ReaderAt, size int64) (int64, error) {
	bb := s.blob(p)
	if size < AzureBlockSize {
		_, err := bb.Upload(ctx, readSeekCloser(src, 0, size), nil)
		if err != nil {
			return 0, s.fail(p, err)
		}
		return size, nil
	}
	count := int((size + AzureBlockSize - 1) / AzureBlockSize)
	ids := make([]string, count)
	sums := make([][]byte, count)
	h := md5.New()
	for i := range count {
		off, n := blockRange(i, size)
		h.Reset()
		if _, err := io.Copy(h, io.NewSectionReader(src, off, n)); err != nil {
			return 0, err
		}
		sums[i] = h.Sum(nil)
		ids[i] = blockID(i, sums[i])
	}
	staged := map[string]bool{}
	if list, err := bb.GetBlockList(ctx, blockblob.BlockListTypeUncommitted, nil); err == nil {
		for _, b := range list.UncommittedBlocks {
			if b.Name != nil {
				staged[*b.Name] = true
			}
		}
	} else if !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return 0, s.fail(p, err)
	}
	// A failed block stops the blocks not begun; those in flight finish,
	// so that the next send has them.
	var sent atomic.Int64
	var failed atomic.Bool
	var g errgroup.Group
	g.SetLimit(azureWorkers)
	for i := range count {
		if staged[ids[i]] {
			continue
		}
		g.Go(func() error {
			if failed.Load() {
				return nil
			}
			off, n := blockRange(i, size)
			_, err := bb.StageBlock(ctx, ids[i], readSeekCloser(src, off, n),
				&blockblob.StageBlockOptions{TransactionalValidation: blob.TransferValidationTypeMD5(sums[i])})
			if err != nil {
				failed.Store(true)
				return s.fail(p, err)
			}
			sent.Add(n)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return sent.Load(), err
	}
	_, err := bb.CommitBlockList(ctx, ids, nil)
	return sent.Load(), s.fail(p, err)
}

// blockRange is where block i of a blob of size bytes lies.
func blockRange(i int, size int64) (off, n int64) {
	off = int64(i) * AzureBlockSize
	return off, min(AzureBlockSize, size-off)
}

// discard removes the blocks broken sends to p staged. A blob that was
// never committed is committed empty and deleted, which drops them at
// once; beside a committed blob they stay until Azure deletes them
// within a week or the next send to p commits.
func (s *azureStore) discard(ctx context.Context, p string) error {
	bb := s.blob(p)
	if _, err := bb.GetProperties(ctx, nil); err == nil || !bloberror.HasCode(err, bloberror.BlobNotFound) {
		return s.fail(p, err)
	}
	list, err := bb.GetBlockList(ctx, blockblob.BlockListTypeUncommitted, nil)
	if err != nil || len(list.UncommittedBlocks) == 0 {
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			err = nil
		}
		return s.fail(p, err)
	}
	if _, err := bb.CommitBlockList(ctx, nil, nil); err != nil {
		return s.fail(p, err)
	}
	return s.Remove(ctx, p)
}

func (s *azureStore) StatAny(ctx context.Context, p string) (Entry, error) { return statAny(ctx, s, p) }
func (s *azureStore) StatDir(ctx context.Context, p string) (Entry, error) { return statDir(ctx, s, p) }

func (s *azureStore) around(ctx context.Context, key string) ([]listed, bool, error) {
	four := int32(4)
	page, err := s.container.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Prefix: &key, MaxResults: &four}).NextPage(ctx)
	if err != nil {
		return nil, false, azureError(err)
	}
	var out []listed
	for _, b := range page.Segment.BlobItems {
		if b.Name != nil {
			out = append(out, listed{name: *b.Name, entry: blobEntry(b.Properties)})
		}
	}
	for _, x := range page.Segment.BlobPrefixes {
		if x.Name != nil {
			out = append(out, listed{name: *x.Name, prefix: true})
		}
	}
	return out, page.NextMarker == nil || *page.NextMarker == "", nil
}

// folder describes the folder p: ENOTFOUND when no blob is below it.
func (s *azureStore) folder(ctx context.Context, p string) (Entry, error) {
	prefix, one := s.key(p)+"/", int32(1)
	page, err := s.container.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: &prefix, MaxResults: &one}).NextPage(ctx)
	switch {
	case err != nil:
		return Entry{}, azureError(err)
	case len(page.Segment.BlobItems) == 0:
		return Entry{}, notFound(p)
	}
	// The marker's time is the folder's; a folder without one has none.
	e := Entry{Name: path.Base(p), Dir: true}
	if b := page.Segment.BlobItems[0]; b.Name != nil && *b.Name == prefix && b.Properties != nil && b.Properties.LastModified != nil {
		e.ModTime = *b.Properties.LastModified
	}
	return e, nil
}

// MakeDir writes a marker blob ("dir/"), as on S3, so that an empty
// folder stays.
func (s *azureStore) MakeDir(ctx context.Context, dir string) error {
	_, err := s.container.NewBlockBlobClient(s.key(dir)+"/").Upload(ctx, readSeekCloser(bytes.NewReader(nil), 0, 0), nil)
	return azureError(err)
}

func (s *azureStore) RemoveDir(ctx context.Context, dir string) error {
	return removeDir(ctx, s, dir, func() error {
		_, err := s.container.NewBlockBlobClient(s.key(dir)+"/").Delete(ctx, nil)
		if bloberror.HasCode(err, bloberror.BlobNotFound) {
			return nil
		}
		return azureError(err)
	})
}

// Sweep has nothing to discard: the blocks of broken uploads stay
// uncommitted, never seen, and Azure deletes them within a week.
func (s *azureStore) Sweep(context.Context, string, time.Time) (int, error) { return 0, nil }
