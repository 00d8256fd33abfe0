package store_test

import (
	"context"
	"testing"

	"depot/mft"
	"depot/store"
)

func TestFolderStore(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewFolderStore(MustOpenDB(t))
		top := &mft.Folder{Path: "/users", QuotaMB: 100}
		must(t, s.CreateFolder(ctx, top))
		in := &mft.Folder{Path: "/users/joe/in", RetentionDays: 7, AllowedExtensions: []string{"csv"}}
		must(t, s.CreateFolder(ctx, in))
		if err := s.CreateFolder(ctx, &mft.Folder{Path: "/users"}); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("a second rule on a path: %v", err)
		}
		if err := s.CreateFolder(ctx, &mft.Folder{Path: "relative"}); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("a relative path: %v", err)
		}
		above, err := s.FindFoldersAbove(ctx, "/users/joe/in/2026/x.csv")
		if err != nil || len(above) != 2 || above[0].ID != in.ID || above[1].ID != top.ID {
			t.Fatalf("rules above = %v, %v; want nearest first", above, err)
		}
		if above, _ := s.FindFoldersAbove(ctx, "/usersx/a"); len(above) != 0 {
			t.Fatalf("/usersx is not below /users: %v", above)
		}
		if ret, _ := s.FindRetentionFolders(ctx); len(ret) != 1 || ret[0].ID != in.ID {
			t.Fatalf("retention rules = %v", ret)
		}
		q, neg := int64(5), int64(-1)
		if _, err := s.UpdateFolder(ctx, top.ID, mft.FolderUpdate{QuotaMB: &neg}); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("negative quota: %v", err)
		}
		f, err := s.UpdateFolder(ctx, top.ID, mft.FolderUpdate{QuotaMB: &q})
		if err != nil || f.QuotaMB != 5 || f.Path != "/users" {
			t.Fatalf("updated = %+v, %v", f, err)
		}
		if page, more, _ := s.FindFolders(ctx, mft.Page{Limit: 1}); len(page) != 1 || !more {
			t.Fatalf("page = %d, more %v", len(page), more)
		}
		must(t, s.DeleteFolder(ctx, in.ID))
		if _, err := s.FindFolderByID(ctx, in.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("deleted rule: %v", err)
		}
		must(t, s.CreateFolder(ctx, &mft.Folder{Path: "/users/joe/in"})) // the path is free again
		if err := s.DeleteFolder(ctx, in.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("second delete: %v", err)
		}
		if _, err := s.UpdateFolder(ctx, in.ID, mft.FolderUpdate{QuotaMB: &q}); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("update of a deleted rule: %v", err)
		}
	})
}
