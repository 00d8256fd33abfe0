package files

import (
	"context"
	"fmt"
	"path"

	"depot/mft"
)

// quota is a byte limit on everything stored below a storage path.
type quota struct {
	path  string
	limit int64
	used  int64 // when the upload began (limits)
}

// limits returns a writer that enforces, for a file written at the target
// in place of oldSize bytes: the user's max file size, their quota (for
// files in their home) and the rules of every folder above the target.
func (s *Service) limits(ctx context.Context, a Actor, t target, oldSize int64) (*limitWriter, error) {
	lw := &limitWriter{quota: -1, sync: s.Sync, scanner: s.Scanner, ctx: ctx}
	rules, err := s.rulesAbove(ctx, a, path.Dir(t.storage))
	if err != nil {
		return nil, err
	}
	for _, r := range rules.folders {
		if err := r.CheckName(path.Base(t.storage), t.shown(r.Path)); err != nil {
			return nil, err
		}
	}
	lw.maxSize = rules.maxSize
	for _, q := range rules.quotas {
		used, err := s.used(ctx, q.path)
		if err != nil {
			return nil, err
		}
		q.used = used
		lw.quotas = append(lw.quotas, q)
		left := max(q.limit-used+oldSize, 0)
		if lw.quota < 0 || left < lw.quota {
			lw.quota = left
		}
	}
	return lw, nil
}

// rules are the limits that apply below one storage folder.
type rules struct {
	folders []*mft.Folder
	maxSize int64 // bytes, 0 = none
	quotas  []quota
}

// rulesAbove gathers the user's limits and the folder rules on dir and its
// ancestors; the smallest size limit wins and every quota applies.
func (s *Service) rulesAbove(ctx context.Context, a Actor, dir string) (rules, error) {
	var r rules
	u := a.User
	if u.MaxFileSize > 0 {
		r.maxSize = u.MaxFileSize * mb
	}
	if u.QuotaMB > 0 && mft.HasPathPrefix(dir, u.Home) {
		r.quotas = append(r.quotas, quota{path: u.Home, limit: u.QuotaMB * mb})
	}
	for _, q := range a.Quotas {
		if mft.HasPathPrefix(dir, q.Path) {
			r.quotas = append(r.quotas, quota{path: q.Path, limit: q.Bytes})
		}
	}
	if s.Folders == nil {
		return r, nil
	}
	folders, err := s.Folders.FindFoldersAbove(ctx, dir)
	if err != nil {
		return r, err
	}
	r.folders = folders
	for _, f := range folders {
		if f.MaxFileSize > 0 && (r.maxSize == 0 || f.MaxFileSize*mb < r.maxSize) {
			r.maxSize = f.MaxFileSize * mb
		}
		if f.QuotaMB > 0 {
			r.quotas = append(r.quotas, quota{path: f.Path, limit: f.QuotaMB * mb})
		}
	}
	return r, nil
}

// checkMove applies the destination's rules to a rename: the name must be
// allowed, a file must fit the size limit, and the bytes must fit every
// quota the source is not already counted in. A folder cannot be moved
// into a folder whose extension rules it is not already under, since its
// contents were never checked against them.
func (s *Service) checkMove(ctx context.Context, a Actor, src, dst target, size int64, isDir bool) error {
	r, err := s.rulesAbove(ctx, a, path.Dir(dst.storage))
	if err != nil {
		return err
	}
	for _, f := range r.folders {
		already := mft.HasPathPrefix(src.storage, f.Path)
		switch {
		case isDir && !already && (len(f.AllowedExtensions) > 0 || len(f.BlockedExtensions) > 0):
			return mft.Errorf(mft.EINVALID, "%s has file extension rules; move the files one by one.", path.Dir(dst.client))
		case isDir:
		case !already && f.MaxFileSize > 0 && size > f.MaxFileSize*mb:
			// The user's own max_file_size and the rules the file is
			// already under were met when it was stored.
			return mft.Errorf(mft.ETOOLARGE, "The file is larger than the limit of %d bytes in %s.", f.MaxFileSize*mb, dst.shown(f.Path))
		default:
			if err := f.CheckName(path.Base(dst.storage), dst.shown(f.Path)); err != nil {
				return err
			}
		}
	}
	for _, q := range r.quotas {
		if mft.HasPathPrefix(src.storage, q.path) {
			continue
		}
		used, err := s.used(ctx, q.path)
		if err != nil {
			return err
		}
		if used+size > q.limit {
			return mft.Errorf(mft.EQUOTA, "%s does not fit in the quota of %s (%d bytes left).", src.client, dst.shown(q.path), max(q.limit-used, 0))
		}
	}
	return nil
}

// used returns the bytes counted against a quota on storage path p: the
// files below it and the pieces of chunked uploads going there.
func (s *Service) used(ctx context.Context, p string) (int64, error) {
	n, err := s.Usage.Usage(ctx, p)
	return n + s.chunks.under(p), err
}

// quotaThresholds are the shares of a quota whose crossing is announced:
// quota.warning at 80 and 95 %, quota.exceeded at 100 %.
var quotaThresholds = []int64{80, 95, 100}

// quotaCrossings publishes quota.warning and quota.exceeded for each
// quota an upload of delta bytes carried across a threshold: once per
// crossing, not per upload.
func (s *Service) quotaCrossings(lw *limitWriter, delta int64, a Actor) {
	for _, q := range lw.quotas {
		before, after := q.used, q.used+delta
		for _, th := range quotaThresholds {
			if before*100 < th*q.limit && after*100 >= th*q.limit {
				ev := mft.Event{Event: mft.EventQuotaWarning, Path: q.path, Size: after, Status: mft.StatusOK,
					Message: fmt.Sprintf("%d %% of the quota of %s is used (%d of %d bytes)", th, q.path, after, q.limit)}
				if th == 100 {
					ev.Event = mft.EventQuotaExceeded
				}
				s.publish(ev, a)
			}
		}
	}
}
