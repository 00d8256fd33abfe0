package files

import (
	"fmt"
	"io/fs"
	"strings"
	"syscall"
	"testing"

	"depot/mft"
)

func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{"": "/", "a/b": "/a/b", "/a//b/./c/": "/a/b/c", "%2e%2e": "/%2e%2e"} {
		if got, err := CleanPath(in); err != nil || got != want {
			t.Errorf("CleanPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"..", "/a/../b", "a\x00b", "a\nb", `a\b`, "/" + strings.Repeat("x", 256), strings.Repeat("/a", 3000)} {
		if _, err := CleanPath(bad); mft.ErrorCode(err) != mft.EMALFORMED {
			t.Errorf("CleanPath(%.30q) = %v, want EMALFORMED", bad, err)
		}
	}
}

// What a client is told when the disk fails: a code and a message that
// names its own path, never a host path.
func TestFSError(t *testing.T) {
	host := "/var/lib/depot/files/users/joe/x"
	wrap := func(errno error) error { return &fs.PathError{Op: "write", Path: host, Err: errno} }
	for name, tc := range map[string]struct {
		err  error
		code string
	}{
		"disk full":     {wrap(syscall.ENOSPC), mft.EQUOTA},
		"user quota":    {wrap(syscall.EDQUOT), mft.EQUOTA},
		"missing":       {wrap(syscall.ENOENT), mft.ENOTFOUND},
		"exists":        {wrap(syscall.EEXIST), mft.ECONFLICT},
		"not empty":     {wrap(syscall.ENOTEMPTY), mft.ECONFLICT},
		"escapes root":  {fmt.Errorf("openat x: path escapes from parent"), mft.ENOTFOUND},
		"unknown (EIO)": {wrap(syscall.EIO), mft.EINTERNAL},
	} {
		err := fsError(tc.err, "/x")
		if got := mft.ErrorCode(err); got != tc.code {
			t.Errorf("%s: code %s, want %s", name, got, tc.code)
		}
		if strings.Contains(mft.ErrorMessage(err), host) {
			t.Errorf("%s: message %q reveals the host path", name, mft.ErrorMessage(err))
		}
	}
}

// Forgetting a folder of a mount forgets the folders below it and no
// other mount's; forgetting a mount's root forgets all of that mount's.
func TestDirCache_Forget(t *testing.T) {
	var c dirCache
	for _, k := range []string{dirKey("m1", "a"), dirKey("m1", "a/b"), dirKey("m1", "ab"), dirKey("m2", "a")} {
		c.add(k)
	}
	c.forget(dirKey("m1", "a"))
	for k, want := range map[string]bool{dirKey("m1", "a"): false, dirKey("m1", "a/b"): false, dirKey("m1", "ab"): true, dirKey("m2", "a"): true} {
		if c.has(k) != want {
			t.Errorf("%q remembered: %v, want %v", k, c.has(k), want)
		}
	}
	c.forget(dirKey("m1", ""))
	if c.has(dirKey("m1", "ab")) || !c.has(dirKey("m2", "a")) {
		t.Error("forgetting m1's root must forget m1's folders and keep m2's")
	}
}
