package files

import (
	"os"
	"strconv"
	"syscall"

	"golang.org/x/sys/unix"
)

// noFollow makes an open fail on a symlink in the last component.
const noFollow = syscall.O_NOFOLLOW

// dirFD opens dir (a name inside root) and returns it for use with *at calls.
// O_NONBLOCK, which a folder ignores, spares the four fcntl calls with
// which package os would otherwise switch the descriptor to non-blocking
// and back after the poller refuses a folder: a publish or a move opens
// one or two folders.
func dirFD(root *os.Root, dir string) (*os.File, error) {
	return root.OpenFile(dir, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NONBLOCK, 0)
}

// renameat moves oldName in oldDir to newName in newDir; with noReplace it
// fails with EEXIST rather than replace newName, atomically.
func renameat(oldDir *os.File, oldName string, newDir *os.File, newName string, noReplace bool) error {
	var flags uint
	if noReplace {
		flags = unix.RENAME_NOREPLACE
	}
	return unix.Renameat2(int(oldDir.Fd()), oldName, int(newDir.Fd()), newName, flags)
}

// exchangeat swaps oldName in oldDir and newName in newDir atomically;
// both must exist.
func exchangeat(oldDir *os.File, oldName string, newDir *os.File, newName string) error {
	return unix.Renameat2(int(oldDir.Fd()), oldName, int(newDir.Fd()), newName, unix.RENAME_EXCHANGE)
}

// openAnonymous opens a new file without a name in dir (O_TMPFILE): it
// disappears on close unless linked, and a crash leaves nothing behind.
func openAnonymous(dir *os.File) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), ".", unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), "staging"), nil
}

// linkAnonymous gives the open file f the name newName in newDir; it
// fails with EEXIST when the name is taken. AT_EMPTY_PATH links the
// descriptor itself but needs CAP_DAC_READ_SEARCH; through /proc/self/fd
// needs no privilege and costs a lookup in /proc (as much as creating
// the file, measured).
func linkAnonymous(f *os.File, newDir *os.File, newName string, viaProc bool) error {
	if viaProc {
		return unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), int(newDir.Fd()), newName, unix.AT_SYMLINK_FOLLOW)
	}
	return unix.Linkat(int(f.Fd()), "", int(newDir.Fd()), newName, unix.AT_EMPTY_PATH)
}

// startWriteback asks the kernel to start writing a range of f to disk
// without waiting; a failure only means the final fsync does the work.
func startWriteback(f *os.File, off, n int64) {
	_ = unix.SyncFileRange(int(f.Fd()), off, n, unix.SYNC_FILE_RANGE_WRITE)
}

// diskSpace returns the size of the filesystem holding dir and what is
// available on it.
func diskSpace(dir *os.File) (total, free int64, err error) {
	var st unix.Statfs_t
	if err := unix.Fstatfs(int(dir.Fd()), &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Blocks) * st.Bsize, int64(st.Bavail) * st.Bsize, nil
}

// dropCache lets the kernel drop the cached pages of f, a file about to
// be replaced, in the background, and closes f. Its clean pages are
// freed for the new file's, and the new file then reuses memory just
// freed rather than memory the kernel has not touched for a while: on a
// VM whose free memory is handed back to the host (free page reporting),
// that memory is slow to touch again. Replacing a 1 GiB file took
// 1.7–2.9 s with the old file's pages cached and 0.9–1.5 s with them
// dropped (BENCHMARKS.md, issue 45). Readers of the old file read it
// from disk meanwhile; its dirty pages, if any, are only queued for
// writeback.
func dropCache(f *os.File) {
	go func() {
		_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
	}()
}
