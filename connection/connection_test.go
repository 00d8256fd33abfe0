package connection_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"depot/auth"
	"depot/connection"
	"depot/internal/testpeer"
	"depot/mft"
	"depot/store"
)

func newService(t *testing.T) *connection.Service {
	t.Helper()
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	sealer, _ := auth.NewSealer(make([]byte, 32))
	return &connection.Service{Store: store.NewConnectionStore(db), Sealer: sealer}
}

// Secrets are sealed at rest, kept when sent back as "(set)", and opened
// only to connect to the real peer (OpenSSH's sshd), whose pinned host
// key must match.
func TestConnection_SealTestOpen(t *testing.T) {
	ctx := context.Background()
	peer := testpeer.StartSSHD(t)
	os.WriteFile(filepath.Join(peer.Dir, "hello.txt"), []byte("hi"), 0o644)
	s := newService(t)
	c := peer.Connection("partner")
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	stored, _ := s.Store.FindConnection(ctx, c.ID)
	if !auth.IsSealed(stored.PrivateKey) || strings.Contains(stored.PrivateKey, "PRIVATE KEY") {
		t.Fatal("the private key is stored in the clear")
	}
	res, err := s.Test(ctx, stored)
	if err != nil || !res.OK || len(res.Entries) != 1 || res.Entries[0].Name != "hello.txt" {
		t.Fatalf("test = %+v, %v", res, err)
	}
	st, _, err := s.Open(ctx, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	next := *stored
	next.Name, next.PrivateKey = "renamed", mft.SecretMarker
	if err := s.Update(ctx, stored, &next); err != nil {
		t.Fatal(err)
	}
	again, _ := s.Store.FindConnection(ctx, c.ID)
	if again.Name != "renamed" || again.PrivateKey != stored.PrivateKey {
		t.Fatal("the marker did not keep the stored key")
	}

	wrong := *again
	wrong.HostKey = "SHA256:" + strings.Repeat("A", 43)
	if _, err := s.Test(ctx, &wrong); mft.ErrorCode(err) != mft.EINVALID || !strings.Contains(mft.ErrorMessage(err), "host key") {
		t.Fatalf("a wrong pinned host key: %v, want EINVALID naming the host key", err)
	}
	bad := *again
	bad.Port = 0
	bad.Type = "gopher"
	if err := s.Update(ctx, again, &bad); mft.ErrorCode(err) != mft.EINVALID {
		t.Fatalf("an invalid update: %v", err)
	}
	if _, _, err := s.Open(ctx, "conn_nosuch"); mft.ErrorCode(err) != mft.ENOTFOUND {
		t.Fatalf("open of a missing connection: %v", err)
	}
	other, _ := auth.NewSealer([]byte(strings.Repeat("k", 32)))
	s2 := &connection.Service{Store: s.Store, Sealer: other}
	if _, _, err := s2.Open(ctx, c.ID); mft.ErrorCode(err) != mft.EINTERNAL {
		t.Fatalf("another secret.key: %v, want EINTERNAL", err)
	}
}
