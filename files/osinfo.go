package files

import (
	"io/fs"
	"time"

	"depot/mft"
)

// OSInfo is an entry as fs.FileInfo, for the protocol libraries that list
// and stat with it (pkg/sftp, x/net/webdav).
type OSInfo struct{ Entry mft.FileInfo }

func (f OSInfo) Name() string       { return f.Entry.Name }
func (f OSInfo) Size() int64        { return f.Entry.Size }
func (f OSInfo) ModTime() time.Time { return f.Entry.ModifiedAt }
func (f OSInfo) IsDir() bool        { return f.Entry.Type == mft.TypeFolder }
func (f OSInfo) Sys() any           { return nil }
func (f OSInfo) Mode() fs.FileMode {
	if f.IsDir() {
		return fs.ModeDir | 0o755
	}
	return 0o644
}
