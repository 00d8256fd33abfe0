package files

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"depot/mft"
	"depot/remote"
)

// errSkipDir, returned for a folder, skips its contents.
var errSkipDir = errors.New("files: skip this folder")

// walkMount calls fn for every file and folder below the storage folder
// dir of mount m (dir itself excluded), listing the remote folder by
// folder. Names being uploaded are left out.
func (s *Service) walkMount(ctx context.Context, m *mft.Mount, dir string, fn func(storage string, e remote.Entry) error) error {
	t := target{storage: dir, mount: m}
	tree, release, err := s.Backends.Acquire(ctx, m)
	if err != nil {
		return err
	}
	var walk func(dir string) error
	walk = func(dir string) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		list, err := tree.List(ctx, t.rpath(dir))
		if err != nil {
			return err
		}
		for _, e := range list {
			if strings.HasPrefix(e.Name, remoteTempPrefix) {
				continue
			}
			p := path.Join(dir, e.Name)
			err := fn(p, e)
			if errors.Is(err, errSkipDir) {
				continue
			} else if err != nil {
				return err
			}
			if e.Dir {
				if err := walk(p); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = walk(dir)
	release(err)
	return err
}

// fsckMounts adds what every mount holds to usage, counting it by
// listing the remote.
func (s *Service) fsckMounts(ctx context.Context, usage map[string]int64) (bytes, count int64, err error) {
	if s.Backends == nil {
		return 0, 0, nil
	}
	mounts, err := s.Backends.All(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, m := range mounts {
		err := s.walkMount(ctx, m, m.Path, func(storage string, e remote.Entry) error {
			if e.Dir {
				return nil
			}
			bytes += e.Size
			count++
			for dir := path.Dir(storage); ; dir = path.Dir(dir) {
				usage[dir] += e.Size
				if dir == "/" {
					break
				}
			}
			return nil
		})
		if err != nil {
			return 0, 0, fmt.Errorf("files: counting mount %s (%s): %w", m.ID, m.Path, err)
		}
	}
	return bytes, count, nil
}

// expireMounts applies the retention of folder rule f to the mounts at
// or below it (a rule on a mounted folder, or above one).
func (s *Service) expireMounts(ctx context.Context, f *mft.Folder, cutoff time.Time, retained map[string]bool) (int, error) {
	if s.Backends == nil {
		return 0, nil
	}
	mounts, err := s.Backends.All(ctx)
	if err != nil {
		return 0, err
	}
	deleted := 0
	var errs []error
	for _, m := range mounts {
		from := ""
		switch {
		case mft.HasPathPrefix(f.Path, m.Path):
			from = f.Path
		case mft.HasPathPrefix(m.Path, f.Path) && !ruledBetween(m.Path, f.Path, retained):
			from = m.Path
		default:
			continue
		}
		err := s.walkMount(ctx, m, from, func(storage string, e remote.Entry) error {
			if e.Dir {
				if retained[storage] {
					return errSkipDir // its own rule decides
				}
				return nil
			}
			if !e.ModTime.Before(cutoff) {
				return nil
			}
			t := target{client: storage, storage: storage, mount: m}
			if err := s.withTree(ctx, t, func(tree remote.Tree) error { return tree.Remove(ctx, t.rpath(storage)) }); err != nil {
				if s.Logger != nil { // the next sweep tries again
					s.Logger.Warn("retention could not delete a file on a mount", "path", storage, "err", err)
				}
				return nil
			}
			deleted++
			s.addUsage(ctx, path.Dir(storage), -e.Size)
			s.publish(mft.Event{Event: mft.EventFileDeleted, Path: storage, Size: e.Size,
				Message: fmt.Sprintf("retention: older than %d days", f.RetentionDays)}, Actor{Protocol: mft.AuditSystem})
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("files: retention on mount %s (%s): %w", m.ID, m.Path, err))
		}
	}
	return deleted, errors.Join(errs...)
}

// ruledBetween reports whether a folder rule with retention sits below
// top and at or above p: that rule, not top's, decides for p.
func ruledBetween(p, top string, retained map[string]bool) bool {
	for dir := p; dir != top && dir != "/"; dir = path.Dir(dir) {
		if retained[dir] {
			return true
		}
	}
	return false
}
