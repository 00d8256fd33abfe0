package directory_test

import (
	"context"
	"path/filepath"
	"testing"

	"depot/directory"
	"depot/mft"
	"depot/store"
)

type sink struct{ got []mft.Event }

func (s *sink) Publish(ev mft.Event) { s.got = append(s.got, ev) }

// Each change to a record publishes its event with who asked; a refused
// change publishes nothing.
func TestChangesPublishTheirEvents(t *testing.T) {
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ev := &sink{}
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
		{mft.EventUserDeleted, func() error { return d.Users.DeleteUser(ctx, "joe") }},
	}
	for i, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.event, err)
		}
		if len(ev.got) != i+1 {
			t.Fatalf("after %s: %d events", s.event, len(ev.got))
		}
		got := ev.got[i]
		if got.Event != s.event || got.Actor != "admin" || got.IP != "192.0.2.1" || got.Target == "" || got.Changes["name"] != "Ops" {
			t.Fatalf("event = %+v, want %s by admin", got, s.event)
		}
	}
	n := len(ev.got)
	if err := d.Users.DeleteUser(ctx, "joe"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("second delete: %v", err)
	}
	if _, err := d.Folders.UpdateFolder(ctx, "fld_nosuch", mft.FolderUpdate{}); err == nil {
		t.Fatal("update of a missing rule")
	}
	if err := d.Permissions.DeletePermission(ctx, "perm_nosuch"); err == nil {
		t.Fatal("delete of a missing rule")
	}
	if len(ev.got) != n {
		t.Fatalf("refused changes published %d events", len(ev.got)-n)
	}
}
