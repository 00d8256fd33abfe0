package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"depot/mft"
)

// AzureBlockSize is the block of Depot's Azure uploads: Put streams
// blocks of this size, azureWorkers at a time (what it holds in memory
// per upload), and Send stages a file's blocks at their offsets.
const AzureBlockSize = 8 << 20

// azureWorkers is how many blocks of one upload are in flight at once.
const azureWorkers = 4

// azureStore is a container of Azure Blob Storage (or Azurite) through
// the official SDK. Folders are name prefixes, as on S3; a blob appears
// when its block list is committed, at the end of an upload.
type azureStore struct {
	container *container.Client
	prefix    string
}

// azureContainerURL is the container's URL: the endpoint (the account's
// own by default) and the container's name.
func azureContainerURL(c *mft.Connection) string {
	endpoint := c.Endpoint
	if endpoint == "" {
		endpoint = "https://" + c.Account + ".blob.core.windows.net"
	}
	return strings.TrimRight(endpoint, "/") + "/" + url.PathEscape(c.Container)
}

func dialAzure(ctx context.Context, c *mft.Connection) (Store, Info, error) {
	opts := &container.ClientOptions{ClientOptions: azcore.ClientOptions{
		// One try per request, as on the other stores: the run's retry
		// policy is the one place retries are set.
		Retry: policy.RetryOptions{MaxRetries: -1},
		// No telemetry header naming the SDK's caller.
		Telemetry: policy.TelemetryOptions{Disabled: true},
	}}
	var client *container.Client
	var err error
	switch {
	case c.ConnectionString != "":
		client, err = container.NewClientFromConnectionString(c.ConnectionString, c.Container, opts)
	case c.SASToken != "":
		client, err = container.NewClientWithNoCredential(azureContainerURL(c)+"?"+strings.TrimPrefix(c.SASToken, "?"), opts)
	default:
		var cred *container.SharedKeyCredential
		if cred, err = container.NewSharedKeyCredential(c.Account, c.AccountKey); err == nil {
			client, err = container.NewClientWithSharedKeyCredential(azureContainerURL(c), cred, opts)
		}
	}
	if err != nil {
		return nil, Info{}, azureError(err)
	}
	// Connecting is asking for the container: wrong keys or a missing
	// container show here, not at the first transfer. A SAS token for
	// the container's blobs only may not read its properties: listing
	// one name is what such a token can do.
	if _, err := client.GetProperties(ctx, nil); err != nil {
		if bloberror.HasCode(err, bloberror.ContainerNotFound) {
			return nil, Info{}, mft.Errorf(mft.EUNAVAILABLE, "%s (azblob %s): the container %s does not exist.", c.Name, c.ID, c.Container)
		}
		one := int32(1)
		if _, lerr := client.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{MaxResults: &one}).NextPage(ctx); lerr != nil {
			return nil, Info{}, azureError(err)
		}
	}
	u, _ := url.Parse(client.URL())
	return &azureStore{container: client, prefix: c.Prefix}, Info{Identity: u.Scheme + "://" + u.Host + u.Path}, nil
}

// azureError is an Azure error in the service's own words (its error
// code and status), without the request's URL, which may carry a SAS
// token.
func azureError(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		code := re.ErrorCode
		if code == "" {
			code = http.StatusText(re.StatusCode)
		}
		return fmt.Errorf("%s (HTTP %d)", code, re.StatusCode)
	}
	return err
}

func (s *azureStore) key(p string) string {
	return strings.TrimPrefix(path.Join(s.prefix, p), "/")
}

func (s *azureStore) blob(p string) *blockblob.Client {
	return s.container.NewBlockBlobClient(s.key(p))
}

func (s *azureStore) fail(p string, err error) error {
	switch {
	case err == nil:
		return nil
	case bloberror.HasCode(err, bloberror.BlobNotFound):
		return notFound(p)
	}
	return azureError(err)
}

// listPrefix is the name prefix of dir's entries.
func (s *azureStore) listPrefix(dir string) string {
	if prefix := s.key(dir); prefix != "" {
		return prefix + "/"
	}
	return ""
}

func (s *azureStore) List(ctx context.Context, dir string) ([]Entry, error) {
	prefix := s.listPrefix(dir)
	pager := s.container.NewListBlobsHierarchyPager("/", &container.ListBlobsHierarchyOptions{Prefix: &prefix})
	var out []Entry
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, azureError(err)
		}
		for _, p := range page.Segment.BlobPrefixes {
			if p.Name != nil {
				out = append(out, Entry{Name: strings.TrimSuffix(strings.TrimPrefix(*p.Name, prefix), "/"), Dir: true})
			}
		}
		for _, b := range page.Segment.BlobItems {
			if b.Name == nil || *b.Name == prefix { // the folder's own marker
				continue
			}
			e := blobEntry(b.Properties)
			e.Name = strings.TrimPrefix(*b.Name, prefix)
			out = append(out, e)
		}
	}
	return out, nil
}

// blobEntry is what a listing says of a blob: its size and time.
func blobEntry(props *container.BlobProperties) Entry {
	var e Entry
	if props != nil && props.ContentLength != nil {
		e.Size = *props.ContentLength
	}
	if props != nil && props.LastModified != nil {
		e.ModTime = *props.LastModified
	}
	return e
}

func (s *azureStore) Stat(ctx context.Context, p string) (Entry, error) {
	props, err := s.blob(p).GetProperties(ctx, nil)
	if err != nil {
		return Entry{}, s.fail(p, err)
	}
	e := Entry{Name: path.Base(p)}
	if props.ContentLength != nil {
		e.Size = *props.ContentLength
	}
	if props.LastModified != nil {
		e.ModTime = *props.LastModified
	}
	return e, nil
}

func (s *azureStore) Get(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	resp, err := s.blob(p).DownloadStream(ctx, &blob.DownloadStreamOptions{Range: blob.HTTPRange{Offset: offset}})
	if err != nil {
		return nil, s.fail(p, err)
	}
	return resp.Body, nil
}

// Put streams r as one blob: blocks of AzureBlockSize, azureWorkers at a
// time, committed as the blob's block list at the end, so that the blob
// appears whole or not at all (the blocks of a broken Put stay
// uncommitted, invisible, and Azure deletes them within a week). Put
// does not resume (offset must be 0); Send does, from a file.
func (s *azureStore) Put(ctx context.Context, p string, r io.Reader, offset int64) (int64, error) {
	if offset != 0 {
		return 0, mft.Errorf(mft.EINVALID, "an Azure upload cannot resume")
	}
	head, release, err := peekSmall(r)
	defer release()
	if err != nil {
		return 0, err
	}
	if head.small { // one Put Blob, not a block, a commit and a block-sized buffer
		_, err := s.blob(p).Upload(ctx, streaming.NopCloser(head.Reader.(io.ReadSeeker)), nil)
		if err != nil {
			return 0, s.fail(p, err)
		}
		return head.Size(), nil
	}
	cr := &countingReader{r: head}
	_, err = s.blob(p).UploadStream(ctx, cr, &blockblob.UploadStreamOptions{BlockSize: AzureBlockSize, Concurrency: azureWorkers})
	return cr.n.Load(), s.fail(p, err)
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// Rename copies from to to on the service's side and deletes from. The
// copy of a blob within one account completes before its answer on Azure
// and Azurite; one still pending is waited for.
func (s *azureStore) Rename(ctx context.Context, from, to string) error {
	dst := s.blob(to)
	resp, err := dst.StartCopyFromURL(ctx, s.blob(from).URL(), nil)
	if err != nil {
		return s.fail(from, err)
	}
	for status := resp.CopyStatus; status != nil && *status == blob.CopyStatusTypePending; {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		props, err := dst.GetProperties(ctx, nil)
		if err != nil {
			return s.fail(to, err)
		}
		status = props.CopyStatus
		if status != nil && *status != blob.CopyStatusTypePending && *status != blob.CopyStatusTypeSuccess {
			return fmt.Errorf("the copy to /%s ended %s", to, *status)
		}
	}
	return s.Remove(ctx, from)
}

func (s *azureStore) Remove(ctx context.Context, p string) error {
	_, err := s.blob(p).Delete(ctx, nil)
	return s.fail(p, err)
}

// Mkdir does nothing: a folder is the prefix of the names in it.
func (s *azureStore) Mkdir(ctx context.Context, dir string) error { return nil }

func (s *azureStore) Caps() Caps { return Caps{Concurrent: true} }

func (s *azureStore) Close() error { return nil }

// readSeekCloser is a section of a file as the SDK's uploads take it.
func readSeekCloser(src io.ReaderAt, off, n int64) io.ReadSeekCloser {
	return streaming.NopCloser(io.NewSectionReader(src, off, n))
}
