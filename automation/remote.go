package automation

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"

	"depot/files"
	"depot/mft"
	"depot/remote"
)

// upload sends file to the action's connection at to (placeholders; a
// trailing / keeps the name): under a temporary name renamed when whole
// where the remote renames atomically, continuing a temporary file a
// broken attempt left where it can resume, and checked for its size
// afterwards. Without keep_original the local file is removed.
func (x *step) upload(ctx context.Context, act mft.Action, file string) (string, error) {
	to := x.expand(act.To, file)
	if strings.HasSuffix(to, "/") {
		to += path.Base(file)
	}
	to, err := remote.Clean(to)
	if err != nil {
		return "", err
	}
	x.rec.Connection, x.rec.Remote = act.Connection, "/"+to
	src, fi, err := x.e.Files.Open(ctx, x.actor, file)
	if err != nil {
		return "", err
	}
	defer src.Close()
	st, c, err := x.e.Connections.Open(ctx, act.Connection)
	if err != nil {
		return "", err
	}
	defer st.Close()
	if dir := path.Dir(to); dir != "." {
		if err := st.Mkdir(ctx, dir); err != nil {
			return "", remote.Failed(c, "creating /"+dir, err)
		}
	}
	caps, tmp := st.Caps(), to
	if caps.AtomicRename {
		// One name per run: a retry of this run finds what it left.
		tmp = path.Join(path.Dir(to), "."+path.Base(to)+"."+x.r.ID+".part")
	}
	var offset int64
	if caps.Resume {
		if e, err := st.Stat(ctx, tmp); err == nil && e.Size > 0 && e.Size < fi.Size {
			offset = e.Size
		}
	}
	n, err := st.Put(ctx, tmp, io.NewSectionReader(src, offset, fi.Size-offset), offset)
	x.rec.Bytes = n
	if err != nil {
		return "", remote.Failed(c, "writing /"+tmp, err)
	}
	if e, err := st.Stat(ctx, tmp); err != nil {
		return "", remote.Failed(c, "checking /"+tmp, err)
	} else if e.Size != fi.Size {
		return "", mft.Errorf(mft.EUNAVAILABLE, "%s: /%s has %d bytes on the remote after the upload, not %d", c.Name, tmp, e.Size, fi.Size)
	}
	if tmp != to {
		if err := st.Rename(ctx, tmp, to); err != nil {
			return "", remote.Failed(c, "renaming /"+tmp+" to /"+to, err)
		}
	}
	if act.KeepOriginal {
		return file, nil
	}
	return "", x.e.Files.Remove(ctx, x.actor, file, false)
}

// maxDownloadDepth bounds a recursive download's folders.
const maxDownloadDepth = 32

// download fetches the files of a remote folder whose names match the
// pattern into the local folder to (a recursive one mirrors the
// subfolders), each once per version (size and time), then deletes or
// moves the remote file when asked. Returns the local files fetched.
func (x *step) download(ctx context.Context, act mft.Action) ([]string, error) {
	from, err := remote.Clean(act.From)
	if err != nil {
		return nil, err
	}
	to, err := files.CleanPath(x.expand(act.To, ""))
	if err != nil {
		return nil, err
	}
	x.rec.Connection, x.rec.Remote = act.Connection, "/"+from
	st, c, err := x.e.Connections.Open(ctx, act.Connection)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	d := &puller{x: x, act: act, st: st, c: c}
	err = d.folder(ctx, from, to, 0)
	return d.fetched, err
}

// puller is one download's walk.
type puller struct {
	x       *step
	act     mft.Action
	st      remote.Store
	c       *mft.Connection
	fetched []string
}

func (d *puller) folder(ctx context.Context, dir, local string, depth int) error {
	list, err := d.st.List(ctx, dir)
	if err != nil {
		return remote.Failed(d.c, "listing /"+dir, err)
	}
	if _, err := d.x.e.Files.Mkdir(ctx, d.x.actor, local); err != nil && mft.ErrorCode(err) != mft.ECONFLICT {
		return err
	}
	for _, e := range list {
		rp := path.Join(dir, e.Name)
		if e.Dir {
			if d.act.Recursive && depth < maxDownloadDepth && !strings.HasPrefix(e.Name, ".") {
				if err := d.folder(ctx, rp, path.Join(local, e.Name), depth+1); err != nil {
					return err
				}
			}
			continue
		}
		if ok, _ := path.Match(d.act.Pattern, e.Name); !ok || !files.PlainName(e.Name) {
			continue
		}
		if err := d.file(ctx, e, rp, path.Join(local, e.Name)); err != nil {
			return err
		}
	}
	return nil
}

// file fetches one remote file unless this version was fetched before.
func (d *puller) file(ctx context.Context, e remote.Entry, rp, local string) error {
	x := d.x
	key, version := "remote:"+d.c.ID+":/"+rp, fmt.Sprintf("%d:%d", e.Size, e.ModTime.Unix())
	if done, err := x.e.Store.Processed(ctx, x.a.ID, key, version); err != nil || done {
		return err
	}
	rc, err := d.st.Get(ctx, rp, 0)
	if err != nil {
		return remote.Failed(d.c, "reading /"+rp, err)
	}
	fi, err := x.e.Files.Upload(ctx, x.actor, local, rc, files.UploadOptions{Overwrite: true, Size: e.Size})
	if cerr := rc.Close(); err == nil && cerr != nil {
		err = remote.Failed(d.c, "reading /"+rp, cerr)
	}
	if err != nil {
		return err
	}
	x.rec.Bytes += fi.Size
	if err := x.e.Store.MarkProcessed(ctx, x.a.ID, key, version); err != nil {
		return err
	}
	switch d.act.After {
	case "delete":
		if err := d.st.Remove(ctx, rp); err != nil {
			return remote.Failed(d.c, "deleting /"+rp, err)
		}
	case "move":
		dir, err := remote.Clean(x.expand(d.act.MoveTo, local))
		if err != nil {
			return err
		}
		if err := d.st.Mkdir(ctx, dir); err != nil {
			return remote.Failed(d.c, "creating /"+dir, err)
		}
		if err := d.st.Rename(ctx, rp, path.Join(dir, path.Base(rp))); err != nil {
			return remote.Failed(d.c, "moving /"+rp, err)
		}
	}
	d.fetched = append(d.fetched, local)
	return nil
}
