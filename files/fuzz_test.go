package files

import (
	"path"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzCleanPath: a path is refused, or cleaned into an absolute path with
// no "..", no control or bidirectional characters, valid UTF-8, and
// cleaning it again changes nothing.
func FuzzCleanPath(f *testing.F) {
	for _, seed := range []string{"/", "", "a/b", "/a/../b", "..", "/a/./b//c/", "a\\b", "/x\x00y", "/bad\xff",
		"/invoice\u202efdp.exe", strings.Repeat("a/", 3000), "/" + strings.Repeat("n", 300), "/ünïcödé/名前.txt"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, p string) {
		out, err := CleanPath(p)
		if err != nil {
			if msg := err.Error(); msg == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		switch {
		case !strings.HasPrefix(out, "/"), out != path.Clean(out), !utf8.ValidString(out), len(out) > MaxPathLen+1:
			t.Fatalf("CleanPath(%q) = %q", p, out)
		}
		for _, seg := range strings.Split(out, "/") {
			if seg == ".." || len(seg) > MaxNameLen {
				t.Fatalf("CleanPath(%q) = %q has segment %q", p, out, seg)
			}
		}
		for _, r := range out {
			if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\\' {
				t.Fatalf("CleanPath(%q) = %q has %U", p, out, r)
			}
		}
		if again, err := CleanPath(out); err != nil || again != out {
			t.Fatalf("CleanPath(%q) = %q, then %q %v", p, out, again, err)
		}
	})
}
