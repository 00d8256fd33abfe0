package automation

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"depot/files"
	"depot/mft"
)

// compress writes file (or a folder, with what is below it) as an
// archive in the action's format: next to it with the format's ending,
// or at to (placeholders; a trailing / keeps the name). The archive is
// streamed into an upload as it is written.
func (x *step) compress(ctx context.Context, act mft.Action, file string) (string, error) {
	fi, err := x.e.Files.Stat(ctx, x.actor, file)
	if err != nil {
		return "", err
	}
	ext := map[string]string{"zip": ".zip", "tar.gz": ".tar.gz", "gzip": ".gz"}[act.Format]
	if act.Format == "gzip" && (fi.Type == mft.TypeFolder) {
		return "", fmt.Errorf("gzip holds one file; %s is a folder (use zip or tar.gz)", file)
	}
	to := file + ext
	if act.To != "" {
		pattern := act.To
		if !strings.HasPrefix(pattern, "/") {
			pattern = path.Join(path.Dir(file), pattern)
		} else if strings.HasSuffix(pattern, "/") {
			pattern += path.Base(file) + ext
		}
		if to, err = x.destination(ctx, pattern, file); err != nil {
			return "", err
		}
	}
	entries, err := x.tree(ctx, file, fi)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(x.writeArchive(ctx, pw, act.Format, path.Dir(file), entries)) }()
	_, err = x.e.Files.Upload(ctx, x.actor, to, pr, files.UploadOptions{Overwrite: true, Size: -1})
	pr.CloseWithError(errors.New("upload ended")) // unblock the writer if the upload failed
	if err != nil {
		return "", err
	}
	if !act.KeepOriginal {
		if err := x.e.Files.Remove(ctx, x.actor, file, (fi.Type == mft.TypeFolder)); err != nil {
			return "", err
		}
	}
	return to, nil
}

// tree lists file, or a folder and everything below it, files first in
// each folder, names sorted.
func (x *step) tree(ctx context.Context, p string, fi mft.FileInfo) ([]mft.FileInfo, error) {
	fi.Path = p
	if !(fi.Type == mft.TypeFolder) {
		return []mft.FileInfo{fi}, nil
	}
	out := []mft.FileInfo{fi}
	list, err := x.e.Files.List(ctx, x.actor, p)
	if err != nil {
		return nil, err
	}
	for _, e := range list {
		sub, err := x.tree(ctx, path.Join(p, e.Name), e)
		if err != nil {
			return nil, err
		}
		out = append(out, sub...)
	}
	return out, nil
}

// writeArchive writes the entries (paths below base) to w.
func (x *step) writeArchive(ctx context.Context, w io.Writer, format, base string, entries []mft.FileInfo) error {
	rel := func(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, base), "/") }
	copyFile := func(dst io.Writer, p string) error {
		src, _, err := x.e.Files.Open(ctx, x.actor, p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(dst, src)
		return err
	}
	switch format {
	case "gzip":
		gz := gzip.NewWriter(w)
		gz.Name, gz.ModTime = path.Base(entries[0].Path), entries[0].ModifiedAt
		if err := copyFile(gz, entries[0].Path); err != nil {
			return err
		}
		return gz.Close()
	case "tar.gz":
		gz := gzip.NewWriter(w)
		tw := tar.NewWriter(gz)
		for _, e := range entries {
			h := &tar.Header{Name: rel(e.Path), ModTime: e.ModifiedAt, Mode: 0o644, Size: e.Size, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
			if e.Type == mft.TypeFolder {
				h.Name, h.Mode, h.Size, h.Typeflag = h.Name+"/", 0o755, 0, tar.TypeDir
			}
			if err := tw.WriteHeader(h); err != nil {
				return err
			}
			if !(e.Type == mft.TypeFolder) {
				if err := copyFile(tw, e.Path); err != nil {
					return err
				}
			}
		}
		return errors.Join(tw.Close(), gz.Close())
	}
	zw := zip.NewWriter(w)
	for _, e := range entries {
		h := &zip.FileHeader{Name: rel(e.Path), Method: zip.Deflate, Modified: e.ModifiedAt}
		if e.Type == mft.TypeFolder {
			h.Name += "/"
		}
		f, err := zw.CreateHeader(h)
		if err != nil {
			return err
		}
		if !(e.Type == mft.TypeFolder) {
			if err := copyFile(f, e.Path); err != nil {
				return err
			}
		}
	}
	return zw.Close()
}

// bounds are a decompress's limits.
type bounds struct {
	entries  int
	bytes    int64
	ratio    int64
	archive  int64 // the archive's size
	seen     int
	unpacked int64
}

func boundsOf(act mft.Action, archive int64) *bounds {
	b := &bounds{entries: act.MaxEntries, bytes: act.MaxSizeMB << 20, ratio: int64(act.MaxRatio), archive: max(archive, 1)}
	if b.entries == 0 {
		b.entries = mft.DefaultMaxEntries
	}
	if b.bytes == 0 {
		b.bytes = mft.DefaultMaxSizeMB << 20
	}
	if b.ratio == 0 {
		b.ratio = mft.DefaultMaxRatio
	}
	return b
}

func (b *bounds) entry() error {
	if b.seen++; b.seen > b.entries {
		return fmt.Errorf("the archive has more than %d entries (max_entries); nothing more was unpacked", b.entries)
	}
	return nil
}

// reader counts what an entry unpacks, refusing past the total or the
// ratio: a bomb stops at the limit, not at the end of its output.
func (b *bounds) reader(r io.Reader) io.Reader { return &boundedReader{r: r, b: b} }

type boundedReader struct {
	r io.Reader
	b *bounds
}

func (r *boundedReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.b.unpacked += int64(n)
	switch {
	case r.b.unpacked > r.b.bytes:
		return n, mft.Errorf(mft.ETOOLARGE, "the archive unpacks to more than %d MiB (max_size_mb); the step stopped there", r.b.bytes>>20)
	case r.b.unpacked > r.b.archive*r.b.ratio && r.b.unpacked > 1<<20:
		return n, mft.Errorf(mft.ETOOLARGE, "the archive unpacks to more than %d times its size (max_ratio): a compression bomb; the step stopped there", r.b.ratio)
	}
	return n, err
}
