package files

import (
	"errors"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Session keeps what one protocol session (an SFTP or FTPS connection)
// reuses from one operation to the next, instead of reading and opening
// it again for each: the actor's view (rules and mounts), until the
// access generation says users, groups, permissions, buckets or mounts
// changed; and the trees it opened (a home, a shared folder), each checked
// on every use to still be the folder its path names, so that a folder an
// administrator moved or replaced under a live session is seen at once.
// A Session is safe for concurrent use; Close it when the session ends.
type Session struct {
	s *Service

	mu      sync.Mutex
	gen     uint64
	view    *view
	trees   map[string]*heldTree // by name below data/files
	retired []*os.Root           // replaced trees, perhaps still in use, closed by Close
	closed  bool
}

// maxRetired bounds the replaced trees a session keeps open for the
// operations that may still use them.
const maxRetired = 8

// heldTree is an open tree and the identity of the folder it was opened on.
type heldTree struct {
	root     *os.Root
	dev, ino uint64
}

// NewSession returns a Session for an actor's operations; put it in
// Actor.Session.
func (s *Service) NewSession() *Session {
	return &Session{s: s, trees: map[string]*heldTree{}}
}

// Close closes the trees the session holds. Operations still running on
// them fail; later ones open their trees afresh.
func (ss *Session) Close() error {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var errs []error
	for _, t := range ss.trees {
		errs = append(errs, t.root.Close())
	}
	for _, r := range ss.retired {
		errs = append(errs, r.Close())
	}
	ss.trees, ss.retired, ss.view, ss.closed = nil, nil, nil, true
	return errors.Join(errs...)
}

// cachedView returns the view kept at generation gen, or nil.
func (ss *Session) cachedView(gen uint64) *view {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.view != nil && ss.gen == gen {
		return ss.view
	}
	return nil
}

// keepView keeps v, read after the generation was gen.
func (ss *Session) keepView(gen uint64, v *view) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if !ss.closed {
		ss.gen, ss.view = gen, v
	}
}

// tree returns the session's open tree at name (below data/files) if it
// is still the folder name leads to, as a stat of name now says (device
// and inode); held reports whether the session keeps it (the caller must
// not close it). Otherwise it opens the tree with open, which confines
// the walk to data/files, and keeps it.
func (ss *Session) tree(name string, open func() (*os.Root, error)) (root *os.Root, held bool, err error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		root, err = open()
		return root, false, err
	}
	if t, ok := ss.trees[name]; ok {
		// The held descriptor is only used if it is the very folder the
		// path names now; the path's own walk may cross a symlink, but the
		// folder compared was opened inside data/files.
		var st unix.Stat_t
		if unix.Fstatat(int(ss.s.filesDir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
			uint64(st.Dev) == t.dev && st.Ino == t.ino {
			return t.root, true, nil
		}
		delete(ss.trees, name)
		ss.retired = append(ss.retired, t.root)
		if len(ss.retired) > maxRetired {
			// A user who may replace a folder that is a tree of theirs
			// (a shared folder inside another) could otherwise make the
			// session hold a descriptor for each time: the oldest is
			// closed, and an operation still on it fails.
			ss.retired[0].Close()
			ss.retired = ss.retired[1:]
		}
	}
	root, err = open()
	if err != nil {
		return nil, false, err
	}
	fi, err := root.Stat(".")
	if err != nil {
		return root, false, nil
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return root, false, nil
	}
	ss.trees[name] = &heldTree{root: root, dev: uint64(st.Dev), ino: st.Ino}
	return root, true, nil
}
