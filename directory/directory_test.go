package directory_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"depot/auth"
	"depot/directory"
	"depot/files"
	"depot/internal/testtool"
	"depot/mft"
	"depot/store"
)

// Each change to a record publishes its event with who asked; a refused
// change publishes nothing.
func TestChangesPublishTheirEvents(t *testing.T) {
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ev := &testtool.Events{}
	d := directory.New(store.NewUserStore(db), store.NewGroupStore(db), store.NewPermissionStore(db), store.NewFolderStore(db), store.NewBucketStore(db), ev)
	ctx := mft.WithOrigin(context.Background(), mft.Origin{Actor: "admin", Protocol: mft.AuditAPI, IP: "192.0.2.1", Changes: map[string]any{"name": "Ops"}})
	u := &mft.User{ID: "joe", Username: "joe", Role: mft.RoleUser, Home: "/users/joe", Active: true, Protocols: []string{"sftp"}}
	g := &mft.Group{ID: "ops", Name: "Ops"}
	steps := []struct {
		event string
		do    func() error
	}{
		{mft.EventUserCreated, func() error { return d.Users.CreateUser(ctx, u) }},
		{mft.EventUserUpdated, func() error {
			n := "Joe"
			_, err := d.Users.UpdateUser(ctx, "joe", mft.UserUpdate{Name: &n})
			return err
		}},
		{mft.EventUserAPIKeyRegenerated, func() error { return d.Users.SetUserAPIKeyHash(ctx, "joe", "h") }},
		{mft.EventGroupCreated, func() error { return d.Groups.CreateGroup(ctx, g) }},
		{mft.EventGroupUpdated, func() error {
			n := "Ops 2"
			_, err := d.Groups.UpdateGroup(ctx, "ops", mft.GroupUpdate{Name: &n})
			return err
		}},
		{mft.EventPermissionCreated, func() error {
			return d.Permissions.CreatePermission(ctx, &mft.Permission{Subject: "group:ops", Path: "/shared", Permissions: []string{mft.PermList}})
		}},
		{mft.EventFolderRuleCreated, func() error { return d.Folders.CreateFolder(ctx, &mft.Folder{Path: "/shared", QuotaMB: 5}) }},
		{mft.EventSettingsUpdated, func() error { return d.Settings.PutSettings(ctx, mft.Settings{AllowBucketDeletion: false}) }},
		{mft.EventGroupDeleted, func() error { return d.Groups.DeleteGroup(ctx, "ops") }},
		{mft.EventUserDeleted, func() error { _, err := d.Users.DeleteUser(ctx, "joe"); return err }},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.event, err)
		}
		if len(ev.All()) != i+1 {
			t.Fatalf("after %s: %d events", s.event, len(ev.All()))
		}
		got := ev.All()[i]
		if got.Event != s.event || got.Actor != "admin" || got.IP != "192.0.2.1" || got.Target == "" || got.Changes["name"] != "Ops" {
			t.Fatalf("event = %+v, want %s by admin", got, s.event)
		}
	}
	n := len(ev.All())
	if _, err := d.Users.DeleteUser(ctx, "joe"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := d.Folders.UpdateFolder(ctx, "fld_nosuch", mft.FolderUpdate{}); err == nil {
		t.Fatal("update of a missing rule")
	}
	if err := d.Permissions.DeletePermission(ctx, "perm_nosuch"); err == nil {
		t.Fatal("delete of a missing rule")
	}
	if len(ev.All()) != n {
		t.Fatalf("refused changes published %d events", len(ev.All())-n)
	}
}

// An account is created with a key shown once; deleting it takes its
// dropzones (records and files) with it, and nobody deletes themselves.
func TestUsers_CreateAndDelete(t *testing.T) {
	dir := t.TempDir()
	db := store.NewDB(filepath.Join(dir, "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsvc, err := files.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer fsvc.Close()
	fsvc.Usage = store.NewUsageStore(db)
	users, dropzones := store.NewUserStore(db), store.NewDropzoneStore(db)
	d := directory.New(users, store.NewGroupStore(db), store.NewPermissionStore(db), store.NewFolderStore(db), store.NewBucketStore(db), &testtool.Events{})
	d.Users.Files = fsvc
	ctx := context.Background()
	u := &mft.User{ID: "ann", Username: "ann", Role: mft.RoleUser, Home: "/users/ann", Active: true, Protocols: []string{"api"}}
	key, err := d.Users.Create(ctx, u)
	if err != nil || len(key) < 20 {
		t.Fatalf("create: %q, %v", key, err)
	}
	if got, err := users.FindUserByAPIKeyHash(ctx, auth.HashKey(key)); err != nil || got.ID != "ann" {
		t.Fatalf("the key returned does not find ann: %v", err)
	}
	dz := &mft.Dropzone{Name: "in", Owner: "ann", GB: 1, Days: 30, TokenHash: "tok"}
	if err := dropzones.CreateDropzone(ctx, dz); err != nil {
		t.Fatal(err)
	}
	held := filepath.Join(dir, "files", "dropzones", dz.ID)
	os.MkdirAll(held, 0o700)
	os.WriteFile(filepath.Join(held, "f1"), []byte("x"), 0o600)
	if err := d.Users.Delete(ctx, "ann", "ann"); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("deleting oneself: %v", err)
	}
	if err := d.Users.Delete(ctx, "admin", "ann"); err != nil {
		t.Fatal(err)
	}
	if _, err := dropzones.FindDropzoneByToken(ctx, "tok"); err == nil {
		t.Fatal("the dropzone's token outlived its owner")
	}
	if _, err := os.Stat(held); !os.IsNotExist(err) {
		t.Fatalf("the dropzone's files stayed: %v", err)
	}
	if err := d.Users.Delete(ctx, "admin", "ann"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
}
