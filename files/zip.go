package files

import (
	"archive/zip"
	"context"
	"io"
	"path"
	"strings"

	"depot/mft"
)

// MaxZipEntries bounds the files and folders one zip download may hold.
const MaxZipEntries = 10_000

// Zip writes the files and folders at clientPaths, folders with all they
// hold, to w as a zip archive, streamed as it is read: no temporary file.
// Each file needs download permission and each folder list permission, as
// one by one; entries are named below the folder the paths share. Returns
// ETOOLARGE past MaxZipEntries; an error after the first byte leaves a
// truncated archive, which unzip reports as broken.
func (s *Service) Zip(ctx context.Context, a Actor, clientPaths []string, w io.Writer) error {
	if len(clientPaths) == 0 {
		return mft.Errorf(mft.EMALFORMED, "Choose at least one file or folder.")
	}
	clean := make([]string, len(clientPaths))
	for i, p := range clientPaths {
		c, err := CleanPath(p)
		if err != nil {
			return err
		}
		clean[i] = c
	}
	base := path.Dir(clean[0])
	for _, p := range clean[1:] {
		for !mft.HasPathPrefix(p, base) {
			base = path.Dir(base)
		}
	}
	// Walk everything first, so that a refusal or an overlong list is an
	// error before any byte is sent.
	var entries []mft.FileInfo
	seen := map[string]bool{} // a path chosen twice, or inside a folder chosen, is one entry
	var walk func(fi mft.FileInfo) error
	walk = func(fi mft.FileInfo) error {
		if seen[fi.Path] {
			return nil
		}
		seen[fi.Path] = true
		if len(entries) >= MaxZipEntries {
			return mft.Errorf(mft.ETOOLARGE, "A zip download holds at most %d files and folders; choose fewer.", MaxZipEntries)
		}
		entries = append(entries, fi)
		if fi.Type != mft.TypeFolder {
			return nil
		}
		list, err := s.List(ctx, a, fi.Path)
		if err != nil {
			return err
		}
		for _, child := range list {
			if err := walk(child); err != nil {
				return err
			}
		}
		return nil
	}
	for _, p := range clean {
		fi, err := s.Stat(ctx, a, p)
		if err != nil {
			return err
		}
		if err := walk(fi); err != nil {
			return err
		}
	}
	zw := zip.NewWriter(w)
	for _, fi := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := strings.TrimPrefix(strings.TrimPrefix(fi.Path, base), "/")
		if name == "" { // the user's whole space: its entries are the top level
			continue
		}
		if fi.Type == mft.TypeFolder {
			if _, err := zw.CreateHeader(&zip.FileHeader{Name: name + "/", Modified: fi.ModifiedAt}); err != nil {
				return err
			}
			continue
		}
		if err := s.zipFile(ctx, a, zw, fi.Path, name); err != nil {
			return err
		}
	}
	return zw.Close()
}

// zipFile adds one file, stored as it is (most exchanged files are
// compressed already, and storing keeps the download at disk speed).
func (s *Service) zipFile(ctx context.Context, a Actor, zw *zip.Writer, clientPath, name string) error {
	f, fi, err := s.Open(ctx, a, clientPath)
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: fi.ModifiedAt})
	if err != nil {
		return err
	}
	_, err = io.Copy(out, f)
	return err
}
