package files

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"

	"depot/mft"
)

// A chunked upload's pieces wait in data/tmp/chunks/<key>, one folder per
// user, path and number of pieces:
//
//	data     the file being put together: piece i at offset i×length,
//	         length being what every piece but the last weighs;
//	length   a symlink whose target is that length, made by the first
//	         piece but the last to be stored whole (creating a symlink is
//	         atomic, so pieces finishing together agree on one; a piece
//	         that only announced a size, and broke, fixes nothing);
//	i+       piece i is in data: an empty file as long as the piece;
//	i        piece i kept aside, whole: the last piece (its place is known
//	         only from the others) or one that came before the length was
//	         known; copied into data at the end;
//	.part-*  a piece being received aside.
//
// Pieces of one upload are the same size but the last (as LiquidFiles'
// and Plupload's clients send them), so a piece is written where it
// belongs as it arrives, and the last piece costs one pass to hash the
// file instead of a second copy of it.
const (
	dataName   = "data"
	lengthName = "length"
	inDataMark = "+"
)

// piece is a stored piece: its size, and whether it waits aside.
type piece struct {
	size  int64
	aside bool
}

// storePiece writes one piece where it belongs in data when its place is
// known (length, the pieces' common length, is not 0), else aside.
func (s *Service) storePiece(w pieceWrite, length int64) error {
	last := w.chunk == w.chunks-1
	if last || length == 0 {
		n, err := s.storeAside(w)
		if err == nil && !last && length == 0 && n > 0 {
			// The first piece stored whole gives the length; another piece
			// may have given it meanwhile, and the end checks they agree.
			if lerr := s.tmpRoot.Symlink(strconv.FormatInt(n, 10), path.Join(w.dir, lengthName)); lerr != nil && !errors.Is(lerr, fs.ErrExist) {
				err = fsError(lerr, w.client)
			}
		}
		return err
	}
	if w.size >= 0 && w.size != length {
		return mft.Errorf(mft.EMALFORMED, "Piece %d has %d bytes, but every piece but the last must have %d, as the first one stored did.", w.chunk, w.size, length)
	}
	mark := path.Join(w.dir, strconv.Itoa(w.chunk)+inDataMark)
	// The piece is incomplete while it is rewritten: a broken rewrite must
	// not leave its marker over a mix of two sends.
	if err := s.tmpRoot.Remove(mark); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fsError(err, w.client)
	}
	f, err := s.tmpRoot.OpenFile(path.Join(w.dir, dataName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fsError(err, w.client)
	}
	// At most its slot: a longer body must not spill into the next piece.
	start := w.lw.n
	err = w.lw.receive(io.NewOffsetWriter(f, int64(w.chunk)*length), io.LimitReader(w.body, length), -1, w.client)
	if cerr := f.Close(); err == nil {
		err = fsError(cerr, w.client)
	}
	if err != nil {
		return err
	}
	if got := w.lw.n - start; got != length {
		return mft.Errorf(mft.EMALFORMED, "Piece %d has %d bytes, but every piece but the last must have %d, as the first one stored did.", w.chunk, got, length)
	}
	if n, _ := w.body.Read(make([]byte, 1)); n > 0 {
		return mft.Errorf(mft.EMALFORMED, "Piece %d has more than %d bytes, but every piece but the last must have %d, as the first one stored did.", w.chunk, length, length)
	}
	m, err := s.tmpRoot.OpenFile(mark, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err == nil {
		err = errors.Join(m.Truncate(length), m.Close()) // sparse: the size, no blocks
	}
	if err == nil {
		// An earlier copy kept aside would be copied over this one.
		if rerr := s.tmpRoot.Remove(path.Join(w.dir, strconv.Itoa(w.chunk))); !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}
	return fsError(err, w.client)
}

// readPieceLength returns the length of every piece but the last, or 0
// while no such piece was stored.
func (s *Service) readPieceLength(dir string) int64 {
	target, err := s.tmpRoot.Readlink(path.Join(dir, lengthName))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(target, 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

// storeAside streams one piece to a temporary name and renames it into
// place, replacing an earlier copy of the same piece; it returns the
// piece's size.
func (s *Service) storeAside(w pieceWrite) (int64, error) {
	f, tmpName, err := s.createStaging(w.dir + "/.part-")
	if err != nil {
		return 0, fsError(err, w.client)
	}
	start := w.lw.n
	err = w.lw.receive(f, w.body, w.size, w.client)
	if err == nil {
		err = fsError(f.Close(), w.client)
	}
	if err == nil {
		err = fsError(s.tmpRoot.Rename(tmpName, path.Join(w.dir, strconv.Itoa(w.chunk))), w.client)
	}
	if err != nil {
		s.dropStaging(f, tmpName)
		return 0, err
	}
	return w.lw.n - start, nil
}

// pieces returns the stored pieces of the upload in dir, and their common
// length (0 while unknown); a piece both in data and aside (two sends) is
// taken from aside, which is copied last.
// Only the names are read, and only pieces aside are looked at: a piece in
// data is as long as every piece but the last. An upload of thousands of
// pieces reads its folder twice a piece.
func (s *Service) pieces(dir string) (_ map[int]piece, length int64, _ error) {
	d, err := s.tmpRoot.Open(dir)
	if err != nil {
		return nil, 0, err
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, 0, err
	}
	length = s.readPieceLength(dir)
	out := make(map[int]piece, len(names))
	for _, name := range names {
		name, inData := strings.CutSuffix(name, inDataMark)
		i, err := strconv.Atoi(name)
		switch {
		case err != nil: // data, length, or a piece still being written
		case inData && length > 0:
			if _, ok := out[i]; !ok {
				out[i] = piece{size: length}
			}
		case !inData:
			if fi, err := s.tmpRoot.Lstat(path.Join(dir, name)); err == nil && fi.Mode().IsRegular() {
				out[i] = piece{size: fi.Size(), aside: true}
			}
		}
	}
	return out, length, nil
}

// assemble completes data with the pieces kept aside and publishes it.
func (s *Service) assemble(ctx context.Context, a Actor, clientPath, dir string, chunks int, opts UploadOptions) (mft.FileInfo, error) {
	pieces, length, err := s.pieces(dir)
	if err != nil {
		return mft.FileInfo{}, fsError(err, clientPath)
	}
	if length == 0 { // every piece came aside, without its size
		length = pieces[0].size
	}
	var aside int64
	for i := range chunks {
		p, ok := pieces[i]
		switch {
		case !ok: // not possible for a claimed set, unless the folder was touched
			return mft.FileInfo{}, mft.Errorf(mft.EMALFORMED, "Piece %d of %s is missing; send it again.", i, clientPath)
		case i < chunks-1 && p.size != length:
			return mft.FileInfo{}, mft.Errorf(mft.EMALFORMED, "Piece %d has %d bytes, but every piece but the last must have %d; send it again with that size.", i, p.size, length)
		case p.aside:
			aside += p.size
		}
	}
	total := length*int64(chunks-1) + pieces[chunks-1].size
	dataPath := path.Join(dir, dataName)
	if chunks == 1 && pieces[0].aside { // the one piece is the file
		if err := s.tmpRoot.Rename(path.Join(dir, "0"), dataPath); err != nil {
			return mft.FileInfo{}, fsError(err, clientPath)
		}
		aside = 0
	}
	// The pieces kept aside are copied into the file: say so before
	// starting when the disk cannot hold them twice.
	if _, free, err := diskSpace(s.tmp); err == nil && free < aside {
		return mft.FileInfo{}, mft.Errorf(mft.EQUOTA, "The server's disk is full: assembling %s needs %d bytes free, %d are. The pieces are kept; send the last one again once space is freed.", clientPath, aside, free)
	}
	f, err := s.tmpRoot.OpenFile(dataPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return mft.FileInfo{}, fsError(err, clientPath)
	}
	defer f.Close()
	for i := range chunks {
		if p := pieces[i]; p.aside && aside > 0 {
			if err := copyPiece(s.tmpRoot, path.Join(dir, strconv.Itoa(i)), f, int64(i)*length, p.size); err != nil {
				return mft.FileInfo{}, fsError(err, clientPath)
			}
		}
	}
	if err := f.Truncate(total); err != nil {
		return mft.FileInfo{}, fsError(err, clientPath)
	}
	opts.Size = total
	// Published under a second name, which a failure removes: data stays
	// for another try.
	link := path.Join(dir, ".publish-"+randText())
	if err := s.tmpRoot.Link(dataPath, link); err != nil {
		return mft.FileInfo{}, fsError(err, clientPath)
	}
	fi, err := s.uploadFile(ctx, a, clientPath, f, link, opts)
	if err != nil {
		s.tmpRoot.Remove(link)
	}
	return fi, err
}

// copyPiece copies the piece at name into f at off (copy_file_range where
// the filesystem has it).
func copyPiece(root *os.Root, name string, f *os.File, off, size int64) error {
	src, err := root.Open(name)
	if err != nil {
		return err
	}
	defer src.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	n, err := f.ReadFrom(src)
	if err == nil && n != size {
		err = io.ErrShortWrite
	}
	return err
}

// uploadFile publishes f, a complete file named stagingName in data/tmp,
// at clientPath as an upload: limits, sha256, atomic publish (the name is
// renamed into place, or removed on failure); to a mounted path it is
// streamed as any upload. The caller closes f.
func (s *Service) uploadFile(ctx context.Context, a Actor, clientPath string, f *os.File, stagingName string, opts UploadOptions) (mft.FileInfo, error) {
	_, st, lw, err := s.beginUpload(ctx, a, clientPath, opts)
	if err != nil {
		return mft.FileInfo{}, err
	}
	defer st.close()
	defer lw.abortScan()
	return st.publishFile(ctx, a, lw, f, stagingName, opts)
}
