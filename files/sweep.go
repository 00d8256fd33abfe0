package files

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"time"

	"depot/mft"
)

// ChunkTTL is how long the pieces of an unfinished chunked upload are kept
// after the last piece arrived.
const ChunkTTL = 24 * time.Hour

// StagingTTL is how long a staging file may go unwritten before the sweep
// takes it for the leftover of a dead upload. Live uploads write to it
// continuously and the HTTP and SFTP idle timeouts are far shorter.
const StagingTTL = time.Hour

// SweepStaging removes staging files not written for olderThan and the
// pieces of chunked uploads idle for ChunkTTL (or olderThan, if longer).
// With olderThan 0, as at start-up when no upload can be running, it
// removes every staging file, the pieces that were being received and the
// sets that were being assembled, and keeps the pieces stored whole of
// sets idle less than ChunkTTL, counted against their quotas again: a
// restart loses no piece. Detached storage is removed only then. It
// returns how many entries it removed.
func (s *Service) SweepStaging(olderThan time.Duration) (int, error) {
	now := s.Now()
	removed := 0
	stale := func(e fs.DirEntry, ttl time.Duration) bool {
		if olderThan == 0 {
			return true
		}
		fi, err := e.Info()
		return err == nil && now.Sub(fi.ModTime()) > max(ttl, olderThan)
	}
	entries, err := fs.ReadDir(s.tmpRoot.FS(), ".")
	if err != nil {
		return 0, err
	}
	var errs []error
	for _, e := range entries {
		detached := strings.HasPrefix(e.Name(), detachedPrefix) // being removed or restored, or left by a crash
		if e.Name() == chunksDir || !stale(e, 0) || detached && olderThan != 0 {
			continue
		}
		if err := s.tmpRoot.RemoveAll(e.Name()); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	uploads, err := fs.ReadDir(s.tmpRoot.FS(), chunksDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return removed, err
	}
	var kept []string
	for _, e := range uploads {
		assembling := strings.Contains(e.Name(), ".assembling-") // being assembled now, or left by a crash
		fi, ierr := e.Info()
		idle := ierr != nil || now.Sub(fi.ModTime()) > max(ChunkTTL, olderThan)
		if olderThan == 0 && !assembling && !idle {
			kept = append(kept, e.Name())
			continue
		}
		if !assembling && !idle {
			continue
		}
		if err := s.tmpRoot.RemoveAll(path.Join(chunksDir, e.Name())); err != nil {
			errs = append(errs, err)
			continue
		}
		s.chunks.drop(path.Join(chunksDir, e.Name()))
		s.dropPieces(e.Name())
		removed++
	}
	if olderThan == 0 {
		n, err := s.loadSets(kept)
		removed += n
		errs = append(errs, err)
	}
	return removed, errors.Join(errs...)
}

// ExpireFiles deletes the files older than the retention_days of the
// nearest folder rule that sets one, audits each deletion as the system,
// and returns how many it deleted.
func (s *Service) ExpireFiles(ctx context.Context) (int, error) {
	if s.Folders == nil {
		return 0, nil
	}
	folders, err := s.Folders.FindRetentionFolders(ctx)
	if err != nil {
		return 0, err
	}
	retained := make(map[string]bool, len(folders))
	for _, f := range folders {
		retained[f.Path] = true
	}
	now := s.Now()
	deleted := 0
	var errs []error
	for _, f := range folders {
		cutoff := now.AddDate(0, 0, -f.RetentionDays)
		n, err := s.expireFolder(ctx, f, cutoff, retained)
		deleted += n
		if err != nil {
			errs = append(errs, err)
		}
		n, err = s.expireMounts(ctx, f, cutoff, retained)
		deleted += n
		if err != nil {
			errs = append(errs, err)
		}
		if ctx.Err() != nil {
			break
		}
	}
	return deleted, errors.Join(errs...)
}

func (s *Service) expireFolder(ctx context.Context, f *mft.Folder, cutoff time.Time, retained map[string]bool) (int, error) {
	root, err := s.root.OpenRoot(rel("/", f.Path))
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	defer root.Close()
	deleted := 0
	err = fs.WalkDir(root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // vanished while walking; the next sweep sees it
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		storage := joinStorage(f.Path, name)
		if name == "." {
			storage = f.Path
		}
		if d.IsDir() {
			if name != "." && retained[storage] {
				return fs.SkipDir // its own rule decides
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			return nil
		}
		if err := root.Remove(name); err != nil {
			return nil
		}
		deleted++
		s.addUsage(ctx, path.Dir(storage), -fi.Size())
		s.publish(mft.Event{Event: mft.EventFileDeleted, Path: storage, Size: fi.Size(),
			Message: fmt.Sprintf("retention: older than %d days", f.RetentionDays)}, Actor{Protocol: mft.AuditSystem})
		return nil
	})
	return deleted, err
}

// Fsck walks the storage tree and every mount (by listing the remote),
// replaces the usage table with what is there, and returns the total
// bytes and files found. Symlinks and other
// special files are not counted.
func (s *Service) Fsck(ctx context.Context) (bytes, count int64, err error) {
	usage := map[string]int64{"/": 0}
	err = fs.WalkDir(s.root.FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		bytes += fi.Size()
		count++
		for dir := path.Dir("/" + name); ; dir = path.Dir(dir) {
			usage[dir] += fi.Size()
			if dir == "/" {
				break
			}
		}
		return nil
	})
	if err != nil {
		return 0, 0, err
	}
	mbytes, mcount, err := s.fsckMounts(ctx, usage)
	if err != nil {
		return 0, 0, err
	}
	return bytes + mbytes, count + mcount, s.Usage.ReplaceUsage(ctx, usage)
}

// Empty reports whether a storage path holds no file where it is stored
// now (the local disk, or the mount above it): missing, or folders with
// no file in them. A mount made there would hide nothing.
func (s *Service) Empty(ctx context.Context, storagePath string) (bool, error) {
	t, st, err := s.storageAt(ctx, storagePath, "")
	if err != nil {
		return false, err
	}
	defer st.close()
	if t.mount != nil {
		list, err := st.list(ctx)
		switch mft.ErrorCode(err) {
		case mft.ENOTFOUND:
			return true, nil
		case mft.EINVALID: // a file
			return false, nil
		}
		return len(list) == 0, err
	}
	found := errors.New("found a file")
	err = fs.WalkDir(s.root.FS(), rel("/", t.storage), func(p string, d fs.DirEntry, err error) error {
		switch {
		case errors.Is(err, fs.ErrNotExist) && p == rel("/", t.storage):
			return fs.SkipAll
		case err != nil:
			return err
		case !d.IsDir():
			return found
		}
		return nil
	})
	if err == found {
		return false, nil
	}
	return err == nil, err
}
