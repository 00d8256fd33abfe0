package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"depot/mft"
	"depot/store"
)

func TestDropzoneStore(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewDropzoneStore(MustOpenDB(t))
		d := &mft.Dropzone{Name: "in", Owner: "joe", GB: 0.2, Days: 30, TokenHash: "tok"}
		must(t, s.CreateDropzone(ctx, d))
		if !d.ExpiresAt.Equal(now.AddDate(0, 0, 30)) {
			t.Fatalf("expires %v", d.ExpiresAt)
		}
		if err := s.CreateDropzone(ctx, &mft.Dropzone{Name: "x", Owner: "joe", GB: 9, Days: 30}); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("9 GB: %v", err)
		}
		if got, err := s.FindDropzoneByToken(ctx, "tok"); err != nil || got.ID != d.ID {
			t.Fatalf("by token: %v, %v", got, err)
		}
		if _, err := s.FindDropzoneByToken(ctx, ""); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
			t.Fatalf("empty token: %v", err)
		}
		must(t, s.CreateDropzone(ctx, &mft.Dropzone{Name: "ann's", Owner: "ann", GB: 1, Days: 30, TokenHash: "tok2"}))
		if mine, _, _ := s.FindDropzones(ctx, "joe", mft.Page{}); len(mine) != 1 {
			t.Fatalf("joe's dropzones = %d", len(mine))
		}
		if all, _ := s.AllDropzones(ctx); len(all) != 2 {
			t.Fatalf("all = %d", len(all))
		}
		d.Name = "renamed"
		must(t, s.PutDropzone(ctx, d))
		if got, _ := s.FindDropzone(ctx, d.ID); got.Name != "renamed" {
			t.Fatal("put did not store")
		}
		// 0.2 GB; ten reservations of 30 MB at once: six fit, never more.
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 10 {
			wg.Go(func() {
				if err := s.ReserveFile(ctx, d, &mft.DropzoneFile{Name: "f", Size: 30_000_000}); err == nil {
					ok.Add(1)
				} else if mft.ErrorCode(err) != mft.EQUOTA {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 6 {
			t.Fatalf("%d reservations fit, want 6", ok.Load())
		}
		if used, _ := s.UsedBytes(ctx, d.ID); used != 180_000_000 {
			t.Fatalf("used = %d", used)
		}
		files, _ := s.FindFiles(ctx, d.ID)
		f := files[0]
		f.Status = mft.DropzoneAvailable
		must(t, s.PutFile(ctx, f))
		if got, err := s.FindFile(ctx, d.ID, f.ID); err != nil || got.Status != mft.DropzoneAvailable {
			t.Fatalf("file = %+v, %v", got, err)
		}
		must(t, s.DeleteFile(ctx, d.ID, f.ID))
		if err := s.DeleteFile(ctx, d.ID, f.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second file delete: %v", err)
		}
		must(t, s.DeleteDropzone(ctx, d.ID))
		if _, err := s.FindDropzoneByToken(ctx, "tok"); err == nil {
			t.Fatal("a deleted dropzone's token still works")
		}
		if left, _ := s.FindFiles(ctx, d.ID); len(left) != 0 {
			t.Fatalf("%d file records outlived their dropzone", len(left))
		}
		if err := s.DeleteDropzone(ctx, d.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second delete: %v", err)
		}
	})
}
