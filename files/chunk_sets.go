package files

import (
	"context"
	"errors"
	"io/fs"
	"path"
	"strings"
	"sync"

	"depot/mft"
)

// DefaultMaxPendingUploads bounds the chunked uploads one uploader may
// have unfinished at once when the setting is 0.
const DefaultMaxPendingUploads = 100

// ownerName is the symlink in a set's folder whose target names who sends
// the set and where it goes ("<user id>\n<storage path>"), so that its
// pieces are counted against the right quotas, after a restart too.
const ownerName = "owner"

// chunkSets accounts the pieces waiting in data/tmp/chunks: every byte
// stored there counts against the quotas the finished file will count
// against, from the moment it is written until the set is published or
// removed, and an uploader has at most so many sets at once.
type chunkSets struct {
	mu   sync.Mutex
	sets map[string]*chunkSet // by the set's folder below data/tmp
}

type chunkSet struct {
	user, storage string
	bytes         int64
}

// claim registers the set in dir for user and storage unless the user
// already has max other sets (EQUOTA says so); isNew tells a set not
// registered before.
func (c *chunkSets) claim(dir, user, storage string, max int) (isNew bool, _ error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.sets[dir]; ok {
		return false, nil
	}
	n := 0
	for _, s := range c.sets {
		if s.user == user {
			n++
		}
	}
	if n >= max {
		return false, mft.Errorf(mft.EQUOTA, "You have %d uploads in pieces unfinished, the most allowed: finish one, or wait until its pieces expire (%s after the last one).", n, ChunkTTL)
	}
	c.registerLocked(dir, user, storage)
	return true, nil
}

// register records the set in dir, whatever the user has already: a set
// found at start-up, or put back after a refused publish.
func (c *chunkSets) register(dir, user, storage string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.registerLocked(dir, user, storage)
}

func (c *chunkSets) registerLocked(dir, user, storage string) {
	if c.sets == nil {
		c.sets = map[string]*chunkSet{}
	}
	c.sets[dir] = &chunkSet{user: user, storage: storage}
}

// setBytes records what the set in dir holds now.
func (c *chunkSets) setBytes(dir string, n int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sets[dir]; ok {
		s.bytes = n
	}
}

// bytes returns what the set in dir holds.
func (c *chunkSets) bytes(dir string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sets[dir]; ok {
		return s.bytes
	}
	return 0
}

// drop forgets the set in dir (published or removed).
func (c *chunkSets) drop(dir string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sets, dir)
}

// under returns the bytes of the sets whose file goes below storage path p.
func (c *chunkSets) under(p string) int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var n int64
	for _, s := range c.sets {
		if mft.HasPathPrefix(s.storage, p) {
			n += s.bytes
		}
	}
	return n
}

// maxPending is the uploader's bound on unfinished chunked uploads.
func (s *Service) maxPending() int {
	if s.MaxPendingUploads > 0 {
		return s.MaxPendingUploads
	}
	return DefaultMaxPendingUploads
}

// openSet claims the set in dir for the actor and makes its folder; a
// new set gets the owner link that names it after a restart, and is
// recorded as this node's (Pieces), unless another node holds it.
func (s *Service) openSet(ctx context.Context, dir string, a Actor, t target) error {
	isNew, err := s.chunks.claim(dir, a.User.ID, t.storage, s.maxPending())
	if err != nil {
		return err
	}
	if isNew && s.Pieces != nil {
		if err := s.Pieces.HoldPieces(ctx, path.Base(dir)); err != nil {
			s.chunks.drop(dir)
			return err
		}
	}
	if err := s.tmpRoot.MkdirAll(dir, 0o700); err != nil {
		return fsError(err, t.client)
	}
	if isNew {
		err := s.tmpRoot.Symlink(a.User.ID+"\n"+t.storage, path.Join(dir, ownerName))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return fsError(err, t.client)
		}
	}
	return nil
}

// dropPieces forgets that this node holds the set in dir: it was
// published, or its pieces removed.
func (s *Service) dropPieces(dir string) {
	if s.Pieces == nil {
		return
	}
	if err := s.Pieces.DropPieces(context.Background(), path.Base(dir)); err != nil && s.Logger != nil {
		s.Logger.Warn("forgetting a chunked upload's pieces", "err", err)
	}
}

// countSet records what the set in dir holds now, from its pieces.
func (s *Service) countSet(dir string) {
	if pieces, _, err := s.pieces(dir); err == nil {
		s.chunks.setBytes(dir, sumPieces(pieces))
	}
}

// sumPieces is the bytes of a set's pieces.
func sumPieces(pieces map[int]piece) int64 {
	var n int64
	for _, p := range pieces {
		n += p.size
	}
	return n
}

// loadSets registers the sets a restart found in data/tmp/chunks, less
// the pieces that were being received (.part-*) and publishing names; a
// set that names no owner (left by an older version) is removed, since it
// cannot be counted against anyone. It returns how many entries it
// removed.
func (s *Service) loadSets(names []string) (removed int, _ error) {
	var errs []error
	for _, name := range names {
		dir := path.Join(chunksDir, name)
		target, err := s.tmpRoot.Readlink(path.Join(dir, ownerName))
		user, storage, ok := strings.Cut(target, "\n")
		if err != nil || !ok {
			if err := s.tmpRoot.RemoveAll(dir); err != nil {
				errs = append(errs, err)
			}
			removed++
			continue
		}
		entries, err := fs.ReadDir(s.tmpRoot.FS(), dir)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, e := range entries {
			if strings.HasPrefix(e.Name(), ".") {
				if err := s.tmpRoot.Remove(path.Join(dir, e.Name())); err != nil {
					errs = append(errs, err)
				}
				removed++
			}
		}
		s.chunks.register(dir, user, storage)
		s.countSet(dir)
	}
	return removed, errors.Join(errs...)
}
