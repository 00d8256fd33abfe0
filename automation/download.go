package automation

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"sync"

	"depot/files"
	"depot/mft"
	"depot/remote"
)

// maxDownloadDepth bounds a recursive download's folders.
const maxDownloadDepth = 32

// fetchAtOnce is how many files of a folder a download fetches at once
// from a remote that takes concurrent calls: many small files then wait
// for one round trip of each other instead of one after the other, and
// their records share commits.
const fetchAtOnce = 8

// download fetches the files of a remote folder whose names match the
// pattern into the local folder to (a recursive one mirrors the
// subfolders), each once per version (size and time), then deletes or
// moves the remote file when asked. Returns the local files fetched, in
// the remote's listing order.
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
	mu      sync.Mutex // bytes and fetched, with files fetched at once
	fetched []string
}

// wanted is a remote file to fetch, and where it goes.
type wanted struct {
	e            remote.Entry
	remote, dest string
}

func (d *puller) folder(ctx context.Context, dir, local string, depth int) error {
	list, err := d.st.List(ctx, dir)
	if err != nil {
		return remote.Failed(d.c, "listing /"+dir, err)
	}
	if _, err := d.x.e.Files.Mkdir(ctx, d.x.actor, local); err != nil && mft.ErrorCode(err) != mft.ECONFLICT {
		return err
	}
	var todo []wanted
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
		if ok, _ := path.Match(d.act.Pattern, e.Name); ok && files.PlainName(e.Name) {
			todo = append(todo, wanted{e, rp, path.Join(local, e.Name)})
		}
	}
	return d.files(ctx, todo)
}

// files fetches todo, several at once where the remote allows, and adds
// the files fetched in todo's order. The first error stops the rest.
func (d *puller) files(ctx context.Context, todo []wanted) error {
	n := 1
	if d.st.Caps().Concurrent {
		n = fetchAtOnce
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	got := make([]bool, len(todo))
	var first error // the failure that stopped the others
	var once sync.Once
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var err error
				if got[i], err = d.file(ctx, todo[i]); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range todo {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	for i, w := range todo {
		if got[i] {
			d.fetched = append(d.fetched, w.dest)
		}
	}
	if first != nil {
		return first
	}
	return ctx.Err()
}

// file fetches one remote file unless this version was fetched before,
// continuing what an earlier attempt of the run left. It reports whether
// it fetched.
func (d *puller) file(ctx context.Context, w wanted) (bool, error) {
	x := d.x
	key, version := "remote:"+d.c.ID+":/"+w.remote, fmt.Sprintf("%d:%d", w.e.Size, w.e.ModTime.Unix())
	if done, err := x.e.Store.Processed(ctx, x.a.ID, key, version); err != nil || done {
		return false, err
	}
	pk := partialKey(x.r.ID, key, version)
	up := x.e.partials.take(pk)
	if up == nil {
		var err error
		if up, err = x.e.Files.Create(ctx, x.actor, w.dest, files.UploadOptions{Overwrite: true, Size: w.e.Size}); err != nil {
			return false, err
		}
	}
	n, err := d.receive(ctx, w, up, pk)
	d.mu.Lock()
	x.rec.Bytes += n
	d.mu.Unlock()
	if err != nil {
		return false, err
	}
	if _, err := up.Commit(); err != nil {
		return false, err
	}
	if _, err := x.e.Store.MarkProcessed(ctx, x.a.ID, key, version); err != nil {
		return false, err
	}
	return true, d.after(ctx, w)
}

// receive copies the remote file into up from where up ends. When the
// remote fails, up is kept for the run's next attempt; when Depot
// refuses (quota, size), it is dropped.
func (d *puller) receive(ctx context.Context, w wanted, up *files.Pending, pk string) (int64, error) {
	offset := up.Size()
	if offset > w.e.Size { // left by an attempt that read past the listed size
		if err := up.Truncate(0); err != nil {
			up.Abort()
			return 0, err
		}
		offset = 0
	}
	rc, err := d.st.Get(ctx, w.remote, offset)
	if err != nil {
		return 0, d.keep(pk, up, w, err)
	}
	defer rc.Close()
	n, err := up.Append(rc, w.e.Size-offset)
	switch {
	case errors.As(err, new(*files.ReadError)):
		return n, d.keep(pk, up, w, err)
	case err == nil && offset+n != w.e.Size:
		err = mft.Errorf(mft.EUNAVAILABLE, "%s: /%s had %d bytes when listed and %d when read; it is fetched again on the next run", d.c.Name, w.remote, w.e.Size, offset+n)
	}
	if err != nil {
		up.Abort()
	}
	return n, err
}

// keep holds up for the run's next attempt after the remote failed.
func (d *puller) keep(pk string, up *files.Pending, w wanted, err error) error {
	d.x.e.partials.keep(pk, up)
	return remote.Failed(d.c, "reading /"+w.remote, err)
}

// after deletes or moves the fetched remote file as the action asks.
func (d *puller) after(ctx context.Context, w wanted) error {
	switch d.act.After {
	case "delete":
		if err := d.st.Remove(ctx, w.remote); err != nil {
			return remote.Failed(d.c, "deleting /"+w.remote, err)
		}
	case "move":
		dir, err := remote.Clean(d.x.expand(d.act.MoveTo, w.dest))
		if err != nil {
			return err
		}
		if err := d.st.Mkdir(ctx, dir); err != nil {
			return remote.Failed(d.c, "creating /"+dir, err)
		}
		if err := d.st.Rename(ctx, w.remote, path.Join(dir, path.Base(w.remote))); err != nil {
			return remote.Failed(d.c, "moving /"+w.remote, err)
		}
	}
	return nil
}
