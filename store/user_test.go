package store_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"depot/mft"
	"depot/store"
)

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

func newUser(email string) *mft.User {
	id := mft.UserID(email, "")
	return &mft.User{ID: id, Email: email, Role: mft.RoleUser, Home: mft.HomeFor(id), Active: true,
		Protocols: []string{"sftp", "api"}, Groups: []string{}, SSHKeys: []string{}, AllowedIPs: []string{}}
}

func TestUserStore_CreateUser(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		t.Run("OK", func(t *testing.T) {
			s := store.NewUserStore(MustOpenDB(t))
			exp := now.Add(48 * time.Hour)
			u := newUser("Joe.User@Company.com")
			u.Name, u.Username, u.APIKeyHash, u.PasswordHash = "Joe", "joe", "hash1", "pw"
			u.QuotaMB, u.MaxFileSize, u.AllowedIPs, u.ExpiresAt = 10, 5, []string{"10.0.0.0/8"}, &exp
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if got, want := u.ID, "joe-user-company-com"; got != want {
				t.Fatalf("id = %q, want %q", got, want)
			}
			if !u.CreatedAt.Equal(now) {
				t.Fatalf("created_at = %v, want the clock's %v", u.CreatedAt, now)
			}
			for name, find := range map[string]func() (*mft.User, error){
				"id":       func() (*mft.User, error) { return s.FindUserByID(ctx, u.ID) },
				"email":    func() (*mft.User, error) { return s.FindUserByEmail(ctx, "joe.user@company.com") },
				"username": func() (*mft.User, error) { return s.FindUserByUsername(ctx, "JOE") },
				"api key":  func() (*mft.User, error) { return s.FindUserByAPIKeyHash(ctx, "hash1") },
			} {
				got, err := find()
				if err != nil {
					t.Fatalf("find by %s: %v", name, err)
				}
				if got.Email != u.Email || got.QuotaMB != 10 || !got.ExpiresAt.Equal(exp) || got.PasswordHash != "pw" ||
					!slices.Equal(got.AllowedIPs, u.AllowedIPs) || !got.CreatedAt.Equal(now) {
					t.Fatalf("find by %s: round trip changed the user: %+v", name, got)
				}
			}
		})
		t.Run("ErrDuplicate", func(t *testing.T) {
			s := store.NewUserStore(MustOpenDB(t))
			a := newUser("a@example.com")
			a.Username, a.APIKeyHash = "alpha", "k1"
			if err := s.CreateUser(ctx, a); err != nil {
				t.Fatal(err)
			}
			for name, u := range map[string]*mft.User{
				"same id":       newUser("a@example.com"),
				"same email":    func() *mft.User { u := newUser("A@Example.com"); u.ID = "other"; return u }(),
				"same username": func() *mft.User { u := newUser("b@example.com"); u.Username = "ALPHA"; return u }(),
				"same key":      func() *mft.User { u := newUser("c@example.com"); u.APIKeyHash = "k1"; return u }(),
			} {
				if err := s.CreateUser(ctx, u); mft.ErrorCode(err) != mft.EINVALID {
					t.Errorf("%s: err = %v, want EINVALID", name, err)
				}
			}
			if n, _ := s.CountUsers(ctx); n != 1 {
				t.Fatalf("%d users after rejected creates, want 1", n)
			}
		})
		t.Run("ErrUnknownGroup", func(t *testing.T) {
			s := store.NewUserStore(MustOpenDB(t))
			u := newUser("a@example.com")
			u.Groups = []string{"nope"}
			if err := s.CreateUser(ctx, u); mft.ErrorCode(err) != mft.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
		})
		t.Run("ErrInvalid", func(t *testing.T) {
			s := store.NewUserStore(MustOpenDB(t))
			for name, mod := range map[string]func(*mft.User){
				"no email or username": func(u *mft.User) { u.Email = "" },
				"bad email":            func(u *mft.User) { u.Email = "not an email" },
				"bad role":             func(u *mft.User) { u.Role = "root" },
				"bad cidr":             func(u *mft.User) { u.AllowedIPs = []string{"10.0.0.0/99"} },
				"bad protocol":         func(u *mft.User) { u.Protocols = []string{"gopher"} },
				"no protocol":          func(u *mft.User) { u.Protocols = nil },
				"negative quota":       func(u *mft.User) { u.QuotaMB = -1 },
				"relative home":        func(u *mft.User) { u.Home = "users/x" },
				"dotdot home":          func(u *mft.User) { u.Home = "/users/../etc" },
				"nul home":             func(u *mft.User) { u.Home = "/users/a\x00b" },
				"control in name":      func(u *mft.User) { u.Name = "a\nb" },
			} {
				u := newUser("a@example.com")
				mod(u)
				if err := s.CreateUser(ctx, u); mft.ErrorCode(err) != mft.EINVALID {
					t.Errorf("%s: err = %v, want EINVALID", name, err)
				}
			}
		})
	})
}

func TestUserStore_UpdateUser(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewUserStore(MustOpenDB(t))
		u := newUser("a@example.com")
		u.APIKeyHash = "k1"
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		other := newUser("b@example.com")
		if err := s.CreateUser(ctx, other); err != nil {
			t.Fatal(err)
		}

		t.Run("OK", func(t *testing.T) {
			email, quota := "new@example.com", int64(7)
			got, err := s.UpdateUser(ctx, u.ID, mft.UserUpdate{Email: &email, QuotaMB: &quota})
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != email || got.QuotaMB != 7 || got.ID != u.ID || got.APIKeyHash != "k1" {
				t.Fatalf("update gave %+v", got)
			}
			if _, err := s.FindUserByEmail(ctx, "a@example.com"); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("old email still indexed: %v", err)
			}
			if found, err := s.FindUserByEmail(ctx, email); err != nil || found.ID != u.ID {
				t.Fatalf("new email not indexed: %v %v", found, err)
			}
		})
		t.Run("ErrEmailTaken", func(t *testing.T) {
			email := "b@example.com"
			if _, err := s.UpdateUser(ctx, u.ID, mft.UserUpdate{Email: &email}); mft.ErrorCode(err) != mft.EINVALID {
				t.Fatalf("err = %v, want EINVALID", err)
			}
			if found, _ := s.FindUserByEmail(ctx, email); found.ID != other.ID {
				t.Fatalf("the failed update moved the index to %s", found.ID)
			}
		})
		t.Run("ClearExpiry", func(t *testing.T) {
			exp := now.Add(time.Hour)
			pexp := &exp
			if got, err := s.UpdateUser(ctx, u.ID, mft.UserUpdate{ExpiresAt: &pexp}); err != nil || got.ExpiresAt == nil {
				t.Fatalf("set expiry: %v %v", got, err)
			}
			var none *time.Time
			if got, err := s.UpdateUser(ctx, u.ID, mft.UserUpdate{ExpiresAt: &none}); err != nil || got.ExpiresAt != nil {
				t.Fatalf("clear expiry: %v %v", got, err)
			}
		})
		t.Run("APIKeyReplaced", func(t *testing.T) {
			if err := s.SetUserAPIKeyHash(ctx, u.ID, "k2"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.FindUserByAPIKeyHash(ctx, "k1"); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("old key still finds the user: %v", err)
			}
			if got, err := s.FindUserByAPIKeyHash(ctx, "k2"); err != nil || got.ID != u.ID {
				t.Fatalf("new key: %v %v", got, err)
			}
		})
		t.Run("ErrNotFound", func(t *testing.T) {
			name := "x"
			if _, err := s.UpdateUser(ctx, "nobody", mft.UserUpdate{Name: &name}); mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Fatalf("err = %v, want ENOTFOUND", err)
			}
		})
		t.Run("RecordLogin", func(t *testing.T) {
			if err := s.RecordLogin(ctx, u.ID, "192.0.2.1"); err != nil {
				t.Fatal(err)
			}
			got, _ := s.FindUserByID(ctx, u.ID)
			if got.LastLoginIP != "192.0.2.1" || got.LastLoginAt == nil || !got.LastLoginAt.Equal(now) {
				t.Fatalf("last login = %v %v", got.LastLoginAt, got.LastLoginIP)
			}
		})
	})
}

func TestUserStore_DeleteUser(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewUserStore(db)
		tokens := store.NewTokenStore(db)
		u := newUser("a@example.com")
		u.Username, u.APIKeyHash = "alpha", "k1"
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := tokens.CreateToken(ctx, &mft.Token{Hash: "t1", UserID: u.ID, ExpiresAt: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.DeleteUser(ctx, u.ID); err != nil {
			t.Fatal(err)
		}
		for name, err := range map[string]error{
			"id":       func() error { _, err := s.FindUserByID(ctx, u.ID); return err }(),
			"email":    func() error { _, err := s.FindUserByEmail(ctx, u.Email); return err }(),
			"username": func() error { _, err := s.FindUserByUsername(ctx, "alpha"); return err }(),
			"api key":  func() error { _, err := s.FindUserByAPIKeyHash(ctx, "k1"); return err }(),
			"token":    func() error { _, err := tokens.FindTokenByHash(ctx, "t1"); return err }(),
		} {
			if mft.ErrorCode(err) != mft.ENOTFOUND {
				t.Errorf("after delete, find by %s: err = %v, want ENOTFOUND", name, err)
			}
		}
		// The freed email and username can be used again.
		again := newUser("a@example.com")
		again.Username = "alpha"
		if err := s.CreateUser(ctx, again); err != nil {
			t.Fatalf("re-create after delete: %v", err)
		}
		if _, err := s.DeleteUser(ctx, "nobody"); mft.ErrorCode(err) != mft.ENOTFOUND {
			t.Fatalf("delete unknown: %v", err)
		}
	})
}

func TestUserStore_FindUsers(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		db := MustOpenDB(t)
		s := store.NewUserStore(db)
		if err := store.NewGroupStore(db).CreateGroup(ctx, &mft.Group{ID: "ops", Name: "Ops"}); err != nil {
			t.Fatal(err)
		}
		for i := range 25 {
			u := newUser(fmt.Sprintf("u%02d@example.com", i))
			if i%5 == 0 {
				u.Groups = []string{"ops"}
			}
			if err := s.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
		}
		var all []string
		after := ""
		for pages := 0; ; pages++ {
			users, more, err := s.FindUsers(ctx, mft.UserFilter{Page: mft.Page{After: after, Limit: 10}})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range users {
				all = append(all, u.ID)
			}
			if !more {
				if got, want := pages, 2; got != want {
					t.Fatalf("pages = %d, want %d", got+1, want+1)
				}
				break
			}
			after = users[len(users)-1].ID
		}
		if len(all) != 25 || !slices.IsSorted(all) || all[0] != "u00-example-com" {
			t.Fatalf("paged through %d users: %v", len(all), all)
		}
		ops, more, err := s.FindUsers(ctx, mft.UserFilter{Group: "ops"})
		if err != nil || more || len(ops) != 5 {
			t.Fatalf("group filter: %d users, more=%v, err=%v", len(ops), more, err)
		}
	})
}

// Concurrent creates are batched into shared transactions; none may be lost.
func TestUserStore_ConcurrentCreate(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewUserStore(MustOpenDB(t))
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Go(func() {
				errs <- s.CreateUser(ctx, newUser(fmt.Sprintf("c%03d@example.com", i)))
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if n, _ := s.CountUsers(ctx); n != 200 {
			t.Fatalf("%d users, want 200", n)
		}
	})
}

// Concurrent writes share commits; one that fails (a duplicate email) must
// get its own error without taking the others of its group down with it.
func TestUserStore_ConcurrentCreateWithConflicts(t *testing.T) {
	eachDriver(t, func(t *testing.T) {
		ctx := context.Background()
		s := store.NewUserStore(MustOpenDB(t))
		var wg sync.WaitGroup
		var ok, conflict atomic.Int32
		for i := range 200 {
			wg.Go(func() {
				err := s.CreateUser(ctx, newUser(fmt.Sprintf("d%03d@example.com", i/2)))
				switch {
				case err == nil:
					ok.Add(1)
				case strings.Contains(err.Error(), "already exists"):
					conflict.Add(1)
				default:
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if ok.Load() != 100 || conflict.Load() != 100 {
			t.Fatalf("%d created and %d conflicts, want 100 and 100", ok.Load(), conflict.Load())
		}
		if n, _ := s.CountUsers(ctx); n != 100 {
			t.Fatalf("%d users, want 100", n)
		}
	})
}
