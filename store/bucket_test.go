package store_test

import (
	"context"
	"strings"
	"testing"

	"depot/mft"
	"depot/store"
)

// bucketWorld is a bucket with a quota rule, two users with a token and a
// permission each, a dropzone with a file, and a user outside it.
type bucketWorld struct {
	db        *store.DB
	buckets   *store.BucketStore
	users     *store.UserStore
	folders   *store.FolderStore
	dropzones *store.DropzoneStore
	tokens    *store.TokenStore
	perms     *store.PermissionStore
	bucket    *mft.Bucket
	inside    []string // user ids
	outside   string
	dropzone  string
}

func openBucketWorld(db *store.DB) *bucketWorld {
	return &bucketWorld{db: db, buckets: store.NewBucketStore(db), users: store.NewUserStore(db),
		folders: store.NewFolderStore(db), dropzones: store.NewDropzoneStore(db),
		tokens: store.NewTokenStore(db), perms: store.NewPermissionStore(db)}
}

func newBucketWorld(t *testing.T) *bucketWorld {
	t.Helper()
	ctx := context.Background()
	w := openBucketWorld(MustOpenDB(t))
	w.bucket = &mft.Bucket{Name: "Acme", Active: true, QuotaMB: 50}
	if err := w.buckets.CreateBucket(ctx, w.bucket); err != nil {
		t.Fatal(err)
	}
	for i, email := range []string{"a@acme.test", "b@acme.test", "c@other.test"} {
		u := newUser(email)
		if i < 2 {
			u.Bucket, u.Home = w.bucket.ID, mft.BucketRoot(w.bucket.ID)
			w.inside = append(w.inside, u.ID)
		} else {
			w.outside = u.ID
		}
		must(t, w.users.CreateUser(ctx, u))
		must(t, w.tokens.CreateToken(ctx, &mft.Token{Hash: "tok-" + u.ID, UserID: u.ID, ExpiresAt: now.Add(3600e9)}))
		must(t, w.perms.CreatePermission(ctx, &mft.Permission{Subject: "user:" + u.ID, Path: u.Home, Permissions: []string{mft.PermList}}))
	}
	d := &mft.Dropzone{Name: "in", Owner: w.inside[0], GB: 1, Days: 30, TokenHash: "dz-token"}
	must(t, w.dropzones.CreateDropzone(ctx, d))
	must(t, w.dropzones.ReserveFile(ctx, d, &mft.DropzoneFile{Name: "x.csv", Size: 10}))
	w.dropzone = d.ID
	must(t, w.folders.CreateFolder(ctx, &mft.Folder{Path: mft.BucketRoot(w.bucket.ID) + "/in", RetentionDays: 7}))
	return w
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// whole checks that everything of the bucket is still there.
func (w *bucketWorld) whole(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	if _, err := w.buckets.FindBucket(ctx, w.bucket.ID); err != nil {
		t.Errorf("bucket: %v", err)
	}
	for _, id := range append([]string{w.outside}, w.inside...) {
		if _, err := w.users.FindUserByID(ctx, id); err != nil {
			t.Errorf("user %s: %v", id, err)
		}
		if _, err := w.tokens.FindTokenByHash(ctx, "tok-"+id); err != nil {
			t.Errorf("token of %s: %v", id, err)
		}
	}
	if _, err := w.dropzones.FindDropzoneByToken(ctx, "dz-token"); err != nil {
		t.Errorf("dropzone: %v", err)
	}
	if files, err := w.dropzones.FindFiles(ctx, w.dropzone); err != nil || len(files) != 1 {
		t.Errorf("dropzone files = %d, %v; want 1", len(files), err)
	}
	if rules, err := w.folders.FindFoldersAbove(ctx, mft.BucketRoot(w.bucket.ID)+"/in"); err != nil || len(rules) != 2 {
		t.Errorf("rules above the bucket's folder = %d, %v; want 2", len(rules), err)
	}
}

func TestBucketStore_CreateAndUpdateKeepTheQuotaRule(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		w := newBucketWorld(t)
		quota := func() int64 {
			rules, err := w.folders.FindFoldersAbove(ctx, mft.BucketRoot(w.bucket.ID))
			if err != nil || len(rules) != 1 {
				t.Fatalf("rules on the bucket's root = %d, %v; want 1", len(rules), err)
			}
			return rules[0].QuotaMB
		}
		if got := quota(); got != 50 {
			t.Fatalf("quota rule = %d MB, want 50", got)
		}
		w.bucket.QuotaMB = 70
		must(t, w.buckets.UpdateBucket(ctx, w.bucket, false))
		if got := quota(); got != 70 {
			t.Fatalf("quota rule after update = %d MB, want 70", got)
		}
		gen := func(id string) int64 {
			u, err := w.users.FindUserByID(ctx, id)
			must(t, err)
			return u.SessionGeneration
		}
		before := []int64{gen(w.inside[0]), gen(w.inside[1]), gen(w.outside)}
		w.bucket.Active = false
		must(t, w.buckets.UpdateBucket(ctx, w.bucket, true))
		after := []int64{gen(w.inside[0]), gen(w.inside[1]), gen(w.outside)}
		if after[0] != before[0]+1 || after[1] != before[1]+1 || after[2] != before[2] {
			t.Fatalf("session generations %v → %v; want the bucket's two users ended, the other not", before, after)
		}
		if b, _ := w.buckets.FindBucket(ctx, w.bucket.ID); b.Active {
			t.Fatal("bucket still active")
		}
		bad := *w.bucket
		bad.QuotaMB = -1
		if err := w.buckets.UpdateBucket(ctx, &bad, false); mft.ErrorCode(err) != mft.EINVALID {
			t.Fatalf("negative quota: %v, want EINVALID", err)
		}
		if got := quota(); got != 70 {
			t.Fatalf("quota rule after a refused update = %d MB, want 70", got)
		}
		if err := w.buckets.UpdateBucket(ctx, &mft.Bucket{ID: "buc_gone", Name: "x"}, false); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("update of a missing bucket: %v, want ENOTFOUND", err)
		}
	})
}

func TestBucketStore_DeleteRemovesAllOfIt(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		w := newBucketWorld(t)
		dropzones, err := w.buckets.DeleteBucket(ctx, w.bucket.ID)
		must(t, err)
		if len(dropzones) != 1 || dropzones[0] != w.dropzone {
			t.Fatalf("dropzones removed = %v, want [%s]", dropzones, w.dropzone)
		}
		if _, err := w.buckets.FindBucket(ctx, w.bucket.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Errorf("bucket: %v, want ENOTFOUND", err)
		}
		for _, id := range w.inside {
			if _, err := w.users.FindUserByID(ctx, id); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Errorf("user %s: %v, want ENOTFOUND", id, err)
			}
			if _, err := w.tokens.FindTokenByHash(ctx, "tok-"+id); err == nil {
				t.Errorf("token of %s outlived the user", id)
			}
		}
		if _, err := w.users.FindUserByID(ctx, w.outside); err != nil {
			t.Errorf("the user outside the bucket: %v", err)
		}
		if _, err := w.dropzones.FindDropzoneByToken(ctx, "dz-token"); err == nil {
			t.Error("the dropzone's token still works")
		}
		if rules, _ := w.folders.FindFoldersAbove(ctx, mft.BucketRoot(w.bucket.ID)+"/in"); len(rules) != 0 {
			t.Errorf("%d folder rules left in the deleted bucket", len(rules))
		}
		if perms, _, _ := w.perms.FindPermissions(ctx, mft.Page{Limit: 10}); len(perms) != 1 {
			t.Errorf("%d permissions left, want the outside user's 1", len(perms))
		}
		if _, err := w.buckets.DeleteBucket(ctx, w.bucket.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Errorf("second delete: %v, want ENOTFOUND", err)
		}
	})
}

// A record that cannot be read, met after the users and the dropzone were
// taken out in the transaction, fails the delete: the bucket stays whole.
func TestBucketStore_DeleteFailingMidwayLeavesTheBucketWhole(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		w := newBucketWorld(t)
		must(t, w.db.Close())
		putRaw(t, w.db, "Folders.Path", mft.BucketRoot(w.bucket.ID)+"/zz", "fld_broken")
		putRaw(t, w.db, "Folders", "fld_broken", "{not json")
		w2 := openBucketWorld(reopen(t, w.db))
		w2.bucket, w2.inside, w2.outside, w2.dropzone = w.bucket, w.inside, w.outside, w.dropzone
		_, err := w2.buckets.DeleteBucket(ctx, w.bucket.ID)
		if err == nil || !strings.Contains(err.Error(), "fld_broken") {
			t.Fatalf("delete: %v; want it to fail on the unreadable rule", err)
		}
		w2.whole(t)
	})
}
