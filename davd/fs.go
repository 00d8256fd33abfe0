package davd

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"mime"
	"os"
	"path"
	"strconv"
	"time"

	"golang.org/x/net/webdav"

	"depot/files"
	"depot/mft"
)

// fileSystem is one request's view of a user's tree: webdav.FileSystem
// over the files service, so WebDAV has SFTP's permissions, limits,
// events and audit.
type fileSystem struct {
	files *files.Service
	a     files.Actor
	st    *request
}

func (s *fileSystem) Mkdir(ctx context.Context, name string, _ os.FileMode) error {
	_, err := s.files.Mkdir(ctx, s.a, name)
	return s.st.fail(name, err)
}

func (s *fileSystem) RemoveAll(ctx context.Context, name string) error {
	return s.st.fail(name, s.files.Remove(ctx, s.a, name, true))
}

func (s *fileSystem) Rename(ctx context.Context, from, to string) error {
	_, err := s.files.Rename(ctx, s.a, from, to)
	return s.st.fail(from, err)
}

func (s *fileSystem) Stat(ctx context.Context, name string) (os.FileInfo, error) {
	fi, err := s.files.Stat(ctx, s.a, name)
	if err != nil {
		return nil, s.st.fail(name, err)
	}
	return fileInfo{files.OSInfo{Entry: fi}}, nil
}

// OpenFile opens for reading (lazily: PROPFIND opens every entry it
// lists and reads none), or starts an upload published at Close.
func (s *fileSystem) OpenFile(ctx context.Context, name string, flag int, _ os.FileMode) (webdav.File, error) {
	if flag&(os.O_WRONLY|os.O_RDWR) != 0 {
		size := int64(-1)
		if s.st.put {
			size = s.st.size
		}
		p, err := s.files.Create(ctx, s.a, name, files.UploadOptions{Overwrite: true, Size: size})
		if err != nil {
			return nil, s.st.fail(name, err)
		}
		return &upload{p: p, st: s.st, name: name, started: time.Now()}, nil
	}
	fi, err := s.files.Stat(ctx, s.a, name)
	if err != nil {
		return nil, s.st.fail(name, err)
	}
	return &reader{s: s, ctx: ctx, name: name, fi: fi}, nil
}

// fileInfo is a Depot entry as os.FileInfo, with its type from the name
// (WebDAV would otherwise open each file listed to sniff it) and, when
// known, its SHA-256 as the ETag.
type fileInfo struct{ files.OSInfo }

func (f fileInfo) ContentType(context.Context) (string, error) {
	if t := mime.TypeByExtension(path.Ext(f.Entry.Name)); t != "" {
		return t, nil
	}
	return "application/octet-stream", nil
}

func (f fileInfo) ETag(context.Context) (string, error) {
	if f.Entry.SHA256 == "" {
		return "", webdav.ErrNotImplemented
	}
	return `"` + f.Entry.SHA256 + `"`, nil
}

// reader is an entry opened for reading; the file itself is opened at
// the first Read.
type reader struct {
	s    *fileSystem
	ctx  context.Context
	name string
	fi   mft.FileInfo
	f    files.File
	pos  int64
}

func (r *reader) open() error {
	if r.f != nil {
		return nil
	}
	if r.fi.Type == mft.TypeFolder {
		return errors.New("a folder has no content")
	}
	f, _, err := r.s.files.Open(r.ctx, r.s.a, r.name)
	if err != nil {
		return r.s.st.fail(r.name, err)
	}
	if _, err := f.Seek(r.pos, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	r.f = f
	return nil
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.open(); err != nil {
		return 0, err
	}
	n, err := r.f.Read(p)
	r.pos += int64(n)
	return n, err
}

func (r *reader) Seek(off int64, whence int) (int64, error) {
	if r.f != nil {
		pos, err := r.f.Seek(off, whence)
		r.pos = pos
		return pos, err
	}
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.fi.Size
	}
	if off < 0 {
		return 0, errors.New("seek before the start")
	}
	r.pos = off
	return off, nil
}

func (r *reader) Readdir(int) ([]fs.FileInfo, error) {
	list, err := r.s.files.List(r.ctx, r.s.a, r.name)
	if err != nil {
		return nil, r.s.st.fail(r.name, err)
	}
	out := make([]fs.FileInfo, len(list))
	for i, e := range list {
		out[i] = fileInfo{files.OSInfo{Entry: e}}
	}
	return out, nil
}

func (r *reader) Stat() (fs.FileInfo, error) { return fileInfo{files.OSInfo{Entry: r.fi}}, nil }
func (r *reader) Write([]byte) (int, error)  { return 0, os.ErrPermission }
func (r *reader) Close() error {
	if r.f != nil {
		return r.f.Close()
	}
	return nil
}

// Quota properties (RFC 4331), on folders.
var (
	quotaAvailable = xml.Name{Space: "DAV:", Local: "quota-available-bytes"}
	quotaUsed      = xml.Name{Space: "DAV:", Local: "quota-used-bytes"}
)

// DeadProps gives folders RFC 4331's quota properties: what the user may
// still store and, under a quota, what they store as the quota counts it.
func (r *reader) DeadProps() (map[xml.Name]webdav.Property, error) {
	if r.fi.Type != mft.TypeFolder {
		return nil, nil
	}
	total, free, err := r.s.files.Space(r.ctx, r.s.a)
	if err != nil || total <= 0 {
		return nil, nil
	}
	prop := func(n xml.Name, v int64) webdav.Property {
		return webdav.Property{XMLName: n, InnerXML: []byte(strconv.FormatInt(v, 10))}
	}
	props := map[xml.Name]webdav.Property{quotaAvailable: prop(quotaAvailable, free)}
	if disk, _, err := r.s.files.DiskSpace(); err == nil && total != disk { // a quota, not the disk
		props[quotaUsed] = prop(quotaUsed, total-free)
	}
	return props, nil
}

// Patch refuses every property change: Depot keeps no dead properties.
func (r *reader) Patch(patches []webdav.Proppatch) ([]webdav.Propstat, error) {
	ps := webdav.Propstat{Status: 403}
	for _, p := range patches {
		for _, prop := range p.Props {
			ps.Props = append(ps.Props, webdav.Property{XMLName: prop.XMLName})
		}
	}
	return []webdav.Propstat{ps}, nil
}

// upload is a PUT (or a COPY's target): the bytes stream into a staging
// file, and Close publishes it unless the body or a limit failed, so a
// broken PUT leaves nothing.
type upload struct {
	p       *files.Pending
	st      *request
	name    string
	started time.Time
	n       int64
	failed  error
}

// ReadFrom takes the body as Depot's uploads do (read ahead, hashed as
// it goes); io.Copy in the PUT handler uses it.
func (u *upload) ReadFrom(r io.Reader) (int64, error) {
	n, err := u.p.Append(r, -1)
	u.n += n
	if err != nil && u.failed == nil {
		u.failed = u.st.fail(u.name, err)
	}
	return n, u.failed
}

func (u *upload) Write(b []byte) (int, error) {
	n, err := u.p.WriteAt(b, u.n)
	u.n += int64(n)
	if err != nil && u.failed == nil {
		u.failed = u.st.fail(u.name, err)
	}
	return n, u.failed
}

func (u *upload) Close() error {
	if u.failed != nil {
		u.p.Abort()
		return u.failed
	}
	_, err := u.p.Commit()
	return u.st.fail(u.name, err)
}

func (u *upload) Stat() (fs.FileInfo, error) {
	return fileInfo{files.OSInfo{Entry: mft.FileInfo{Name: path.Base(u.name), Type: mft.TypeFile, Size: u.n, ModifiedAt: u.started}}}, nil
}
func (u *upload) Read([]byte) (int, error)           { return 0, os.ErrPermission }
func (u *upload) Seek(int64, int) (int64, error)     { return 0, os.ErrPermission }
func (u *upload) Readdir(int) ([]fs.FileInfo, error) { return nil, os.ErrPermission }
