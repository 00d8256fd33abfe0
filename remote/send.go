package remote

import (
	"context"
	"io"

	"depot/mft"
)

// resumeRewind is how far before the end of a partial file a resumed
// Send starts again: the SFTP client keeps up to 2 MiB of writes in
// flight, and a server that applied them out of order before the break
// may have left a hole in that last stretch.
const resumeRewind = 4 << 20

// sender is a Store that resumes uploads its own way (S3: the parts of
// an incomplete multipart upload).
type sender interface {
	send(ctx context.Context, p string, src io.ReaderAt, size int64) (int64, error)
	discard(ctx context.Context, p string) error
}

// Send writes size bytes of src to p and returns the bytes it sent. It
// continues what an earlier broken Send to p left where the remote
// allows: on SFTP and FTP from shortly before the end of the partial
// file, so the caller names p after src's version, a different file
// never meeting another's leftover; on S3 with the parts of an
// incomplete multipart upload of p whose MD5 matches src, the others
// sent again. A Send that fails leaves what arrived for the next one;
// Discard removes it.
func Send(ctx context.Context, st Store, p string, src io.ReaderAt, size int64) (int64, error) {
	if s, ok := st.(sender); ok {
		return s.send(ctx, p, src, size)
	}
	var offset int64
	if st.Caps().Resume {
		if e, err := st.Stat(ctx, p); err == nil && e.Size > resumeRewind && e.Size <= size {
			offset = e.Size - resumeRewind
		}
	}
	return st.Put(ctx, p, io.NewSectionReader(src, offset, size-offset), offset)
}

// Discard removes what broken Sends to p left: the partial file, or the
// incomplete multipart uploads of the key.
func Discard(ctx context.Context, st Store, p string) error {
	if s, ok := st.(sender); ok {
		return s.discard(ctx, p)
	}
	if err := st.Remove(ctx, p); err != nil && mft.ErrorCode(err) != mft.ENOTFOUND {
		return err
	}
	return nil
}
