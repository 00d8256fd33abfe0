package files

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	"depot/mft"
)

// MaxChunks bounds the pieces of one chunked upload.
const MaxChunks = 10000

// chunksDir holds the pieces of chunked uploads below data/tmp.
const chunksDir = "chunks"

// Chunk is the progress of a chunked upload after one piece.
type Chunk struct {
	Path     string `json:"path"`
	Chunk    int    `json:"chunk"`
	Chunks   int    `json:"chunks"`
	Received int    `json:"received"`
}

// UploadChunk stores piece chunk (0-based) of chunks of an upload to
// clientPath, in any order; sending a piece again replaces it. The piece
// that completes the set publishes the file and returns it with done set;
// the others return the progress. Limits are checked on every piece
// against the pieces already stored, and again on publishing. Pieces of an
// upload that is never completed are removed by the sweep after ChunkTTL.
//
// The pieces are written where they belong in one file (the layout is
// described in chunk_pieces.go), so completing the set costs one pass to
// hash the file, not a second copy of it.
func (s *Service) UploadChunk(ctx context.Context, a Actor, clientPath string, body io.Reader, chunk, chunks int, opts UploadOptions) (_ mft.FileInfo, _ Chunk, _ bool, err error) {
	defer func() { err = s.refused(ctx, a, mft.EventFileUploaded, clientPath, err) }()
	var progress Chunk
	if chunks < 1 || chunks > MaxChunks {
		return mft.FileInfo{}, progress, false, mft.Errorf(mft.EMALFORMED, "chunks must be between 1 and %d.", MaxChunks)
	}
	if chunk < 0 || chunk >= chunks {
		return mft.FileInfo{}, progress, false, mft.Errorf(mft.EMALFORMED, "chunk must be between 0 and %d (chunks-1).", chunks-1)
	}
	pieceSize := opts.Size
	opts.Size = -1
	t, st, lw, err := s.beginUpload(ctx, a, clientPath, opts)
	if err != nil {
		return mft.FileInfo{}, progress, false, err
	}
	st.close()
	if err := lw.ready(); err != nil { // what is on a mount, learnt meanwhile
		return mft.FileInfo{}, progress, false, err
	}
	progress = Chunk{Path: t.client, Chunk: chunk, Chunks: chunks}

	sum := sha256.Sum256([]byte(a.User.ID + "\x00" + t.storage + "\x00" + strconv.Itoa(chunks)))
	dir := path.Join(chunksDir, hex.EncodeToString(sum[:16]))
	unlock := s.locks.lock(dir, false) // no claim of the set while this piece is written
	err = s.openSet(ctx, dir, a, t)
	received := 0
	if err == nil {
		var held int64
		received, held, err = s.storeChunk(pieceWrite{dir: dir, chunk: chunk, chunks: chunks, body: body, lw: lw, size: pieceSize, client: t.client})
		if err == nil {
			s.chunks.setBytes(dir, held)
		} else {
			s.countSet(dir) // a refused rewrite may have taken a piece out
		}
	}
	unlock()
	if err != nil {
		return mft.FileInfo{}, progress, false, err
	}
	progress.Received = received
	if received < chunks {
		return mft.FileInfo{}, progress, false, nil
	}
	// Claim the complete set: of two pieces finishing together, only one
	// renames the folder away and publishes; a piece sent again meanwhile
	// is written before the claim, or starts a new set after it.
	claimed := dir + ".assembling-" + randText()
	unlock = s.locks.lock(dir, true)
	err = s.tmpRoot.Rename(dir, claimed)
	if err == nil {
		// Its bytes count as the file being published from here on.
		s.chunks.drop(dir)
	}
	unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return mft.FileInfo{}, progress, false, nil
	} else if err != nil {
		return mft.FileInfo{}, progress, false, fsError(err, t.client)
	}
	fi, err := s.assemble(ctx, a, clientPath, claimed, chunks, opts)
	if err != nil {
		// The pieces stay for another try (sending any piece again
		// publishes), unless a new set was started meanwhile.
		unlock = s.locks.lock(dir, true)
		if s.tmpRoot.Rename(claimed, dir) != nil {
			s.tmpRoot.RemoveAll(claimed)
			s.dropPieces(dir)
		} else {
			s.chunks.register(dir, a.User.ID, t.storage)
			s.countSet(dir)
		}
		unlock()
		return fi, progress, false, err
	}
	s.tmpRoot.RemoveAll(claimed)
	s.dropPieces(dir)
	return fi, progress, true, nil
}

// storeChunk stores one piece in dir (made by openSet), checking the
// limits against the pieces already there, and returns how many pieces
// the set has now and their bytes.
func (s *Service) storeChunk(w pieceWrite) (int, int64, error) {
	w.lw.unhashed = true // the file is hashed whole once complete
	if w.lw.quota >= 0 {
		// limits counted every waiting piece against the quotas, this
		// set's too; they are counted below as the file so far.
		w.lw.quota += s.chunks.bytes(w.dir)
	}
	// The file so far is the other pieces; this one must fit beside them.
	pieces, length, err := s.pieces(w.dir)
	if err != nil {
		return 0, 0, fsError(err, w.client)
	}
	for i, p := range pieces {
		if i != w.chunk {
			w.lw.n += p.size
		}
	}
	if w.size >= 0 {
		if err := w.lw.check(w.lw.n + w.size); err != nil {
			return 0, 0, err
		}
	}
	if err := s.storePiece(w, length); err != nil {
		return 0, 0, err
	}
	// The set cannot be claimed meanwhile: the caller holds its lock.
	if pieces, _, err = s.pieces(w.dir); err != nil {
		return 0, 0, fsError(err, w.client)
	}
	return len(pieces), sumPieces(pieces), nil
}

// setLocks keep a set of pieces from being claimed while a piece is
// written into it: the set's writers share its lock, the claim takes it
// alone. A lock lives while someone holds or waits for it.
type setLocks struct {
	mu   sync.Mutex
	sets map[string]*setLock
}

type setLock struct {
	sync.RWMutex
	users int
}

// lock locks the set in dir, shared or alone, and returns the unlock.
func (c *setLocks) lock(dir string, alone bool) (unlock func()) {
	c.mu.Lock()
	if c.sets == nil {
		c.sets = map[string]*setLock{}
	}
	l := c.sets[dir]
	if l == nil {
		l = &setLock{}
		c.sets[dir] = l
	}
	l.users++
	c.mu.Unlock()
	lock, unlockOne := l.RLock, l.RUnlock
	if alone {
		lock, unlockOne = l.Lock, l.Unlock
	}
	lock()
	return func() {
		unlockOne()
		c.mu.Lock()
		if l.users--; l.users == 0 {
			delete(c.sets, dir)
		}
		c.mu.Unlock()
	}
}

// pieceWrite is one piece of a chunked upload being stored: the set's
// folder, which piece of how many, its bytes and their announced size
// (-1 for unknown), the limits they pass, and the path the client named.
type pieceWrite struct {
	dir           string
	chunk, chunks int
	body          io.Reader
	lw            *limitWriter
	size          int64
	client        string
}

func randText() string { return strings.ToLower(rand.Text()[:16]) }
