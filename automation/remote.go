package automation

import (
	"context"
	"io"
	"path"
	"strings"

	"depot/mft"
	"depot/remote"
)

// resumeRewind is how far before the end of what a broken upload left
// the next attempt starts again: the SFTP client keeps up to 2 MiB of
// writes in flight, and a server that applied them out of order before
// the break may have left a hole in that last stretch.
const resumeRewind = 4 << 20

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
		if e, err := st.Stat(ctx, tmp); err == nil && e.Size > resumeRewind && e.Size < fi.Size {
			offset = e.Size - resumeRewind
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
