package files_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

// An upload in progress has no name anywhere on this filesystem (an
// O_TMPFILE staging file): a crash leaves nothing to sweep. Published, it
// is one link in its folder; one that replaces a file goes through a name
// in data/tmp that is gone once the answer is given.
func TestStaging_WithoutAName(t *testing.T) {
	a := coretest.Start(t, nil)
	ctx := context.Background()
	joe := coretest.Actor(coretest.AddUser(t, a, "joe"))
	tmp := filepath.Join(a.Config.Data.Dir, "tmp")
	names := func() []string {
		entries, _ := os.ReadDir(tmp)
		var out []string
		for _, e := range entries {
			out = append(out, e.Name())
		}
		return out
	}
	for _, content := range []string{"first", "second, replacing the first"} {
		p, err := a.Files.Create(ctx, joe, "/a.txt", files.UploadOptions{Overwrite: true, Size: -1})
		if err != nil {
			t.Fatal(err)
		}
		p.WriteAt([]byte(content), 0)
		if n := names(); len(n) != 0 {
			t.Fatalf("data/tmp holds %v during the upload", n)
		}
		if _, err := p.Commit(); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(a.Config.Data.Dir, "files", "users", "joe", "a.txt")); string(got) != content {
			t.Fatalf("published %q, want %q", got, content)
		}
	}
	for len(names()) > 0 {
		time.Sleep(10 * time.Millisecond) // the replaced file leaves behind the answer
	}
	// HTTP uploads too, and one that may not replace is refused.
	if _, err := upload(t, a, joe, "/b.txt", []byte("b")); err != nil {
		t.Fatal(err)
	}
	_, err := a.Files.Upload(ctx, joe, "/b.txt", strings.NewReader("again"), files.UploadOptions{Size: 5})
	if mft.ErrorCode(err) != mft.ECONFLICT {
		t.Fatalf("a second upload without overwrite: %v", err)
	}
	if n := names(); len(n) != 0 {
		t.Fatalf("data/tmp holds %v after a refused upload", n)
	}
}

// On a data directory other nodes share, a start leaves the staging
// files of their uploads in progress and the usage alone; one node alone
// sweeps them all at its start.
func TestStaging_SharedStartLeavesOthersUploads(t *testing.T) {
	for _, shared := range []bool{true, false} {
		dir := t.TempDir()
		svc, err := files.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		svc.Shared = shared
		staging := filepath.Join(dir, "tmp", "another-nodes-upload")
		if err := os.WriteFile(staging, []byte("in progress"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := svc.Begin(context.Background(), slog.New(slog.DiscardHandler)); err != nil {
			t.Fatal(err)
		}
		_, err = os.Stat(staging)
		if shared && err != nil {
			t.Fatalf("a shared start removed another node's upload: %v", err)
		} else if !shared && err == nil {
			t.Fatal("a node alone kept a leftover staging file at its start")
		}
		_, err = os.Stat(filepath.Join(dir, "depot.running"))
		if (err == nil) == shared {
			t.Fatalf("shared %v: the running marker %v", shared, err)
		}
		svc.Close()
	}
}
