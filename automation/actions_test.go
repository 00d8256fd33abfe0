package automation_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"depot/core"
	"depot/internal/coretest"
	"depot/internal/testpeer"
	"depot/mft"
)

var adminActor = coretest.Actor(&mft.User{ID: "admin-localhost", Role: mft.RoleAdmin, Home: "/"})

// read returns a storage file's content.
func read(t *testing.T, a *core.Services, p string) string {
	t.Helper()
	f, _, err := a.Files.Open(context.Background(), adminActor, p)
	if err != nil {
		t.Fatalf("%s: %v", p, err)
	}
	defer f.Close()
	var b bytes.Buffer
	b.ReadFrom(f)
	return b.String()
}

func exists(a *core.Services, p string) bool {
	_, err := a.Files.Stat(context.Background(), adminActor, p)
	return err == nil
}

// pgpKeys returns a new key pair, armored, the private key locked with
// passphrase.
func pgpKeys(t *testing.T, passphrase string) (public, private string) {
	t.Helper()
	e, err := openpgp.NewEntity("Partner", "", "partner@example.test", nil)
	if err != nil {
		t.Fatal(err)
	}
	var pub, priv bytes.Buffer
	w, _ := armor.Encode(&pub, openpgp.PublicKeyType, nil)
	e.Serialize(w)
	w.Close()
	if err := e.EncryptPrivateKeys([]byte(passphrase), nil); err != nil {
		t.Fatal(err)
	}
	w, _ = armor.Encode(&priv, openpgp.PrivateKeyType, nil)
	e.SerializePrivateWithoutSigning(w, nil)
	w.Close()
	return pub.String(), priv.String()
}

// A manual run chains its actions on one file: copy, rename with
// placeholders, encrypt, decrypt with a locked key, then delete.
func TestManualRun_ChainOfActions(t *testing.T) {
	ctx := context.Background()
	a := coretest.Start(t, nil)
	joe := coretest.AddUser(t, a, "joe")
	upload(t, a, joe, "/report.csv", "a,b\n1,2\n")
	pub, priv := pgpKeys(t, "open sesame")
	au := create(t, a, &mft.Automation{Name: "chain", Trigger: mft.TriggerManual, Actions: []mft.Action{
		{Type: "copy", To: "/work/"},
		{Type: "rename", To: "{BASENAME}-copy.{EXT}"},
		{Type: "pgp_encrypt", PublicKey: pub},
		{Type: "pgp_decrypt", PrivateKey: priv, Passphrase: "open sesame"},
		{Type: "move", To: "/done/"},
	}})
	if _, err := a.Engine.RunNow(ctx, au, ""); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("a run without a file: %v, want EINVALID", err)
	}
	if _, err := a.Engine.RunNow(ctx, au, "relative/path"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("a relative path: %v", err)
	}
	r, err := a.Engine.RunNow(ctx, au, "/users/joe/report.csv")
	if err != nil {
		t.Fatal(err)
	}
	runs := finished(t, a, au.ID, 1)
	if runs[0].ID != r.ID || runs[0].Status != mft.RunSucceeded {
		t.Fatalf("run = %+v", runs[0])
	}
	if got := read(t, a, "/done/report-copy.csv"); got != "a,b\n1,2\n" {
		t.Fatalf("after encrypt and decrypt: %q", got)
	}
	if !exists(a, "/users/joe/report.csv") || exists(a, "/work/report-copy.csv.pgp") || exists(a, "/work/report.csv") {
		t.Fatal("the chain left the wrong files")
	}

	bad := create(t, a, &mft.Automation{Name: "wrong passphrase", Trigger: mft.TriggerManual, Retry: mft.Retry{Attempts: 1}, Actions: []mft.Action{
		{Type: "pgp_encrypt", PublicKey: pub, KeepOriginal: true},
		{Type: "pgp_decrypt", PrivateKey: priv, Passphrase: "wrong"},
	}})
	if _, err := a.Engine.RunNow(ctx, bad, "/users/joe/report.csv"); err != nil {
		t.Fatal(err)
	}
	if run := finished(t, a, bad.ID, 1)[0]; run.Status != mft.RunFailed || !strings.Contains(run.Error, "passphrase") {
		t.Fatalf("a wrong passphrase: %+v", run)
	}
	del := create(t, a, &mft.Automation{Name: "delete", Trigger: mft.TriggerManual, Actions: []mft.Action{{Type: "delete"}}})
	a.Engine.RunNow(ctx, del, "/users/joe/report.csv.pgp")
	finished(t, a, del.ID, 1)
	if exists(a, "/users/joe/report.csv.pgp") {
		t.Fatal("delete did not delete")
	}
}

// A scheduled automation with a local source processes each new file
// once per version, when it meets the conditions.
func TestScheduledSource_NewFilesOnce(t *testing.T) {
	ctx := context.Background()
	a := coretest.Start(t, nil)
	joe := coretest.AddUser(t, a, "joe")
	a.Files.Mkdir(ctx, coretest.Actor(joe), "/out")
	upload(t, a, joe, "/out/a.csv", "1")
	upload(t, a, joe, "/out/skip.txt", "1")
	au := create(t, a, &mft.Automation{Name: "collect", Trigger: mft.TriggerSchedule, Schedule: "@every 1h",
		Source: &mft.Source{Path: "/users/joe/out"}, Conditions: []mft.Condition{{Type: "name", Pattern: "*.csv"}},
		Actions: []mft.Action{{Type: "copy", To: "/collected/"}}})
	if _, err := a.Engine.RunNow(ctx, au, ""); err != nil {
		t.Fatal(err)
	}
	finished(t, a, au.ID, 1)
	if !exists(a, "/collected/a.csv") || exists(a, "/collected/skip.txt") {
		t.Fatal("the source run did not copy the matching file alone")
	}
	if _, err := a.Engine.RunNow(ctx, au, ""); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("a second run with nothing new: %v, want EINVALID", err)
	}
	upload(t, a, joe, "/out/b.csv", "2")
	if r, err := a.Engine.RunNow(ctx, au, ""); err != nil || r.Files[0] != "/users/joe/out/b.csv" {
		t.Fatalf("the new file: %+v, %v", r, err)
	}
	finished(t, a, au.ID, 2)
	if a.Engine.Queued() != 0 {
		t.Fatalf("%d runs still queued", a.Engine.Queued())
	}
}

// Upload pushes a file to a connection (a real sshd); a download source
// fetches what is new there into a local folder, once per version.
func TestRemoteActions_UploadAndDownload(t *testing.T) {
	ctx := context.Background()
	a := coretest.Start(t, nil)
	peer := testpeer.StartSSHD(t)
	c := peer.Connection("partner")
	if err := a.Connections.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	joe := coretest.AddUser(t, a, "joe")
	upload(t, a, joe, "/invoice.xml", "<invoice/>")
	push := create(t, a, &mft.Automation{Name: "push", Trigger: mft.TriggerManual,
		Actions: []mft.Action{{Type: "upload", Connection: c.ID, To: "outbox/", KeepOriginal: true}}})
	a.Engine.RunNow(ctx, push, "/users/joe/invoice.xml")
	if r := finished(t, a, push.ID, 1)[0]; r.Status != mft.RunSucceeded {
		t.Fatalf("push: %+v", r)
	}
	if data, _ := os.ReadFile(filepath.Join(peer.Dir, "outbox", "invoice.xml")); string(data) != "<invoice/>" {
		t.Fatalf("on the partner: %q", data)
	}

	os.MkdirAll(filepath.Join(peer.Dir, "inbox"), 0o755)
	os.WriteFile(filepath.Join(peer.Dir, "inbox", "order.edi"), []byte("ORDERS"), 0o644)
	os.WriteFile(filepath.Join(peer.Dir, "inbox", "notes.txt"), []byte("no"), 0o644)
	pull := create(t, a, &mft.Automation{Name: "pull", Trigger: mft.TriggerSchedule, Schedule: "@every 1h",
		Source:  &mft.Source{Connection: c.ID, Path: "inbox", Pattern: "*.edi", To: "/users/joe/in"},
		Actions: []mft.Action{{Type: "copy", To: "/archive/"}}})
	a.Engine.RunNow(ctx, pull, "")
	if r := finished(t, a, pull.ID, 1)[0]; r.Status != mft.RunSucceeded {
		t.Fatalf("pull: %+v", r)
	}
	if read(t, a, "/users/joe/in/order.edi") != "ORDERS" || read(t, a, "/archive/order.edi") != "ORDERS" || exists(a, "/users/joe/in/notes.txt") {
		t.Fatal("the pull fetched the wrong files")
	}
	a.Engine.RunNow(ctx, pull, "")
	runs := finished(t, a, pull.ID, 2)
	if runs[0].Status != mft.RunSucceeded || len(runs[0].Files) != 0 {
		t.Fatalf("a second pull fetched again: %+v", runs[0])
	}
}
