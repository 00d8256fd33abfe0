package automation

import (
	"context"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"depot/files"
	"depot/mft"
	"depot/remote"
)

// upload sends file to the action's connection at to (placeholders; a
// trailing / keeps the name): under a temporary name renamed when whole
// where the remote renames atomically, continuing what a broken attempt
// of the run left (remote.Send), and checked for its size afterwards.
// Without keep_original the local file is removed.
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
	if c, err := x.e.Connections.Store.FindConnection(ctx, act.Connection); err == nil && c.Type == mft.ConnAS2 {
		return x.uploadAS2(ctx, act, c, file, path.Base(to), src, fi.Size)
	}
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
	tmp := to
	if st.Caps().AtomicRename {
		// One name per run and version of the file: a retry of this run
		// finds what it left, a file made again (a new encryption) does not.
		v, err := version(src, fi)
		if err != nil {
			return "", err
		}
		tmp = path.Join(path.Dir(to), "."+path.Base(to)+"."+x.r.ID+"-"+v+".part")
	}
	// Until it is renamed, what this upload leaves is the run's to
	// discard if the run fails for good; one an earlier attempt left
	// for another version of the file goes now.
	lk := x.r.ID + "\x00" + act.Connection + "\x00" + to
	if old := x.e.partials.leave(lk, leftover{conn: act.Connection, path: tmp}); old.path != "" && old.path != tmp {
		x.e.discard(ctx, old)
	}
	n, err := remote.Send(ctx, st, tmp, src, fi.Size)
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
	x.e.partials.leave(lk, leftover{})
	if act.KeepOriginal {
		return file, nil
	}
	return "", x.e.Files.Remove(ctx, x.actor, file, false)
}

// AS2Sender sends a file to an AS2 partner as one message and checks
// its receipt (the as2 package).
type AS2Sender interface {
	Send(ctx context.Context, partnerID, name string, r io.Reader, size int64) (*mft.AS2Message, error)
}

// uploadAS2 sends file to the connection's AS2 partner under name: the
// step succeeds when the partner's MDN verifies, says processed and
// carries the MIC of what was sent; otherwise it fails with the reason
// and the run retries as for other remotes.
func (x *step) uploadAS2(ctx context.Context, act mft.Action, c *mft.Connection, file, name string, src io.Reader, size int64) (string, error) {
	if x.e.AS2 == nil {
		return "", mft.Errorf(mft.EUNAVAILABLE, "AS2 is not available")
	}
	m, err := x.e.AS2.Send(ctx, c.AS2Partner, name, src, size)
	if m != nil {
		x.rec.Remote, x.rec.Bytes = m.MessageID, m.Size
	}
	if err != nil {
		return "", err
	}
	if act.KeepOriginal {
		return file, nil
	}
	return "", x.e.Files.Remove(ctx, x.actor, file, false)
}

// dropRun forgets what run kept for its next attempt: downloads kept
// locally, and what its broken uploads left on remotes, discarded.
func (e *Engine) dropRun(ctx context.Context, run string) {
	for _, l := range e.partials.drop(run) {
		e.discard(ctx, l)
	}
}

// discard removes what a broken upload left on a remote; a remote still
// failing keeps it, said in the log.
func (e *Engine) discard(ctx context.Context, l leftover) {
	ctx, cancel := context.WithTimeout(ctx, remote.Timeout)
	defer cancel()
	st, _, err := e.Connections.Open(ctx, l.conn)
	if err == nil {
		err = remote.Discard(ctx, st, l.path)
		st.Close()
	}
	if err != nil {
		e.Logger.Warn("what a broken upload left on the remote stays", "connection", l.conn, "path", "/"+l.path, "err", err)
	}
}

// version names one version of an open file: its inode, modification
// time to the nanosecond and size. A file replaced, even within the same
// second and at the same size, is another version.
func version(src files.File, info mft.FileInfo) (string, error) {
	f, ok := src.(*os.File)
	if !ok { // on a mount: the remote's time and size
		return strconv.FormatInt(info.ModifiedAt.Unix(), 36) + strconv.FormatInt(info.Size, 36), nil
	}
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	v := strconv.FormatInt(fi.ModTime().UnixNano(), 36) + strconv.FormatInt(fi.Size(), 36)
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		v = strconv.FormatUint(st.Ino, 36) + v
	}
	return v, nil
}
