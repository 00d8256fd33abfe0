package link_test

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"depot/core"
	"depot/files"
	"depot/internal/coretest"
	"depot/link"
	"depot/mft"
)

// shared starts Depot with a user joe who has /report.pdf in his home.
func shared(t *testing.T) (*core.Services, *mft.User) {
	t.Helper()
	a := coretest.Start(t, nil)
	joe := coretest.AddUser(t, a, "joe")
	if _, err := a.Files.Upload(context.Background(), coretest.Actor(joe), "/report.pdf", strings.NewReader("the report"),
		files.UploadOptions{Size: 10}); err != nil {
		t.Fatal(err)
	}
	return a, joe
}

// Concurrent downloads never pass max_downloads: of 20 at once on a link
// with a limit of 3, exactly 3 are served, each counted and recorded.
func TestDownload_CountedAtomically(t *testing.T) {
	a, joe := shared(t)
	ctx := context.Background()
	l, err := a.Links.Create(ctx, coretest.Actor(joe), link.Input{Path: "/report.pdf", MaxDownloads: 3})
	if err != nil {
		t.Fatal(err)
	}
	var served, refused atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			f, _, err := a.Links.Download(ctx, l, "", files.Actor{Protocol: mft.AuditWeb, IP: "127.0.0.1"})
			if err != nil {
				if mft.ErrorCode(err) != mft.EEXPIRED {
					t.Errorf("refused with %v, want EEXPIRED", err)
				}
				refused.Add(1)
				return
			}
			data, _ := io.ReadAll(f)
			f.Close()
			if string(data) != "the report" {
				t.Errorf("served %q", data)
			}
			served.Add(1)
		})
	}
	wg.Wait()
	if served.Load() != 3 || refused.Load() != 17 {
		t.Fatalf("served %d, refused %d; want 3 and 17", served.Load(), refused.Load())
	}
	l, _ = a.Links.Find(ctx, l.ID)
	if l.Downloads != 3 || a.Links.Gone(l) == "" {
		t.Fatalf("link after the limit: downloads %d, gone %q", l.Downloads, a.Links.Gone(l))
	}
	if evs := coretest.Events(t, a, mft.EventLinkDownloaded); len(evs) != 3 {
		t.Fatalf("%d link.downloaded events, want 3", len(evs))
	}
}

// A link works through its creator's permissions as they are now: it
// stops when the file goes or the creator is deactivated, and a refused
// download is not counted.
func TestDownload_FollowsCreator(t *testing.T) {
	a, joe := shared(t)
	ctx := context.Background()
	l, err := a.Links.Create(ctx, coretest.Actor(joe), link.Input{Path: "/report.pdf", MaxDownloads: 5})
	if err != nil {
		t.Fatal(err)
	}
	if list, err := a.Links.Contents(ctx, l, files.Actor{Protocol: mft.AuditWeb, IP: ""}); err != nil || len(list) != 1 || list[0].Size != 10 {
		t.Fatalf("contents %+v, %v", list, err)
	}
	if _, err := a.Users.UpdateUser(ctx, joe.ID, mft.UserUpdate{Active: new(bool)}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Links.Download(ctx, l, "", files.Actor{Protocol: mft.AuditWeb, IP: ""}); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("download after the creator was deactivated: %v, want EFORBIDDEN", err)
	}
	active := true
	a.Users.UpdateUser(ctx, joe.ID, mft.UserUpdate{Active: &active})
	if err := a.Files.Remove(ctx, coretest.Actor(joe), "/report.pdf", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Links.Download(ctx, l, "", files.Actor{Protocol: mft.AuditWeb, IP: ""}); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("download of a deleted file: %v, want ENOTFOUND", err)
	}
	if l, _ = a.Links.Find(ctx, l.ID); l.Downloads != 0 {
		t.Fatalf("refused downloads were counted: %d", l.Downloads)
	}
}

// Creating a link checks its fields and the creator's share permission.
func TestCreate_Refusals(t *testing.T) {
	a, joe := shared(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour)
	for name, in := range map[string]link.Input{
		"no path":        {},
		"negative limit": {Path: "/report.pdf", MaxDownloads: -1},
		"past expiry":    {Path: "/report.pdf", ExpiresAt: &past},
		"short password": {Path: "/report.pdf", Password: "short"},
	} {
		if _, err := a.Links.Create(ctx, coretest.Actor(joe), in); mft.ErrorCode(err) != mft.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	ann := coretest.AddUser(t, a, "ann")
	if _, err := a.Links.Create(ctx, coretest.Actor(ann), link.Input{Path: "/report.pdf"}); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("sharing a path one cannot see: %v, want ENOTFOUND", err)
	}
	l, _ := a.Links.Create(ctx, coretest.Actor(joe), link.Input{Path: "/report.pdf"})
	if err := a.Links.Delete(ctx, ann, l.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("another user deleted joe's link: %v", err)
	}
	if err := a.Links.Delete(ctx, joe, l.ID); err != nil {
		t.Fatal(err)
	}
}

// An upload link stores files in the shared folder as its creator, under
// their limits, and serves no downloads.
func TestUpload(t *testing.T) {
	a, joe := shared(t)
	ctx := context.Background()
	if _, err := a.Files.Mkdir(ctx, coretest.Actor(joe), "/inbox"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Users.UpdateUser(ctx, joe.ID, mft.UserUpdate{MaxFileSize: ptr(int64(1))}); err != nil {
		t.Fatal(err)
	}
	l, err := a.Links.Create(ctx, coretest.Actor(joe), link.Input{Path: "/inbox", AllowUpload: true})
	if err != nil {
		t.Fatal(err)
	}
	fi, _, done, err := a.Links.Upload(ctx, l, "scan.pdf", strings.NewReader("scan"), files.UploadOptions{Size: 4}, nil, files.Actor{Protocol: mft.AuditWeb, IP: ""})
	if err != nil || !done || fi.Size != 4 {
		t.Fatalf("upload: %+v %v %v", fi, done, err)
	}
	if _, err := a.Files.Stat(ctx, coretest.Actor(joe), "/inbox/scan.pdf"); err != nil {
		t.Fatalf("uploaded file not in the creator's folder: %v", err)
	}
	big := bytes.Repeat([]byte("x"), 1<<20+1)
	if _, _, _, err := a.Links.Upload(ctx, l, "big.bin", bytes.NewReader(big), files.UploadOptions{Size: -1}, nil, files.Actor{Protocol: mft.AuditWeb, IP: ""}); mft.ErrorCode(err) != mft.ETOOLARGE {
		t.Fatalf("upload over the creator's file size limit: %v, want ETOOLARGE", err)
	}
	if _, _, err := a.Links.Download(ctx, l, "scan.pdf", files.Actor{Protocol: mft.AuditWeb, IP: ""}); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("download through an upload link: %v, want EFORBIDDEN", err)
	}
}

func ptr[T any](v T) *T { return &v }
