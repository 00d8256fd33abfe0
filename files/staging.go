package files

import (
	"errors"
	"io/fs"
	"os"
	"path"

	"depot/mft"
)

// dropStaging closes and removes a staging file that will not be
// published (one without a name goes with its last descriptor).
func (s *Service) dropStaging(f *os.File, name string) {
	f.Close()
	if name != "" {
		s.tmpRoot.Remove(name)
	}
}

// newStaging creates the staging file of an upload: without a name where
// the filesystem can (O_TMPFILE), so that publishing it is one link in the
// target folder, else named in data/tmp (createStaging).
func (s *Service) newStaging() (*os.File, string, error) {
	if s.anonymous {
		f, err := openAnonymous(s.tmp)
		return f, "", err
	}
	return s.createStaging(".upload-")
}

// createStaging creates a new empty file in data/tmp whose name starts
// with prefix (which may name a folder below tmp), and returns it with its
// name relative to tmp.
func (s *Service) createStaging(prefix string) (*os.File, string, error) {
	for {
		name := prefix + randText()
		f, err := s.tmpRoot.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, name, err
		}
	}
}

// commit closes the staging file, renames it to name inside root (refusing
// to replace unless overwrite; exchanging it with the file there with swap)
// and, with sync, syncs the folder. A staging file without a name is
// linked at name when nothing is there (one change to one folder), else
// named in data/tmp and renamed as the others.
func (s *Service) commit(root *os.Root, staging *os.File, stagingName, name string, overwrite, swap, sync bool) (err error) {
	dir, err := dirFD(root, path.Dir(name))
	if err != nil {
		staging.Close()
		return err
	}
	defer dir.Close()
	if stagingName == "" {
		lerr := linkAnonymous(staging, dir, path.Base(name), s.viaProc)
		if lerr == nil {
			if err := staging.Close(); err != nil || !sync {
				return err
			}
			return dir.Sync()
		}
		if !errors.Is(lerr, fs.ErrExist) || !overwrite {
			staging.Close()
			return lerr
		}
		for { // a name in data/tmp, to rename or exchange it from there
			stagingName = ".upload-" + randText()
			if lerr = linkAnonymous(staging, s.tmp, stagingName, s.viaProc); !errors.Is(lerr, fs.ErrExist) {
				break
			}
		}
		if lerr != nil {
			staging.Close()
			return lerr
		}
		named := stagingName
		defer func() {
			if err != nil { // the name given here goes with the failure
				s.tmpRoot.Remove(named)
			}
		}()
	}
	if err = staging.Close(); err != nil {
		return err
	}
	if swap {
		if done, err := s.swapIn(dir, stagingName, path.Base(name)); done || err != nil {
			return err
		}
	}
	if err := renameat(s.tmp, stagingName, dir, path.Base(name), !overwrite); err != nil {
		return err
	}
	if !sync {
		return nil
	}
	return dir.Sync()
}

// swapIn publishes an unsynced staging file over an existing file by
// exchanging the two, and removes the old one from data/tmp behind the
// answer. A rename over an existing file would make ext4 (auto_da_alloc)
// write the new file back at once, in the answer's time: 0.4 s for 1 GiB
// here. A synced upload is on disk already and takes the rename. It
// reports false, and changes nothing, when the file it replaces is gone
// (or the filesystem cannot exchange): the caller renames.
func (s *Service) swapIn(dir *os.File, stagingName, base string) (bool, error) {
	if err := exchangeat(s.tmp, stagingName, dir, base); err != nil {
		return false, nil
	}
	if fi, err := s.tmpRoot.Lstat(stagingName); err != nil || !fi.Mode().IsRegular() {
		// A folder (or something else) took the name since it was checked:
		// put it back.
		if err := exchangeat(s.tmp, stagingName, dir, base); err != nil {
			return true, err
		}
		return true, mft.Errorf(mft.ECONFLICT, "%s is no longer a file.", base)
	}
	go s.tmpRoot.Remove(stagingName)
	return true, nil
}
