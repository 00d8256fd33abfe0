// Package atomicfile writes small files (keys, certificates) so that their
// name never shows a partial file or, for a moment, a wider mode.
package atomicfile

import "os"

// Write replaces name with data: a temporary file beside it, created with
// mode (a leftover one of a crash is removed first, so that its mode is
// never inherited), written, synced and renamed over name.
func Write(name string, data []byte, mode os.FileMode) error {
	tmp := name + ".tmp"
	if err := os.Remove(tmp); err != nil && !os.IsNotExist(err) {
		return err
	}
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, name)
	}
	if err != nil {
		os.Remove(tmp)
	}
	return err
}
