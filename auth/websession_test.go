package auth_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"depot/auth"
	"depot/mft"
	"depot/store"
)

// sessions returns web sessions kept in a new bbolt database.
func sessions(t *testing.T) *store.WebSessionStore {
	t.Helper()
	db := store.NewDB(filepath.Join(t.TempDir(), "depot.db"))
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return store.NewWebSessionStore(db)
}

func TestWebSessions_EndAfterTTLAndIdle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	w := &auth.WebSessions{Store: sessions(t), TTL: 12 * time.Hour, Idle: time.Hour, Now: func() time.Time { return now }}
	pat := &mft.User{ID: "pat", PasswordHash: "h1"}
	cookie, s, err := w.Start(ctx, pat)
	if err != nil || s.UserID != "pat" || s.CSRF == "" || s.PasswordMark != auth.PasswordMark("h1") || auth.PasswordMark("h2") == s.PasswordMark {
		t.Fatalf("session %+v, %v", s, err)
	}

	// Used every 50 minutes it outlives the idle hour, but not the TTL.
	for range 15 {
		now = now.Add(50 * time.Minute)
		if _, err := w.Find(ctx, cookie); err != nil && now.Sub(s.Created) < 12*time.Hour {
			t.Fatalf("ended after %s: %v", now.Sub(s.Created), err)
		}
	}
	if _, err := w.Find(ctx, cookie); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("alive after %s: %v", now.Sub(s.Created), err)
	}
	if n, _ := w.Len(ctx); n != 0 {
		t.Errorf("an ended session is kept: %d", n)
	}

	// Unused for an hour it ends.
	cookie, _, _ = w.Start(ctx, pat)
	now = now.Add(time.Hour)
	if _, err := w.Find(ctx, cookie); err == nil {
		t.Fatal("alive after an idle hour")
	}
	if _, err := w.Find(ctx, "made-up"); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
		t.Fatalf("unknown cookie: %v", err)
	}

	// The sweep deletes the sessions that ended without their cookie
	// coming back, and keeps the others.
	w.Start(ctx, pat)
	now = now.Add(2 * time.Hour)
	live, _, _ := w.Start(ctx, pat)
	if n, err := w.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("the sweep deleted %d, %v; want the idle session", n, err)
	}
	if n, _ := w.Len(ctx); n != 1 {
		t.Fatalf("%d sessions after the sweep; want the live one", n)
	}
	if _, err := w.Find(ctx, live); err != nil {
		t.Fatalf("the live session after the sweep: %v", err)
	}
}

func TestWebSessions_FlashAndEndUser(t *testing.T) {
	ctx := context.Background()
	w := &auth.WebSessions{Store: sessions(t)}
	a, _, _ := w.Start(ctx, &mft.User{ID: "pat"})
	b, _, _ := w.Start(ctx, &mft.User{ID: "pat"})
	c, sc, _ := w.Start(ctx, &mft.User{ID: "sam"})
	if !sc.CSRFMatches(sc.CSRF) || sc.CSRFMatches("") || sc.CSRFMatches(sc.CSRF+"x") {
		t.Error("CSRF comparison")
	}
	if err := w.Flash(ctx, a, "Saved.", ""); err != nil {
		t.Fatal(err)
	}
	if n, f := w.TakeFlash(ctx, a); n != "Saved." || f != "" {
		t.Errorf("flash %q %q", n, f)
	}
	if n, _ := w.TakeFlash(ctx, a); n != "" {
		t.Error("a notice shown twice")
	}
	if err := w.EndUser(ctx, "pat"); err != nil {
		t.Fatal(err)
	}
	for _, ck := range []string{a, b} {
		if _, err := w.Find(ctx, ck); err == nil {
			t.Error("pat's session survived EndUser")
		}
	}
	if _, err := w.Find(ctx, c); err != nil {
		t.Errorf("sam's session ended with pat's: %v", err)
	}
	if err := w.End(ctx, c); err != nil {
		t.Fatal(err)
	}
	if n, _ := w.Len(ctx); n != 0 {
		t.Errorf("%d sessions left", n)
	}
}

// A provider's back-channel logout, arriving at any node (another
// WebSessions on the same store), ends the sessions of the users its
// session or subject signed in, and no one else's.
func TestWebSessions_EndSSOOnAnyNode(t *testing.T) {
	ctx := context.Background()
	st := sessions(t)
	a, b := &auth.WebSessions{Store: st}, &auth.WebSessions{Store: st}
	pat, _, _ := a.StartSSO(ctx, &mft.User{ID: "pat"}, "sub-pat", "sid-1")
	patPassword, _, _ := a.Start(ctx, &mft.User{ID: "pat"})
	sam, _, _ := a.StartSSO(ctx, &mft.User{ID: "sam"}, "sub-sam", "sid-2")
	if users, err := b.EndSSO(ctx, "", "sid-unknown"); err != nil || len(users) != 0 {
		t.Fatalf("an unknown session ended %v, %v", users, err)
	}
	if users, err := b.EndSSO(ctx, "sub-pat", "sid-1"); err != nil || len(users) != 1 || users[0] != "pat" {
		t.Fatalf("EndSSO = %v, %v; want pat", users, err)
	}
	for _, ck := range []string{pat, patPassword} {
		if _, err := a.Find(ctx, ck); mft.ErrorCode(err) != mft.EUNAUTHORIZED {
			t.Fatalf("pat's session after the provider's logout: %v", err)
		}
	}
	if _, err := a.Find(ctx, sam); err != nil {
		t.Fatalf("sam's session ended with pat's: %v", err)
	}
	if users, _ := b.EndSSO(ctx, "sub-sam", ""); len(users) != 1 {
		t.Fatalf("a logout by subject alone ended %v", users)
	}
}
