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

// archiveFormat is an archive's format from the action or its name.
func archiveFormat(act mft.Action, name string) (string, string, error) {
	lower := strings.ToLower(name)
	for _, f := range []struct{ ext, format string }{{".tar.gz", "tar.gz"}, {".tgz", "tar.gz"}, {".zip", "zip"}, {".tar", "tar"}, {".gz", "gzip"}} {
		if strings.HasSuffix(lower, f.ext) {
			if act.Format == "" || act.Format == f.format {
				return f.format, name[:len(name)-len(f.ext)], nil
			}
			return act.Format, name[:len(name)-len(f.ext)], nil
		}
	}
	if act.Format != "" {
		return act.Format, name + ".unpacked", nil
	}
	return "", "", fmt.Errorf("%s is not named as an archive (.zip, .tar.gz, .tgz, .tar, .gz); say its format", name)
}

// decompress unpacks an archive into a folder (to, or next to it named
// without its ending; a .gz beside it), every entry an upload like any
// other (events, audit, quotas, folder rules, scanning), within the
// action's bounds. It returns the folder and the files it wrote, on
// which the rest of the chain runs.
func (x *step) decompress(ctx context.Context, act mft.Action, file string) (string, []string, error) {
	format, stem, err := archiveFormat(act, path.Base(file))
	if err != nil {
		return "", nil, err
	}
	src, fi, err := x.e.Files.Open(ctx, x.actor, file)
	if err != nil {
		return "", nil, err
	}
	defer src.Close()
	dest := path.Join(path.Dir(file), stem)
	if format == "gzip" {
		dest = path.Dir(file)
	}
	if act.To != "" {
		dest = x.expand(act.To, file)
	}
	if dest, err = files.CleanPath(dest); err != nil {
		return "", nil, err
	}
	u := &unpacker{x: x, ctx: ctx, dest: dest, b: boundsOf(act, fi.Size)}
	if err := u.mkdir(dest); err != nil {
		return "", nil, err
	}
	switch format {
	case "zip":
		err = u.zip(src, fi.Size)
	case "tar", "tar.gz":
		var r io.Reader = src
		if format == "tar.gz" {
			gz, gerr := gzip.NewReader(src)
			if gerr != nil {
				return "", nil, fmt.Errorf("%s is not gzip: %v", file, gerr)
			}
			r = gz
		}
		err = u.tar(tar.NewReader(r))
	case "gzip":
		gz, gerr := gzip.NewReader(src)
		if gerr != nil {
			return "", nil, fmt.Errorf("%s is not gzip: %v", file, gerr)
		}
		name := stem
		if gz.Name != "" && files.PlainName(gz.Name) {
			name = gz.Name
		}
		if err = u.b.entry(); err == nil {
			err = u.put(name, gz)
		}
	}
	if err != nil {
		return "", u.out, err
	}
	if !act.KeepOriginal {
		if err := x.e.Files.Remove(ctx, x.actor, file, false); err != nil {
			return "", u.out, err
		}
	}
	return dest, u.out, nil
}

// unpacker writes an archive's entries below dest.
type unpacker struct {
	x    *step
	ctx  context.Context
	dest string
	b    *bounds
	out  []string
	made map[string]bool
}

// target is where an entry goes: below dest, through the path rules of
// uploads. An entry that would land elsewhere (zip slip: "../", an
// absolute name) fails the step, naming it.
func (u *unpacker) target(name string) (string, error) {
	clean := strings.TrimSuffix(name, "/")
	if clean == "" || strings.HasPrefix(clean, "/") || strings.Contains(clean, "\\") || strings.Contains("/"+clean+"/", "/../") {
		return "", fmt.Errorf("the archive's entry %q points outside the folder it unpacks into; nothing more was unpacked", name)
	}
	p, err := files.CleanPath(path.Join(u.dest, clean))
	if err != nil {
		return "", fmt.Errorf("the archive's entry %q: %s", name, mft.ErrorMessage(err))
	}
	if !strings.HasPrefix(p, strings.TrimSuffix(u.dest, "/")+"/") {
		return "", fmt.Errorf("the archive's entry %q points outside the folder it unpacks into", name)
	}
	return p, nil
}

func (u *unpacker) mkdir(p string) error {
	if u.made == nil {
		u.made = map[string]bool{}
	}
	if p == "/" || u.made[p] {
		return nil
	}
	if _, err := u.x.e.Files.Mkdir(u.ctx, u.x.actor, p); err != nil && mft.ErrorCode(err) != mft.ECONFLICT {
		return err
	}
	u.made[p] = true
	return nil
}

// put uploads one entry's bytes.
func (u *unpacker) put(name string, r io.Reader) error {
	p, err := u.target(name)
	if err != nil {
		return err
	}
	if err := u.mkdir(path.Dir(p)); err != nil {
		return err
	}
	if _, err := u.x.e.Files.Upload(u.ctx, u.x.actor, p, u.b.reader(r), files.UploadOptions{Overwrite: true, Size: -1}); err != nil {
		return err
	}
	u.out = append(u.out, p)
	return nil
}

func (u *unpacker) zip(src io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(src, size)
	if err != nil {
		return fmt.Errorf("not a zip archive: %v", err)
	}
	for _, f := range zr.File {
		if err := u.b.entry(); err != nil {
			return err
		}
		mode := f.Mode()
		switch {
		case mode.IsDir():
			p, err := u.target(f.Name)
			if err == nil {
				err = u.mkdir(p)
			}
			if err != nil {
				return err
			}
		case mode.IsRegular():
			rc, err := f.Open()
			if err != nil {
				return fmt.Errorf("the archive's entry %q: %v", f.Name, err)
			}
			err = u.put(f.Name, rc)
			rc.Close()
			if err != nil {
				return err
			}
		default:
			return fmt.Errorf("the archive's entry %q is a link or a device; archives holding them are not unpacked", f.Name)
		}
	}
	return nil
}

func (u *unpacker) tar(tr *tar.Reader) error {
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("the tar archive is damaged: %v", err)
		}
		if err := u.b.entry(); err != nil {
			return err
		}
		switch h.Typeflag {
		case tar.TypeDir:
			p, err := u.target(h.Name)
			if err == nil {
				err = u.mkdir(p)
			}
			if err != nil {
				return err
			}
		case tar.TypeReg:
			if err := u.put(h.Name, tr); err != nil {
				return err
			}
		case tar.TypeXGlobalHeader:
		default:
			return fmt.Errorf("the archive's entry %q is a link or a device; archives holding them are not unpacked", h.Name)
		}
	}
}
