package bucket_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"depot/bucket"
	"depot/dropzone"
	"depot/files"
	"depot/internal/testtool"
	"depot/mft"
	"depot/store"
)

// world is a bucket service on a real database and data directory, with
// a bucket holding a file, a user and that user's dropzone with a file.
type world struct {
	svc      *bucket.Service
	db       *store.DB
	usage    *store.UsageStore
	dir      string
	events   *testtool.Events
	bucket   *mft.Bucket
	user     string
	dropzone string
}

// failingStore fails DeleteBucket, as a database that cannot commit.
type failingStore struct{ mft.BucketStore }

func (failingStore) DeleteBucket(context.Context, string) ([]string, error) {
	return nil, errors.New("disk I/O error")
}

func newWorld(t *testing.T) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	db := store.NewDB(filepath.Join(dir, "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	fsvc, err := files.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fsvc.Close() })
	buckets := store.NewBucketStore(db)
	w := &world{db: db, usage: store.NewUsageStore(db), dir: dir, events: &testtool.Events{}}
	fsvc.Usage = w.usage
	w.svc = &bucket.Service{Store: buckets, Settings: buckets, Files: fsvc, Events: w.events, Now: db.Now}
	w.bucket = &mft.Bucket{Name: "Acme", Active: true, QuotaMB: 10}
	must(t, w.svc.Create(ctx, w.bucket))
	u := &mft.User{ID: "joe", Email: "joe@acme.test", Role: mft.RoleUser, Home: mft.BucketRoot(w.bucket.ID), Bucket: w.bucket.ID,
		Active: true, Protocols: []string{"sftp"}, Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{}}
	must(t, store.NewUserStore(db).CreateUser(ctx, u))
	d := &mft.Dropzone{Name: "in", Owner: u.ID, GB: 1, Days: 30, TokenHash: "dz"}
	must(t, store.NewDropzoneStore(db).CreateDropzone(ctx, d))
	w.user, w.dropzone = u.ID, d.ID
	w.write(t, mft.BucketRoot(w.bucket.ID)+"/in/a.csv", "a,b\n")
	w.write(t, dropzone.Root+d.ID+"/f1", "dropped")
	return w
}

func (w *world) write(t *testing.T, storage, data string) {
	t.Helper()
	p := filepath.Join(w.dir, "files", storage)
	must(t, os.MkdirAll(filepath.Dir(p), 0o700))
	must(t, os.WriteFile(p, []byte(data), 0o600))
	must(t, w.usage.AddUsage(context.Background(), filepath.Dir(storage), int64(len(data))))
}

func (w *world) exists(storage string) bool {
	_, err := os.Stat(filepath.Join(w.dir, "files", storage))
	return err == nil
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func admin() context.Context {
	return mft.WithOrigin(context.Background(), mft.Origin{Actor: "admin", Protocol: mft.AuditAPI, IP: "192.0.2.1"})
}

func TestDelete_RemovesTheBucketWithItsUsersDropzonesAndFiles(t *testing.T) {
	w := newWorld(t)
	ctx := admin()
	must(t, w.svc.Delete(ctx, w.bucket.ID))
	if _, err := w.svc.Find(ctx, w.bucket.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("bucket after delete: %v", err)
	}
	if _, err := store.NewUserStore(w.db).FindUserByID(ctx, w.user); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("user after delete: %v", err)
	}
	for _, p := range []string{mft.BucketRoot(w.bucket.ID), dropzone.Root + w.dropzone} {
		if w.exists(p) {
			t.Errorf("%s is still on disk", p)
		}
	}
	if n, _ := w.usage.Usage(ctx, mft.BucketRoot(w.bucket.ID)); n != 0 {
		t.Errorf("the bucket still counts %d bytes", n)
	}
	if left, _ := os.ReadDir(filepath.Join(w.dir, "tmp")); len(left) != 0 {
		t.Errorf("left in data/tmp: %v", left)
	}
	last := w.events.Last()
	if last.Event != mft.EventBucketDeleted || last.Actor != "admin" || last.IP != "192.0.2.1" || last.Target != w.bucket.ID || last.Message != "Acme" {
		t.Fatalf("last event = %+v; want bucket.deleted by admin from 192.0.2.1", last)
	}
}

// A database that fails while the records are removed leaves the bucket
// whole: records, files where they were, usage counted.
func TestDelete_FailureLeavesTheBucketWhole(t *testing.T) {
	w := newWorld(t)
	ctx := admin()
	w.svc.Store = failingStore{w.svc.Store}
	if err := w.svc.Delete(ctx, w.bucket.ID); err == nil {
		t.Fatal("delete succeeded")
	}
	if _, err := w.svc.Find(ctx, w.bucket.ID); err != nil {
		t.Fatalf("bucket: %v", err)
	}
	for _, p := range []string{mft.BucketRoot(w.bucket.ID) + "/in/a.csv", dropzone.Root + w.dropzone + "/f1"} {
		if !w.exists(p) {
			t.Errorf("%s is gone", p)
		}
	}
	if n, _ := w.usage.Usage(ctx, mft.BucketRoot(w.bucket.ID)); n != 4 {
		t.Errorf("the bucket counts %d bytes, want 4", n)
	}
	if got := w.events.All(); len(got) != 1 || got[0].Event != mft.EventBucketCreated {
		t.Errorf("events = %v; want only bucket.created", got)
	}
}

func TestDelete_TurnedOff(t *testing.T) {
	w := newWorld(t)
	ctx := admin()
	must(t, w.svc.Settings.PutSettings(ctx, mft.Settings{AllowBucketDeletion: false}))
	if err := w.svc.Delete(ctx, w.bucket.ID); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("delete: %v, want EFORBIDDEN", err)
	}
	if !w.exists(mft.BucketRoot(w.bucket.ID) + "/in/a.csv") {
		t.Fatal("the bucket's file is gone")
	}
	if err := w.svc.Delete(ctx, "buc_nosuch"); mft.ErrorCode(err) != mft.EFORBIDDEN {
		t.Fatalf("delete of a missing bucket while turned off: %v, want EFORBIDDEN", err)
	}
}

func TestUpdate(t *testing.T) {
	w := newWorld(t)
	ctx := admin()
	if _, err := w.svc.Update(ctx, w.bucket.ID, bucket.Update{}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("empty update: %v, want EINVALID", err)
	}
	name, off := "Acme Ltd", false
	b, err := w.svc.Update(ctx, w.bucket.ID, bucket.Update{Name: &name, Active: &off})
	must(t, err)
	if b.Name != name || b.Active {
		t.Fatalf("updated bucket = %+v", b)
	}
	u, err := store.NewUserStore(w.db).FindUserByID(ctx, w.user)
	must(t, err)
	if u.SessionGeneration == 0 {
		t.Fatal("deactivating the bucket did not end its user's sessions")
	}
	if _, err := w.svc.Update(ctx, "buc_nosuch", bucket.Update{Name: &name}); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("update of a missing bucket: %v, want ENOTFOUND", err)
	}
	if got := w.events.All(); len(got) != 2 || got[1].Event != mft.EventBucketUpdated {
		t.Fatalf("events = %v", got)
	}
}

func TestConfine(t *testing.T) {
	user, admin := mft.RoleUser, mft.RoleAdmin
	in, out, sneaky := mft.BucketRoot("b1")+"/x", "/users/joe", mft.BucketRoot("b1")+"/../b2"
	for _, tc := range []struct {
		role, home *string
		ok         bool
	}{{&user, &in, true}, {nil, nil, true}, {&admin, nil, false}, {nil, &out, false}, {nil, &sneaky, false}} {
		if err := bucket.Confine("b1", tc.role, tc.home); (err == nil) != tc.ok {
			t.Errorf("Confine(%v, %v) = %v", tc.role, tc.home, err)
		}
	}
}
