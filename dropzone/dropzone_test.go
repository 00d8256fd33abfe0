package dropzone_test

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/core"
	"depot/dropzone"
	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

func ptr[T any](v T) *T { return &v }

// open creates a dropzone of gb owned by a new user.
func open(t *testing.T, gb float64) (*core.Services, *mft.Dropzone) {
	t.Helper()
	a := coretest.Start(t, nil)
	owner := coretest.AddUser(t, a, "owner")
	d, token, err := a.Dropzones.Create(context.Background(), owner.ID, dropzone.Input{Name: ptr("Uploads"), GB: ptr(gb), Days: ptr(30)})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := a.Dropzones.ByToken(context.Background(), d.ID, token); err != nil || got.ID != d.ID {
		t.Fatalf("ByToken with the token = %v, %v", got, err)
	}
	if _, err := a.Dropzones.ByToken(context.Background(), d.ID, token+"x"); err != dropzone.ErrWrongToken {
		t.Fatalf("ByToken with another token = %v, want ErrWrongToken", err)
	}
	return a, d
}

// receive sends body to the signed URL of f.
func receive(a *core.Services, f *mft.DropzoneFile, query string, body io.Reader, announced int64) (*mft.DropzoneFile, error) {
	q, _ := url.ParseQuery(query)
	return a.Dropzones.Receive(context.Background(), f.Dropzone, f.ID, q.Get("expires"), q.Get("signature"), body, announced, files.Actor{Protocol: mft.AuditAPI, IP: "127.0.0.1"})
}

// Reservations never over-commit the quota; a released one frees its
// bytes.
func TestReserve_Quota(t *testing.T) {
	a, d := open(t, 0.2) // 200,000,000 bytes
	ctx := context.Background()
	f, err := a.Dropzones.Reserve(ctx, d, "a.bin", "", ptr(int64(150_000_000)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Dropzones.Reserve(ctx, d, "b.bin", "", ptr(int64(50_000_001))); mft.ErrorCode(err) != mft.EQUOTA {
		t.Fatalf("reservation over the quota: %v, want EQUOTA", err)
	}
	if _, err := a.Dropzones.Reserve(ctx, d, "b.bin", "", ptr(int64(50_000_000))); err != nil {
		t.Fatalf("reservation that fits exactly: %v", err)
	}
	if used, _ := a.Dropzones.UsedBytes(ctx, d.ID); used != 200_000_000 {
		t.Fatalf("used %d, want 200000000", used)
	}
	if err := a.Dropzones.DeleteFile(ctx, f); err != nil {
		t.Fatal(err)
	}
	if used, _ := a.Dropzones.UsedBytes(ctx, d.ID); used != 50_000_000 {
		t.Fatalf("used after delete %d, want 50000000", used)
	}
	for _, bad := range []struct {
		name string
		size *int64
	}{{"", ptr(int64(1))}, {"../x", ptr(int64(1))}, {"a/b", ptr(int64(1))}, {"ok.txt", nil}, {"ok.txt", ptr(int64(-1))}} {
		if _, err := a.Dropzones.Reserve(ctx, d, bad.name, "", bad.size); mft.ErrorCode(err) != mft.EINVALID {
			t.Errorf("Reserve(%q, %v) = %v, want EINVALID", bad.name, bad.size, err)
		}
	}
}

// A signed URL takes exactly the reserved bytes, once; a tampered or
// wrong-length upload keeps nothing.
func TestReceive_ExactlyOnce(t *testing.T) {
	a, d := open(t, 1)
	ctx := context.Background()
	f, err := a.Dropzones.Reserve(ctx, d, "report.csv", "text/csv", ptr(int64(11)))
	if err != nil {
		t.Fatal(err)
	}
	query := a.Dropzones.UploadQuery(f)
	stored := filepath.Join(a.Config.Data.Dir, "files", "dropzones", d.ID, f.ID)

	t.Run("ErrForbidden", func(t *testing.T) {
		tampered := strings.Replace(query, "signature=", "signature=00", 1)
		if _, err := receive(a, f, tampered, strings.NewReader("hello world"), 11); mft.ErrorCode(err) != mft.EFORBIDDEN {
			t.Fatalf("tampered signature: %v, want EFORBIDDEN", err)
		}
	})
	t.Run("ErrMalformed", func(t *testing.T) {
		if _, err := receive(a, f, query, strings.NewReader("hello"), 5); mft.ErrorCode(err) != mft.EMALFORMED {
			t.Fatalf("short announced length: %v, want EMALFORMED", err)
		}
		// A body of unknown length is cut off at its first byte too many.
		if _, err := receive(a, f, query, strings.NewReader("hello world and more"), -1); mft.ErrorCode(err) != mft.EMALFORMED {
			t.Fatalf("long body: %v, want EMALFORMED", err)
		}
		if _, err := os.Stat(stored); !os.IsNotExist(err) {
			t.Fatalf("a refused upload left a file: %v", err)
		}
	})
	t.Run("OK", func(t *testing.T) {
		got, err := receive(a, f, query, strings.NewReader("hello world"), -1)
		if err != nil || !got.Uploaded || got.SHA256 != "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9" {
			t.Fatalf("upload: %+v, %v", got, err)
		}
		if data, _ := os.ReadFile(stored); string(data) != "hello world" {
			t.Fatalf("stored %q", data)
		}
	})
	t.Run("ErrConflict", func(t *testing.T) {
		if _, err := receive(a, f, query, strings.NewReader("HELLO WORLD"), 11); mft.ErrorCode(err) != mft.ECONFLICT {
			t.Fatalf("second upload through a spent URL: %v, want ECONFLICT", err)
		}
		if data, _ := os.ReadFile(stored); string(data) != "hello world" {
			t.Fatalf("spent URL replaced the file: %q", data)
		}
	})
	t.Run("ErrExpired", func(t *testing.T) {
		g, _ := a.Dropzones.Reserve(ctx, d, "late.csv", "", ptr(int64(1)))
		q := a.Dropzones.UploadQuery(g)
		a.Dropzones.Now = func() time.Time { return time.Now().Add(dropzone.UploadURLTTL + time.Minute) }
		defer func() { a.Dropzones.Now = nil }()
		if _, err := receive(a, g, q, strings.NewReader("x"), 1); mft.ErrorCode(err) != mft.EEXPIRED {
			t.Fatalf("expired URL: %v, want EEXPIRED", err)
		}
	})
}

// Confirming makes a file downloadable and publishes the event once.
func TestConfirm(t *testing.T) {
	a, d := open(t, 1)
	ctx := context.Background()
	f, _ := a.Dropzones.Reserve(ctx, d, "a.txt", "", ptr(int64(3)))
	if err := a.Dropzones.Confirm(ctx, d, f, files.Actor{Protocol: mft.AuditAPI, IP: "127.0.0.1"}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("confirm before upload: %v, want EINVALID", err)
	}
	if _, _, err := a.Dropzones.Open(f); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("download before confirm: %v, want EINVALID", err)
	}
	f, err := receive(a, f, a.Dropzones.UploadQuery(f), strings.NewReader("abc"), 3)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := a.Dropzones.Confirm(ctx, d, f, files.Actor{Protocol: mft.AuditAPI, IP: "127.0.0.1"}); err != nil {
			t.Fatal(err)
		}
	}
	fh, _, err := a.Dropzones.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if data, _ := io.ReadAll(fh); !bytes.Equal(data, []byte("abc")) {
		t.Fatalf("downloaded %q", data)
	}
	evs := coretest.Events(t, a, mft.EventDropzoneFileConfirmed)
	if len(evs) != 1 || evs[0].Actor != "owner" || evs[0].Size != 3 {
		t.Fatalf("confirm events %+v, want one by the owner", evs)
	}
}

// The sweep releases a reservation not confirmed within a day, keeps a
// confirmed file until the dropzone expires, then removes everything.
func TestSweep(t *testing.T) {
	a, d := open(t, 1)
	ctx := context.Background()
	kept, _ := a.Dropzones.Reserve(ctx, d, "kept.txt", "", ptr(int64(1)))
	kept, _ = receive(a, kept, a.Dropzones.UploadQuery(kept), strings.NewReader("k"), 1)
	a.Dropzones.Confirm(ctx, d, kept, files.Actor{Protocol: mft.AuditAPI, IP: ""})
	a.Dropzones.Reserve(ctx, d, "abandoned.txt", "", ptr(int64(1)))

	if n, err := a.Dropzones.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep at once removed %d (%v), want 0", n, err)
	}
	a.Dropzones.Now = func() time.Time { return time.Now().Add(dropzone.UnconfirmedTTL + time.Hour) }
	if n, err := a.Dropzones.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after a day removed %d (%v), want the unconfirmed one", n, err)
	}
	if list, _ := a.Dropzones.ListFiles(ctx, d); len(list) != 1 || list[0].Name != "kept.txt" {
		t.Fatalf("files left %v", list)
	}
	a.Dropzones.Now = func() time.Time { return time.Now().AddDate(0, 0, 31) }
	if n, err := a.Dropzones.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry removed %d (%v), want 1", n, err)
	}
	if _, err := os.Stat(filepath.Join(a.Config.Data.Dir, "files", "dropzones", d.ID, kept.ID)); !os.IsNotExist(err) {
		t.Fatalf("expired dropzone's file still on disk: %v", err)
	}
}

// Ensure extends the owner's dropzone of the same name instead of making
// another, even when two requests race; another owner's name does not
// count; a file is found by its id alone.
func TestEnsure_OneDropzonePerName(t *testing.T) {
	a, d := open(t, 0.2) // "Uploads", owned by "owner"
	ctx := context.Background()
	other := coretest.AddUser(t, a, "other")
	theirs, _, created, err := a.Dropzones.Ensure(ctx, other.ID, dropzone.Input{Name: ptr("Uploads"), GB: ptr(0.2), Days: ptr(30)})
	if err != nil || !created || theirs.ID == d.ID {
		t.Fatalf("another owner's Ensure = %v, %v, %v; want a dropzone of their own", theirs, created, err)
	}
	type result struct {
		d       *mft.Dropzone
		created bool
		err     error
	}
	results := make(chan result, 2)
	for range 2 {
		go func() {
			z, _, c, err := a.Dropzones.Ensure(ctx, d.Owner, dropzone.Input{Name: ptr("Daily"), GB: ptr(1.0), Days: ptr(60)})
			results <- result{z, c, err}
		}()
	}
	r1, r2 := <-results, <-results
	if r1.err != nil || r2.err != nil || r1.d.ID != r2.d.ID || r1.created == r2.created {
		t.Fatalf("two Ensures of one new name: %+v and %+v, want one created and one found", r1, r2)
	}
	z, token, created, err := a.Dropzones.Ensure(ctx, d.Owner, dropzone.Input{Name: ptr("Uploads"), GB: ptr(2.0), Days: ptr(90)})
	if err != nil || created || token != "" || z.ID != d.ID || z.GB != 2 || z.Days != 90 || z.UpdatedAt.IsZero() {
		t.Fatalf("Ensure of a used name = %+v, %v, %v; want %s extended", z, created, err, d.ID)
	}
	if _, _, _, err := a.Dropzones.Ensure(ctx, d.Owner, dropzone.Input{Name: ptr("Uploads"), GB: ptr(1.0), Days: ptr(90)}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("Ensure shrinking = %v, want EINVALID", err)
	}

	f, err := a.Dropzones.Reserve(ctx, d, "a.txt", "text/plain", ptr(int64(3)))
	if err != nil {
		t.Fatal(err)
	}
	gotD, gotF, err := a.Dropzones.FileByID(ctx, f.ID)
	if err != nil || gotD.ID != d.ID || gotF.Name != "a.txt" {
		t.Fatalf("FileByID = %v, %v, %v", gotD, gotF, err)
	}
	for _, id := range []string{"", "dzf_nothere", d.ID, d.ID + "/" + f.ID, "/" + f.ID} {
		if _, _, err := a.Dropzones.FileByID(ctx, id); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("FileByID(%q) = %v, want ENOTFOUND", id, err)
		}
	}
}
