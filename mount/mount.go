// Package mount serves storage paths from storage connections: the mount
// table (which path lives on which connection, cached in memory) and a
// pool of open connections that the files service borrows one operation
// or one stream at a time. It knows no protocol of Depot's own.
package mount

import (
	"context"
	"path"
	"slices"
	"sync"
	"time"

	"depot/connection"
	"depot/mft"
	"depot/remote"
)

// Service keeps the mount table and the connections it needs.
type Service struct {
	Store       mft.MountStore
	Connections *connection.Service
	// Empty reports whether a storage path holds no file where it is
	// stored now (a mount would hide it); nil skips the check.
	Empty func(ctx context.Context, storagePath string) (bool, error)
	// Events receives mount.created and mount.deleted; nil drops them.
	Events mft.EventSink
	// Generation returns the access generation (store.DB's
	// AccessGeneration), which grows with every change to the mounts, this
	// node's or another's on the same database: the table is read again
	// when it has. nil: only this service's own changes are seen.
	Generation func() uint64

	// tableMu guards table and gen, which every file operation reads
	// (Lookup).
	tableMu sync.RWMutex
	table   []*mft.Mount // longest path first; nil: not loaded
	gen     uint64       // the generation table was read at

	mu     sync.Mutex // guards pools and closed
	pools  map[string]*pool
	closed bool
}

// mounts returns the mount table, longest path first, read again when
// the access generation has grown.
func (s *Service) mounts(ctx context.Context) ([]*mft.Mount, error) {
	var gen uint64
	if s.Generation != nil {
		gen = s.Generation() // before the read, so that a change during it is seen next time
	}
	s.tableMu.RLock()
	table, fresh := s.table, s.gen == gen
	s.tableMu.RUnlock()
	if table != nil && fresh {
		return table, nil
	}
	s.tableMu.Lock()
	defer s.tableMu.Unlock()
	if s.table != nil && s.gen == gen {
		return s.table, nil
	}
	all, err := s.Store.FindMounts(ctx)
	if err != nil {
		return nil, err
	}
	table = append(make([]*mft.Mount, 0, len(all)), all...)
	slices.SortFunc(table, func(a, b *mft.Mount) int { return len(b.Path) - len(a.Path) })
	s.table, s.gen = table, gen
	return table, nil
}

// All returns every mount.
func (s *Service) All(ctx context.Context) ([]*mft.Mount, error) { return s.mounts(ctx) }

// Lookup returns the mount that serves storagePath, or nil for the local
// disk: the deepest mount at or above it (the storage root's mount serves
// only what no other mount does).
func (s *Service) Lookup(ctx context.Context, storagePath string) (*mft.Mount, error) {
	all, err := s.mounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range all {
		if mft.HasPathPrefix(storagePath, m.Path) {
			return m, nil
		}
	}
	return nil, nil
}

// Below returns the mounts directly inside the storage folder dir,
// which a listing of dir shows as folders.
func (s *Service) Below(ctx context.Context, dir string) ([]*mft.Mount, error) {
	all, err := s.mounts(ctx)
	if err != nil {
		return nil, err
	}
	var out []*mft.Mount
	for _, m := range all {
		if path.Dir(m.Path) == dir && m.Path != dir {
			out = append(out, m)
		}
	}
	return out, nil
}

// Create validates m, checks that its connection answers and makes its
// folder there, then stores it. A path that has files (on the local disk,
// or on the mount above it) is refused: the mount would hide them.
func (s *Service) Create(ctx context.Context, m *mft.Mount) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if s.Empty != nil {
		if empty, err := s.Empty(ctx, m.Path); err != nil {
			return err
		} else if !empty {
			return mft.Errorf(mft.ECONFLICT, "%s has files; move them away first, a mount would hide them", m.Path)
		}
	}
	st, c, err := s.Connections.Open(ctx, m.Connection)
	if mft.ErrorCode(err) == mft.ENOTFOUND {
		return mft.Errorf(mft.EINVALID, "connection %s does not exist", m.Connection)
	} else if err != nil {
		return mft.Errorf(mft.EINVALID, "%s", mft.ErrorMessage(err))
	}
	defer st.Close()
	if m.Prefix != "" {
		if err := st.Mkdir(ctx, m.Prefix); err != nil {
			return mft.Errorf(mft.EINVALID, "%s", mft.ErrorMessage(remote.Failed(c, "creating "+m.Prefix, err)))
		}
	}
	if err := s.Store.CreateMount(ctx, m); err != nil {
		return err
	}
	s.forget()
	mft.PublishChange(ctx, s.Events, mft.EventMountCreated, m.ID)
	return nil
}

// Delete removes a mount: the files stay on the connection, and the path
// is the local disk's again.
func (s *Service) Delete(ctx context.Context, id string) error {
	if err := s.Store.DeleteMount(ctx, id); err != nil {
		return err
	}
	s.forget()
	mft.PublishChange(ctx, s.Events, mft.EventMountDeleted, id)
	return nil
}

func (s *Service) forget() {
	s.tableMu.Lock()
	s.table = nil
	s.tableMu.Unlock()
}

// Sweep discards what broken uploads left on every mount before cutoff
// (S3's incomplete multipart uploads) and returns how many.
func (s *Service) Sweep(ctx context.Context, olderThan time.Duration) (int, error) {
	all, err := s.mounts(ctx)
	if err != nil {
		return 0, err
	}
	total := 0
	for _, m := range all {
		t, release, err := s.Acquire(ctx, m)
		if err != nil {
			return total, err
		}
		n, err := t.Sweep(ctx, m.Prefix, time.Now().Add(-olderThan))
		release(err)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}
