package store_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"depot/mft"
	"depot/store"
)

func TestDB_Reopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "depot.db")
	db := store.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := store.NewGroupStore(db).CreateGroup(ctx, &mft.Group{ID: "ops", Name: "Ops"}); err != nil {
		t.Fatal(err)
	}
	t.Run("ErrLockedWhileOpen", func(t *testing.T) {
		other := store.NewDB(path)
		if err := other.Open(); err == nil {
			other.Close()
			t.Fatal("a second Open of a file in use succeeded")
		}
	})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = store.NewDB(path)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if g, err := store.NewGroupStore(db).FindGroupByID(ctx, "ops"); err != nil || g.Name != "Ops" {
		t.Fatalf("after reopen got %v, %v", g, err)
	}
}

func TestDB_Backup(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	users := store.NewUserStore(db)
	if err := users.CreateUser(ctx, newUser("a@example.com")); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := db.Backup(&buf); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "copy.db")
	if err := writeFile(path, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	copyDB := store.NewDB(path)
	if err := copyDB.Open(); err != nil {
		t.Fatalf("backup does not open as a database: %v", err)
	}
	defer copyDB.Close()
	if u, err := store.NewUserStore(copyDB).FindUserByEmail(ctx, "a@example.com"); err != nil || u.ID != "a-example-com" {
		t.Fatalf("backup lost the user: %v, %v", u, err)
	}

	t.Run("BackupFileOfClosedDB", func(t *testing.T) {
		var out bytes.Buffer
		if _, err := store.BackupFile(path, &out); err == nil {
			t.Fatal("BackupFile of an open database: want ErrLocked")
		}
		copyDB.Close()
		if _, err := store.BackupFile(path, &out); err != nil {
			t.Fatal(err)
		}
		if out.Len() == 0 {
			t.Fatal("empty backup")
		}
	})
}

func TestDB_SchemaTooNew(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		db := MustOpenDB(t)
		must(t, db.Close())
		putRaw(t, db, "Meta", "schema_version", "99")
		newer := &store.DB{Path: db.Path, DSN: db.DSN}
		err := newer.Open()
		if err == nil {
			newer.Close()
			t.Fatal("opened a database from a newer depot")
		}
		if !strings.Contains(err.Error(), "newer than this depot") {
			t.Fatalf("open: %v; want it to say the database is newer", err)
		}
	})
}

// The database keeps the check of the secret.key it was first used with:
// the same key passes, after a reopen too; another is refused.
func TestDB_CheckSecretKey(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		must(t, db.CheckSecretKey(ctx, "check-of-key-a"))
		must(t, db.CheckSecretKey(ctx, "check-of-key-a"))
		db = reopen(t, db)
		must(t, db.CheckSecretKey(ctx, "check-of-key-a"))
		err := db.CheckSecretKey(ctx, "check-of-key-b")
		if err == nil || !strings.Contains(err.Error(), "secret.key is not the one the database's secrets were sealed with") {
			t.Fatalf("another key: %v", err)
		}
	})
}
