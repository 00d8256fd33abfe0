// Package mount serves storage paths from storage connections: the mount
// table (which path lives on which connection, cached in memory) and a
// pool of open connections that the files service borrows one operation
// or one stream at a time. It knows no protocol of Depot's own.
package mount

import (
	"context"
	"path"
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
	// LocalEmpty reports whether a storage path has nothing on the local
	// disk (a mount would hide it); nil skips the check.
	LocalEmpty func(storagePath string) (bool, error)
	// Events receives mount.created and mount.deleted; nil drops them.
	Events mft.EventSink

	// tableMu guards table, which every file operation reads (Lookup).
	tableMu sync.RWMutex
	table   []*mft.Mount // nil: not loaded

	mu     sync.Mutex // guards pools and closed
	pools  map[string]*pool
	closed bool
}

// mounts returns the mount table, loading it once.
func (s *Service) mounts(ctx context.Context) ([]*mft.Mount, error) {
	s.tableMu.RLock()
	table := s.table
	s.tableMu.RUnlock()
	if table != nil {
		return table, nil
	}
	s.tableMu.Lock()
	defer s.tableMu.Unlock()
	if s.table != nil {
		return s.table, nil
	}
	all, err := s.Store.FindMounts(ctx)
	if err != nil {
		return nil, err
	}
	s.table = append(make([]*mft.Mount, 0, len(all)), all...)
	return s.table, nil
}

// All returns every mount.
func (s *Service) All(ctx context.Context) ([]*mft.Mount, error) { return s.mounts(ctx) }

// Lookup returns the mount that serves storagePath, or nil for the local
// disk.
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
		if path.Dir(m.Path) == dir {
			out = append(out, m)
		}
	}
	return out, nil
}

// Create validates m, checks that its connection answers and makes its
// folder there, then stores it. A path that has files on the local disk is
// refused: the mount would hide them.
func (s *Service) Create(ctx context.Context, m *mft.Mount) error {
	if err := m.Validate(); err != nil {
		return err
	}
	if s.LocalEmpty != nil {
		if empty, err := s.LocalEmpty(m.Path); err != nil {
			return err
		} else if !empty {
			return mft.Errorf(mft.ECONFLICT, "%s has files on the local disk; move them away first, a mount would hide them", m.Path)
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
