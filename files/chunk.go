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
// that completes the set assembles the file through Upload and returns it
// with done set; the others return the progress. Limits are checked on
// every piece against the pieces already stored, and again on assembly.
// Pieces of an upload that is never completed are removed by the sweep
// after ChunkTTL.
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
	t, root, lw, err := s.beginUpload(ctx, a, clientPath, opts)
	if err != nil {
		return mft.FileInfo{}, progress, false, err
	}
	if root != nil {
		root.Close()
	} else if lw, err = s.rCheckUpload(ctx, a, t, opts); err != nil { // a mounted path
		return mft.FileInfo{}, progress, false, err
	}
	progress = Chunk{Path: t.client, Chunk: chunk, Chunks: chunks}

	sum := sha256.Sum256([]byte(a.User.ID + "\x00" + t.storage + "\x00" + strconv.Itoa(chunks)))
	dir := path.Join(chunksDir, hex.EncodeToString(sum[:16]))
	if err := s.tmpRoot.MkdirAll(dir, 0o700); err != nil {
		return mft.FileInfo{}, progress, false, fsError(err, t.client)
	}
	// The file so far is the other pieces; this one must fit beside them.
	pieces, err := s.pieces(dir)
	if err != nil {
		return mft.FileInfo{}, progress, false, fsError(err, t.client)
	}
	for i, size := range pieces {
		if i != chunk {
			lw.n += size
		}
	}
	if pieceSize >= 0 {
		if err := lw.check(lw.n + pieceSize); err != nil {
			return mft.FileInfo{}, progress, false, err
		}
	}
	if err := s.storePiece(dir, chunk, body, lw, pieceSize, t.client); err != nil {
		return mft.FileInfo{}, progress, false, err
	}
	if pieces, err = s.pieces(dir); errors.Is(err, fs.ErrNotExist) {
		// Another piece finishing at the same moment claimed the complete
		// set (this one in it) and assembles it.
		progress.Received = chunks
		return mft.FileInfo{}, progress, false, nil
	} else if err != nil {
		return mft.FileInfo{}, progress, false, fsError(err, t.client)
	}
	progress.Received = len(pieces)
	if len(pieces) < chunks {
		return mft.FileInfo{}, progress, false, nil
	}
	// Claim the complete set: of two pieces finishing together, only one
	// renames the folder away and assembles.
	claimed := dir + ".assembling-" + randText()
	if err := s.tmpRoot.Rename(dir, claimed); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return mft.FileInfo{}, progress, false, nil
		}
		return mft.FileInfo{}, progress, false, fsError(err, t.client)
	}
	fi, err := s.assemble(ctx, a, clientPath, claimed, chunks, opts)
	if err != nil {
		// The pieces stay for another try (sending any piece again
		// assembles), unless a new set was started meanwhile.
		if s.tmpRoot.Rename(claimed, dir) != nil {
			s.tmpRoot.RemoveAll(claimed)
		}
		progress.Received = chunks
		return fi, progress, false, err
	}
	s.tmpRoot.RemoveAll(claimed)
	return fi, progress, true, nil
}

// storePiece streams one piece to a temporary name and renames it into
// place, replacing an earlier copy of the same piece.
func (s *Service) storePiece(dir string, chunk int, body io.Reader, lw *limitWriter, size int64, clientPath string) error {
	f, tmpName, err := s.createStaging(dir + "/.part-")
	if err != nil {
		return fsError(err, clientPath)
	}
	err = lw.receive(f, body, size, clientPath)
	if err == nil {
		err = fsError(f.Close(), clientPath)
	}
	if err == nil {
		err = fsError(s.tmpRoot.Rename(tmpName, path.Join(dir, strconv.Itoa(chunk))), clientPath)
	}
	if err != nil {
		s.dropStaging(f, tmpName)
	}
	return err
}

// pieces returns the size of each stored piece of the upload in dir.
func (s *Service) pieces(dir string) (map[int]int64, error) {
	d, err := s.tmpRoot.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, err
	}
	out := make(map[int]int64, len(entries))
	for _, e := range entries {
		i, err := strconv.Atoi(e.Name())
		if err != nil || !e.Type().IsRegular() {
			continue // a piece still being written
		}
		if fi, err := e.Info(); err == nil {
			out[i] = fi.Size()
		}
	}
	return out, nil
}

// assemble uploads the pieces in order as one file.
func (s *Service) assemble(ctx context.Context, a Actor, clientPath, dir string, chunks int, opts UploadOptions) (mft.FileInfo, error) {
	readers := make([]io.Reader, chunks)
	var total int64
	for i := range chunks {
		f, err := s.tmpRoot.Open(path.Join(dir, strconv.Itoa(i)))
		if err != nil {
			return mft.FileInfo{}, fsError(err, clientPath)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return mft.FileInfo{}, fsError(err, clientPath)
		}
		total += fi.Size()
		readers[i] = f
	}
	// The file is written beside its pieces: say so before starting when
	// the disk cannot hold both.
	if _, free, err := diskSpace(s.tmp); err == nil && free < total {
		return mft.FileInfo{}, mft.Errorf(mft.EQUOTA, "The server's disk is full: assembling %s needs %d bytes free, %d are. The pieces are kept; send the last one again once space is freed.", clientPath, total, free)
	}
	opts.Size = total
	return s.upload(ctx, a, clientPath, io.MultiReader(readers...), opts)
}

func randText() string { return strings.ToLower(rand.Text()[:16]) }
