package mount

import (
	"context"
	"io"
	"time"

	"depot/mft"
	"depot/remote"
)

// maxIdle is how many open connections of a store that serves one call at
// a time (FTP) are kept for the next operations.
const maxIdle = 4

// pool holds the open connections of one storage connection, as it was at
// updated: an edited connection is dialled afresh.
type pool struct {
	updated time.Time
	shared  *shared       // a store that serves calls at once (SFTP, S3)
	idle    []remote.Tree // stores that serve one call at a time (FTP)
}

// shared is a store lent to any number of borrowers at once. A retired
// one (it failed, or its connection was edited) is lent no more and
// closed when its last borrower gives it back, so that the transfers on
// it end as they would have.
type shared struct {
	t       remote.Tree
	users   int
	retired bool
}

// retire retires p's stores: idle ones close now, a shared one when its
// last borrower is done. s.mu is held.
func (p *pool) retire() {
	if sh := p.shared; sh != nil {
		sh.retired = true
		if sh.users == 0 {
			sh.t.Close()
		}
		p.shared = nil
	}
	for _, t := range p.idle {
		t.Close()
	}
	p.idle = nil
}

// Acquire lends a connection to m's store for one operation or one
// stream; release gives it back, with the operation's error: a store that
// failed (not a missing file, a broken connection) is lent no more, and
// the next Acquire dials again. Errors of the store name the connection
// and never carry its secrets.
func (s *Service) Acquire(ctx context.Context, m *mft.Mount) (remote.Tree, func(error), error) {
	c, err := s.Connections.Store.FindConnection(ctx, m.Connection)
	if err != nil {
		return nil, nil, mft.Errorf(mft.EUNAVAILABLE, "mount %s of %s: its connection %s is gone", m.ID, m.Path, m.Connection)
	}
	s.mu.Lock()
	if s.pools == nil {
		s.pools = map[string]*pool{}
	}
	p := s.pools[c.ID]
	if p == nil || !p.updated.Equal(c.UpdatedAt) {
		if p != nil {
			p.retire()
		}
		p = &pool{updated: c.UpdatedAt}
		s.pools[c.ID] = p
	}
	if sh := p.shared; sh != nil {
		sh.users++
		s.mu.Unlock()
		return sh.t, s.releaseShared(p, sh), nil
	}
	if n := len(p.idle); n > 0 {
		t := p.idle[n-1]
		p.idle = p.idle[:n-1]
		s.mu.Unlock()
		return t, s.releaseOne(c.ID, p, t), nil
	}
	s.mu.Unlock()
	st, conn, err := s.Connections.Open(ctx, m.Connection)
	if err != nil {
		return nil, nil, err
	}
	t := &guarded{tree: st.(remote.Tree), c: conn}
	if !st.Caps().Concurrent {
		return t, s.releaseOne(c.ID, p, t), nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sh := p.shared
	switch {
	case sh != nil: // dialled at the same time: use the first
		st.Close()
	case s.pools[c.ID] == p && !s.closed:
		sh = &shared{t: t}
		p.shared = sh
	default: // the pool was retired meanwhile: this one is for this use only
		sh = &shared{t: t, retired: true}
	}
	sh.users++
	return sh.t, s.releaseShared(p, sh), nil
}

// releaseShared gives back a borrowed shared store.
func (s *Service) releaseShared(p *pool, sh *shared) func(error) {
	return func(err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		sh.users--
		if err != nil && mft.ErrorCode(err) == mft.EUNAVAILABLE && p.shared == sh {
			p.shared, sh.retired = nil, true
		}
		if (sh.retired || s.closed) && sh.users == 0 {
			sh.t.Close()
		}
	}
}

// releaseOne gives back a store lent to one borrower: kept for the next
// unless it failed, its pool was retired, or enough are idle.
func (s *Service) releaseOne(id string, p *pool, t remote.Tree) func(error) {
	return func(err error) {
		failed := err != nil && mft.ErrorCode(err) == mft.EUNAVAILABLE
		s.mu.Lock()
		defer s.mu.Unlock()
		if failed || s.pools[id] != p || s.closed || len(p.idle) >= maxIdle {
			t.Close()
			return
		}
		p.idle = append(p.idle, t)
	}
}

// Close closes every pooled connection; shared ones still lent close when
// given back.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.pools {
		p.retire()
	}
	s.pools, s.closed = nil, true
	return nil
}

// guarded is a store whose errors name the connection: a missing file or
// a folder that is not empty stay what they are, anything else is
// EUNAVAILABLE in the remote's own words, with no secret in them.
type guarded struct {
	tree remote.Tree
	c    *mft.Connection
}

func (g *guarded) fail(what string, err error) error {
	if err == nil {
		return nil
	}
	return remote.Failed(g.c, what, err)
}

func (g *guarded) List(ctx context.Context, dir string) ([]remote.Entry, error) {
	l, err := g.tree.List(ctx, dir)
	return l, g.fail("listing /"+dir, err)
}

func (g *guarded) Stat(ctx context.Context, p string) (remote.Entry, error) {
	e, err := g.tree.Stat(ctx, p)
	return e, g.fail("reading /"+p, err)
}

func (g *guarded) StatAny(ctx context.Context, p string) (remote.Entry, error) {
	e, err := g.tree.StatAny(ctx, p)
	return e, g.fail("reading /"+p, err)
}

func (g *guarded) StatDir(ctx context.Context, p string) (remote.Entry, error) {
	e, err := g.tree.StatDir(ctx, p)
	return e, g.fail("reading /"+p, err)
}

func (g *guarded) Get(ctx context.Context, p string, off int64) (io.ReadCloser, error) {
	r, err := g.tree.Get(ctx, p, off)
	return r, g.fail("downloading /"+p, err)
}

func (g *guarded) Put(ctx context.Context, p string, r io.Reader, off int64) (int64, error) {
	n, err := g.tree.Put(ctx, p, r, off)
	return n, g.fail("uploading /"+p, err)
}

func (g *guarded) Rename(ctx context.Context, from, to string) error {
	return g.fail("renaming /"+from, g.tree.Rename(ctx, from, to))
}

func (g *guarded) Remove(ctx context.Context, p string) error {
	return g.fail("deleting /"+p, g.tree.Remove(ctx, p))
}

func (g *guarded) Mkdir(ctx context.Context, dir string) error {
	return g.fail("creating /"+dir, g.tree.Mkdir(ctx, dir))
}

func (g *guarded) MakeDir(ctx context.Context, dir string) error {
	return g.fail("creating /"+dir, g.tree.MakeDir(ctx, dir))
}

func (g *guarded) RemoveDir(ctx context.Context, dir string) error {
	return g.fail("deleting /"+dir, g.tree.RemoveDir(ctx, dir))
}

func (g *guarded) Sweep(ctx context.Context, dir string, cutoff time.Time) (int, error) {
	n, err := g.tree.Sweep(ctx, dir, cutoff)
	return n, g.fail("sweeping /"+dir, err)
}

func (g *guarded) Caps() remote.Caps { return g.tree.Caps() }
func (g *guarded) Close() error      { return g.tree.Close() }
