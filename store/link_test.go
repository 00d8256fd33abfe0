package store_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

func TestLinkStore(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewLinkStore(MustOpenDB(t))
		l := &mft.Link{Path: "/users/joe/report.pdf", CreatedBy: "joe", MaxDownloads: 5}
		must(t, s.CreateLink(ctx, l))
		if len(l.ID) < 26 {
			t.Fatalf("link id %q is too short to be unguessable", l.ID)
		}
		must(t, s.CreateLink(ctx, &mft.Link{Path: "/users/ann/x", CreatedBy: "ann"}))
		if mine, _, _ := s.FindLinks(ctx, "joe", mft.Page{}); len(mine) != 1 || mine[0].ID != l.ID {
			t.Fatalf("joe's links = %v", mine)
		}
		if all, _, _ := s.FindLinks(ctx, "", mft.Page{}); len(all) != 2 {
			t.Fatalf("all links = %d", len(all))
		}
		// Twenty downloads at once, five allowed: exactly five pass.
		var ok atomic.Int32
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				if _, err := s.ClaimDownload(ctx, l.ID, now); err == nil {
					ok.Add(1)
				} else if mft.ErrorCode(err) != mft.EEXPIRED {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 5 {
			t.Fatalf("%d downloads passed, want 5", ok.Load())
		}
		if got, _ := s.FindLink(ctx, l.ID); got.Downloads != 5 {
			t.Fatalf("downloads = %d", got.Downloads)
		}
		past := now.Add(-time.Hour)
		old := &mft.Link{Path: "/x", CreatedBy: "joe", ExpiresAt: &past}
		must(t, s.CreateLink(ctx, old))
		if _, err := s.ClaimDownload(ctx, old.ID, now); mft.ErrorCode(err) != mft.EEXPIRED {
			t.Fatalf("an expired link: %v", err)
		}
		must(t, s.DeleteLink(ctx, l.ID))
		for _, err := range []error{s.DeleteLink(ctx, l.ID), func() error { _, err := s.ClaimDownload(ctx, l.ID, now); return err }()} {
			if mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("a deleted link: %v, want ENOTFOUND", err)
			}
		}
	})
}
