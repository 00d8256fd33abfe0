package filedrop_test

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"depot/core"
	"depot/filedrop"
	"depot/files"
	"depot/internal/coretest"
	"depot/mft"
)

func ptr[T any](v T) *T { return &v }

// drop starts Depot with filedrop "invoices" owned by a new user.
func drop(t *testing.T) (*core.Services, *mft.Filedrop, *mft.User) {
	t.Helper()
	a := coretest.Start(t, nil)
	owner := coretest.AddUser(t, a, "owner")
	f, err := a.Filedrops.Create(context.Background(), ptr("invoices"), filedrop.Input{
		FiledropUpdate: mft.FiledropUpdate{Title: ptr("Invoices"), Owner: ptr(owner.ID), AcceptedFiletypes: ptr("pdf,csv")}})
	if err != nil {
		t.Fatal(err)
	}
	return a, f, owner
}

// send opens a submission and uploads each name → content.
func send(t *testing.T, a *core.Services, f *mft.Filedrop, contents map[string]string) (*mft.Submission, []string) {
	t.Helper()
	ctx := context.Background()
	sub, key, err := a.Filedrops.Open(ctx, f, "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := a.Filedrops.Submission(ctx, f.Name, key); err != nil || got.ID != sub.ID {
		t.Fatalf("Submission(key) = %v, %v", got, err)
	}
	if _, _, err := a.Filedrops.Submission(ctx, f.Name, "not-a-key"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("Submission(unknown key) = %v, want EUNAUTHORIZED", err)
	}
	var ids []string
	for name, body := range contents {
		att, _, done, err := a.Filedrops.Upload(ctx, f, sub, name, strings.NewReader(body),
			files.UploadOptions{Size: int64(len(body))}, nil, files.Actor{Protocol: mft.AuditWeb, IP: "192.0.2.1"})
		if err != nil || !done {
			t.Fatalf("upload %s: %v", name, err)
		}
		ids = append(ids, att.ID)
	}
	sub, _ = a.Filedrops.Submissions.FindSubmissionByKey(ctx, f.Name, sub.KeyHash)
	return sub, ids
}

// A delivery moves the files into the owner's home, records the message
// the owner can read and download from, and publishes filedrop.received.
func TestDeliver(t *testing.T) {
	a, f, owner := drop(t)
	ctx := context.Background()
	sub, ids := send(t, a, f, map[string]string{"nov.pdf": "november", "dec.csv": "december"})
	if _, _, _, err := a.Filedrops.Upload(ctx, f, sub, "virus.exe", strings.NewReader("x"), files.UploadOptions{Size: 1}, nil, files.Actor{Protocol: mft.AuditWeb, IP: ""}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("upload of a refused type: %v, want EINVALID", err)
	}
	if _, err := a.Filedrops.Deliver(ctx, f, sub, filedrop.Delivery{From: "not an address", Attachments: ids}, files.Actor{Protocol: mft.AuditWeb, IP: ""}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("bad sender: %v, want EINVALID", err)
	}
	m, err := a.Filedrops.Deliver(ctx, f, sub, filedrop.Delivery{From: "pat@partner.example", Subject: "Q4", Attachments: ids}, files.Actor{Protocol: mft.AuditWeb, IP: "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.Folder, "/users/owner/filedrops/invoices/") || len(m.Files) != 2 {
		t.Fatalf("message %+v", m)
	}
	data, err := os.ReadFile(filepath.Join(a.Config.Data.Dir, "files", m.Folder, "nov.pdf"))
	if err != nil || string(data) != "november" {
		t.Fatalf("delivered nov.pdf = %q, %v", data, err)
	}
	got, err := a.Filedrops.Message(ctx, owner, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	fh, _, name, err := a.Filedrops.OpenFile(got, got.Files[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(fh)
	fh.Close()
	if name != got.Files[0].Filename || len(body) == 0 {
		t.Fatalf("message file %s: %q", name, body)
	}
	stranger := coretest.AddUser(t, a, "stranger")
	if _, err := a.Filedrops.Message(ctx, stranger, m.ID); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("a stranger read the message: %v", err)
	}
	if evs := coretest.Events(t, a, mft.EventFiledropReceived); len(evs) != 1 || evs[0].Actor != owner.ID {
		t.Fatalf("filedrop.received events %+v", evs)
	}
	// The key is spent.
	if _, err := a.Filedrops.Deliver(ctx, f, sub, filedrop.Delivery{From: "pat@partner.example", Attachments: ids}, files.Actor{Protocol: mft.AuditWeb, IP: ""}); err == nil {
		t.Fatal("a delivered submission delivered again")
	}
}

// The space check before a delivery counts the quota of every folder
// above the destination, not only the owner's: a delivery that does not
// fit moves nothing and leaves the files waiting.
func TestDeliver_FolderQuota(t *testing.T) {
	a, f, _ := drop(t)
	ctx := context.Background()
	if err := a.Folders.CreateFolder(ctx, &mft.Folder{Path: "/users/owner", QuotaMB: 1}); err != nil {
		t.Fatal(err)
	}
	sub, ids := send(t, a, f, map[string]string{"a.pdf": strings.Repeat("a", 600<<10), "b.pdf": strings.Repeat("b", 600<<10)})
	_, err := a.Filedrops.Deliver(ctx, f, sub, filedrop.Delivery{From: "pat@partner.example", Attachments: ids}, files.Actor{Protocol: mft.AuditWeb, IP: ""})
	if mft.ErrorCode(err) != mft.EQUOTA {
		t.Fatalf("delivery over the folder quota: %v, want EQUOTA", err)
	}
	if _, err := os.Stat(filepath.Join(a.Config.Data.Dir, "files", "users", "owner", "filedrops")); !os.IsNotExist(err) {
		t.Fatalf("a refused delivery moved files: %v", err)
	}
	held, _ := filepath.Glob(filepath.Join(a.Config.Data.Dir, "files", ".filedrop-uploads", "invoices", "from-*", "*", "*.pdf"))
	if len(held) != 2 {
		t.Fatalf("files waiting after the refusal: %v", held)
	}
}

// The sweep removes an undelivered submission after its key expires and
// a delivery after expires_after days.
func TestSweep(t *testing.T) {
	a, f, _ := drop(t)
	ctx := context.Background()
	sub, ids := send(t, a, f, map[string]string{"a.pdf": "a"})
	m, err := a.Filedrops.Deliver(ctx, f, sub, filedrop.Delivery{From: "pat@partner.example", Attachments: ids}, files.Actor{Protocol: mft.AuditWeb, IP: ""})
	if err != nil {
		t.Fatal(err)
	}
	send(t, a, f, map[string]string{"left.pdf": "abandoned"})
	if n, err := a.Filedrops.Sweep(ctx); err != nil || n != 0 {
		t.Fatalf("sweep at once removed %d (%v)", n, err)
	}
	a.Filedrops.Now = func() time.Time { return time.Now().Add(filedrop.SubmissionTTL + time.Hour) }
	// Both keys have expired: the abandoned submission goes with its
	// uploads, the delivered one's record with it; the delivery stays.
	if n, err := a.Filedrops.Sweep(ctx); err != nil || n != 2 {
		t.Fatalf("sweep after a day removed %d (%v), want the two submissions", n, err)
	}
	if _, err := os.Stat(filepath.Join(a.Config.Data.Dir, "files", m.Folder, "a.pdf")); err != nil {
		t.Fatalf("delivery removed with its submission: %v", err)
	}
	if left, _ := filepath.Glob(filepath.Join(a.Config.Data.Dir, "files", ".filedrop-uploads", "invoices", "*", "*")); len(left) != 0 {
		t.Fatalf("abandoned uploads left: %v", left)
	}
	a.Filedrops.Now = func() time.Time { return time.Now().AddDate(0, 0, f.ExpiresAfter+1) }
	if n, err := a.Filedrops.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expires_after removed %d (%v), want the delivery", n, err)
	}
	if _, err := os.Stat(filepath.Join(a.Config.Data.Dir, "files", m.Folder)); !os.IsNotExist(err) {
		t.Fatalf("expired delivery still on disk: %v", err)
	}
}

// Administrators' changes are checked: the owner and cc are local users,
// validation needs SMTP, the name cannot change, a password is hashed.
func TestCreateUpdate(t *testing.T) {
	a, f, _ := drop(t)
	ctx := context.Background()
	for name, in := range map[string]filedrop.Input{
		"unknown owner":      {FiledropUpdate: mft.FiledropUpdate{Owner: ptr("nobody")}},
		"cc not a user":      {FiledropUpdate: mft.FiledropUpdate{CC: ptr("x@elsewhere.example")}},
		"validation no smtp": {FiledropUpdate: mft.FiledropUpdate{RequireValidation: ptr(true)}},
		"short password":     {Password: ptr("short")},
	} {
		if _, err := a.Filedrops.Update(ctx, f, nil, in); mft.ErrorCode(err) != mft.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
		}
	}
	if _, err := a.Filedrops.Update(ctx, f, ptr("renamed"), filedrop.Input{}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("rename: %v, want EINVALID", err)
	}
	g, err := a.Filedrops.Update(ctx, f, nil, filedrop.Input{Password: ptr("open-sesame")})
	if err != nil || g.PasswordHash == "" || strings.Contains(g.PasswordHash, "open-sesame") {
		t.Fatalf("password stored as %q (%v)", g.PasswordHash, err)
	}
	if _, err := a.Filedrops.Create(ctx, ptr("x"), filedrop.Input{}); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("create without title and owner: %v", err)
	}
}
